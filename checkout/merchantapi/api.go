package merchantapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"kassa/checkout"
	"kassa/httperr"
	"kassa/ratelimit"
)

// API serves the merchant REST API (/v1) over a checkout service. It is
// safe for concurrent use.
type API struct {
	svc      *checkout.Service
	limiter  *ratelimit.Limiter
	throttle *ratelimit.Throttle
	ready    func() bool
	log      *slog.Logger
	// settlements, when set (WithSettlements), serves GET /v1/settlements.
	settlements Settlements
}

// New returns the merchant API over svc. limiter, when not nil, limits
// requests per merchant and client address; ready, when not nil, reports
// whether the region takes writes (it does not while it recovers its chain
// from peers); log, when not nil, receives the detail of every 5xx and
// every failed or throttled authentication. Failed authentications are
// throttled per client address and merchant id (ratelimit.Throttle, on the
// wall clock unless WithThrottle gives another).
func New(svc *checkout.Service, limiter *ratelimit.Limiter, ready func() bool, log *slog.Logger) *API {
	if log == nil {
		log = slog.Default()
	}
	return &API{svc: svc, limiter: limiter, throttle: ratelimit.NewThrottle(nil), ready: ready, log: log}
}

// WithThrottle makes t the throttle of failed authentications. Call it
// before serving.
func (a *API) WithThrottle(t *ratelimit.Throttle) *API {
	a.throttle = t
	return a
}

// Routes registers the API on r.
func (a *API) Routes(r *mux.Router) {
	v1 := r.PathPrefix("/v1").Subrouter()
	v1.HandleFunc("/openapi.json", serveOpenAPI).Methods(http.MethodGet)
	v1.HandleFunc("/sessions", a.merchant(a.createSession)).Methods(http.MethodPost)
	v1.HandleFunc("/sessions/{id}", a.merchant(a.getSession)).Methods(http.MethodGet)
	v1.HandleFunc("/sessions/{id}/authorize", a.merchant(a.authorize)).Methods(http.MethodPost)
	v1.HandleFunc("/orders", a.merchant(a.listOrders)).Methods(http.MethodGet)
	v1.HandleFunc("/orders/{id}", a.merchant(a.getOrder)).Methods(http.MethodGet)
	v1.HandleFunc("/orders/{id}/captures", a.merchant(a.capture)).Methods(http.MethodPost)
	v1.HandleFunc("/orders/{id}/refunds", a.merchant(a.refund)).Methods(http.MethodPost)
	v1.HandleFunc("/orders/{id}/cancel", a.merchant(a.cancel)).Methods(http.MethodPost)
	v1.HandleFunc("/orders/{id}/extend", a.merchant(a.extend)).Methods(http.MethodPost)
	v1.HandleFunc("/orders/{id}/release", a.merchant(a.release)).Methods(http.MethodPost)
	v1.HandleFunc("/settlements", a.merchant(a.listSettlements)).Methods(http.MethodGet)
}

