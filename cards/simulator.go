package cards

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"kassa/httperr"
)

// Limits of the Simulator's protocol.
const (
	MaxIdempotencyKeyLen = 255
	maxReferenceLen      = 255
	maxRequestBody       = 16 << 10
)

// Simulator defaults.
const (
	DefaultStall     = 30 * time.Second
	DefaultRetention = 24 * time.Hour
)

// Simulator is an in-memory acquirer served over HTTP (see Handler), so
// that kassa's real client path (timeouts, retries, idempotency) runs against
// it. It approves or declines by card number as TestCards documents, keeps
// each payment and each capture, refund and void under its idempotency key
// and answers a repeated key with the first answer, never charging or
// moving money twice. It keeps books per payment and refuses any operation
// they do not allow, and writes a settlement file per day. SetFaults makes
// it fail on purpose.
//
// Set the exported fields before serving. A Simulator is safe for concurrent
// use.
type Simulator struct {
	// Stall is how long the answer for the stalling test card, or one hit by
	// the TimeoutAfter fault, is held back when the caller does not hang up
	// first. Zero means DefaultStall.
	Stall time.Duration
	// Retention is how long the answer under an idempotency key (of an
	// authorization or an operation), and so the key, is kept. Books and
	// settlement lines are kept for the Simulator's life. Zero means
	// DefaultRetention.
	Retention time.Duration

	now   func() time.Time
	key   [32]byte // keys request digests; never leaves the process
	cards map[string]TestCard

	mu       sync.Mutex
	byKey    map[string]*simRecord // authorizations and operations share the keys
	order    []string              // idempotency keys, oldest first, for expiry
	seq      int
	charges  int
	payments map[string]*book   // by payment id, kept for the Simulator's life
	byRef    map[string][]*book // the payments of a reference, oldest first
	ops      []*simOp           // every operation, oldest first
	opSeq    int
	faults   Faults
	rng      *mrand.Rand // nil until SetFaults
}

// simRecord is what the Simulator remembers under an idempotency key: no
// number, no CVC.
type simRecord struct {
	digest  [32]byte // keyed digest of the request, to tell replays from conflicts
	created time.Time
	auth    bool // an authorization, which GET /payments?idempotency_key= answers
	stall   bool
	body    []byte // the answer, replayed byte for byte
}

// NewSimulator returns a Simulator that reads time, for card expiry and
// record retention, from now (time.Now if nil).
func NewSimulator(now func() time.Time) *Simulator {
	if now == nil {
		now = time.Now
	}
	s := &Simulator{now: now, cards: map[string]TestCard{}, byKey: map[string]*simRecord{},
		payments: map[string]*book{}, byRef: map[string][]*book{}}
	rand.Read(s.key[:]) // never fails: it crashes the program instead
	for _, tc := range TestCards() {
		s.cards[digitsOf(tc.Number)] = tc
	}
	return s
}

// Charges returns the number of payments the Simulator has approved, each
// counted once however often its idempotency key was repeated.
func (s *Simulator) Charges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.charges
}

// paymentResponse is the answer to POST /payments and GET /payments.
type paymentResponse struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	DeclineCode string    `json:"decline_code"`
	Amount      int64     `json:"amount"`
	Currency    string    `json:"currency"`
	Reference   string    `json:"reference"`
	Brand       string    `json:"brand"`
	Last4       string    `json:"last4"`
	Created     time.Time `json:"created"`
}

// Statuses of a payment.
const (
	statusApproved = "approved"
	statusDeclined = "declined"
)

// Handler serves the Simulator's API:
//
//	POST /payments                    charge a card; header Idempotency-Key required
//	GET  /payments?idempotency_key=K  the answer given for key K; 404 if none
//	POST /payments/{id}/captures      capture, refund or void an amount of payment id;
//	POST /payments/{id}/refunds       header Idempotency-Key required
//	POST /payments/{id}/voids
//	GET  /payments?reference=R        the books of R's payments; 404 if none
//	GET  /settlements/YYYY-MM-DD.csv  the day's succeeded captures and refunds
//
// A malformed request gets a 4xx with kassa's error envelope (httperr:
// {"error": {"code", "message", "field", "correlation_id"}}) and is not
// recorded; docs/cards.md has the details.
func (s *Simulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /payments", s.create)
	mux.HandleFunc("GET /payments", s.lookup)
	mux.HandleFunc("POST /payments/{id}/captures", s.operate(OperationCapture))
	mux.HandleFunc("POST /payments/{id}/refunds", s.operate(OperationRefund))
	mux.HandleFunc("POST /payments/{id}/voids", s.operate(OperationVoid))
	mux.HandleFunc("GET /settlements/{file}", s.settlement)
	return mux
}

