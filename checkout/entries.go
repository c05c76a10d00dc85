package checkout

import (
	"encoding/json"
	"fmt"
	"time"

	"kassa/account"
	"kassa/ledger"
)

// Entry kinds written by checkout.
const (
	KindSessionCreated    = "session.created"
	KindOrderAuthorized   = "order.authorized"
	KindOrderDeclined     = "order.declined"
	KindOrderPending      = "order.pending"
	KindOrderCaptured     = "order.captured"
	KindOrderRefunded     = "order.refunded"
	KindOrderCancelled    = "order.cancelled"
	KindOrderReleased     = "order.released"
	KindOrderExtended     = "order.extended"
	KindOrderVoided       = "order.voided"
	KindOrderRepaid       = "order.repaid"
	KindRightsTransferred = "rights.transferred"
)

// sessionData is the payload of session.created: the merchant's request as
// validated (locale filled in) and what kassa adds to it.
type sessionData struct {
	SessionRequest
	Merchant    string `json:"merchant"`
	ExpiresAt   int64  `json:"expires_at"` // unix ms
	RequestHash string `json:"request_hash"`
}

// authData is the payload of order.authorized, order.declined and
// order.pending.
type authData struct {
	Session           SessionID     `json:"session"`
	Merchant          string        `json:"merchant"`
	MerchantReference string        `json:"merchant_reference"`
	Ref               string        `json:"ref"`
	Method            string        `json:"method"`
	Amount            int64         `json:"amount"`
	Currency          string        `json:"currency"`
	Consumer          *ConsumerView `json:"consumer,omitempty"`
	Card              *CardFacts    `json:"card,omitempty"`
	// Payment is the acquirer's id of an approved card payment: what
	// captures, refunds and voids name.
	Payment     string   `json:"payment,omitempty"`
	Decision    Decision `json:"decision"`
	ExpiresAt   int64    `json:"expires_at"`
	RequestHash string   `json:"request_hash"`
	// Refs are more keys the ledger indexes the entry by: the consumer
	// (its keyed id, never the email) and the merchant reference in any
	// merchant, so support finds an order of any method by either.
	// Entries written before them have none.
	Refs []string `json:"refs,omitempty"`
	// Key identifies the Idempotency-Key the attempt was made under (a
	// hash of merchant and key); empty for the hosted page.
	Key string `json:"key,omitempty"`
	// Credit is the exposure an approved credit decision took on; Scoring
	// the decision's inputs and points.
	Credit  *CreditHold     `json:"credit,omitempty"`
	Scoring json.RawMessage `json:"scoring,omitempty"`
	// Notify is the session's notification URL ("" for none), copied so
	// the webhook dispatcher need not read the session for each order.
	Notify *string `json:"notify,omitempty"`
	// Contact is a credit order's shopper email, sealed for the order
	// (see OpenContact): what its invoices and reminders are sent to,
	// readable in every region and by nobody holding only the ledger.
	// Locale is the session's, the language those emails are written in.
	// Entries written before them have neither.
	Contact string `json:"contact,omitempty"`
	Locale  string `json:"locale,omitempty"`
}

// opData is the payload of captures, refunds, cancels, releases, voids,
// extensions and rights transfers.
type opData struct {
	ID          string `json:"id"`
	Amount      int64  `json:"amount,omitempty"`
	RequestHash string `json:"request_hash,omitempty"`
	Reason      string `json:"reason,omitempty"`
	ExpiresAt   int64  `json:"expires_at,omitempty"`
	From        string `json:"from,omitempty"`
	To          string `json:"to,omitempty"`
	Rights      string `json:"rights,omitempty"` // capture, refund or debt
	// Credit orders: the consumer, what a capture makes due, the debt a
	// refund or repayment settles, and a repayment's bank facts.
	Consumer ConsumerID `json:"consumer,omitempty"`
	Due      []Due      `json:"due,omitempty"`
	Debt     int64      `json:"debt,omitempty"`
	Returned int64      `json:"returned,omitempty"`
	Paid     int64      `json:"paid,omitempty"` // a repayment's amount as paid (Amount is what it settled)
	// Hold names the authorization (by its region) whose credit hold
	// Returned went back to.
	Hold      string `json:"hold,omitempty"`
	PaidAt    int64  `json:"paid_at,omitempty"` // unix ms
	Reference string `json:"reference,omitempty"`
	// Fee is what an entry about a credit order adds to its debt (an
	// invoice reminder's fee; negative: a duplicate fee reversed). The
	// entry's postings raise the order's debt rights by as much.
	Fee int64 `json:"fee,omitempty"`
	// Staff and Role name the staff member who did the operation (empty
	// for the merchant's API and for kassa itself); Reason says why.
	Staff string `json:"staff,omitempty"`
	Role  string `json:"role,omitempty"`
	// Card operations and settlement: the operation (capture, refund,
	// cancel, release, void), what it is in (currency, merchant, method),
	// the settlement day of a capture or refund, refs the ledger indexes
	// it by, the acquirer call, and a refusal's code (Retryable: the
	// acquirer was not reached, so the same key may try again).
	Op        string        `json:"op,omitempty"`
	Currency  string        `json:"currency,omitempty"`
	Merchant  string        `json:"merchant,omitempty"`
	Method    string        `json:"method,omitempty"`
	Day       string        `json:"day,omitempty"`
	Refs      []string      `json:"refs,omitempty"`
	Acquirer  *AcquirerCall `json:"acquirer,omitempty"`
	Code      string        `json:"code,omitempty"`
	Retryable bool          `json:"retryable,omitempty"`
}

