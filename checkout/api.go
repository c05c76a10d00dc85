package checkout

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
)

// API serves the merchant REST API (/v1).
type API struct {
	svc     *Service
	limiter *Limiter
	ready   func() bool
}

// NewAPI returns the merchant API over svc. ready reports whether the region
// takes writes (it does not while it recovers its chain from peers).
func NewAPI(svc *Service, limiter *Limiter, ready func() bool) *API {
	return &API{svc: svc, limiter: limiter, ready: ready}
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
}

// apiError is the public shape of an error.
type apiError struct {
	status     int
	code, msg  string
	field      string
	retryAfter int
}

// toAPIError is the one table from domain errors to HTTP: the message is
// public, the detail stays in the log.
func toAPIError(err error) apiError {
	var fe *FieldError
	var ae *AmountError
	switch {
	case errors.As(err, &fe):
		return apiError{status: 400, code: "invalid_request", msg: fe.Message, field: fe.Field}
	case errors.As(err, &ae):
		return apiError{status: 400, code: "invalid_amount", msg: ae.Error(), field: "amount"}
	case errors.Is(err, ErrNotFound):
		return apiError{status: 404, code: "not_found", msg: "no such object"}
	case errors.Is(err, ErrIdempotencyConflict):
		return apiError{status: 409, code: "idempotency_conflict", msg: "this Idempotency-Key was used with a different request", field: "Idempotency-Key"}
	case errors.Is(err, ErrSessionExpired):
		return apiError{status: 410, code: "session_expired", msg: "the session has expired; create a new one"}
	case errors.Is(err, ErrSessionComplete):
		return apiError{status: 409, code: "session_complete", msg: "the session already has an order"}
	case errors.Is(err, ErrInvalidState):
		return apiError{status: 409, code: "invalid_state", msg: strings.TrimPrefix(err.Error(), "checkout: ")}
	case errors.Is(err, ErrRightsUnavailable):
		return apiError{status: 503, code: "rights_unavailable", msg: "the region that holds this order's rights cannot be reached; retry with the same Idempotency-Key", retryAfter: 5}
	case errors.Is(err, ErrAcquirerUnavailable):
		return apiError{status: 503, code: "acquirer_unavailable", msg: "the card acquirer cannot be reached; nothing was charged; retry", retryAfter: 5}
	case errors.Is(err, ErrNotReady):
		return apiError{status: 503, code: "not_ready", msg: "this region is starting; retry", retryAfter: 1}
	case errors.Is(err, ErrUnauthorized):
		return apiError{status: 401, code: "unauthorized", msg: "authenticate with HTTP Basic: merchant id and API secret"}
	}
	return apiError{status: 500, code: "internal", msg: "internal error; quote the correlation id to support"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	if e.status >= 500 {
		a.svc.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "correlation_id", w.Header().Get("Kassa-Correlation-Id"), "err", err)
	}
	writeError(w, e)
}

func writeError(w http.ResponseWriter, e apiError) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	// Every error has the four keys; field is "" when no input field is at
	// fault.
	body := map[string]string{"code": e.code, "message": e.msg, "field": e.field, "correlation_id": CorrelationID(w)}
	writeJSON(w, e.status, map[string]any{"error": body})
}

// CorrelationID returns the id the region's middleware gave this request
// (the Kassa-Correlation-Id header), making one if it has none, so an
// answer can quote what the region's log says about it.
func CorrelationID(w http.ResponseWriter) string {
	if id := w.Header().Get("Kassa-Correlation-Id"); id != "" {
		return id
	}
	var b [8]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	w.Header().Set("Kassa-Correlation-Id", id)
	return id
}

type merchantHandler func(w http.ResponseWriter, r *http.Request, merchant string, body []byte)

// merchant authenticates the merchant, applies rate limits, reads the body
// and, for POSTs, requires an Idempotency-Key.
func (a *API) merchant(h merchantHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="kassa"`)
			writeError(w, toAPIError(ErrUnauthorized))
			return
		}
		m, err := a.svc.Authenticate(id, secret)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="kassa"`)
			writeError(w, toAPIError(err))
			return
		}
		if a.limiter != nil {
			if wait, ok := a.limiter.Allow(m, clientIP(r)); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(wait))
				writeError(w, apiError{status: 429, code: "rate_limited", msg: "too many requests; slow down", retryAfter: wait})
				return
			}
		}
		var body []byte
		if r.Method == http.MethodPost {
			if a.ready != nil && !a.ready() {
				a.fail(w, r, ErrNotReady)
				return
			}
			key := r.Header.Get("Idempotency-Key")
			if key == "" || len(key) > 255 {
				writeError(w, apiError{status: 400, code: "invalid_request", msg: "every POST needs an Idempotency-Key header (1-255 characters)", field: "Idempotency-Key"})
				return
			}
			body, err = io.ReadAll(r.Body)
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					writeError(w, apiError{status: 413, code: "body_too_large", msg: fmt.Sprintf("request body exceeds %d bytes", mbe.Limit)})
					return
				}
				writeError(w, apiError{status: 400, code: "invalid_request", msg: "could not read the request body"})
				return
			}
		}
		h(w, r, m, body)
	}
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
			return &FieldError{Field: te.Field, Message: fmt.Sprintf("must be a %s", te.Type)}
		}
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return &FieldError{Field: strings.Trim(f, `"`), Message: "is not a known field"}
		}
		return &FieldError{Field: "body", Message: "is not valid JSON: " + strings.TrimPrefix(msg, "json: ")}
	}
	if dec.More() {
		return &FieldError{Field: "body", Message: "has data after the JSON object"}
	}
	return nil
}