// errorOf is the one table from checkout's domain errors to HTTP: the
// message is public, the detail stays in the log. An error it does not
// know is a 500 internal.
func errorOf(err error) httperr.Error {
	var fe *checkout.FieldError
	var ae *checkout.AmountError
	var re *checkout.RefusedError
	switch {
	case errors.As(err, &fe):
		return httperr.Error{Status: 400, Code: "invalid_request", Message: fe.Message, Field: fe.Field}
	case errors.As(err, &ae):
		return httperr.Error{Status: 400, Code: "invalid_amount", Message: ae.Error(), Field: "amount"}
	case errors.Is(err, checkout.ErrNotFound):
		return httperr.Error{Status: 404, Code: "not_found", Message: "no such object"}
	case errors.Is(err, checkout.ErrMaybeElsewhere):
		return httperr.Error{Status: 503, Code: "object_unavailable", Message: "this region does not hold the object yet and cannot reach every region that might; nothing was done; retry in a moment (here or in any region), with the same Idempotency-Key", RetryAfter: 2}
	case errors.Is(err, checkout.ErrIdempotencyConflict):
		return httperr.Error{Status: 409, Code: "idempotency_conflict", Message: "this Idempotency-Key was used with a different request", Field: "Idempotency-Key"}
	case errors.Is(err, checkout.ErrSessionExpired):
		return httperr.Error{Status: 410, Code: "session_expired", Message: "the session has expired; create a new one"}
	case errors.Is(err, checkout.ErrSessionComplete):
		return httperr.Error{Status: 409, Code: "session_complete", Message: "the session already has an order"}
	case errors.Is(err, checkout.ErrInvalidState):
		return httperr.Error{Status: 409, Code: "invalid_state", Message: strings.TrimPrefix(err.Error(), "checkout: ")}
	case errors.Is(err, checkout.ErrRightsUnavailable):
		return httperr.Error{Status: 503, Code: "rights_unavailable", Message: "the region that holds this order's rights cannot be reached; retry with the same Idempotency-Key", RetryAfter: 5}
	case errors.As(err, &re):
		return httperr.Error{Status: 402, Code: "acquirer_refused", Message: fmt.Sprintf("the card acquirer refused the %s (%s); nothing was done", re.Op, re.Code)}
	case errors.Is(err, checkout.ErrAcquirerUnavailable):
		return httperr.Error{Status: 503, Code: "acquirer_unavailable", Message: "the card acquirer cannot be reached; nothing was charged; retry", RetryAfter: 5}
	case errors.Is(err, checkout.ErrNotReplicated):
		return httperr.Error{Status: 503, Code: "not_replicated", Message: "stored in this region but no other region confirmed it in time; it will replicate; retry with the same Idempotency-Key", RetryAfter: 1}
	case errors.Is(err, checkout.ErrNotReady):
		return httperr.Error{Status: 503, Code: "not_ready", Message: "this region is starting; retry", RetryAfter: 1}
	case errors.Is(err, checkout.ErrUnauthorized):
		return httperr.Error{Status: 401, Code: "unauthorized", Message: "authenticate with HTTP Basic: merchant id and API secret"}
	}
	return httperr.Internal
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fail answers err through the table, logging the detail of a 5xx (at
// ERROR unless the client has gone).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := errorOf(err)
	switch {
	case e.Status >= 500 && r.Context().Err() != nil:
		// The client hung up (a failover client gave up on this region):
		// no one reads this answer, and nothing failed here.
		a.log.Info("api request abandoned by the client", "method", r.Method, "path", r.URL.Path, "correlation_id", httperr.CorrelationID(w), "err", err)
	case e.Status == http.StatusServiceUnavailable && e.RetryAfter > 0:
		// A designed refusal for now (a peer, the acquirer or this region
		// itself not there yet), not a failure of this region: during a
		// partition there is one per request that needs the other side.
		a.log.Warn("api request refused for now", "method", r.Method, "path", r.URL.Path, "correlation_id", httperr.CorrelationID(w), "code", e.Code, "err", err)
	case e.Status >= 500:
		a.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "correlation_id", httperr.CorrelationID(w), "err", err)
	}
	httperr.Write(w, e)
}

type merchantHandler func(w http.ResponseWriter, r *http.Request, merchant string, body []byte)

