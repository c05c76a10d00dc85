package checkout

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

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
	Decision          Decision      `json:"decision"`
	ExpiresAt         int64         `json:"expires_at"`
	RequestHash       string        `json:"request_hash"`
	// Key identifies the Idempotency-Key the attempt was made under (a
	// hash of merchant and key); empty for the hosted page.
	Key string `json:"key,omitempty"`
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
	Rights      string `json:"rights,omitempty"` // capture or refund
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("checkout: marshal %T: %v", v, err)) // only our own plain structs
	}
	return b
}

// Account names.
func captureRights(o OrderID, region string) string {
	return fmt.Sprintf("order:%s:capture:%s", o, region)
}
func refundRights(o OrderID, region string) string {
	return fmt.Sprintf("order:%s:refund:%s", o, region)
}
func authorizedAccount(o OrderID) string { return fmt.Sprintf("order:%s:authorized", o) }
func refundedAccount(o OrderID) string   { return fmt.Sprintf("order:%s:refunded", o) }
func merchantPayable(m string) string    { return "merchant:" + m + ":payable" }

// debtor is who owes the captured money: the consumer for pay later and
// instalments, the acquirer's clearing account for cards.
func debtor(method string, c *ConsumerView) string {
	if method == "card" || c == nil {
		return "acquirer:simulated:clearing"
	}
	return "consumer:" + string(c.ID) + ":receivable"
}

func orderRef(merchant, reference string) string { return "ref:" + merchant + ":" + reference }

// orderState is the fold of every entry about one order.
type orderState struct {
	Order
	entries   []ledger.Entry // what the state was folded from
	winner    *ledger.Entry
	auth      authData
	losers    []ledger.Entry
	voided    map[string]bool // regions whose duplicate authorization was voided
	ops       map[string]opData
	pending   bool
	declined  *authData
	cancelled bool
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
	sort.SliceStable(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if a.HLC != b.HLC {
			return a.HLC.Less(b.HLC)
		}
		if a.Origin != b.Origin {
			return a.Origin < b.Origin
		}
		return a.Seq < b.Seq
	})
	st := &orderState{entries: entries, ops: map[string]opData{}, voided: map[string]bool{}}
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
					st.declined = &a
				}
			} else {
				st.pending = false
				st.declined = &a
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
			m := Movement{ID: d.ID, Amount: d.Amount, Region: string(e.Origin), CreatedAt: e.HLC.Time()}
			switch e.Kind {
			case KindOrderCaptured:
				st.Captured += d.Amount
				st.Captures = append(st.Captures, m)
			case KindOrderRefunded:
				st.Refunded += d.Amount
				st.Refunds = append(st.Refunds, m)
			case KindOrderCancelled:
				st.Released += d.Amount
				st.cancelled = true
			case KindOrderReleased:
				st.Released += d.Amount
			case KindOrderVoided:
				st.voided[string(e.Origin)] = true
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
