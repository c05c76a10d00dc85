package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"kassa/checkout"
	"kassa/httperr"
	"kassa/invoice"
	"kassa/scoring"
)

// Credit is what admin needs of the credit engine.
type Credit interface {
	Consumer(ctx context.Context, c checkout.ConsumerID) (scoring.ConsumerView, error)
	Policy() scoring.Policy
	SetMode(ctx context.Context, m scoring.Mode, by checkout.Actor) error
	AdjustLimit(ctx context.Context, c checkout.ConsumerID, cur string, limit int64, by checkout.Actor) error
}

// WithCredit adds the consumer, repayment and mode routes.
func (a *API) WithCredit(c Credit) *API {
	a.credit = c
	return a
}

func (a *API) creditRoutes(api *mux.Router) {
	if a.credit == nil {
		return
	}
	api.HandleFunc("/consumers", a.staff("viewer", a.consumerByEmail)).Methods(http.MethodGet)
	api.HandleFunc("/consumers/{id}", a.staff("viewer", a.consumerByID)).Methods(http.MethodGet)
	api.HandleFunc("/consumers/{id}/limit", a.staff("admin", a.adjustLimit)).Methods(http.MethodPost)
	api.HandleFunc("/repayments", a.staff("support", a.importRepayments)).Methods(http.MethodPost)
	api.HandleFunc("/orders/{id}/repayments", a.staff("support", a.repayOrder)).Methods(http.MethodPost)
	api.HandleFunc("/mode", a.staff("viewer", a.mode)).Methods(http.MethodGet)
	api.HandleFunc("/mode", a.staff("admin", a.setMode)).Methods(http.MethodPost)
}

// ConsumerView is GET /admin/api/consumers?email= and /consumers/{id}. The
// top-level figures are those of one currency (the currency parameter,
// else the consumer's first line); Lines has every currency.
type ConsumerView struct {
	ID        checkout.ConsumerID `json:"id"`
	Email     string              `json:"email,omitempty"` // masked
	Home      string              `json:"home"`
	Mode      scoring.Mode        `json:"mode"`
	Currency  string              `json:"currency"`
	Limit     int64               `json:"limit"`
	Exposure  int64               `json:"exposure"`
	Rights    map[string]int64    `json:"rights"`
	Unsecured int64               `json:"unsecured"`
	Available int64               `json:"available"`
	Overdue   int64               `json:"overdue"`
	// Balance is the credit balance kassa owes the consumer in Currency:
	// money paid beyond the debt it was paid towards.
	Balance int64              `json:"balance"`
	Lines   []scoring.LineView `json:"lines"`
}

func (a *API) consumerByEmail(w http.ResponseWriter, r *http.Request, _ user) {
	email := strings.TrimSpace(r.URL.Query().Get("email"))
	if at := strings.LastIndex(email, "@"); at < 1 || at == len(email)-1 || len(email) > 254 {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "email must be an email address"})
		return
	}
	a.consumer(w, r, a.svc.ConsumerID(email), checkout.MaskEmail(email))
}

func (a *API) consumerByID(w http.ResponseWriter, r *http.Request, _ user) {
	id := mux.Vars(r)["id"]
	if !strings.HasPrefix(id, "con_") || len(id) > 64 {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "a consumer id starts with con_"})
		return
	}
	a.consumer(w, r, checkout.ConsumerID(id), "")
}

