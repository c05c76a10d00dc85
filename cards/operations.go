package cards

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Types of an operation on a payment.
const (
	OperationCapture = "capture"
	OperationRefund  = "refund"
	OperationVoid    = "void"
)

// Refusal codes of an operation. The acquirer refuses an operation its
// books do not allow; the books do not move.
const (
	// RefusalPaymentNotFound: the acquirer has no payment with that id. The
	// Simulator answers 404; the Client reports it as a refusal.
	RefusalPaymentNotFound = "payment_not_found"
	// RefusalPaymentNotApproved: the payment was declined, so there is
	// nothing to capture, refund or void.
	RefusalPaymentNotApproved = "payment_not_approved"
	// RefusalAmountExceedsAuthorization: a capture of more than
	// authorized - captured - voided.
	RefusalAmountExceedsAuthorization = "amount_exceeds_authorization"
	// RefusalAmountExceedsCaptured: a refund of more than captured - refunded.
	RefusalAmountExceedsCaptured = "amount_exceeds_captured"
	// RefusalAmountExceedsOpen: a void of more than authorized - captured -
	// voided.
	RefusalAmountExceedsOpen = "amount_exceeds_open"
	// RefusalCurrencyMismatch: the currency is not the payment's.
	RefusalCurrencyMismatch = "currency_mismatch"
	// RefusalReferenceMismatch: a reference was sent and is not the
	// payment's.
	RefusalReferenceMismatch = "reference_mismatch"
	// RefusalCaptureRefused: the test card whose captures are all refused.
	RefusalCaptureRefused = "capture_refused"
	// RefusalRefundRefused: the test card whose refunds are all refused.
	RefusalRefundRefused = "refund_refused"
	// RefusalProcessingRefused: the acquirer refused for reasons of its own
	// (the Simulator's Refuse fault). Also the decline code of an
	// authorization the Refuse fault hits.
	RefusalProcessingRefused = "processing_refused"
)

// Operation is one capture, refund or void of an amount of an authorized
// payment. Like a Payment's, the idempotency key identifies the operation
// at the acquirer: derive it from kassa's operation id and never reuse it
// for anything else (keys share one namespace with authorizations).
type Operation struct {
	IdempotencyKey string
	Payment        string // the acquirer's payment id, Result.ID
	Amount         int64  // minor units, positive
	Currency       string
	// Reference, if set, must be the payment's reference (kassa's order
	// id); the acquirer refuses the operation otherwise.
	Reference string
}

// OperationResult is the acquirer's answer to an operation.
type OperationResult struct {
	ID          string // the acquirer's operation id; "" for payment_not_found
	Payment     string
	Type        string // OperationCapture, OperationRefund or OperationVoid
	Succeeded   bool
	RefusalCode string // one of the Refusal codes, set when not Succeeded
	Amount      int64
	Currency    string
	Reference   string    // the payment's reference
	Created     time.Time // by the acquirer's clock, UTC; its date is the settlement day
}

// Capture asks the acquirer to capture op.Amount of payment op.Payment. A
// refusal (including an unknown payment, RefusalPaymentNotFound) is an
// OperationResult with Succeeded false and a nil error. Errors are those of
// Authorize: ErrUnknownOutcome (the capture may have happened: repeat it
// with the same key, which replays the first answer, or compare Books),
// ErrUnavailable and ErrRejected (it did not happen), ErrIdempotencyConflict.
// Safe for concurrent use.
func (c *Client) Capture(ctx context.Context, op Operation) (OperationResult, error) {
	return c.operate(ctx, OperationCapture, "captures", op)
}

// Refund asks the acquirer to refund op.Amount of what was captured of
// op.Payment. Results and errors are as for Capture.
func (c *Client) Refund(ctx context.Context, op Operation) (OperationResult, error) {
	return c.operate(ctx, OperationRefund, "refunds", op)
}

// Void asks the acquirer to release op.Amount of op.Payment's authorization
// that is not captured. Results and errors are as for Capture.
func (c *Client) Void(ctx context.Context, op Operation) (OperationResult, error) {
	return c.operate(ctx, OperationVoid, "voids", op)
}

func (c *Client) operate(ctx context.Context, typ, path string, op Operation) (OperationResult, error) {
	if msg := checkIdempotencyKey(op.IdempotencyKey); msg != "" {
		return OperationResult{}, fmt.Errorf("cards: %s: idempotency key %s: %w", typ, msg, ErrRejected)
	}
	if op.Payment == "" {
		return OperationResult{}, fmt.Errorf("cards: %s %s: no payment id: %w", typ, op.IdempotencyKey, ErrRejected)
	}
	body, err := json.Marshal(operationBody{Amount: op.Amount, Currency: op.Currency, Reference: op.Reference})
	if err != nil {
		return OperationResult{}, fmt.Errorf("cards: %s %s: encode: %w: %w", typ, op.IdempotencyKey, ErrRejected, err)
	}
	u := c.base + "/payments/" + url.PathEscape(op.Payment) + "/" + path
	b, err := c.do(ctx, http.MethodPost, u, op.IdempotencyKey, body, maxResponseBody)
	if errors.Is(err, errPaymentNotFound) {
		return OperationResult{Payment: op.Payment, Type: typ, RefusalCode: RefusalPaymentNotFound,
			Amount: op.Amount, Currency: op.Currency, Reference: op.Reference}, nil
	}
	if err != nil {
		return OperationResult{}, fmt.Errorf("cards: %s %s: %w", typ, op.IdempotencyKey, err)
	}
	res, err := decodeOperationResult(b)
	if err == nil && (res.Type != typ || res.Payment != op.Payment) {
		err = fmt.Errorf("answer is a %s of payment %q, want a %s of %q", res.Type, res.Payment, typ, op.Payment)
	}
	if err != nil {
		return OperationResult{}, fmt.Errorf("cards: %s %s: %w: %w", typ, op.IdempotencyKey, ErrUnknownOutcome, err)
	}
	return res, nil
}