// merchant authenticates the merchant, applies rate limits, reads the body
// and, for POSTs, requires an Idempotency-Key.
func (a *API) merchant(h merchantHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="kassa"`)
			httperr.Write(w, errorOf(checkout.ErrUnauthorized))
			return
		}
		m, ok := a.authenticate(w, r, id, secret)
		if !ok {
			return
		}
		if a.limiter != nil {
			if wait, ok := a.limiter.Allow(m, ratelimit.ClientKey(r)); !ok {
				httperr.Write(w, httperr.Error{Status: 429, Code: "rate_limited", Message: "too many requests; slow down", RetryAfter: wait})
				return
			}
		}
		var body []byte
		if r.Method == http.MethodPost {
			if a.ready != nil && !a.ready() {
				a.fail(w, r, checkout.ErrNotReady)
				return
			}
			key := r.Header.Get("Idempotency-Key")
			if key == "" || len(key) > 255 {
				httperr.Write(w, httperr.Error{Status: 400, Code: "invalid_request", Message: "every POST needs an Idempotency-Key header (1-255 characters)", Field: "Idempotency-Key"})
				return
			}
			var err error
			body, err = io.ReadAll(r.Body)
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					httperr.Write(w, httperr.Error{Status: 413, Code: "body_too_large", Message: fmt.Sprintf("request body exceeds %d bytes", mbe.Limit)})
					return
				}
				httperr.Write(w, httperr.Error{Status: 400, Code: "invalid_request", Message: "could not read the request body"})
				return
			}
		}
		h(w, r, m, body)
	}
}

// authenticate checks a merchant's id and secret under the throttle and
// logs every failure and refusal (with the client address and the id as
// far as it can be a merchant's, never the secret). When it returns false
// it has answered: 401 for a wrong id or secret, 429 with Retry-After when
// the throttle does not let the secret be checked.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request, id, secret string) (string, bool) {
	client := ratelimit.ClientKey(r)
	unauthorized := func(reason string) (string, bool) {
		a.throttle.Failed(client, id)
		a.log.Warn("merchantapi: failed authentication", "client", client, "merchant", loggable(id), "reason", reason)
		w.Header().Set("WWW-Authenticate", `Basic realm="kassa"`)
		httperr.Write(w, errorOf(checkout.ErrUnauthorized))
		return "", false
	}
	if len(id) > ratelimit.MaxName {
		// No merchant id is this long: refused unseen, and counted
		// against the address only.
		return unauthorized("merchant id too long")
	}
	if refusal, refused := a.throttle.Refused(client, id); refused {
		msg, scope := "too many failed authentications for this merchant id from your address; retry after Retry-After seconds", "merchant from address"
		if refusal.Address {
			msg, scope = "too many failed authentications from your address; retry after Retry-After seconds", "address"
		} else if refusal.Targeted {
			scope = "targeted merchant from address"
		}
		a.log.Warn("merchantapi: authentication throttled", "client", client, "merchant", loggable(id), "scope", scope, "retry_after", refusal.RetryAfter())
		httperr.Write(w, httperr.Error{Status: 429, Code: "too_many_attempts", Message: msg, RetryAfter: refusal.RetryAfter()})
		return "", false
	}
	m, err := a.svc.Authenticate(id, secret)
	if err != nil {
		return unauthorized("wrong merchant id or secret")
	}
	a.throttle.Succeeded(client, id)
	return m, true
}

// loggable returns id as a log may show it: as sent when it has the form
// of a merchant id (a-z, 0-9 and '-', at most 32), else only its length.
// A value of another form cannot be a merchant's, and may be a secret sent
// in the wrong field or text forging a log line.
func loggable(id string) string {
	ok := id != "" && len(id) <= 32
	for _, c := range []byte(id) {
		ok = ok && ('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-')
	}
	if ok {
		return id
	}
	return "(not a merchant id, " + strconv.Itoa(len(id)) + " bytes)"
}

// decode reads a JSON body strictly: unknown fields and trailing data are
// errors that name the problem.
func decode(body []byte, v any, optional bool) error {
	if optional && len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &checkout.FieldError{Field: te.Field, Message: fmt.Sprintf("must be a %s", te.Type)}
		}
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return &checkout.FieldError{Field: strings.Trim(f, `"`), Message: "is not a known field"}
		}
		return &checkout.FieldError{Field: "body", Message: "is not valid JSON: " + strings.TrimPrefix(msg, "json: ")}
	}
	if dec.More() {
		return &checkout.FieldError{Field: "body", Message: "has data after the JSON object"}
	}
	return nil
}

// requestHash fingerprints a decoded request as checkout.RequestHash
// expects: the JSON of the decoded value, so a retry that differs only in
// white space, key order or spelled-out zero values is the same request.
func requestHash(name string, req any) string {
	b, err := json.Marshal(req)
	if err != nil {
		panic(fmt.Sprintf("merchantapi: marshal %T: %v", req, err)) // only our own plain structs
	}
	return checkout.RequestHash([]byte(name), b)
}

// committed answers a write that failed with its error, and one that is
// not yet as durable as the region promises (durability: peer, no peer in
// time) with 503 not_replicated; otherwise it marks a replay and reports
// that the caller writes the result.
func (a *API) committed(w http.ResponseWriter, r *http.Request, rep bool, err error) bool {
	if err == nil {
		err = a.svc.Acknowledge(r.Context())
	}
	if err != nil {
		a.fail(w, r, err)
		return false
	}
	replayed(w, rep)
	return true
}

func replayed(w http.ResponseWriter, yes bool) {
	if yes {
		w.Header().Set("Idempotent-Replayed", "true")
	}
}

