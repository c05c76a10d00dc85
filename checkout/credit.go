package checkout

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"kassa/ledger"
)

// CreditFact is what one entry says about a consumer's credit history: a
// credit order approved, a capture that made amounts due, a refund or a
// repayment that settled debt. Scoring folds these into the features it
// decides from; every fact is a function of one entry, so the fold does not
// depend on the order entries arrive in.
type CreditFact struct {
	Kind     string // order, capture, refund, repayment
	Consumer ConsumerID
	Currency string
	Amount   int64 // the order's amount, or the debt a refund or repayment settled
	Due      []Due // what a capture made due
	PaidAt   time.Time
	At       time.Time // the entry's hybrid logical time
	Region   string    // the region that wrote the entry
	Order    OrderID
}

// CreditFactOf reads the credit fact in e, if it has one.
func CreditFactOf(e *ledger.Entry) (CreditFact, bool) {
	f := CreditFact{At: e.HLC.Time(), Region: string(e.Origin), Order: OrderID(e.Subject)}
	switch e.Kind {
	case KindOrderAuthorized:
		var a struct {
			Amount   int64       `json:"amount"`
			Currency string      `json:"currency"`
			Credit   *CreditHold `json:"credit"`
		}
		if json.Unmarshal(e.Data, &a) != nil || a.Credit == nil {
			return f, false
		}
		f.Kind, f.Consumer, f.Currency, f.Amount = "order", a.Credit.Consumer, a.Currency, a.Amount
	case KindOrderCaptured, KindOrderRefunded, KindOrderRepaid:
		var d opData
		if json.Unmarshal(e.Data, &d) != nil || d.Consumer == "" {
			return f, false
		}
		f.Consumer, f.Amount = d.Consumer, d.Debt
		for _, p := range e.Postings {
			f.Currency = p.Currency
		}
		switch e.Kind {
		case KindOrderCaptured:
			f.Kind, f.Due, f.Amount = "capture", d.Due, d.Amount
		case KindOrderRefunded:
			f.Kind = "refund"
		default:
			f.Kind, f.PaidAt = "repayment", time.UnixMilli(d.PaidAt).UTC()
		}
	default:
		return f, false
	}
	return f, true
}

// Debt returns what the consumer still owes on a credit order (0 for other
// orders) and its currency.
func (s *Service) Debt(ctx context.Context, oid OrderID) (int64, string, error) {
	st, err := s.order(ctx, oid)
	if err != nil {
		return 0, "", err
	}
	if st.winner == nil {
		return 0, "", ErrNotFound
	}
	return st.debt(), st.Currency, nil
}

// ConsumerID derives the consumer id of an email, as checkout does.
func (s *Service) ConsumerID(email string) ConsumerID { return s.cfg.Consumers.ID(email) }

// ReleaseExpired releases the uncaptured part of credit orders this region
// authorized whose authorization has expired, so their exposure stops
// counting against the consumer's limit. It returns how many it released;
// an order whose capture rights are elsewhere and out of reach is tried
// again on the next run. It reads every authorization: it runs with the
// reconciler, not on a request path.
func (s *Service) ReleaseExpired(ctx context.Context) (int, error) {
	es, err := s.store.EntriesByKind(ctx, KindOrderAuthorized)
	if err != nil {
		return 0, err
	}
	now := s.cfg.Now()
	n := 0
	for i := range es {
		e := &es[i]
		if string(e.Origin) != s.cfg.Region {
			continue
		}
		var a struct {
			Credit    *CreditHold `json:"credit"`
			ExpiresAt int64       `json:"expires_at"`
		}
		if json.Unmarshal(e.Data, &a) != nil || a.Credit == nil || now.Before(time.UnixMilli(a.ExpiresAt)) {
			continue
		}
		st, err := s.order(ctx, OrderID(e.Subject))
		if err != nil {
			return n, err
		}
		if st.Status != "expired" && (st.Status != "part_captured" || now.Before(st.ExpiresAt)) {
			continue // extended, captured in full, cancelled or released
		}
		if st.Amount-st.Captured-st.Released <= 0 {
			continue
		}
		_, replayed, err := s.release(ctx, st.Merchant, st.ID, "release", "kassa:expiry", RequestHash([]byte("expiry")))
		switch {
		case errors.Is(err, ErrRightsUnavailable) || errors.Is(err, ErrInvalidState):
			continue
		case err != nil:
			return n, err
		case !replayed:
			n++
		}
	}
	return n, nil
}
