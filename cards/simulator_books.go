package cards

import (
	"bytes"
	"crypto/hmac"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"kassa/httperr"
)

// book is the Simulator's account of one payment. It is kept for the
// Simulator's life, unlike the idempotency keys, and holds no card data.
// Invariant: captured+voided <= authorized and refunded <= captured.
type book struct {
	id, reference, currency                string
	approved                               bool
	authorized, captured, refunded, voided int64
	refuseCaptures, refuseRefunds          bool // from the test card
}

// simOp is one capture, refund or void, succeeded or refused.
type simOp struct {
	id, typ, payment, reference, key, currency string
	amount                                     int64
	created                                    time.Time
	succeeded                                  bool
}

// operationBody is the body of POST /payments/{id}/captures, refunds and
// voids. Reference is optional; when given it must be the payment's.
type operationBody struct {
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Reference string `json:"reference,omitempty"`
}

// operationResponse is the answer to an operation.
type operationResponse struct {
	ID          string    `json:"id"`
	Payment     string    `json:"payment"`
	Type        string    `json:"type"`
	Status      string    `json:"status"`
	RefusalCode string    `json:"refusal_code"`
	Amount      int64     `json:"amount"`
	Currency    string    `json:"currency"`
	Reference   string    `json:"reference"`
	Created     time.Time `json:"created"`
}

// Statuses of an operation.
const (
	statusSucceeded = "succeeded"
	statusRefused   = "refused"
)

// operate returns the handler of POST /payments/{id}/<typ>s.
func (s *Simulator) operate(typ string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if msg := checkIdempotencyKey(key); msg != "" {
			httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_idempotency_key", Message: "Idempotency-Key header: " + msg, Field: "Idempotency-Key"})
			return
		}
		req, status, code, msg := decodeOperation(w, r)
		if status != 0 {
			httperr.Write(w, httperr.Error{Status: status, Code: code, Message: msg})
			return
		}
		id := r.PathValue("id")
		digest := s.opDigest(typ, id, req)

		s.mu.Lock()
		now := s.now()
		s.expire(now)
		p, replay := s.byKey[key]
		if replay && !hmac.Equal(p.digest[:], digest[:]) {
			s.mu.Unlock()
			writeConflict(w)
			return
		}
		var b *book
		if !replay {
			if b = s.payments[id]; b == nil {
				s.mu.Unlock()
				httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: RefusalPaymentNotFound, Message: "there is no payment with this id"})
				return
			}
		}
		f := s.draw(false)
		if f == faultFailBefore {
			s.mu.Unlock()
			writeNotProcessed(w)
			return
		}
		if !replay {
			p = s.apply(typ, key, b, req, digest, now, f == faultRefuse)
		}
		s.mu.Unlock()
		s.answer(w, r, p, replay, f)
	}
}

// apply decides an operation on b by its books, records it under key and
// moves the books if it succeeds. refuse is the Refuse fault. s.mu must be
// held.
func (s *Simulator) apply(typ, key string, b *book, req operationBody, digest [32]byte, now time.Time, refuse bool) *simRecord {
	code := ""
	switch {
	case refuse:
		code = RefusalProcessingRefused
	case !b.approved:
		code = RefusalPaymentNotApproved
	case req.Currency != b.currency:
		code = RefusalCurrencyMismatch
	case req.Reference != "" && req.Reference != b.reference:
		code = RefusalReferenceMismatch
	}
	if code == "" {
		switch typ {
		case OperationCapture:
			switch {
			case b.refuseCaptures:
				code = RefusalCaptureRefused
			case req.Amount > b.authorized-b.captured-b.voided:
				code = RefusalAmountExceedsAuthorization
			default:
				b.captured += req.Amount
			}
		case OperationRefund:
			switch {
			case b.refuseRefunds:
				code = RefusalRefundRefused
			case req.Amount > b.captured-b.refunded:
				code = RefusalAmountExceedsCaptured
			default:
				b.refunded += req.Amount
			}
		case OperationVoid:
			if req.Amount > b.authorized-b.captured-b.voided {
				code = RefusalAmountExceedsOpen
			} else {
				b.voided += req.Amount
			}
		}
	}
	s.opSeq++
	op := &simOp{id: fmt.Sprintf("op_%08d", s.opSeq), typ: typ, payment: b.id, reference: b.reference, key: key,
		currency: req.Currency, amount: req.Amount, created: now.UTC(), succeeded: code == ""}
	s.ops = append(s.ops, op)
	status := statusSucceeded
	if code != "" {
		status = statusRefused
	}
	body, err := json.Marshal(operationResponse{ID: op.id, Payment: b.id, Type: typ, Status: status, RefusalCode: code,
		Amount: req.Amount, Currency: req.Currency, Reference: b.reference, Created: op.created})
	if err != nil {
		panic(fmt.Sprintf("cards: encode operation: %v", err)) // plain strings and numbers always encode
	}
	p := &simRecord{digest: digest, created: now, body: append(body, '\n')}
	s.byKey[key] = p
	s.order = append(s.order, key)
	return p
}