func (a *API) createSession(w http.ResponseWriter, r *http.Request, m string, body []byte) {
	var req checkout.SessionRequest
	if err := decode(body, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	// The fingerprint is of the decoded request, so a retry that differs only
	// in white space or field order is still the same request.
	sess, rep, err := a.svc.CreateSession(r.Context(), m, r.Header.Get("Idempotency-Key"), req, requestHash("session", req))
	if a.committed(w, r, rep, err) {
		writeJSON(w, http.StatusCreated, sess)
	}
}

func (a *API) getSession(w http.ResponseWriter, r *http.Request, m string, _ []byte) {
	sess, err := a.svc.Session(r.Context(), m, checkout.SessionID(mux.Vars(r)["id"]))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (a *API) authorize(w http.ResponseWriter, r *http.Request, m string, body []byte) {
	var req checkout.AuthorizeRequest
	if err := decode(body, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	o, rep, err := a.svc.AuthorizeWithKey(r.Context(), m, checkout.SessionID(mux.Vars(r)["id"]), r.Header.Get("Idempotency-Key"), req, a.svc.AuthorizeHash(req))
	if a.committed(w, r, rep, err) {
		writeOrder(w, o, http.StatusCreated)
	}
}

// writeOrder answers 402 for a declined decision and 202 while a card
// outcome is being settled.
func writeOrder(w http.ResponseWriter, o checkout.Order, ok int) {
	switch o.Status {
	case "declined":
		ok = http.StatusPaymentRequired
	case "pending":
		ok = http.StatusAccepted
	}
	writeJSON(w, ok, o)
}

func (a *API) getOrder(w http.ResponseWriter, r *http.Request, m string, _ []byte) {
	o, err := a.svc.FindOrder(r.Context(), m, checkout.OrderID(mux.Vars(r)["id"]))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (a *API) listOrders(w http.ResponseWriter, r *http.Request, m string, _ []byte) {
	q := r.URL.Query()
	ref := q.Get("merchant_reference")
	if ref == "" {
		a.fail(w, r, &checkout.FieldError{Field: "merchant_reference", Message: "is required"})
		return
	}
	limit := 20
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			a.fail(w, r, &checkout.FieldError{Field: "limit", Message: "must be between 1 and 100"})
			return
		}
		limit = n
	}
	after := q.Get("starting_after")
	if after != "" && !checkout.ValidOrderID(after) {
		a.fail(w, r, &checkout.FieldError{Field: "starting_after", Message: "must be an order id (ord_...), the last one of the previous page"})
		return
	}
	orders, more, err := a.svc.OrdersByReference(r.Context(), m, ref, after, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if orders == nil {
		orders = []checkout.Order{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": orders, "has_more": more})
}

type amountRequest struct {
	Amount *int64 `json:"amount"`
}

func (a *API) amountOp(w http.ResponseWriter, r *http.Request, m string, body []byte,
	op func(ctx context.Context, m string, id checkout.OrderID, key string, amount int64, hash string) (checkout.Order, bool, error), name string) {
	var req amountRequest
	if err := decode(body, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	var amount int64
	if req.Amount != nil {
		if *req.Amount <= 0 || *req.Amount > checkout.MaxAmount {
			a.fail(w, r, &checkout.FieldError{Field: "amount", Message: "must be a positive number of minor units"})
			return
		}
		amount = *req.Amount
	}
	o, rep, err := op(r.Context(), m, checkout.OrderID(mux.Vars(r)["id"]), r.Header.Get("Idempotency-Key"), amount, requestHash(name, req))
	if a.committed(w, r, rep, err) {
		writeJSON(w, operationStatus(o, http.StatusCreated), o)
	}
}

// operationStatus is done, or 202 while the acquirer's answer to a card
// operation is awaited: an order.captured, order.refunded, order.cancelled,
// order.released or order.operation_failed webhook follows.
func operationStatus(o checkout.Order, done int) int {
	if o.Operation != nil && o.Operation.Status == checkout.MovementPending {
		return http.StatusAccepted
	}
	return done
}

func (a *API) capture(w http.ResponseWriter, r *http.Request, m string, body []byte) {
	a.amountOp(w, r, m, body, a.svc.Capture, "capture")
}

func (a *API) refund(w http.ResponseWriter, r *http.Request, m string, body []byte) {
	a.amountOp(w, r, m, body, a.svc.Refund, "refund")
}

func (a *API) simpleOp(w http.ResponseWriter, r *http.Request, m string, body []byte,
	op func(ctx context.Context, m string, id checkout.OrderID, key, hash string) (checkout.Order, bool, error), name string) {
	var empty struct{}
	if err := decode(body, &empty, true); err != nil {
		a.fail(w, r, err)
		return
	}
	o, rep, err := op(r.Context(), m, checkout.OrderID(mux.Vars(r)["id"]), r.Header.Get("Idempotency-Key"), checkout.RequestHash([]byte(name)))
	if a.committed(w, r, rep, err) {
		writeJSON(w, operationStatus(o, http.StatusOK), o)
	}
}

func (a *API) cancel(w http.ResponseWriter, r *http.Request, m string, body []byte) {
	a.simpleOp(w, r, m, body, a.svc.Cancel, "cancel")
}

func (a *API) extend(w http.ResponseWriter, r *http.Request, m string, body []byte) {
	a.simpleOp(w, r, m, body, a.svc.Extend, "extend")
}

func (a *API) release(w http.ResponseWriter, r *http.Request, m string, body []byte) {
	a.simpleOp(w, r, m, body, a.svc.Release, "release")
}
