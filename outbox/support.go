package outbox

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"kassa/ledger"
)

// Delivery is one requested delivery of a message as support staff see it:
// the message's own, or one asked for with Resend.
type Delivery struct {
	// EventID is the message's id (a webhook's "id").
	EventID string    `json:"event_id"`
	Type    string    `json:"type"`
	Created time.Time `json:"created"`
	// Request is the entry that asked for this delivery: the message
	// itself, or a resend entry.
	Request string `json:"request"`
	Resend  bool   `json:"resend"`
	// Origin is the region that wrote the request and is first in line to
	// deliver it.
	Origin string `json:"origin"`
	// Status is pending, delivered or failed (given up after MaxAge).
	Status string `json:"status"`
	// Region is the region that delivered or gave up, once settled, or
	// the one delivering it (this one) while pending.
	Region      string     `json:"region,omitempty"`
	Takeover    bool       `json:"takeover,omitempty"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error,omitempty"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	SettledAt   *time.Time `json:"settled_at,omitempty"`
}

// Deliveries lists the deliveries of a group's messages, oldest message
// first, each followed by its resends: settled ones as recorded in the
// ledger (by any region), pending ones with this region's attempts, last
// error and next attempt when this region is delivering them or waiting to
// take them over. A group without a route has none. It returns ErrNotFound
// when the ledger holds no entry about group.
func (o *Outbox) Deliveries(ctx context.Context, group string) ([]Delivery, error) {
	es, err := o.store.EntriesBySubject(ctx, group)
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, ErrNotFound
	}
	if err := o.ch.Route(ctx, group); errors.Is(err, ErrNoRoute) {
		return []Delivery{}, nil
	} else if err != nil && !errors.Is(err, ErrNotHeld) {
		return nil, err
	}
	refs, err := o.store.EntriesByRef(ctx, group)
	if err != nil {
		return nil, err
	}
	resends := map[string][]ledger.Entry{}
	settled := map[string][]settlement{}
	seen := map[ledger.Hash]bool{}
	settles := func(e *ledger.Entry) {
		if id := e.ID(); !seen[id] {
			seen[id] = true
			for _, w := range settlements(e.Data) {
				settled[w.Request] = append(settled[w.Request], settlement{w: w, kind: e.Kind, at: e.HLC, origin: e.Origin})
			}
		}
	}
	for i := range refs {
		e := &refs[i]
		switch e.Kind {
		case o.cfg.Kinds.Resend:
			var w record
			if json.Unmarshal(e.Data, &w) == nil {
				resends[w.Message] = append(resends[w.Message], *e)
			}
		case o.cfg.Kinds.Delivered, o.cfg.Kinds.Failed:
			settles(e)
		}
	}
	if o.cfg.RecordBatch > 1 {
		// Records of several deliveries are found under their messages.
		for _, msg := range es {
			if !o.ch.Carries(msg.Kind) {
				continue
			}
			more, err := o.settlingEntries(ctx, msg.ID())
			if err != nil {
				return nil, err
			}
			for i := range more {
				settles(&more[i])
			}
		}
	}
	out := []Delivery{}
	for _, msg := range es {
		if !o.ch.Carries(msg.Kind) {
			continue
		}
		id := msg.ID()
		reqs := append([]ledger.Entry{msg}, resends[id.String()]...)
		for i, r := range reqs {
			rid := r.ID()
			dl := Delivery{
				EventID: id.String(), Type: msg.Kind, Created: msg.HLC.Time(), Request: rid.String(),
				Resend: i > 0, Origin: string(r.Origin), Status: "pending",
			}
			o.describe(&dl, rid, settled[rid.String()])
			out = append(out, dl)
		}
	}
	return out, nil
}

// settlement is one delivery or give-up as an entry records it.
type settlement struct {
	w      record
	kind   string
	at     ledger.HLC
	origin ledger.RegionID
}

// describe fills a delivery's status from its settlements (a delivery
// beats a give-up, an earlier one a later) or, while pending, from this
// region's attempts.
func (o *Outbox) describe(dl *Delivery, request ledger.Hash, settles []settlement) {
	var best *settlement
	for i := range settles {
		s := &settles[i]
		if best == nil || (s.kind == o.cfg.Kinds.Delivered && best.kind != o.cfg.Kinds.Delivered) ||
			(s.kind == best.kind && s.at.Less(best.at)) {
			best = s
		}
	}
	if best != nil {
		w := best.w
		at := best.at.Time()
		dl.Status, dl.Region, dl.Takeover, dl.Attempts, dl.LastError, dl.SettledAt = w.Status, string(best.origin), w.Takeover, w.Attempts, w.Error, &at
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	j, ok := o.jobs[request]
	if !ok {
		return
	}
	dl.Attempts, dl.LastError = j.attempts, j.lastErr
	if j.running || j.attempts > 0 || !o.cfg.Now().Before(j.start) {
		dl.Region = string(o.self)
		dl.Takeover = j.origin != o.self
	}
	if !j.running {
		next := j.next
		dl.NextAttempt = &next
	}
}

// Resend asks for one more delivery of a message (its id in hex). A
// delivery of it that this region is still retrying is tried at once
// instead; otherwise a resend entry is written and this region delivers
// it, with the same id, retried like any other. It returns ErrNotFound for
// an unknown message and the channel's Route error when the message has
// nowhere to go.
func (o *Outbox) Resend(ctx context.Context, messageID string) error {
	id, err := ledger.ParseHash(messageID)
	if err != nil {
		return fmt.Errorf("%w: %s %q", ErrNotFound, o.cfg.Name, truncate(messageID, 80))
	}
	msg, err := o.store.Entry(ctx, id)
	if errors.Is(err, ledger.ErrNotFound) || (err == nil && !o.ch.Carries(msg.Kind)) {
		return fmt.Errorf("%w: %s %s", ErrNotFound, o.cfg.Name, id.Short())
	}
	if err != nil {
		return err
	}
	if err := o.ch.Route(ctx, msg.Subject); err != nil {
		return err
	}
	if o.retryNow(id) {
		o.wake()
		return nil
	}
	w := record{Message: id.String(), Group: msg.Subject, Ref: msg.Subject, Type: msg.Kind}
	if _, err := o.store.Append(context.WithoutCancel(ctx), ledger.Draft{Kind: o.cfg.Kinds.Resend, Subject: id.String(), Data: mustJSON(w)}); err != nil {
		return fmt.Errorf("outbox: record %s resend: %w", o.cfg.Name, err)
	}
	o.wake()
	return nil
}

// retryNow moves a pending delivery of message that this region tracks to
// the front of the queue. It reports whether there was one.
func (o *Outbox) retryNow(message ledger.Hash) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	found := false
	now := o.cfg.Now()
	for _, j := range o.jobs {
		if j.message != message || j.settled || j.sent {
			continue
		}
		found = true
		if j.index >= 0 {
			j.next = now
			if j.start.After(now) {
				j.start = now
			}
			heap.Fix(&o.queue, j.index)
		}
	}
	return found
}
