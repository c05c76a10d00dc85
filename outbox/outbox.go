package outbox

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

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
// EntriesByRef finds a group's records in one lookup).
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
	// Send makes one attempt at delivering m. nil means the recipient
	// accepted it. An error wrapping ErrNoRoute drops m; one made with
	// Unsent is retried without counting as an attempt; any other is a
	// failed attempt, retried with backoff. The error's text is shown to
	// support staff and recorded on give-up, so it must carry no secret.
	Send(ctx context.Context, m Message) error
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

const (
	scanBatch     = 256
	maxErrorChars = 200
	markEvery     = time.Second
)

// Outbox delivers the messages of one Channel. Create it with New and run
// it with Run; Deliveries and Resend are safe to call at any time.
type Outbox struct {
	store *ledger.Store
	ch    Channel
	cfg   Config
	self  ledger.RegionID
	log   *slog.Logger
	kick  chan struct{}

	mu      sync.Mutex
	jobs    map[ledger.Hash]*job // pending deliveries this region tracks, by request
	queue   jobQueue             // jobs waiting for their next attempt
	byGroup map[string][]*job    // non-resend jobs per group, in message order
	busy    int
	rng     *rand.Rand
	pos     int64 // local position scanned up to

	saved   int64 // the mark last stored
	savedAt time.Time
}

// job is one requested delivery of a message: the message itself, or a
// resend.
type job struct {
	request  ledger.Hash // the entry that asked for the delivery
	message  ledger.Hash
	kind     string
	group    string
	origin   ledger.RegionID // the region that wrote the request, and delivers it
	resend   bool
	created  time.Time // when the request was written
	msgHLC   ledger.HLC
	msgOrig  ledger.RegionID
	msgSeq   uint64
	from     int64     // the scan position the request was read after
	start    time.Time // when this region begins to deliver it (later than created on takeover)
	next     time.Time
	attempts int
	lastErr  string
	sent     bool // accepted by the recipient but not yet recorded
	running  bool
	blocked  bool // waiting for an earlier message of the same group
	settled  bool // recorded as done elsewhere while an attempt ran
	waiters  []*job
	index    int // in queue; -1 when not queued
}

func (j *job) active(now time.Time) bool {
	return j.running || j.blocked || j.attempts > 0 || !now.Before(j.start)
}

// before orders a group's messages the way the ledger folds them.
func (j *job) before(k *job) bool {
	if j.msgHLC != k.msgHLC {
		return j.msgHLC.Less(k.msgHLC)
	}
	if j.msgOrig != k.msgOrig {
		return j.msgOrig < k.msgOrig
	}
	return j.msgSeq < k.msgSeq
}