// decodeOperationResult reads an acquirer's operation. An answer that is
// not a clear success or refusal is an error: the outcome stays unknown.
func decodeOperationResult(b []byte) (OperationResult, error) {
	var or operationResponse
	if err := json.Unmarshal(b, &or); err != nil {
		return OperationResult{}, fmt.Errorf("undecodable answer: %w", err)
	}
	switch {
	case or.ID == "" || or.Payment == "":
		return OperationResult{}, fmt.Errorf("answer has id %q and payment %q", or.ID, or.Payment)
	case or.Type != OperationCapture && or.Type != OperationRefund && or.Type != OperationVoid:
		return OperationResult{}, fmt.Errorf("answer has type %q", or.Type)
	case or.Status != statusSucceeded && or.Status != statusRefused:
		return OperationResult{}, fmt.Errorf("answer has status %q", or.Status)
	case (or.Status == statusRefused) == (or.RefusalCode == ""):
		return OperationResult{}, fmt.Errorf("answer has status %q with refusal code %q", or.Status, or.RefusalCode)
	case or.Amount <= 0 || !isCurrency(or.Currency):
		return OperationResult{}, fmt.Errorf("answer has amount %d %q", or.Amount, or.Currency)
	case or.Created.IsZero():
		return OperationResult{}, errors.New("answer has no creation time")
	}
	return OperationResult{ID: or.ID, Payment: or.Payment, Type: or.Type, Succeeded: or.Status == statusSucceeded,
		RefusalCode: or.RefusalCode, Amount: or.Amount, Currency: or.Currency, Reference: or.Reference,
		Created: or.Created.UTC()}, nil
}

// Books is what the acquirer holds for one reference (kassa's order id):
// the sums over its approved payments in Currency, and each payment.
type Books struct {
	Authorized, Captured, Refunded, Voided int64
	Currency                               string
	Payments                               []PaymentBooks // oldest first, declined ones included
}

// PaymentBooks is what the acquirer holds for one payment.
type PaymentBooks struct {
	ID                                     string
	Approved                               bool
	Authorized, Captured, Refunded, Voided int64
	Currency                               string
}

// maxBooksBody bounds the answer to Books.
const maxBooksBody = 1 << 20

// Books asks the acquirer for the books of the payments with reference.
// found is false when the acquirer never received a payment with it.
// Errors wrap ErrUnavailable or ErrRejected; it changes nothing. Safe for
// concurrent use.
func (c *Client) Books(ctx context.Context, reference string) (Books, bool, error) {
	if reference == "" || checkReference(reference) != "" {
		return Books{}, false, fmt.Errorf("cards: books: reference must be 1 to %d printable characters: %w", maxReferenceLen, ErrRejected)
	}
	b, err := c.do(ctx, http.MethodGet, c.base+"/payments?reference="+url.QueryEscape(reference), "", nil, maxBooksBody)
	switch {
	case errors.Is(err, errNotFound):
		return Books{}, false, nil
	case err != nil:
		return Books{}, false, fmt.Errorf("cards: books %s: %w", reference, err)
	}
	books, err := decodeBooks(b)
	if err != nil {
		return Books{}, false, fmt.Errorf("cards: books %s: %w: %w", reference, ErrUnavailable, err)
	}
	return books, true, nil
}

// decodeBooks reads an acquirer's books. It checks their shape, not their
// arithmetic: books that do not add up are the acquirer's statement, for
// a reconciler to flag.
func decodeBooks(b []byte) (Books, error) {
	var br booksResponse
	if err := json.Unmarshal(b, &br); err != nil {
		return Books{}, fmt.Errorf("undecodable books: %w", err)
	}
	if br.Authorized < 0 || br.Captured < 0 || br.Refunded < 0 || br.Voided < 0 || !isCurrency(br.Currency) {
		return Books{}, fmt.Errorf("books have negative sums or currency %q", br.Currency)
	}
	if len(br.Payments) == 0 {
		return Books{}, errors.New("books list no payment")
	}
	out := Books{Authorized: br.Authorized, Captured: br.Captured, Refunded: br.Refunded, Voided: br.Voided, Currency: br.Currency}
	for i, p := range br.Payments {
		switch {
		case p.ID == "":
			return Books{}, fmt.Errorf("books: payment %d has no id", i)
		case p.Status != statusApproved && p.Status != statusDeclined:
			return Books{}, fmt.Errorf("books: payment %s has status %q", p.ID, p.Status)
		case p.Authorized < 0 || p.Captured < 0 || p.Refunded < 0 || p.Voided < 0 || !isCurrency(p.Currency):
			return Books{}, fmt.Errorf("books: payment %s has negative amounts or currency %q", p.ID, p.Currency)
		}
		out.Payments = append(out.Payments, PaymentBooks{ID: p.ID, Approved: p.Status == statusApproved,
			Authorized: p.Authorized, Captured: p.Captured, Refunded: p.Refunded, Voided: p.Voided, Currency: p.Currency})
	}
	return out, nil
}
