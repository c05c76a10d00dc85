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

// Sweep tidies the authorizations this region wrote: it voids those that
// lost to another region's authorization of the same order (a duplicate
// from a partition; without this, one would be voided only when an
// operation on the order ran here), and releases the uncaptured part of
// credit orders whose authorization expired, so their exposure stops
// counting against the consumer's limit. It returns how many it voided and
// released; an order whose rights are elsewhere and out of reach is tried
// again on the next run. Each run reads only the entries stored since the
// last (the first reads them all) and folds only the orders it acts on.
func (s *Service) Sweep(ctx context.Context) (voided, released int, err error) {
	sw := &s.sweep
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.expiring == nil {
		sw.expiring, sw.suspects, sw.mine = map[OrderID]int64{}, map[OrderID]bool{}, map[OrderID]bool{}
	}
	for {
		es, pos, err := s.store.EntriesSince(ctx, sw.pos, 4096)
		if err != nil {
			return 0, 0, err
		}
		for i := range es {
			if err := s.follow(ctx, &es[i]); err != nil {
				return 0, 0, err
			}
		}
		sw.pos = pos
		if len(es) < 4096 {
			break
		}
	}
	for oid := range sw.suspects {
		v, err := s.voidLost(ctx, oid)
		if err != nil {
			return voided, released, err
		}
		delete(sw.suspects, oid)
		if v {
			voided++
		}
	}
	now := s.cfg.Now().UnixMilli()
	for oid, exp := range sw.expiring {
		if now < exp {
			continue
		}
		st, err := s.order(ctx, oid)
		if err != nil {
			return voided, released, err
		}
		if now < st.ExpiresAt.UnixMilli() {
			sw.expiring[oid] = st.ExpiresAt.UnixMilli() // extended
			continue
		}
		if st.Amount-st.Captured-st.Released <= 0 || (st.Status != "expired" && st.Status != "part_captured") {
			delete(sw.expiring, oid) // captured in full, cancelled or released
			continue
		}
		_, replayed, err := s.release(ctx, Actor{}, st.Merchant, st.ID, "release", "kassa:expiry", RequestHash([]byte("expiry")))
		switch {
		case errors.Is(err, ErrRightsUnavailable):
			continue // the rights are away: next run
		case errors.Is(err, ErrInvalidState):
			delete(sw.expiring, oid)
		case err != nil:
			return voided, released, err
		default:
			delete(sw.expiring, oid)
			if !replayed {
				released++
			}
		}
	}
	return voided, released, nil
}

// follow notes what one stored entry means for the sweep: this region's
// credit authorizations to release at expiry, and orders authorized both
// here and elsewhere (one of them loses).
func (s *Service) follow(ctx context.Context, e *ledger.Entry) error {
	if e.Kind != KindOrderAuthorized {
		return nil
	}
	oid, sw := OrderID(e.Subject), &s.sweep
	if string(e.Origin) != s.cfg.Region {
		if sw.mine[oid] {
			sw.suspects[oid] = true
		}
		return nil
	}
	sw.mine[oid] = true
	var a struct {
		Credit    *CreditHold `json:"credit"`
		ExpiresAt int64       `json:"expires_at"`
	}
	if json.Unmarshal(e.Data, &a) == nil && a.Credit != nil {
		sw.expiring[oid] = a.ExpiresAt
	}
	// Another region's authorization may have been stored first (this
	// region's own entries come back in recovery): look.
	es, err := s.store.EntriesBySubject(ctx, e.Subject)
	if err != nil {
		return err
	}
	for i := range es {
		if es[i].Kind == KindOrderAuthorized && string(es[i].Origin) != s.cfg.Region {
			sw.suspects[oid] = true
		}
	}
	return nil
}

// voidLost voids this region's losing authorization of oid, under the
// order's lock.
func (s *Service) voidLost(ctx context.Context, oid OrderID) (bool, error) {
	defer s.lock(string(oid))()
	st, err := s.order(ctx, oid)
	if err != nil {
		return false, err
	}
	return s.voidLostAuthorization(ctx, st)
}