// record is the payload of the Resend, Delivered and Failed entries.
// Group is stored as "order" and again as "ref": the format predates other
// channels than webhooks, and stored ledgers keep reading the same.
type record struct {
	Message  string `json:"event"`
	Request  string `json:"request,omitempty"`
	Group    string `json:"order"`
	Ref      string `json:"ref"`
	Type     string `json:"type"`
	Status   string `json:"status,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
	Error    string `json:"error,omitempty"`
	Takeover bool   `json:"takeover,omitempty"`
}

func (r *record) group() string {
	if r.Ref != "" {
		return r.Ref
	}
	return r.Group
}

// New returns an outbox for ch's messages in store. Start it with Run.
func New(store *ledger.Store, ch Channel, cfg Config) (*Outbox, error) {
	switch {
	case cfg.Kinds.Resend == "" || cfg.Kinds.Delivered == "" || cfg.Kinds.Failed == "":
		return nil, errors.New("outbox: Kinds must name three entry kinds")
	case cfg.Mark == "" || cfg.Region == "":
		return nil, errors.New("outbox: Mark and Region are required")
	case cfg.MaxAge <= 0 || cfg.TakeoverAfter <= 0 || cfg.RetryMin <= 0 || cfg.RetryMax < cfg.RetryMin:
		return nil, errors.New("outbox: MaxAge, TakeoverAfter and RetryMin must be positive, RetryMax at least RetryMin")
	}
	if cfg.Name == "" {
		cfg.Name = "message"
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		seed := uint64(cfg.Now().UnixNano())
		cfg.Rand = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Outbox{
		store: store, ch: ch, cfg: cfg, self: ledger.RegionID(cfg.Region),
		log: cfg.Logger.With("component", cfg.Name+"s"), kick: make(chan struct{}, 1),
		jobs: map[ledger.Hash]*job{}, byGroup: map[string][]*job{}, rng: cfg.Rand,
	}, nil
}

// Run delivers messages until ctx is done; call it once. Attempts in
// flight are abandoned when ctx ends (the recipient may still have received
// them: they are delivered again later, which at least once allows). Run
// returns when they have all stopped.
func (o *Outbox) Run(ctx context.Context) {
	pos, err := o.store.Mark(ctx, o.cfg.Mark)
	if err != nil {
		o.log.Error("read the "+o.cfg.Name+" cursor; scanning the ledger from the start", "err", err)
		pos = 0
	}
	o.mu.Lock()
	o.pos, o.saved = pos, pos
	o.mu.Unlock()
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		o.saveMark(sctx, true)
		cancel()
	}()
	var lastErr string
	for {
		changed := o.store.Changed()
		if err := o.scan(ctx); err != nil && ctx.Err() == nil {
			if err.Error() != lastErr {
				o.log.Error("read the ledger for "+o.cfg.Name+"s", "err", err)
			}
			lastErr = err.Error()
		} else {
			lastErr = ""
		}
		o.dispatch(ctx, &wg)
		o.saveMark(ctx, false)
		timer := time.NewTimer(o.sleep())
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-changed:
		case <-o.kick:
		case <-timer.C:
		}
		timer.Stop()
	}
}

func (o *Outbox) wake() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// sleep is how long Run may wait before the next attempt is due.
func (o *Outbox) sleep() time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.queue.Len() == 0 || o.busy >= o.cfg.Concurrency {
		return o.cfg.Poll
	}
	return min(max(o.queue[0].next.Sub(o.cfg.Now()), 0), o.cfg.Poll)
}

// scan reads the entries stored since the last scan and updates the jobs.
func (o *Outbox) scan(ctx context.Context) error {
	obs, _ := o.ch.(Observer)
	for {
		o.mu.Lock()
		from := o.pos
		o.mu.Unlock()
		es, last, err := o.store.EntriesSince(ctx, from, scanBatch)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return nil
		}
		for i := range es {
			if obs != nil {
				obs.Observe(&es[i])
			}
			if err := o.consider(ctx, &es[i], from); err != nil {
				return err
			}
		}
		o.mu.Lock()
		o.pos = last
		o.mu.Unlock()
		if len(es) < scanBatch {
			return nil
		}
	}
}

func (o *Outbox) consider(ctx context.Context, e *ledger.Entry, from int64) error {
	switch {
	case o.ch.Carries(e.Kind):
		id := e.ID()
		return o.add(ctx, &job{
			request: id, message: id, kind: e.Kind, group: e.Subject, origin: e.Origin,
			created: e.HLC.Time(), msgHLC: e.HLC, msgOrig: e.Origin, msgSeq: e.Seq, from: from,
		})
	case e.Kind == o.cfg.Kinds.Resend:
		// The resend names what it needs: its message may come from another
		// origin and reach this region later than the resend itself.
		var w record
		err := json.Unmarshal(e.Data, &w)
		msg, herr := ledger.ParseHash(w.Message)
		if err != nil || herr != nil || !o.ch.Carries(w.Type) || w.group() == "" {
			o.log.Warn("ignoring a malformed "+e.Kind+" entry", "entry", e.ID().Short())
			return nil
		}
		return o.add(ctx, &job{
			request: e.ID(), message: msg, kind: w.Type, group: w.group(), origin: e.Origin, resend: true,
			created: e.HLC.Time(), from: from,
		})
	case e.Kind == o.cfg.Kinds.Delivered || e.Kind == o.cfg.Kinds.Failed:
		var w record
		if json.Unmarshal(e.Data, &w) != nil {
			return nil
		}
		if req, err := ledger.ParseHash(w.Request); err == nil {
			o.settle(req)
		}
	}
	return nil
}

// add tracks a requested delivery unless it is tracked already, its group
// has nowhere to go, or it is settled.
func (o *Outbox) add(ctx context.Context, j *job) error {
	o.mu.Lock()
	_, dup := o.jobs[j.request]
	o.mu.Unlock()
	if dup {
		return nil
	}
	err := o.ch.Route(ctx, j.group)
	switch {
	case errors.Is(err, ErrNoRoute):
		return nil
	case errors.Is(err, ErrNotHeld):
		// Tracked anyway: what it needs arrives with its origin's chain.
	case err != nil:
		return err
	}
	if done, err := o.isSettled(ctx, j.message, j.request); err != nil {
		return err
	} else if done {
		return nil
	}
	j.index = -1
	j.start = j.created
	if j.origin != o.self {
		j.start = j.created.Add(time.Duration(o.takeoverRank(j.request, j.origin)) * o.cfg.TakeoverAfter)
	}
	j.next = j.start
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, dup := o.jobs[j.request]; dup {
		return nil
	}
	o.jobs[j.request] = j
	if !j.resend {
		q := o.byGroup[j.group]
		i := sort.Search(len(q), func(i int) bool { return j.before(q[i]) })
		q = append(q, nil)
		copy(q[i+1:], q[i:])
		q[i] = j
		o.byGroup[j.group] = q
	}
	heap.Push(&o.queue, j)
	return nil
}

// takeoverRank is this region's place in the line of regions that deliver
// a request whose origin has not: 1 for the first. The line is a
// deterministic shuffle of the regions other than the origin, different for
// every request, so takeovers spread over the regions and a second region
// steps in only if the first one has not either.
func (o *Outbox) takeoverRank(request ledger.Hash, origin ledger.RegionID) int {
	type cand struct {
		region string
		key    [32]byte
	}
	var cs []cand
	for _, r := range o.cfg.Regions {
		if r != string(origin) {
			cs = append(cs, cand{r, sha256.Sum256(append(request[:], r...))})
		}
	}
	sort.Slice(cs, func(i, j int) bool { return string(cs[i].key[:]) < string(cs[j].key[:]) })
	for i, c := range cs {
		if c.region == string(o.self) {
			return i + 1
		}
	}
	return len(cs) + 1
}

// settle forgets a request that a delivered or failed entry settled.
func (o *Outbox) settle(request ledger.Hash) {
	o.mu.Lock()
	defer o.mu.Unlock()
	j, ok := o.jobs[request]
	if !ok {
		return
	}
	if j.running {
		j.settled = true
		return
	}
	o.removeLocked(j)
}

// removeLocked forgets j and lets the jobs waiting for it go.
func (o *Outbox) removeLocked(j *job) {
	delete(o.jobs, j.request)
	if j.index >= 0 {
		heap.Remove(&o.queue, j.index)
	}
	if !j.resend {
		q := o.byGroup[j.group]
		for i, k := range q {
			if k == j {
				q = append(q[:i], q[i+1:]...)
				break
			}
		}
		if len(q) == 0 {
			delete(o.byGroup, j.group)
		} else {
			o.byGroup[j.group] = q
		}
	}
	for _, w := range j.waiters {
		if _, ok := o.jobs[w.request]; ok && w.blocked {
			w.blocked = false
			heap.Push(&o.queue, w)
		}
	}
	j.waiters = nil
}

// blockerLocked returns an earlier message of j's group that this region
// is delivering, if any: messages of one group go out in order.
func (o *Outbox) blockerLocked(j *job, now time.Time) *job {
	if j.resend {
		return nil
	}
	for _, k := range o.byGroup[j.group] {
		if k == j {
			return nil
		}
		if k.active(now) {
			return k
		}
	}
	return nil
}

// dispatch starts the attempts that are due, as many as Concurrency allows.
func (o *Outbox) dispatch(ctx context.Context, wg *sync.WaitGroup) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.cfg.Now()
	for o.busy < o.cfg.Concurrency && o.queue.Len() > 0 && ctx.Err() == nil {
		j := o.queue[0]
		if j.next.After(now) {
			return
		}
		heap.Pop(&o.queue)
		if b := o.blockerLocked(j, now); b != nil {
			j.blocked = true
			b.waiters = append(b.waiters, j)
			continue
		}
		j.running = true
		o.busy++
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.attempt(ctx, j)
		}()
	}
}

// attempt makes one delivery attempt of j and schedules what follows.
func (o *Outbox) attempt(ctx context.Context, j *job) {
	defer o.wake()
	// Settled since it was queued: another region's record arrived, or this
	// one delivered it before a restart.
	if done, err := o.isSettled(ctx, j.message, j.request); err == nil && done {
		o.finish(j)
		return
	}
	now := o.cfg.Now()
	if j.sent {
		o.record(ctx, j, o.cfg.Kinds.Delivered, "")
		return
	}
	if j.attempts == 0 && !now.Before(j.created.Add(o.cfg.MaxAge)) {
		// Already too old when this process first got to it (the region
		// was down, or this is an old message found on a first start): the
		// recipient's time to receive it is over.
		o.record(ctx, j, o.cfg.Kinds.Failed, "not attempted within max_age")
		return
	}
	o.mu.Lock()
	m := Message{
		ID: j.message, Kind: j.kind, Group: j.group, Request: j.request, Origin: j.origin,
		Takeover: j.origin != o.self, Created: j.created, Attempt: j.attempts + 1,
	}
	o.mu.Unlock()
	err := o.ch.Send(ctx, m)
	var unsent *unsentError
	switch {
	case errors.Is(err, ErrNoRoute):
		o.finish(j)
	case ctx.Err() != nil:
		// Shutting down: not the recipient's failure. A restart delivers it.
		o.requeue(j, false)
	case errors.As(err, &unsent):
		o.retry(ctx, j, now, err.Error(), false)
	case err != nil:
		o.log.Debug(o.cfg.Name+" attempt failed", "event", j.message.Short(), "subject", j.group, "attempt", j.attempts+1, "err", err)
		o.retry(ctx, j, now, err.Error(), true)
	default:
		o.mu.Lock()
		j.attempts++
		j.sent, j.lastErr = true, ""
		o.mu.Unlock()
		o.record(ctx, j, o.cfg.Kinds.Delivered, "")
	}
}

// record writes j's outcome to the ledger, which settles it in every region.
func (o *Outbox) record(ctx context.Context, j *job, kind, cause string) {
	o.mu.Lock()
	if j.settled {
		o.mu.Unlock()
		o.finish(j)
		return
	}
	w := record{
		Message: j.message.String(), Request: j.request.String(), Group: j.group, Ref: j.group,
		Type: j.kind, Status: "delivered", Attempts: j.attempts, Takeover: j.origin != o.self,
	}
	o.mu.Unlock()
	if kind == o.cfg.Kinds.Failed {
		w.Status, w.Error = "failed", cause
	}
	_, err := o.store.Append(context.WithoutCancel(ctx), ledger.Draft{Kind: kind, Subject: j.message.String(), Data: mustJSON(w)})
	if err != nil {
		// Try to record again later; a delivered message is not sent again
		// by this process, though another region may take it over.
		o.log.Error("record "+o.cfg.Name+" outcome", "event", j.message.Short(), "subject", j.group, "status", w.Status, "err", err)
		o.requeue(j, true)
		return
	}
	name := o.cfg.Name
	switch {
	case kind == o.cfg.Kinds.Failed:
		o.log.Warn(name+" given up", "event", j.message.Short(), "type", j.kind, "subject", j.group, "attempts", j.attempts, "last_error", cause)
	case w.Takeover:
		o.log.Info(name+" delivered on behalf of its region", "event", j.message.Short(), "type", j.kind, "subject", j.group, "origin", j.origin, "attempts", j.attempts)
	default:
		o.log.Debug(name+" delivered", "event", j.message.Short(), "type", j.kind, "subject", j.group, "attempts", j.attempts)
	}
	o.finish(j)
}

// retry schedules j's next attempt with backoff, or gives it up when the
// next one would come after MaxAge. counted says whether this was an
// attempt at the recipient (or only at finding what to send).
func (o *Outbox) retry(ctx context.Context, j *job, now time.Time, cause string, counted bool) {
	deadline := j.created.Add(o.cfg.MaxAge)
	o.mu.Lock()
	if counted {
		j.attempts++
	}
	j.lastErr = truncate(cause, maxErrorChars)
	wait := o.backoffLocked(max(j.attempts, 1))
	j.next = now.Add(wait)
	if j.next.After(deadline) {
		j.next = deadline
	}
	giveUp := !now.Before(deadline)
	o.mu.Unlock()
	if giveUp {
		o.record(ctx, j, o.cfg.Kinds.Failed, j.lastErr)
		return
	}
	o.requeue(j, false)
}

// backoffLocked is the wait after the nth failed attempt: RetryMin doubled
// n-1 times, capped at RetryMax, with equal jitter (at least half the wait,
// so retries never bunch up at zero, and never all at the same instant
// across messages).
func (o *Outbox) backoffLocked(n int) time.Duration {
	wait := o.cfg.RetryMin
	for i := 1; i < n && wait < o.cfg.RetryMax; i++ {
		wait *= 2
	}
	wait = min(wait, o.cfg.RetryMax)
	if half := int64(wait / 2); half > 0 {
		wait = time.Duration(half + o.rng.Int64N(half+1))
	}
	return wait
}

// requeue puts j back in the queue after an attempt; soon says to try again
// after the shortest wait (a failed write of its outcome).
func (o *Outbox) requeue(j *job, soon bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	j.running = false
	o.busy--
	if _, ok := o.jobs[j.request]; !ok || j.settled {
		o.removeLocked(j)
		return
	}
	if soon {
		j.next = o.cfg.Now().Add(o.cfg.RetryMin)
	}
	heap.Push(&o.queue, j)
}

// finish forgets j after its attempt.
func (o *Outbox) finish(j *job) {
	o.mu.Lock()
	defer o.mu.Unlock()
	j.running = false
	o.busy--
	o.removeLocked(j)
}

// isSettled reports whether a delivered or failed entry settles request.
func (o *Outbox) isSettled(ctx context.Context, message, request ledger.Hash) (bool, error) {
	es, err := o.store.EntriesBySubject(ctx, message.String())
	if err != nil {
		return false, err
	}
	for _, e := range es {
		if e.Kind != o.cfg.Kinds.Delivered && e.Kind != o.cfg.Kinds.Failed {
			continue
		}
		var w record
		if json.Unmarshal(e.Data, &w) == nil && w.Request == request.String() {
			return true, nil
		}
	}
	return false, nil
}

// saveMark stores the low-water mark: the scan position before the oldest
// request still pending here, so a restart scans from there and finds
// every pending delivery again. It writes at most once a second unless
// forced.
func (o *Outbox) saveMark(ctx context.Context, force bool) {
	o.mu.Lock()
	low := o.pos
	for _, j := range o.jobs {
		low = min(low, j.from)
	}
	if low == o.saved || (!force && time.Since(o.savedAt) < markEvery) {
		o.mu.Unlock()
		return
	}
	o.mu.Unlock()
	if err := o.store.SetMark(ctx, o.cfg.Mark, low); err != nil {
		if ctx.Err() == nil {
			o.log.Warn("store the "+o.cfg.Name+" cursor", "err", err)
		}
		return
	}
	o.mu.Lock()
	o.saved, o.savedAt = low, time.Now()
	o.mu.Unlock()
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("outbox: marshal %T: %v", v, err)) // only our own plain structs
	}
	return b
}

// truncate shortens s to at most n runes (never cutting one in two),
// marking the cut with "...".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for at := range s {
		if i == n {
			return s[:at] + "..."
		}
		i++
	}
	return s
}