func replayed(w http.ResponseWriter, yes bool) {
	if yes {
		w.Header().Set("Idempotent-Replayed", "true")
	}
}

func (a *API) createSession(w http.ResponseWriter, r *http.Request, m string, body []byte) {
	var req SessionRequest
	if err := decode(body, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	// The fingerprint is of the decoded request, so a retry that differs only
	// in white space or field order is still the same request.
	sess, rep, err := a.svc.CreateSession(r.Context(), m, r.Header.Get("Idempotency-Key"), req, RequestHash([]byte("session"), mustJSON(req)))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	replayed(w, rep)
	writeJSON(w, http.StatusCreated, sess)
}

func (a *API) getSession(w http.ResponseWriter, r *http.Request, m string, _ []byte) {
	sess, err := a.svc.Session(r.Context(), m, SessionID(mux.Vars(r)["id"]))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (a *API) authorize(w http.ResponseWriter, r *http.Request, m string, body []byte) {
	var req AuthorizeRequest
	if err := decode(body, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	o, rep, err := a.svc.AuthorizeWithKey(r.Context(), m, SessionID(mux.Vars(r)["id"]), r.Header.Get("Idempotency-Key"), req, a.svc.AuthorizeHash(req))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	replayed(w, rep)
	writeOrder(w, o, http.StatusCreated)
}

// writeOrder answers 402 for a declined decision and 202 while a card
// outcome is being settled.
func writeOrder(w http.ResponseWriter, o Order, ok int) {
	switch o.Status {
	case "declined":
		ok = http.StatusPaymentRequired
	case "pending":
		ok = http.StatusAccepted
	}
	writeJSON(w, ok, o)
}

func (a *API) getOrder(w http.ResponseWriter, r *http.Request, m string, _ []byte) {
	o, err := a.svc.Order(r.Context(), m, OrderID(mux.Vars(r)["id"]))
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
		a.fail(w, r, &FieldError{Field: "merchant_reference", Message: "is required"})
		return
	}
	limit := 20
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			a.fail(w, r, &FieldError{Field: "limit", Message: "must be between 1 and 100"})
			return
		}
		limit = n
	}
	after := q.Get("starting_after")
	if after != "" && !ValidOrderID(after) {
		a.fail(w, r, &FieldError{Field: "starting_after", Message: "must be an order id (ord_...), the last one of the previous page"})
		return
	}
	orders, more, err := a.svc.OrdersByReference(r.Context(), m, ref, after, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if orders == nil {
		orders = []Order{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": orders, "has_more": more})
}

type amountRequest struct {
	Amount *int64 `json:"amount"`
}

func (a *API) amountOp(w http.ResponseWriter, r *http.Request, m string, body []byte,
	op func(ctx context.Context, m string, id OrderID, key string, amount int64, hash string) (Order, bool, error), name string) {
	var req amountRequest
	if err := decode(body, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	var amount int64
	if req.Amount != nil {
		if *req.Amount <= 0 || *req.Amount > MaxAmount {
			a.fail(w, r, &FieldError{Field: "amount", Message: "must be a positive number of minor units"})
			return
		}
		amount = *req.Amount
	}
	o, rep, err := op(r.Context(), m, OrderID(mux.Vars(r)["id"]), r.Header.Get("Idempotency-Key"), amount, RequestHash([]byte(name), mustJSON(req)))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	replayed(w, rep)
	writeJSON(w, http.StatusCreated, o)
}

func (a *API) capture(w http.ResponseWriter, r *http.Request, m string, body []byte) {
	a.amountOp(w, r, m, body, a.svc.Capture, "capture")
}

func (a *API) refund(w http.ResponseWriter, r *http.Request, m string, body []byte) {
	a.amountOp(w, r, m, body, a.svc.Refund, "refund")
}

func (a *API) simpleOp(w http.ResponseWriter, r *http.Request, m string, body []byte,
	op func(ctx context.Context, m string, id OrderID, key, hash string) (Order, bool, error), name string) {
	var empty struct{}
	if err := decode(body, &empty, true); err != nil {
		a.fail(w, r, err)
		return
	}
	o, rep, err := op(r.Context(), m, OrderID(mux.Vars(r)["id"]), r.Header.Get("Idempotency-Key"), RequestHash([]byte(name)))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	replayed(w, rep)
	writeJSON(w, http.StatusOK, o)
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

func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return host
}