// Actor is the staff member an operation is done by, and why. The
// operation's own entry carries it (staff, role and reason in its data), so
// the audit trail is the entry that moved the money, written in the same
// commit: there is no second write that could fail on its own. The zero
// Actor is a merchant's API call or kassa itself.
type Actor struct {
	Staff  string // username
	Role   string // viewer, support or admin
	Reason string // required of staff by the admin UI and API
}

// stamp writes who did an operation into its data.
func (a Actor) stamp(d *opData) {
	if a.Staff == "" {
		return
	}
	d.Staff, d.Role, d.Reason = a.Staff, a.Role, a.Reason
}

// Due is an amount a consumer owes by a date: a pay-later invoice is one,
// pay in 3 is three.
type Due struct {
	Amount int64 `json:"amount"`
	At     int64 `json:"at"` // unix ms
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("checkout: marshal %T: %v", v, err)) // only our own plain structs
	}
	return b
}

// debtor is who owes the captured money: the consumer for pay later and
// instalments, the acquirer's clearing account for cards.
func debtor(method string, c *ConsumerView) string {
	if method == "card" || c == nil {
		return account.AcquirerClearing("simulated")
	}
	return account.ConsumerReceivable(string(c.ID))
}

// creditReturn gives back x of a credit hold's exposure, recorded by region
// here.
func creditReturn(h *CreditHold, currency, here string, x int64) []ledger.Posting {
	if h == nil || x <= 0 {
		return nil
	}
	return []ledger.Posting{
		{Account: h.Exposure, Amount: -ledger.Amount(x), Currency: currency},
		{Account: account.Resolve(h.Return, here), Amount: ledger.Amount(x), Currency: currency},
	}
}

// schedule is what a capture of amount on a credit order makes due.
func schedule(method string, amount int64, captured time.Time, invoiceDays int) []Due {
	day := 24 * time.Hour
	if method != "instalments" {
		return []Due{{Amount: amount, At: captured.Add(time.Duration(invoiceDays) * day).UnixMilli()}}
	}
	part, rest := amount/3, amount%3
	out := make([]Due, 3)
	for i := range out {
		out[i] = Due{Amount: part, At: captured.Add(time.Duration((i+1)*invoiceDays) * day).UnixMilli()}
	}
	out[0].Amount += rest
	return out
}

func orderRef(merchant, reference string) string { return "ref:" + merchant + ":" + reference }

// consumerRef and referenceRef are an authorization's Refs.
func consumerRef(c ConsumerID) string      { return "consumer:" + string(c) }
func referenceRef(reference string) string { return "reference:" + reference }

// orderState is the fold of every entry about one order.
type orderState struct {
	Order
	entries    []ledger.Entry // what the state was folded from
	winner     *ledger.Entry
	auth       authData
	losers     []ledger.Entry
	voided     map[string]bool // regions whose duplicate authorization was voided
	ops        map[string]opData
	pending    bool
	declined   *authData
	declinedAt time.Time
	cancelled  bool
	// debtSettled is the debt refunds and repayments settled; fees what
	// entries of other kinds (reminders) added to the debt.
	debtSettled int64
	fees        int64
	// returned is the credit given back per hold, by the region of the
	// authorization that took it.
	returned map[string]int64
	// calls are the card operations requested and not yet answered, by
	// callKey; capturing, refunding and voiding their sums; retry
	// the operations that failed without reaching the acquirer.
	calls                         map[string]*call
	capturing, refunding, voiding int64
	retry                         map[string]bool
}

// open is what is authorized and neither captured, released nor asked of
// the acquirer to capture or void.
func (st *orderState) open() int64 {
	return st.Amount - st.Captured - st.Released - st.capturing - st.voiding
}

