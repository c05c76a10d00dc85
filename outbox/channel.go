package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"kassa/ledger"
)

// Errors of the outbox and of its channels.
var (
	// ErrNoRoute: a message's group has nowhere to go (an order whose
	// session has no notification URL), and never will. Such messages are
	// neither delivered nor listed.
	ErrNoRoute = errors.New("outbox: the message has nowhere to go")
	// ErrNotHeld: what a message's route depends on has not reached this
	// region yet. The message is tracked anyway and tried later.
	ErrNotHeld = errors.New("outbox: the message's route is not held in this region yet")
	// ErrNotFound: no such message, or nothing in the ledger about a group.
	ErrNotFound = errors.New("outbox: not found")
)

// Unsent marks a failed attempt as one that never reached the recipient
// (what to send could not be read or built): it is retried like any
// failure, but not counted as an attempt.
func Unsent(err error) error { return &unsentError{err} }

type unsentError struct{ err error }

func (e *unsentError) Error() string { return e.err.Error() }
func (e *unsentError) Unwrap() error { return e.err }

// Kinds names the entries that record a channel's deliveries. Each has the
// message id as subject and carries the message's group as "ref" (so
// EntriesByRef finds a group's records in one lookup), except a Delivered
// entry that records several deliveries (Config.RecordBatch): it carries
// them as "deliveries", each in the form of a record of one, and their
// message ids as "refs", so EntriesByRef finds it under each message; its
// subject is the first one's message id.
type Kinds struct {
	// Resend asks for one more delivery of a message; the region that
	// writes it delivers it.
	Resend string
	// Delivered records that the recipient accepted a message (or a
	// resend); every region that holds it stops trying.
	Delivered string
	// Failed records that a delivery was given up after MaxAge.
	Failed string
}

// Message is one requested delivery of a message, as a Channel sends it.
type Message struct {
	// ID is the message: the id of the entry it announces. It is the same
	// for every attempt, resend and region.
	ID ledger.Hash
	// Kind is the message entry's kind and Group its subject (an order).
	Kind  string
	Group string
	// Request is the entry that asked for this delivery: the message
	// itself, or a resend.
	Request ledger.Hash
	// Origin wrote Request and is first in line to deliver it; Takeover
	// says this region delivers on its behalf.
	Origin   ledger.RegionID
	Takeover bool
	// Created is when Request was written.
	Created time.Time
	// Attempt counts this attempt, from 1.
	Attempt int
}

// Channel is one kind of message: which entries are messages, whether they
// have somewhere to go, and how one is sent. Its methods are called
// concurrently.
type Channel interface {
	// Carries reports whether entries of kind are messages of the channel.
	Carries(kind string) bool
	// Route reports whether the messages of group have somewhere to go:
	// nil, an error wrapping ErrNoRoute (never), one wrapping ErrNotHeld
	// (not known here yet), or another error (a failed read).
	Route(ctx context.Context, group string) error
	// Send makes one attempt at delivering m. A nil error means the
	// recipient accepted it, and the Receipt (nil for none) is kept in the
	// record of the delivery. An error wrapping ErrNoRoute drops m; one
	// made with Unsent is retried without counting as an attempt; any other
	// is a failed attempt, retried with backoff. The error's text is shown
	// to support staff and recorded on give-up, so it must carry no secret.
	Send(ctx context.Context, m Message) (*Receipt, error)
}

// MaxReceiptLen is the most a Receipt's Content and Refs may take
// together: what a Delivered record holds besides its fixed fields.
const MaxReceiptLen = ledger.MaxDataLen - 2048

// Receipt is what a delivery leaves to be kept in its Delivered record, the
// one entry that says the message was delivered: a transport that is
// itself a record (the development mailbox, which keeps the email it
// received) needs no entry of its own. The record carries Content as its
// "content" and is found by EntriesByRef under each of Refs as well as
// under its group.
type Receipt struct {
	Refs    []string
	Content json.RawMessage
}

// Size is how many bytes r adds to a record, near enough to bound it.
func (r *Receipt) Size() int {
	n := len(r.Content)
	for _, ref := range r.Refs {
		n += len(ref) + 3
	}
	return n
}

// check refuses a receipt no record can keep: one larger than
// MaxReceiptLen, or whose Content is not JSON.
func (r *Receipt) check() error {
	if n := r.Size(); n > MaxReceiptLen {
		return fmt.Errorf("what the delivery left to record is %d bytes, more than a record keeps (%d)", n, MaxReceiptLen)
	}
	if len(r.Content) > 0 && !json.Valid(r.Content) {
		return errors.New("what the delivery left to record is not JSON")
	}
	return nil
}

// Observer is a Channel that also learns from the entries it does not
// carry (where an order's messages go, from its authorization). Observe is
// called for every entry the outbox scans, in local order, before the
// entry is considered as a message.
type Observer interface {
	Observe(e *ledger.Entry)
}

// Config configures an Outbox. Kinds, Mark, Region and the durations are
// required; the rest have defaults.
type Config struct {
	// Name names the channel in logs and errors ("webhook").
	Name string
	// Kinds are the entries the outbox records its work in.
	Kinds Kinds
	// Mark names the ledger mark that keeps the low-water mark of the scan
	// (local, not replicated).
	Mark string
	// Region is this region's id; Regions lists every region, this one
	// among them, for the takeover line.
	Region  string
	Regions []string
	// MaxAge is how long after its request a message is tried before it is
	// given up and recorded as failed.
	MaxAge time.Duration
	// TakeoverAfter is how long the first other region in line waits for
	// the writing region to record a delivery before it delivers the
	// message itself; the second waits twice as long, and so on.
	TakeoverAfter time.Duration
	// Concurrency bounds the attempts in flight (default 1).
	Concurrency int
	// RecordBatch is the most deliveries one Delivered entry records, at
	// most ledger.MaxRefs; 0 or 1 records each delivery in an entry of its
	// own. Deliveries that leave a Receipt always have their own. A
	// delivery waits up to RecordWait (default 250ms) for others to share
	// its record: fewer entries for every region to take in, at the cost of
	// sending again, after a crash, what was delivered in that wait.
	RecordBatch int
	RecordWait  time.Duration
	// RetryMin and RetryMax bound the exponential backoff between attempts;
	// each wait is jittered (equal jitter).
	RetryMin, RetryMax time.Duration
	// Now is the clock (time.Now if nil); Rand jitters the backoff (seeded
	// from the clock if nil).
	Now  func() time.Time
	Rand *rand.Rand
	// Poll is the longest the outbox sleeps before it looks at its schedule
	// again (1s if zero); it matters when Now is not the wall clock.
	Poll   time.Duration
	Logger *slog.Logger
}
