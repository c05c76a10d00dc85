package checkout

import (
	"context"
	"errors"
)

// ErrMaybeElsewhere: this region does not hold the session or order, and
// not every other region could be asked whether it does (some are out of
// reach or too slow), so it may exist. Nothing was done; a retry in a
// moment, here or in any region, gets the real answer.
var ErrMaybeElsewhere = errors.New("checkout: not held in this region, and other regions could not be asked; it may exist")

// ReadThrough fetches from the other regions the entries about an object
// this region does not hold yet (replication is usually milliseconds
// behind, but unbounded while the writing region is cut off). Region
// wiring implements it over the sync node.
type ReadThrough interface {
	// ReadThrough asks the other regions for the entries whose subject is
	// among subjects or whose ref is among refs, and applies them with
	// every check a push gets. It returns true once entries about them are
	// applied; false and nil when every other region answered that it
	// holds none; an error when some region could not be asked and none
	// that answered held any.
	ReadThrough(ctx context.Context, subjects, refs []string) (bool, error)
}

// readThrough asks the other regions for an object this region does not
// hold. It returns nil once entries about it are here, ErrNotFound when no
// region holds any, and ErrMaybeElsewhere when that cannot be known now.
// Callers pass only keys of well-formed ids, so a request with a made-up
// id costs no peer anything.
func (s *Service) readThrough(ctx context.Context, subjects, refs []string) error {
	if s.cfg.ReadThrough == nil {
		return ErrNotFound
	}
	found, err := s.cfg.ReadThrough.ReadThrough(ctx, subjects, refs)
	switch {
	case err != nil:
		s.log.Info("checkout: object not held here and not every region answered", "subjects", subjects, "err", err)
		return ErrMaybeElsewhere
	case !found:
		return ErrNotFound
	}
	return nil
}

// heldAfter turns what a read-through found into the caller's error: once
// it brought entries, the object must now be here, and if it still is
// not (the answer stopped short), it may still exist elsewhere.
func heldAfter(rerr, err error) error {
	if rerr != nil {
		return rerr
	}
	if errors.Is(err, ErrNotFound) {
		return ErrMaybeElsewhere
	}
	return err
}

// sessionHere returns a session and its order's state, reading them
// through from the other regions when this region holds no such session.
// The order comes along: a session shown without an order that exists
// elsewhere could be paid twice.
func (s *Service) sessionHere(ctx context.Context, id SessionID) (Session, *sessionData, *orderState, error) {
	sess, d, st, err := s.sessionAndOrder(ctx, id)
	if !errors.Is(err, ErrNotFound) || !ValidSessionID(string(id)) {
		return sess, d, st, err
	}
	rerr := s.readThrough(ctx, []string{string(id), string(OrderFor(id))}, nil)
	if rerr == nil {
		sess, d, st, err = s.sessionAndOrder(ctx, id)
	}
	if err = heldAfter(rerr, err); err != nil {
		return Session{}, nil, nil, err
	}
	return sess, d, st, nil
}

// orderHere folds an order, reading it through from the other regions
// when this region holds no entry about it, or none that authorized it.
func (s *Service) orderHere(ctx context.Context, id OrderID) (*orderState, error) {
	st, err := s.order(ctx, id)
	if err == nil && st.Status == "" {
		// Entries about the order are here, but not its authorization:
		// another region's chain (a capture made there) arrived before
		// the authorizing region's. Ask, as if nothing were here.
		err = ErrNotFound
	}
	if !errors.Is(err, ErrNotFound) || !ValidOrderID(string(id)) {
		return st, err
	}
	rerr := s.readThrough(ctx, []string{string(id)}, nil)
	if rerr == nil {
		st, err = s.order(ctx, id)
	}
	if err = heldAfter(rerr, err); err != nil {
		return nil, err
	}
	return st, nil
}