func (a *API) consumer(w http.ResponseWriter, r *http.Request, id checkout.ConsumerID, email string) {
	v, err := a.credit.Consumer(r.Context(), id)
	if err != nil {
		a.log.Error("admin: read consumer", "consumer", id, "err", err)
		writeInternal(w)
		return
	}
	out := ConsumerView{ID: id, Email: email, Home: v.Home, Mode: v.Mode, Rights: map[string]int64{}, Lines: v.Lines}
	cur := strings.ToUpper(r.URL.Query().Get("currency"))
	for _, l := range v.Lines {
		if cur == "" || l.Currency == cur {
			out.Currency, out.Limit, out.Exposure, out.Rights = l.Currency, l.Limit, l.Exposure, l.Rights
			out.Unsecured, out.Available, out.Overdue = l.Unsecured, l.Available, l.Overdue
			break
		}
	}
	if out.Currency == "" {
		httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: "not_found", Message: "this region knows no credit for this consumer" + map[bool]string{true: "", false: " in " + cur}[cur == ""]})
		return
	}
	if out.Balance, err = a.svc.Balance(r.Context(), id, out.Currency); err != nil {
		a.log.Error("admin: read consumer balance", "consumer", id, "err", err)
		writeInternal(w)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// RepaymentLine is one line of a repayment import (a bank file as JSON).
// It names what it pays by order_id or by payment_reference, the invoice's
// reference with its check digit (as the shopper's bank transfer carries
// it). Its transaction_id, the bank's own id of the payment, makes a line
// imported twice a replay; a line without one is known by its reference,
// as before transaction ids were read.
type RepaymentLine struct {
	OrderID          string `json:"order_id,omitempty"`
	PaymentReference string `json:"payment_reference,omitempty"`
	TransactionID    string `json:"transaction_id,omitempty"`
	Amount           int64  `json:"amount"`
	Currency         string `json:"currency"`
	PaidAt           string `json:"paid_at,omitempty"` // RFC 3339; default now
	Reference        string `json:"reference,omitempty"`
}

// key is what makes one line's repayment unique: the bank's transaction
// id, else its reference.
func (l RepaymentLine) key() string {
	if l.TransactionID != "" {
		return "bank:" + l.TransactionID
	}
	return l.Reference
}

// RepaymentResult is what happened to one line: recorded (applied is the
// part that settled debt, unapplied what exceeded it, balance the part of
// that credited to the consumer's balance), replayed (this transaction
// was recorded before), unmatched (no invoice has the payment reference,
// or its check digit is wrong: support must find where the money goes),
// rejected (with the reason; nothing written) or retry (the order's debt
// is in a region out of reach).
type RepaymentResult struct {
	Reference        string `json:"reference,omitempty"`
	TransactionID    string `json:"transaction_id,omitempty"`
	PaymentReference string `json:"payment_reference,omitempty"`
	OrderID          string `json:"order_id"`
	Status           string `json:"status"`
	Applied          int64  `json:"applied"`
	Unapplied        int64  `json:"unapplied"`
	Balance          int64  `json:"balance,omitempty"`
	Error            string `json:"error,omitempty"`

	// refusal says why a line was rejected, for the one-order endpoint's
	// status and error code.
	refusal refusal
}

type refusal int

const (
	refusedOther refusal = iota
	refusedNoOrder
	refusedTooLarge
)

const maxImportLines = 1000

func decodeStrict(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil {
		return fmt.Errorf("could not read the body")
	}
	if len(body) > 1<<20 {
		return fmt.Errorf("body over 1 MiB")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body is not valid JSON for this request: %v", err)
	}
	if dec.More() {
		return fmt.Errorf("body has data after the JSON object")
	}
	return nil
}

// validate checks a line before anything is written.
func (l RepaymentLine) validate(now time.Time) (checkout.Repayment, error) {
	bad := func(s string) bool { return len(s) > 128 || strings.ContainsAny(s, "\r\n\t") }
	switch {
	case (l.OrderID == "") == (l.PaymentReference == ""):
		return checkout.Repayment{}, errors.New("name either order_id or payment_reference")
	case len(l.OrderID) > 64 || len(l.PaymentReference) > 64:
		return checkout.Repayment{}, errors.New("order_id and payment_reference are at most 64 characters")
	case l.Amount <= 0 || l.Amount > 1_000_000_000_000:
		return checkout.Repayment{}, errors.New("amount must be a positive number of minor units")
	case bad(l.Reference) || bad(l.TransactionID):
		return checkout.Repayment{}, errors.New("reference and transaction_id are at most 128 characters on one line")
	case l.PaymentReference != "" && l.TransactionID == "":
		return checkout.Repayment{}, errors.New("transaction_id is required with payment_reference (the bank's id of the payment: importing it twice must not pay twice)")
	case l.TransactionID == "" && l.Reference == "":
		return checkout.Repayment{}, errors.New("reference is required (the bank's reference, at most 128 characters)")
	case l.Currency != "" && (len(l.Currency) != 3 || strings.ToUpper(l.Currency) != l.Currency):
		return checkout.Repayment{}, errors.New("currency must be a three-letter ISO code")
	}
	at := now
	if l.PaidAt != "" {
		t, err := time.Parse(time.RFC3339, l.PaidAt)
		if err != nil {
			return checkout.Repayment{}, errors.New("paid_at must be an RFC 3339 time")
		}
		if t.After(now.Add(24 * time.Hour)) {
			return checkout.Repayment{}, errors.New("paid_at is in the future")
		}
		at = t
	}
	return checkout.Repayment{Amount: l.Amount, PaidAt: at, Reference: l.key()}, nil
}

// repay records one line, by the staff member in by: the repayment entry
// names them. With capExcess (an import) the amount is capped at what is
// owed and the rest reported unapplied; without, an amount over what is
// owed is refused. Checkout replays a reference recorded before, whatever
// is owed now, so a file can be imported again after a retry.
func (a *API) repay(ctx context.Context, l RepaymentLine, capExcess bool, by checkout.Actor) RepaymentResult {
	res := RepaymentResult{Reference: l.Reference, TransactionID: l.TransactionID, PaymentReference: l.PaymentReference, OrderID: l.OrderID, Unapplied: l.Amount}
	p, err := l.validate(time.Now())
	if err != nil {
		res.Status, res.Error = "rejected", err.Error()
		return res
	}
	p.CapAtOwed, p.By = capExcess, by
	if l.PaymentReference != "" {
		inv, why := a.byReference(strings.Join(strings.Fields(l.PaymentReference), ""))
		if why != "" {
			res.Status, res.Error = "unmatched", why
			return res
		}
		l.OrderID, res.OrderID = string(inv.Order), string(inv.Order)
	}
	oid := checkout.OrderID(l.OrderID)
	_, cur, err := a.svc.Debt(ctx, oid)
	switch {
	case errors.Is(err, checkout.ErrNotFound):
		res.Status, res.Error, res.refusal = "rejected", "no such order", refusedNoOrder
		return res
	case err != nil:
		res.Status, res.Error = "retry", "could not read the order"
		return res
	case l.Currency != "" && l.Currency != cur:
		res.Status, res.Error = "rejected", fmt.Sprintf("the order is in %s, not %s", cur, l.Currency)
		return res
	}
	o, replayed, err := a.svc.Repay(ctx, oid, p)
	var ae *checkout.AmountError
	if errors.Is(err, checkout.ErrNothingOwed) && capExcess && l.PaymentReference != "" {
		// The invoice was paid already (by card, or by another transfer):
		// the money is the consumer's.
		o, err = a.svc.Order(ctx, "", oid)
		if err != nil {
			res.Status, res.Error = "retry", "could not read the order"
			return res
		}
		return a.overpaid(ctx, l, p, o, 0, false, res)
	}
	switch {
	case errors.As(err, &ae):
		res.Status, res.Error, res.refusal = "rejected", fmt.Sprintf("amount %d exceeds the %d still owed", ae.Requested, ae.Allowed), refusedTooLarge
		return res
	case errors.Is(err, checkout.ErrNothingOwed):
		res.Status, res.Error = "rejected", "nothing is owed on this order (not a credit order, not captured, or repaid)"
		return res
	case errors.Is(err, checkout.ErrIdempotencyConflict):
		res.Status, res.Error = "rejected", "this reference was recorded before with another amount"
		return res
	case errors.Is(err, checkout.ErrRightsUnavailable):
		res.Status, res.Error = "retry", "the region holding this order's debt cannot be reached; import the line again later"
		return res
	case errors.Is(err, checkout.ErrInvalidState):
		res.Status, res.Error = "rejected", err.Error()
		return res
	case err != nil:
		a.log.Error("admin: record repayment", "order", oid, "err", err)
		res.Status, res.Error = "retry", "internal error"
		return res
	}
	applied, _, err := a.svc.Repaid(ctx, oid, p.Reference)
	if err != nil {
		res.Status, res.Error = "retry", "could not read the order"
		return res
	}
	if capExcess && applied < l.Amount {
		return a.overpaid(ctx, l, p, o, applied, replayed, res)
	}
	res.Status, res.Applied, res.Unapplied = "recorded", applied, l.Amount-applied
	if replayed {
		res.Status = "replayed"
	}
	return res
}

// overpaid credits what of an imported line no debt took to the
// consumer's balance, once per transaction: kassa holds the money and owes
// it to them.
func (a *API) overpaid(ctx context.Context, l RepaymentLine, p checkout.Repayment, o checkout.Order, applied int64, replayed bool, res RepaymentResult) RepaymentResult {
	res.Applied, res.Unapplied = applied, l.Amount-applied
	if o.Consumer == nil || o.Consumer.ID == "" {
		res.Status, res.Error = "recorded", "the order names no consumer: the excess is unapplied"
		if replayed {
			res.Status = "replayed"
		}
		return res
	}
	again, err := a.svc.CreditBalance(ctx, checkout.Overpayment{Consumer: o.Consumer.ID, Currency: o.Currency,
		Amount: res.Unapplied, Reference: p.Reference, Order: o.ID, PaidAt: p.PaidAt, By: p.By})
	if err != nil {
		a.log.Error("admin: record a credit balance", "order", o.ID, "err", err)
		res.Status, res.Error = "retry", "internal error"
		return res
	}
	res.Status, res.Balance, res.Unapplied = "recorded", res.Unapplied, 0
	if again && (replayed || applied == 0) {
		res.Status = "replayed"
	}
	return res
}

// byReference finds the invoice a payment reference names, or says why
// the line is unmatched.
func (a *API) byReference(ref string) (invoice.Invoice, string) {
	if a.invoices == nil {
		return invoice.Invoice{}, "unmatched: this region has no invoices"
	}
	if a.validReference != nil && !a.validReference(ref) {
		return invoice.Invoice{}, "unmatched: check digit"
	}
	inv, ok := a.invoices.ByReference(ref)
	if !ok {
		return invoice.Invoice{}, "unmatched: unknown reference"
	}
	return inv, ""
}

// Invoices finds an invoice by its payment reference (the invoice book).
type Invoices interface {
	ByReference(ref string) (invoice.Invoice, bool)
}

// WithInvoices lets the repayment import match lines by payment reference:
// valid checks a reference's check digit (invoice.ValidReference), book
// finds the invoice.
func (a *API) WithInvoices(book Invoices, valid func(string) bool) *API {
	a.invoices, a.validReference = book, valid
	return a
}

func (a *API) importRepayments(w http.ResponseWriter, r *http.Request, u user) {
	var req struct {
		Repayments []RepaymentLine `json:"repayments"`
	}
	if err := decodeStrict(r, &req); err != nil {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: err.Error()})
		return
	}
	if len(req.Repayments) == 0 || len(req.Repayments) > maxImportLines {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: fmt.Sprintf("repayments must list 1 to %d lines", maxImportLines)})
		return
	}
	out := struct {
		Results   []RepaymentResult `json:"results"`
		Recorded  int               `json:"recorded"`
		Replayed  int               `json:"replayed"`
		Unmatched int               `json:"unmatched"`
		Retry     int               `json:"retry"`
		Rejected  int               `json:"rejected"`
	}{Results: make([]RepaymentResult, 0, len(req.Repayments))}
	// Each repayment entry names who imported it; lines refused write
	// nothing, so there is nothing else to record.
	by := actor(u, "repayments import")
	for _, l := range req.Repayments {
		res := a.repay(r.Context(), l, true, by)
		switch res.Status {
		case "recorded":
			out.Recorded++
		case "replayed":
			out.Recorded++
			out.Replayed++
		case "unmatched":
			out.Unmatched++
		case "retry":
			out.Retry++
		default:
			out.Rejected++
		}
		out.Results = append(out.Results, res)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) repayOrder(w http.ResponseWriter, r *http.Request, u user) {
	var l RepaymentLine
	var req struct {
		Amount    int64  `json:"amount"`
		PaidAt    string `json:"paid_at"`
		Reference string `json:"reference"`
		Note      string `json:"note"`
	}
	if err := decodeStrict(r, &req); err != nil {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: err.Error()})
		return
	}
	l = RepaymentLine{OrderID: mux.Vars(r)["id"], Amount: req.Amount, PaidAt: req.PaidAt, Reference: req.Reference}
	if _, err := l.validate(time.Now()); err != nil {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: err.Error()})
		return
	}
	res := a.repay(r.Context(), l, false, actor(u, req.Note))
	switch {
	case res.Status == "recorded", res.Status == "replayed":
	case res.Status == "retry":
		httperr.Write(w, httperr.Error{Status: http.StatusServiceUnavailable, Code: "rights_unavailable", Message: res.Error, RetryAfter: 5})
		return
	case res.refusal == refusedTooLarge:
		httperr.Write(w, httperr.Error{Status: http.StatusUnprocessableEntity, Code: "amount_too_large", Message: res.Error})
		return
	case res.refusal == refusedNoOrder:
		httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: "repayment_rejected", Message: res.Error})
		return
	default:
		httperr.Write(w, httperr.Error{Status: http.StatusUnprocessableEntity, Code: "repayment_rejected", Message: res.Error})
		return
	}
	o, err := a.svc.Order(r.Context(), "", checkout.OrderID(l.OrderID))
	if err != nil {
		writeInternal(w)
		return
	}
	status := http.StatusCreated
	if res.Status == "replayed" {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"order": o, "repaid": o.Repaid, "result": res})
}