// opDigest is the keyed hash of an operation request; see digest.
func (s *Simulator) opDigest(typ, payment string, req operationBody) [32]byte {
	return s.keyedDigest(typ, payment, strconv.FormatInt(req.Amount, 10), req.Currency, req.Reference)
}

// decodeOperation reads and checks the body of an operation. A non-zero
// status means the request is refused with that status, code and message.
func decodeOperation(w http.ResponseWriter, r *http.Request) (req operationBody, status int, code, msg string) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		status, code, msg = decodeFailure(err)
		return req, status, code, msg
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, http.StatusBadRequest, "malformed", "the body has data after the operation"
	}
	switch {
	case req.Amount <= 0:
		return req, http.StatusBadRequest, "invalid_amount", "amount must be a positive number of minor units"
	case !isCurrency(req.Currency):
		return req, http.StatusBadRequest, "invalid_currency", "currency must be an ISO 4217 code such as SEK"
	case checkReference(req.Reference) != "":
		return req, http.StatusBadRequest, "invalid_reference", "reference: " + checkReference(req.Reference)
	}
	return req, 0, "", ""
}

// booksResponse is the answer to GET /payments?reference=R.
type booksResponse struct {
	Authorized int64          `json:"authorized"`
	Captured   int64          `json:"captured"`
	Refunded   int64          `json:"refunded"`
	Voided     int64          `json:"voided"`
	Currency   string         `json:"currency"`
	Payments   []paymentBooks `json:"payments"`
}

type paymentBooks struct {
	ID         string `json:"id"`
	Authorized int64  `json:"authorized"`
	Captured   int64  `json:"captured"`
	Refunded   int64  `json:"refunded"`
	Voided     int64  `json:"voided"`
	Currency   string `json:"currency"`
	Status     string `json:"status"`
}

// books answers GET /payments?reference=R: the sums over R's approved
// payments in the currency of the first of them, and every payment of R.
func (s *Simulator) books(w http.ResponseWriter, ref string) {
	if ref == "" || checkReference(ref) != "" {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_reference", Message: "reference must be 1 to 255 printable characters", Field: "reference"})
		return
	}
	s.mu.Lock()
	var res booksResponse
	for _, b := range s.byRef[ref] {
		status := statusDeclined
		if b.approved {
			status = statusApproved
			if res.Currency == "" {
				res.Currency = b.currency
			}
			if b.currency == res.Currency {
				res.Authorized += b.authorized
				res.Captured += b.captured
				res.Refunded += b.refunded
				res.Voided += b.voided
			}
		}
		res.Payments = append(res.Payments, paymentBooks{ID: b.id, Authorized: b.authorized, Captured: b.captured,
			Refunded: b.refunded, Voided: b.voided, Currency: b.currency, Status: status})
	}
	s.mu.Unlock()
	if len(res.Payments) == 0 {
		httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: "not_found", Message: "no payment was received with this reference"})
		return
	}
	if res.Currency == "" {
		res.Currency = res.Payments[0].Currency
	}
	body, err := json.Marshal(res)
	if err != nil {
		panic(fmt.Sprintf("cards: encode books: %v", err)) // plain strings and numbers always encode
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(body, '\n'))
}

// settlementHeader is the first line of a settlement file.
const settlementHeader = "date,type,operation_id,payment_id,reference,idempotency_key,amount,currency,created_at"

// settlement answers GET /settlements/YYYY-MM-DD.csv.
func (s *Simulator) settlement(w http.ResponseWriter, r *http.Request) {
	day, ok := strings.CutSuffix(r.PathValue("file"), ".csv")
	if !ok || !isDay(day) {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_date", Message: "the file name must be a date such as 2026-03-15.csv"})
		return
	}
	var buf bytes.Buffer
	buf.WriteString(settlementHeader + "\n")
	cw := csv.NewWriter(&buf)
	s.mu.Lock()
	for _, op := range s.ops {
		if !op.succeeded || op.typ == OperationVoid || op.created.Format(time.DateOnly) != day {
			continue
		}
		cw.Write([]string{day, op.typ, op.id, op.payment, op.reference, op.key,
			strconv.FormatInt(op.amount, 10), op.currency, op.created.Format(time.RFC3339Nano)})
	}
	s.mu.Unlock()
	cw.Flush() // writing to a bytes.Buffer cannot fail
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Write(buf.Bytes())
}

// isDay reports whether day is a calendar date written YYYY-MM-DD.
func isDay(day string) bool {
	t, err := time.Parse(time.DateOnly, day)
	return err == nil && t.Format(time.DateOnly) == day
}
