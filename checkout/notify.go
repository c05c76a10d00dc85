package checkout

import (
	"context"
	"encoding/json"
	"errors"

	"kassa/ledger"
)

// ErrNotHeld: what an answer depends on (an order's session or its
// authorization) has not reached this region yet. It arrives with its
// origin's chain, so asking again later can succeed.
var ErrNotHeld = errors.New("checkout: the order's session is not held in this region yet")

// Notification is where an order's changes are announced: its merchant and
// its session's notification URL ("" when the session has none).
type Notification struct {
	Merchant string
	URL      string
}

// NotificationOf reads the notification an order's authorization entry
// (order.authorized, order.declined or order.pending) carries, so that an
// order's announcements need no read of its session. It reports false for
// any other entry and for authorizations written before entries carried it.
func NotificationOf(e *ledger.Entry) (Notification, bool) {
	if e.Kind != KindOrderAuthorized && e.Kind != KindOrderDeclined && e.Kind != KindOrderPending {
		return Notification{}, false
	}
	var a struct {
		Merchant string  `json:"merchant"`
		Notify   *string `json:"notify"`
	}
	if json.Unmarshal(e.Data, &a) != nil || a.Notify == nil || a.Merchant == "" {
		return Notification{}, false
	}
	return Notification{Merchant: a.Merchant, URL: *a.Notify}, true
}

// Notification returns where an order's changes are announced, from its
// authorization or else its session. It returns ErrNotHeld while neither has
// reached this region.
func (s *Service) Notification(ctx context.Context, order OrderID) (Notification, error) {
	es, err := s.store.EntriesBySubject(ctx, string(order))
	if err != nil {
		return Notification{}, err
	}
	var sid SessionID
	for i := range es {
		e := &es[i]
		if e.Kind != KindOrderAuthorized && e.Kind != KindOrderDeclined && e.Kind != KindOrderPending {
			continue
		}
		if n, ok := NotificationOf(e); ok {
			return n, nil
		}
		var a authData
		if json.Unmarshal(e.Data, &a) == nil && a.Session != "" {
			sid = a.Session
			break
		}
	}
	if sid == "" {
		return Notification{}, ErrNotHeld
	}
	ss, err := s.store.EntriesBySubject(ctx, string(sid))
	if err != nil {
		return Notification{}, err
	}
	_, sd, err := firstSession(ss)
	if errors.Is(err, ErrNotFound) {
		return Notification{}, ErrNotHeld
	}
	if err != nil {
		return Notification{}, err
	}
	return Notification{Merchant: sd.Merchant, URL: sd.URLs.Notification}, nil
}

// OrderAfter returns the order that e (one of its entries) changed, as it
// was right after e: the fold of the order's entries up to and including e,
// in the order every region folds them. Whoever asks, and whenever, the
// answer is the same once the earlier entries are held.
func (s *Service) OrderAfter(ctx context.Context, e *ledger.Entry) (Order, error) {
	order := OrderID(e.Subject)
	es, err := s.store.EntriesBySubject(ctx, string(order))
	if err != nil {
		return Order{}, err
	}
	// The entries up to and including e; fold puts them in order.
	upTo := es[:0]
	for i := range es {
		if !e.Before(&es[i]) {
			upTo = append(upTo, es[i])
		}
	}
	st, err := fold(order, upTo, e.HLC.Time())
	if err != nil {
		return Order{}, err
	}
	return st.Order, nil
}