// settle updates the movement m's operation made in its region in l to
// m, or appends m.
func settle(l []Movement, m Movement) []Movement {
	for i := range l {
		if l[i].ID == m.ID && l[i].Region == m.Region && m.ID != "" {
			m.Type = l[i].Type
			l[i] = m
			return l
		}
	}
	return append(l, m)
}

// returnable caps x at what hold h has not yet given back: an order's
// authorization takes at most its amount of credit, so no sequence of
// releases, refunds, repayments and voids gives back more (with duplicate
// authorizations from a partition, the order's rights exceed one hold).
func (st *orderState) returnable(h *CreditHold, x int64) int64 {
	if h == nil {
		return 0
	}
	return max(0, min(x, st.Amount-st.returned[h.Region]))
}

// asOf returns the order as it was right after the latest entry pick
// chooses, at that entry's time: what the request that wrote it was
// answered, for a replay under the same idempotency key. With no such
// entry it returns the order as it is.
func (st *orderState) asOf(pick func(e *ledger.Entry) bool) Order {
	for i := len(st.entries) - 1; i >= 0; i-- {
		if pick(&st.entries[i]) {
			then, err := fold(st.ID, append([]ledger.Entry(nil), st.entries[:i+1]...), st.entries[i].HLC.Time())
			if err != nil {
				break
			}
			return then.Order
		}
	}
	return st.Order
}

// asOfDecision is asOf the authorization attempt made under key (or, for
// the hosted page, with this request hash).
func (st *orderState) asOfDecision(key, hash string) Order {
	return st.asOf(func(e *ledger.Entry) bool {
		if e.Kind != KindOrderAuthorized && e.Kind != KindOrderDeclined && e.Kind != KindOrderPending {
			return false
		}
		var a struct {
			Key         string `json:"key"`
			RequestHash string `json:"request_hash"`
		}
		return json.Unmarshal(e.Data, &a) == nil && a.Key == key && a.RequestHash == hash
	})
}

// opIDOf returns the operation id in an entry's data, if any.
func opIDOf(e *ledger.Entry) string {
	var d struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(e.Data, &d) != nil {
		return ""
	}
	return d.ID
}

// debt is what the consumer still owes on a credit order.
func (st *orderState) debt() int64 {
	if st.auth.Credit == nil {
		return 0
	}
	return st.Captured + st.fees - st.debtSettled
}

// with returns the state after e is added, without reading the store again.
func (st *orderState) with(e ledger.Entry, now time.Time) (*orderState, error) {
	es := append(append(make([]ledger.Entry, 0, len(st.entries)+1), st.entries...), e)
	return fold(st.ID, es, now)
}