func (s *Simulator) create(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	if msg := checkIdempotencyKey(key); msg != "" {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_idempotency_key", Message: "Idempotency-Key header: " + msg, Field: "Idempotency-Key"})
		return
	}
	req, status, code, msg := decodePayment(w, r)
	if status != 0 {
		httperr.Write(w, httperr.Error{Status: status, Code: code, Message: msg})
		return
	}
	digest := s.digest(req)

	s.mu.Lock()
	now := s.now()
	s.expire(now)
	p, replay := s.byKey[key]
	if replay && !hmac.Equal(p.digest[:], digest[:]) {
		s.mu.Unlock()
		writeConflict(w)
		return
	}
	f := s.draw(true)
	if f == faultFailBefore {
		s.mu.Unlock()
		writeNotProcessed(w)
		return
	}
	if !replay {
		p = s.charge(key, req, digest, now, f == faultRefuse)
	}
	s.mu.Unlock()
	s.answer(w, r, p, replay, f)
}

// answer writes the recorded answer p, after what fault f asks for.
func (s *Simulator) answer(w http.ResponseWriter, r *http.Request, p *simRecord, replay bool, f fault) {
	if f == faultFailAfter {
		httperr.Write(w, httperr.Error{Status: http.StatusInternalServerError, Code: "internal",
			Message: "the acquirer failed after processing the request; repeat it with the same Idempotency-Key"})
		return
	}
	if p.stall || f == faultTimeoutAfter {
		s.hold(r.Context())
		if r.Context().Err() != nil {
			return // the caller gave up; what was committed stands
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if replay {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.WriteHeader(http.StatusOK)
	w.Write(p.body)
}

// codeNotProcessed is the error code of a 503 that promises the request was
// not processed, so the client may count it as not delivered.
const codeNotProcessed = "not_processed"

func writeNotProcessed(w http.ResponseWriter) {
	httperr.Write(w, httperr.Error{Status: http.StatusServiceUnavailable, Code: codeNotProcessed,
		Message: "the acquirer did not process the request; repeat it with the same Idempotency-Key"})
}

func writeConflict(w http.ResponseWriter) {
	httperr.Write(w, httperr.Error{Status: http.StatusConflict, Code: "idempotency_conflict",
		Message: "this Idempotency-Key was used with a different request", Field: "Idempotency-Key"})
}

// charge decides a new payment and records it, and its books. refuse is
// the Refuse fault: decline whatever the card. s.mu must be held.
func (s *Simulator) charge(key string, req paymentBody, digest [32]byte, now time.Time, refuse bool) *simRecord {
	card := Card{Number: req.Number, ExpMonth: req.ExpMonth, ExpYear: req.ExpYear, CVC: req.CVC}
	d := digitsOf(card.Number)
	status, decline, stall := statusApproved, "", false
	tc := s.cards[d]
	var fe *FieldError
	if err := Check(card, now); errors.As(err, &fe) {
		status, decline = statusDeclined, fe.Code
	} else if refuse {
		status, decline = statusDeclined, RefusalProcessingRefused
	} else if tc.Number != "" {
		stall = tc.Stalls
		if !tc.Approved {
			status, decline = statusDeclined, tc.DeclineCode
		}
	}
	s.seq++
	id := fmt.Sprintf("pay_%08d", s.seq)
	b := &book{id: id, reference: req.Reference, currency: req.Currency, approved: status == statusApproved,
		refuseCaptures: tc.RefusesCaptures, refuseRefunds: tc.RefusesRefunds}
	if b.approved {
		b.authorized = req.Amount
	}
	s.payments[id] = b
	s.byRef[req.Reference] = append(s.byRef[req.Reference], b)
	body, err := json.Marshal(paymentResponse{
		ID:          id,
		Status:      status,
		DeclineCode: decline,
		Amount:      req.Amount,
		Currency:    req.Currency,
		Reference:   req.Reference,
		Brand:       brandOf(d),
		Last4:       last4(d),
		Created:     now.UTC(),
	})
	if err != nil {
		panic(fmt.Sprintf("cards: encode payment: %v", err)) // plain strings and numbers always encode
	}
	p := &simRecord{digest: digest, created: now, auth: true, stall: stall, body: append(body, '\n')}
	s.byKey[key] = p
	s.order = append(s.order, key)
	if status == statusApproved {
		s.charges++
	}
	return p
}

// expire forgets payments older than the retention. s.mu must be held.
func (s *Simulator) expire(now time.Time) {
	keep := s.Retention
	if keep <= 0 {
		keep = DefaultRetention
	}
	n := 0
	for n < len(s.order) && now.Sub(s.byKey[s.order[n]].created) > keep {
		delete(s.byKey, s.order[n])
		n++
	}
	if n > 0 {
		s.order = append(s.order[:0:0], s.order[n:]...)
	}
}

// hold waits for the stall to pass or ctx to end, whichever is first.
func (s *Simulator) hold(ctx context.Context) {
	d := s.Stall
	if d <= 0 {
		d = DefaultStall
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (s *Simulator) lookup(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("reference") {
		if q.Has("idempotency_key") {
			httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "malformed", Message: "give idempotency_key or reference, not both"})
			return
		}
		s.books(w, q.Get("reference"))
		return
	}
	key := q.Get("idempotency_key")
	if msg := checkIdempotencyKey(key); msg != "" {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_idempotency_key", Message: "idempotency_key: " + msg, Field: "idempotency_key"})
		return
	}
	s.mu.Lock()
	s.expire(s.now())
	p, ok := s.byKey[key]
	s.mu.Unlock()
	if !ok || !p.auth {
		httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: "not_found", Message: "no payment was received with this idempotency key"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(p.body)
}

// digest is a keyed hash of everything in the request, so that a replay can
// be told from a conflicting reuse of its key without keeping the number or
// CVC. The number is compared without its spaces and dashes.
func (s *Simulator) digest(req paymentBody) [32]byte {
	return s.keyedDigest("authorize", strconv.FormatInt(req.Amount, 10), req.Currency, digitsOf(req.Number),
		strconv.Itoa(req.ExpMonth), strconv.Itoa(req.ExpYear), req.CVC, req.Reference)
}

// keyedDigest is HMAC-SHA256 under the simulator's key of fields, each
// length-prefixed so that no two lists of fields hash alike.
func (s *Simulator) keyedDigest(fields ...string) [32]byte {
	mac := hmac.New(sha256.New, s.key[:])
	for _, f := range fields {
		fmt.Fprintf(mac, "%d:%s,", len(f), f)
	}
	var d [32]byte
	copy(d[:], mac.Sum(nil))
	return d
}

// decodePayment reads and checks the body of POST /payments. A non-zero
// status means the request is refused with that status, code and message.
func decodePayment(w http.ResponseWriter, r *http.Request) (req paymentBody, status int, code, msg string) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		status, code, msg = decodeFailure(err)
		return req, status, code, msg
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, http.StatusBadRequest, "malformed", "the body has data after the payment"
	}
	switch {
	case req.Amount <= 0:
		return req, http.StatusBadRequest, "invalid_amount", "amount must be a positive number of minor units"
	case !isCurrency(req.Currency):
		return req, http.StatusBadRequest, "invalid_currency", "currency must be an ISO 4217 code such as SEK"
	case req.Number == "":
		return req, http.StatusBadRequest, "missing_number", "number is required"
	case checkReference(req.Reference) != "":
		return req, http.StatusBadRequest, "invalid_reference", "reference: " + checkReference(req.Reference)
	}
	return req, 0, "", ""
}

// decodeFailure turns a decoding error into a refusal. The decoder's own
// messages are not passed on: a type error can quote the offending value,
// which may be a card number sent as a JSON number.
func decodeFailure(err error) (status int, code, msg string) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body is over %d bytes", maxRequestBody)
	}
	msg = "the body is not a payment"
	if e, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && e.Field != "" {
		msg = "field " + e.Field + " has the wrong type"
	} else if e, ok := errors.AsType[*json.SyntaxError](err); ok {
		msg = fmt.Sprintf("the body is not valid JSON (byte %d)", e.Offset)
	} else if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "the body is empty or cut short"
	} else if strings.HasPrefix(err.Error(), "json: unknown field") {
		msg = "the body has a field a payment does not have"
	}
	return http.StatusBadRequest, "malformed", msg
}

func isCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// checkReference returns what is wrong with a reference, or "". A
// reference is written into settlement files, one line per operation, so it
// holds no control characters.
func checkReference(ref string) string {
	if len(ref) > maxReferenceLen {
		return fmt.Sprintf("over %d bytes", maxReferenceLen)
	}
	for _, c := range ref {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == utf8.RuneError {
			return "only printable UTF-8 characters"
		}
	}
	return ""
}

// checkIdempotencyKey returns what is wrong with key, or "".
func checkIdempotencyKey(key string) string {
	if key == "" {
		return "required"
	}
	if len(key) > MaxIdempotencyKeyLen {
		return fmt.Sprintf("over %d bytes", MaxIdempotencyKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return "only printable ASCII without spaces"
		}
	}
	return ""
}