func (a *API) mode(w http.ResponseWriter, _ *http.Request, _ user) {
	writeJSON(w, http.StatusOK, map[string]any{"mode": a.credit.Policy().Mode,
		"modes": []scoring.Mode{scoring.ModeNormal, scoring.ModeConservative, scoring.ModeCardOnly, scoring.ModePayLaterOff}})
}

func (a *API) setMode(w http.ResponseWriter, r *http.Request, u user) {
	var req struct {
		Mode   string `json:"mode"`
		Reason string `json:"reason"`
	}
	if err := decodeStrict(r, &req); err != nil {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: err.Error()})
		return
	}
	m, err := scoring.ParseMode(req.Mode)
	if err != nil || req.Mode == "" {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "mode must be normal, conservative, card_only or pay_later_off"})
		return
	}
	if strings.TrimSpace(req.Reason) == "" || len(req.Reason) > 500 {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "reason is required (at most 500 characters): it goes in the audit trail"})
		return
	}
	if err := a.credit.SetMode(r.Context(), m, actor(u, req.Reason)); err != nil {
		a.log.Error("admin: set mode", "err", err)
		writeInternal(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"mode": m})
}

// adjustLimit is POST /admin/api/consumers/{id}/limit {"currency", "limit",
// "reason"}: the consumer's home region changes the line (admin role).
func (a *API) adjustLimit(w http.ResponseWriter, r *http.Request, u user) {
	id := mux.Vars(r)["id"]
	if !strings.HasPrefix(id, "con_") || len(id) > 64 {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "a consumer id starts with con_"})
		return
	}
	var req struct {
		Currency string `json:"currency"`
		Limit    int64  `json:"limit"`
		Reason   string `json:"reason"`
	}
	if err := decodeStrict(r, &req); err != nil {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: err.Error()})
		return
	}
	switch {
	case len(req.Currency) != 3 || strings.ToUpper(req.Currency) != req.Currency:
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "currency must be a three-letter ISO code"})
		return
	case req.Limit < 1 || req.Limit > 1_000_000_000_000:
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "limit must be 1 to 10^12 minor units (1 blocks credit)"})
		return
	case strings.TrimSpace(req.Reason) == "" || len(req.Reason) > 500:
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "reason is required (at most 500 characters): it goes in the audit trail"})
		return
	}
	c := checkout.ConsumerID(id)
	err := a.credit.AdjustLimit(r.Context(), c, req.Currency, req.Limit, actor(u, req.Reason))
	switch {
	case errors.Is(err, scoring.ErrNotHome):
		httperr.Write(w, httperr.Error{Status: http.StatusConflict, Code: "not_home", Message: err.Error() + "; send the change there"})
		return
	case errors.Is(err, scoring.ErrNoLine):
		httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: "not_found", Message: "the consumer has no credit line in " + req.Currency})
		return
	case errors.Is(err, scoring.ErrLimitInUse):
		httperr.Write(w, httperr.Error{Status: http.StatusConflict, Code: "limit_in_use", Message: err.Error()})
		return
	case err != nil:
		a.log.Error("admin: adjust limit", "consumer", c, "err", err)
		writeInternal(w)
		return
	}
	a.consumer(w, r.WithContext(r.Context()), c, "")
}
