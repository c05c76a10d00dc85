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

// sweepMark is the ledger mark under which the sweep keeps the position a
// restart reads again from.
const sweepMark = "checkout.sweep"

// Sweep tidies the authorizations this region wrote: it voids those that
// lost to another region's authorization of the same order (a duplicate
// from a partition; without this, one would be voided only when an
// operation on the order ran here), and releases the uncaptured part of
// credit orders whose authorization expired, so their exposure stops
// counting against the consumer's limit. It returns how many it voided and
// released; an order whose rights are elsewhere and out of reach is tried
// again on the next run.
//
// Each run reads only the entries stored since the last and folds only the
// orders it acts on. It keeps in memory only the credit authorizations of
// this region with something left to release (an order captured, cancelled
// or released in full is forgotten) and the duplicates it has yet to void.
// After each run it stores, as a ledger mark, the position a restart reads
// again from: the earliest from which every order it still follows can be
// found again (the position it has read up to when it follows none). So a
// restart reads the entries since the oldest open credit authorization
// (auth_ttl and any extensions back at most, while its releases succeed),
// not the whole ledger, and forgets nothing it must act on.
func (s *Service) Sweep(ctx context.Context) (voided, released int, err error) {
	sw := &s.sweep
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if err := s.followLedger(ctx); err != nil {
		return 0, 0, err
	}
	for oid := range sw.touched {
		delete(sw.touched, oid)
		if _, ok := sw.open[oid]; !ok {
			continue
		}
		st, err := s.order(ctx, oid)
		if err != nil {
			return 0, 0, err
		}
		if st.open() <= 0 {
			delete(sw.open, oid) // captured, cancelled or released in full
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
	for oid, o := range sw.open {
		if now < o.expires {
			continue
		}
		st, err := s.order(ctx, oid)
		if err != nil {
			return voided, released, err
		}
		if now < st.ExpiresAt.UnixMilli() {
			o.expires = st.ExpiresAt.UnixMilli() // extended
			sw.open[oid] = o
			continue
		}
		if st.open() <= 0 || (st.Status != "expired" && st.Status != "part_captured") {
			delete(sw.open, oid) // captured in full, cancelled or released
			continue
		}
		_, replayed, err := s.release(ctx, Actor{}, st.Merchant, st.ID, "release", "kassa:expiry", RequestHash([]byte("expiry")))
		switch {
		case errors.Is(err, ErrRightsUnavailable), errors.Is(err, ErrAcquirerUnavailable):
			continue // the rights or the acquirer are away: next run
		case errors.Is(err, ErrAcquirerRefused):
			s.log.Warn("sweep: the acquirer refused to void an expired authorization", "order", oid, "err", err)
			delete(sw.open, oid)
		case errors.Is(err, ErrInvalidState):
			delete(sw.open, oid)
		case err != nil:
			return voided, released, err
		default:
			delete(sw.open, oid)
			if !replayed {
				released++
			}
		}
	}
	// A Go map keeps its buckets after its keys are deleted: start over
	// with maps the size of what is left, so a backlog read once does not
	// stay in memory.
	sw.open, sw.suspects, sw.touched = shrunk(sw.open), shrunk(sw.suspects), map[OrderID]bool{}
	if from := sw.restartFrom(); from != sw.marked {
		if err := s.store.SetMark(context.WithoutCancel(ctx), sweepMark, from); err != nil {
			// Only a restart reads more again.
			s.log.Warn("sweep: store the restart position", "err", err)
		} else {
			sw.marked = from
		}
	}
	return voided, released, nil
}

// StartSweep reads what the sweep follows of the ledger, from where the
// last run before a restart left it, without acting on anything: a
// region runs it before it reports ready, so a ledger it cannot read keeps
// it from taking traffic. It returns the first read error (naming the
// stored entry for a corrupt one).
func (s *Service) StartSweep(ctx context.Context) error {
	sw := &s.sweep
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return s.followLedger(ctx)
}

// sweepFollowEvery is the least time between two of FollowSweep's reads
// of the ledger while commits keep coming.
const sweepFollowEvery = 250 * time.Millisecond

// FollowSweep keeps the sweep's reading of the ledger up with commits, at
// most every sweepFollowEvery, until ctx is done; acting on what it reads
// (voiding, releasing) stays with Sweep. Read once per reconcile interval
// instead, a busy region's authorizations of the whole interval were
// followed at once: a burst of CPU every interval that held up requests,
// and most of the orders it looks up had left the ledger's memory by then
// and were read back from SQLite.
func (s *Service) FollowSweep(ctx context.Context) {
	t := time.NewTimer(sweepFollowEvery)
	defer t.Stop()
	for {
		changed := s.store.Changed()
		s.sweep.mu.Lock()
		err := s.followLedger(ctx)
		s.sweep.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			s.log.Error("checkout: sweep: follow the ledger", "err", err)
		}
		// The next commit, and no sooner than sweepFollowEvery after this read.
		t.Reset(sweepFollowEvery)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SweepRead returns the local position up to which the sweep has read the
// ledger.
func (s *Service) SweepRead() int64 {
	sw := &s.sweep
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.pos
}

// SweepFollows returns how many orders the sweep keeps in memory: the open
// credit authorizations and the duplicates still to void.
func (s *Service) SweepFollows() int {
	sw := &s.sweep
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return len(sw.open) + len(sw.suspects)
}

// shrunk copies m into a map sized for what it holds (maps.Clone keeps
// the size m grew to).
func shrunk[V any](m map[OrderID]V) map[OrderID]V {
	out := make(map[OrderID]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// restartFrom is the position a restart reads the ledger again from.
func (sw *sweepState) restartFrom() int64 {
	from := sw.pos
	for _, o := range sw.open {
		from = min(from, o.from)
	}
	for _, p := range sw.suspects {
		from = min(from, p)
	}
	return from
}

// followLedger reads the entries stored since the last call (after a
// start, since the stored restart position). The caller holds sw.mu.
func (s *Service) followLedger(ctx context.Context) error {
	sw := &s.sweep
	if !sw.loaded {
		pos, err := s.store.Mark(ctx, sweepMark)
		if err != nil {
			return err
		}
		sw.pos, sw.marked, sw.loaded = pos, pos, true
		sw.open, sw.suspects, sw.touched = map[OrderID]sweepOrder{}, map[OrderID]int64{}, map[OrderID]bool{}
	}
	for {
		from := sw.pos
		es, pos, err := s.store.EntriesSince(ctx, from, 4096)
		if err != nil {
			return err
		}
		for i := range es {
			if err := s.follow(ctx, &es[i], from); err != nil {
				return err
			}
		}
		sw.pos = pos
		if len(es) < 4096 {
			return nil
		}
	}
}

// follow notes what one stored entry, read from after position from, means
// for the sweep: this region's credit authorizations to release at expiry,
// operations that may have settled one, and orders authorized both here
// and elsewhere (one of them loses).
func (s *Service) follow(ctx context.Context, e *ledger.Entry, from int64) error {
	oid, sw := OrderID(e.Subject), &s.sweep
	switch e.Kind {
	case KindOrderAuthorized:
	case KindOrderCaptured, KindOrderCancelled, KindOrderReleased, KindOrderVoided:
		if _, ok := sw.open[oid]; ok {
			sw.touched[oid] = true
		}
		return nil
	default:
		return nil
	}
	mine := string(e.Origin) == s.cfg.Region
	if mine {
		var a struct {
			Credit    *CreditHold `json:"credit"`
			Method    string      `json:"method"`
			ExpiresAt int64       `json:"expires_at"`
		}
		// Credit holds go back, card holds are voided at the acquirer.
		if json.Unmarshal(e.Data, &a) == nil && (a.Credit != nil || a.Method == "card") {
			sw.open[oid] = sweepOrder{expires: a.ExpiresAt, from: from}
		}
	}
	// The other authorization of a duplicate may have been stored first
	// (this region's own entries come back in recovery; another region's
	// arrive after a partition heals): look for one from the other side.
	es, err := s.store.EntriesBySubject(ctx, e.Subject)
	if err != nil {
		return err
	}
	for i := range es {
		if es[i].Kind == KindOrderAuthorized && (string(es[i].Origin) == s.cfg.Region) != mine {
			if p, ok := sw.suspects[oid]; !ok || from < p {
				sw.suspects[oid] = from
			}
			break
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