// fold computes an order's state from its entries, in an order that is the
// same in every region (hlc, then origin, then seq). The first authorization
// wins; any other is a duplicate from a partition, voided by the region that
// wrote it when it learns of the winner.
func fold(id OrderID, entries []ledger.Entry, now time.Time) (*orderState, error) {
	ledger.SortEntries(entries)
	st := &orderState{entries: entries, ops: map[string]opData{}, voided: map[string]bool{}, returned: map[string]int64{},
		calls: map[string]*call{}, retry: map[string]bool{}}
	st.ID, st.Object = id, "order"
	st.Captures, st.Refunds = []Movement{}, []Movement{}
	for i := range entries {
		e := &entries[i]
		switch e.Kind {
		case KindOrderAuthorized:
			var a authData
			if err := json.Unmarshal(e.Data, &a); err != nil {
				return nil, fmt.Errorf("checkout: order %s: bad %s data: %w", id, e.Kind, err)
			}
			if st.winner == nil {
				st.winner, st.auth = e, a
			} else {
				st.losers = append(st.losers, *e)
			}
		case KindOrderDeclined, KindOrderPending:
			var a authData
			if err := json.Unmarshal(e.Data, &a); err != nil {
				return nil, fmt.Errorf("checkout: order %s: bad %s data: %w", id, e.Kind, err)
			}
			if e.Kind == KindOrderPending {
				st.pending = true
				if st.declined == nil {
					st.declined, st.declinedAt = &a, e.HLC.Time()
				}
			} else {
				st.pending = false
				st.declined, st.declinedAt = &a, e.HLC.Time()
			}
		default:
			var d opData
			if len(e.Data) > 0 {
				if err := json.Unmarshal(e.Data, &d); err != nil {
					return nil, fmt.Errorf("checkout: order %s: bad %s data: %w", id, e.Kind, err)
				}
			}
			if d.ID != "" {
				st.ops[d.ID] = d
			}
			if d.Hold != "" && d.Returned > 0 {
				st.returned[d.Hold] += d.Returned
			}
			st.fees += d.Fee
			m := Movement{ID: d.ID, Amount: d.Amount, Region: string(e.Origin), CreatedAt: e.HLC.Time(), Status: MovementSucceeded}
			ck := callKey(d.ID, string(e.Origin))
			c := st.calls[ck]
			if c != nil && !isRequest(e.Kind) {
				// The answer to a card operation: no longer pending.
				delete(st.calls, ck)
				switch c.op {
				case "capture":
					st.capturing -= c.amount
				case "refund":
					st.refunding -= c.amount
				default:
					st.voiding -= c.amount
				}
			}
			switch e.Kind {
			case KindCaptureRequested, KindRefundRequested, KindVoidRequested:
				st.calls[ck] = &call{op: d.Op, amount: d.Amount, region: string(e.Origin), data: d}
				delete(st.retry, d.ID)
				m.Status, m.Type = MovementPending, d.Op
				switch e.Kind {
				case KindCaptureRequested:
					st.capturing += d.Amount
					st.Captures = settle(st.Captures, m)
				case KindRefundRequested:
					st.refunding += d.Amount
					st.Refunds = settle(st.Refunds, m)
				default:
					st.voiding += d.Amount
					st.Voids = settle(st.Voids, m)
					if d.Op == "void" {
						st.voided[string(e.Origin)] = true
					}
				}
			case KindOperationFailed:
				m.Status, m.FailureCode = MovementFailed, d.Code
				if d.Retryable {
					st.retry[d.ID] = true
				}
				switch {
				case d.Op == "capture":
					st.Captures = settle(st.Captures, m)
				case d.Op == "refund":
					st.Refunds = settle(st.Refunds, m)
				default:
					st.Voids = settle(st.Voids, m)
				}
			case KindOrderCaptured:
				st.Captured += d.Amount
				m.Type = "capture"
				st.Captures = settle(st.Captures, m)
			case KindOrderRepaid:
				st.Repaid += d.Amount
				st.debtSettled += d.Amount
			case KindOrderRefunded:
				st.debtSettled += d.Debt
				st.Refunded += d.Amount
				m.Type = "refund"
				st.Refunds = settle(st.Refunds, m)
			case KindOrderCancelled:
				st.Released += d.Amount
				st.cancelled = true
				if c != nil {
					st.Voids = settle(st.Voids, m)
				}
			case KindOrderReleased:
				st.Released += d.Amount
				if c != nil {
					st.Voids = settle(st.Voids, m)
				}
			case KindOrderVoided:
				st.voided[string(e.Origin)] = true
				if c != nil {
					st.Voids = settle(st.Voids, m)
				}
			case KindOrderExtended:
				if d.ExpiresAt > st.auth.ExpiresAt {
					st.auth.ExpiresAt = d.ExpiresAt
				}
			}
		}
	}
	if st.winner != nil {
		a := st.auth
		st.SessionID, st.Merchant, st.MerchantReference = a.Session, a.Merchant, a.MerchantReference
		st.Method, st.Amount, st.Currency = a.Method, a.Amount, a.Currency
		st.Decision, st.Consumer, st.Card = a.Decision, a.Consumer, a.Card
		st.AuthorizedIn = string(st.winner.Origin)
		st.CreatedAt = st.winner.HLC.Time()
		st.ExpiresAt = time.UnixMilli(a.ExpiresAt).UTC()
		for _, l := range st.losers {
			if !st.voided[string(l.Origin)] {
				st.Conflicts = append(st.Conflicts, fmt.Sprintf("duplicate authorization in %s at %s (loses to %s; to be voided)", l.Origin, l.HLC.Time().Format(time.RFC3339), st.winner.Origin))
			}
		}
		st.Status = status(st, now)
	} else if st.declined != nil {
		a := st.declined
		st.SessionID, st.Merchant, st.MerchantReference = a.Session, a.Merchant, a.MerchantReference
		st.Method, st.Amount, st.Currency, st.Decision = a.Method, a.Amount, a.Currency, a.Decision
		st.Consumer, st.Card = a.Consumer, a.Card
		// When it was decided; nothing of it can be captured, so it
		// "expires" then too.
		st.CreatedAt, st.ExpiresAt = st.declinedAt, st.declinedAt
		st.Status = "declined"
		if st.pending {
			st.Status = "pending"
		}
	}
	return st, nil
}

func status(st *orderState, now time.Time) string {
	switch {
	case st.Captured > 0 && st.Refunded >= st.Captured && st.Captured+st.Released >= st.Amount:
		return "closed"
	case st.Captured > 0 && st.Captured+st.Released >= st.Amount:
		return "captured"
	case st.Captured > 0:
		return "part_captured"
	case st.cancelled || st.Released >= st.Amount:
		return "cancelled"
	case now.After(st.ExpiresAt):
		return "expired"
	}
	return "authorized"
}
