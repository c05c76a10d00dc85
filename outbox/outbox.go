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

const (
	scanBatch         = 256
	maxErrorChars     = 200
	markEvery         = time.Second
	defaultRecordWait = 250 * time.Millisecond
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
	// toRecord holds delivered jobs waiting to share a Delivered entry
	// (Config.RecordBatch), oldest first; recordKick wakes recordLoop.
	toRecord   []*job
	recordKick chan struct{}
	pos        int64 // local position scanned up to

	saved   int64 // the mark last stored
	savedAt time.Time
}

// job is one requested delivery of a message: the message itself, or a
// resend.
type job struct {
	request   ledger.Hash // the entry that asked for the delivery
	message   ledger.Hash
	kind      string
	group     string
	origin    ledger.RegionID // the region that wrote the request, and delivers it
	resend    bool
	created   time.Time       // when the request was written
	msgPos    ledger.Position // the message's place in the fold order
	from      int64           // the scan position the request was read after
	start     time.Time       // when this region begins to deliver it (later than created on takeover)
	next      time.Time
	attempts  int
	lastErr   string
	sent      bool      // accepted by the recipient but not yet recorded
	awaitedAt time.Time // when it joined toRecord, sent: RecordWait is a wait on the wall clock
	receipt   *Receipt  // what the accepted delivery left to record
	running   bool
	blocked   bool // waiting for an earlier message of the same group
	settled   bool // recorded as done elsewhere while an attempt ran
	waiters   []*job
	index     int // in queue; -1 when not queued
}

func (j *job) active(now time.Time) bool {
	return j.running || j.blocked || j.attempts > 0 || !now.Before(j.start)
}

// before orders a group's messages the way the ledger folds them.
func (j *job) before(k *job) bool { return j.msgPos.Less(k.msgPos) }

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
	// Refs and Content are a Delivered record's Receipt. A record of
	// several deliveries has their message ids as Refs, and the
	// deliveries, each a record of one, in Deliveries; its other fields
	// are empty.
	Refs       []string        `json:"refs,omitempty"`
	Content    json.RawMessage `json:"content,omitempty"`
	Deliveries []record        `json:"deliveries,omitempty"`
}

// settlements returns the deliveries or give-ups a Delivered or Failed
// entry records: one, or several (Config.RecordBatch). Nil for data that
// is not a record.
func settlements(data json.RawMessage) []record {
	var w record
	if json.Unmarshal(data, &w) != nil {
		return nil
	}
	if len(w.Deliveries) > 0 {
		return w.Deliveries
	}
	return []record{w}
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
	if cfg.RecordBatch < 0 || cfg.RecordBatch > ledger.MaxRefs {
		return nil, fmt.Errorf("outbox: RecordBatch must be between 0 and %d, got %d", ledger.MaxRefs, cfg.RecordBatch)
	}
	if cfg.RecordWait <= 0 {
		cfg.RecordWait = defaultRecordWait
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
		log: cfg.Logger.With("component", cfg.Name+"s"), kick: make(chan struct{}, 1), recordKick: make(chan struct{}, 1),
		jobs: map[ledger.Hash]*job{}, byGroup: map[string][]*job{}, rng: cfg.Rand,
	}, nil
}

// Run delivers messages until ctx is done; call it once. Attempts in
// flight are abandoned when ctx ends (the recipient may still have received
// them: they are delivered again later, which at least once allows). Run
// returns when they have all stopped and the deliveries waiting to share a
// record are recorded (within 5 seconds).
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
		o.recordAll(sctx)
		o.saveMark(sctx, true)
		cancel()
	}()
	if o.cfg.RecordBatch > 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.recordLoop(ctx)
		}()
	}
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
			created: e.HLC.Time(), msgPos: e.Position(), from: from,
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
		for _, w := range settlements(e.Data) {
			if req, err := ledger.ParseHash(w.Request); err == nil {
				o.settle(req)
			}
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
	j.index = -1
	j.start = j.created
	if j.origin != o.self {
		j.start = j.created.Add(time.Duration(o.takeoverRank(j.request, j.origin)) * o.cfg.TakeoverAfter)
	}
	j.next = j.start
	// Whether a record settled it already (a restart, an old message, a
	// takeover's record that came first) is looked up when it is due, by
	// attempt: most requests are settled by the record the scan reads
	// next, and a region that only watches another's deliveries until
	// their records arrive reads nothing more for them.
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
	o.leaveGroupLocked(j)
}

// leaveGroupLocked takes j out of its group's order and lets the jobs
// waiting for it go.
func (o *Outbox) leaveGroupLocked(j *job) {
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

// isSettled reports whether a delivered or failed entry settles request.
func (o *Outbox) isSettled(ctx context.Context, message, request ledger.Hash) (bool, error) {
	es, err := o.settlingEntries(ctx, message)
	if err != nil {
		return false, err
	}
	for _, e := range es {
		for _, w := range settlements(e.Data) {
			if w.Request == request.String() {
				return true, nil
			}
		}
	}
	return false, nil
}

// settlingEntries returns the Delivered and Failed entries about message: records
// of its deliveries alone (its subject) and, for a channel that records
// several deliveries in one entry, those too (their refs).
func (o *Outbox) settlingEntries(ctx context.Context, message ledger.Hash) ([]ledger.Entry, error) {
	es, err := o.store.EntriesBySubject(ctx, message.String())
	if err != nil {
		return nil, err
	}
	if o.cfg.RecordBatch > 1 {
		more, err := o.store.EntriesByRef(ctx, message.String())
		if err != nil {
			return nil, err
		}
		es = append(es, more...)
	}
	out := es[:0:0]
	for _, e := range es {
		if e.Kind == o.cfg.Kinds.Delivered || e.Kind == o.cfg.Kinds.Failed {
			out = append(out, e)
		}
	}
	return out, nil
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
