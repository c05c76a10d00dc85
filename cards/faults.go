package cards

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Faults makes the Simulator misbehave the way a real acquirer does, so
// that a caller's handling of each failure can be exercised. Each valid
// request to a route the faults cover draws one number from a generator
// seeded with Seed and, with the given probabilities, suffers at most one
// fault:
//
//   - Refuse: the operation is recorded as refused with refusal code
//     processing_refused (an authorization is declined with decline code
//     processing_refused). The books do not move.
//   - FailBefore: the answer is 503 with error code not_processed and
//     nothing is recorded; the request may be repeated.
//   - FailAfter: the operation is committed (and its idempotency key
//     recorded), then the answer is 500: the caller cannot know it happened.
//   - TimeoutAfter: the operation is committed, then the answer is held for
//     Simulator.Stall or until the caller hangs up.
//
// A replay of a committed operation (its idempotency key again, with the
// same request) draws too: FailBefore, FailAfter and TimeoutAfter hit it
// the same way, but it never changes what was committed, so a drawn Refuse
// answers the replay normally. A retry after FailAfter therefore gets the
// committed answer, never a second operation.
//
// Faults cover captures, refunds and voids; authorizations (POST /payments)
// only when Authorizations is set. For a given seed and sequence of calls
// the faults drawn are the same. The zero Faults is no faults.
type Faults struct {
	Seed           uint64
	Refuse         float64
	FailBefore     float64
	FailAfter      float64
	TimeoutAfter   float64
	Authorizations bool // also apply to POST /payments
}

// validate returns what is wrong with f, or nil.
func (f Faults) validate() error {
	sum := 0.0
	for _, p := range []struct {
		name string
		v    float64
	}{{"Refuse", f.Refuse}, {"FailBefore", f.FailBefore}, {"FailAfter", f.FailAfter}, {"TimeoutAfter", f.TimeoutAfter}} {
		if math.IsNaN(p.v) || p.v < 0 || p.v > 1 {
			return fmt.Errorf("cards: faults: %s is %v, want a probability from 0 to 1", p.name, p.v)
		}
		sum += p.v
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("cards: faults: the probabilities add up to %v, want at most 1", sum)
	}
	return nil
}

// fault is what a request suffers.
type fault int

const (
	faultNone fault = iota
	faultRefuse
	faultFailBefore
	faultFailAfter
	faultTimeoutAfter
)

// SetFaults replaces the Simulator's faults and restarts their generator
// from f.Seed. It returns an error, and changes nothing, when a probability
// is outside 0 to 1 or they add up to more than 1. It is safe for
// concurrent use, also while the Simulator serves.
func (s *Simulator) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
	return nil
}

// draw picks the fault for one request. s.mu must be held.
func (s *Simulator) draw(authorization bool) fault {
	f := s.faults
	if s.rng == nil || (authorization && !f.Authorizations) {
		return faultNone
	}
	u := s.rng.Float64()
	for _, c := range []struct {
		p float64
		f fault
	}{{f.Refuse, faultRefuse}, {f.FailBefore, faultFailBefore}, {f.FailAfter, faultFailAfter}, {f.TimeoutAfter, faultTimeoutAfter}} {
		if u < c.p {
			return c.f
		}
		u -= c.p
	}
	return faultNone
}
