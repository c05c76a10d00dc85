package checkout

import (
	"container/heap"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"kassa/ledger"
)

// Entry kinds of webhook bookkeeping. Their subject is the event id (the id
// of the order entry the webhook announces) and their data carries the
// order as "ref", so EntriesByRef finds every one of an order's.
const (
	// KindWebhookResend asks for one more delivery of an event; the region
	// that writes it delivers it.
	KindWebhookResend = "webhook.resend"
	// KindWebhookDelivered records that the merchant's endpoint accepted an
	// event; every region that holds it stops trying.
	KindWebhookDelivered = "webhook.delivered"
	// KindWebhookFailed records that a delivery was given up after MaxAge.
	KindWebhookFailed = "webhook.failed"
)

// Errors of webhook delivery.
var (
	// ErrNoNotificationURL: the order's session has no urls.notification, so
	// the order has no webhooks.
	ErrNoNotificationURL = errors.New("checkout: the order's session has no notification URL")
	// errNotReplicated: the order's session has not reached this region yet.
	errNotReplicated = errors.New("checkout: the order's session is not held in this region yet")
)

// isEvent reports whether an entry kind is an order state change that
// merchants are told about.
func isEvent(kind string) bool {
	switch kind {
	case KindOrderAuthorized, KindOrderDeclined, KindOrderCaptured, KindOrderRefunded,
		KindOrderCancelled, KindOrderReleased, KindOrderVoided:
		return true
	}
	return false
}

// Webhook defaults.
const (
	DefaultWebhookTimeout  = 10 * time.Second
	DefaultWebhookMaxAge   = 36 * time.Hour
	DefaultWebhookTakeover = 15 * time.Minute
	DefaultWebhookWorkers  = 8
	DefaultWebhookRetryMin = 30 * time.Second
	DefaultWebhookRetryMax = time.Hour

	markName      = "webhooks.cursor"
	scanBatch     = 256
	maxTargets    = 10000
	maxReadBody   = 64 << 10
	maxErrorChars = 200
)

// WebhookConfig configures a Dispatcher. Zero values take the defaults.
type WebhookConfig struct {
	// Timeout bounds one POST to a merchant (connect, TLS, headers, body).
	Timeout time.Duration
	// MaxAge is how long an event is retried before it is given up and
	// recorded as failed. At least a day is sensible: merchants' outages
	// last hours.
	MaxAge time.Duration
	// TakeoverAfter is how long another region waits for the writing
	// region to record a delivery before it delivers the event itself. The
	// second region in line waits twice as long, and so on.
	TakeoverAfter time.Duration
	// Concurrency bounds the deliveries in flight.
	Concurrency int
	// RetryMin and RetryMax bound the outbox's exponential backoff between
	// attempts; each wait is jittered.
	RetryMin, RetryMax time.Duration
	// Transport, if set, carries the POSTs instead of the dispatcher's own
	// transport (tests inject network faults with it). In production the
	// target's addresses are still checked before every request, but only
	// the dispatcher's own transport dials the checked address itself.
	Transport http.RoundTripper
	// Resolver and Dial are what the production dialer resolves names and
	// connects with (net.DefaultResolver and a net.Dialer if nil).
	Resolver Resolver
	Dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	// Now is the clock (time.Now if nil); Rand jitters the backoff (seeded
	// from the clock if nil).
	Now  func() time.Time
	Rand *rand.Rand
	// Poll is the longest the dispatcher sleeps before it looks at its
	// schedule again (1s if zero); it matters when Now is not the wall clock.
	Poll   time.Duration
	Logger *slog.Logger
}

// Dispatcher delivers signed webhooks for order state changes, at least
// once. The ledger is its outbox: every order entry of an event kind is an
// event, and its id is the event id. The entry is the change itself, so no
// change commits without its event. The region that wrote an entry delivers it and
// records the outcome as a webhook.delivered (or, after MaxAge,
// webhook.failed) entry, which replicates like any other; a region that has
// seen no such record TakeoverAfter after the event delivers it itself.
// Pending deliveries are found again after a restart by scanning the ledger
// from a persisted low-water mark. A Dispatcher is safe for concurrent use.
type Dispatcher struct {
	svc     *Service
	store   *ledger.Store
	cfg     WebhookConfig
	self    ledger.RegionID
	regions []string
	client  *retryablehttp.Client
	log     *slog.Logger
	kick    chan struct{}

	mu      sync.Mutex
	jobs    map[ledger.Hash]*job // pending deliveries this region tracks, by request
	queue   jobQueue             // jobs waiting for their next attempt
	byOrder map[OrderID][]*job   // non-resend jobs per order, in event order
	targets map[OrderID]webhookTarget
	busy    int
	rng     *rand.Rand
	pos     int64 // local position scanned up to

	saved   int64 // the mark last stored
	savedAt time.Time
}

// webhookTarget is where an order's events go; url is empty when its
// session has no notification URL.
type webhookTarget struct {
	merchant, url string
}

// job is one requested delivery of an event: the event itself, or a resend.
type job struct {
	request  ledger.Hash // the entry that asked for the delivery: the event, or a webhook.resend
	event    ledger.Hash
	kind     string
	order    OrderID
	origin   ledger.RegionID // the region that wrote the request, and delivers it
	resend   bool
	created  time.Time // when the request was written
	evHLC    ledger.HLC
	evOrigin ledger.RegionID
	evSeq    uint64
	from     int64     // the scan position the request was read after
	start    time.Time // when this region begins to deliver it (later than created on takeover)

	next      time.Time
	attempts  int
	lastErr   string
	delivered bool // accepted by the merchant but not yet recorded
	running   bool
	blocked   bool // waiting for an earlier event of the same order
	settled   bool // recorded as done elsewhere while an attempt ran
	waiters   []*job
	index     int // in queue; -1 when not queued
}

func (j *job) active(now time.Time) bool {
	return j.running || j.blocked || j.attempts > 0 || !now.Before(j.start)
}

// eventBefore orders an order's events the way fold does.
func (j *job) eventBefore(k *job) bool {
	if j.evHLC != k.evHLC {
		return j.evHLC.Less(k.evHLC)
	}
	if j.evOrigin != k.evOrigin {
		return j.evOrigin < k.evOrigin
	}
	return j.evSeq < k.evSeq
}

// deliveryData is the payload of webhook.resend, webhook.delivered and
// webhook.failed. Ref is the order again, for EntriesByRef.
type deliveryData struct {
	Event    string `json:"event"`
	Request  string `json:"request,omitempty"`
	Order    string `json:"order"`
	Ref      string `json:"ref"`
	Type     string `json:"type"`
	Status   string `json:"status,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
	Error    string `json:"error,omitempty"`
	Takeover bool   `json:"takeover,omitempty"`
}

// WebhookEvent is the body of a webhook.
type WebhookEvent struct {
	ID      string           `json:"id"`
	Object  string           `json:"object"`
	Type    string           `json:"type"`
	Created int64            `json:"created"`
	Region  string           `json:"region"`
	Data    WebhookEventData `json:"data"`
}

// WebhookEventData is an event's payload: the order as the API showed it
// right after the change.
type WebhookEventData struct {
	Order Order `json:"order"`
}

// NewDispatcher returns a dispatcher for svc's orders. Start it with Run.
// In production (svc's AllowLoopback false) it sends only to https URLs
// whose every address is public, and connects to the address it checked.
func NewDispatcher(svc *Service, cfg WebhookConfig) *Dispatcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultWebhookTimeout
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultWebhookMaxAge
	}
	if cfg.TakeoverAfter <= 0 {
		cfg.TakeoverAfter = DefaultWebhookTakeover
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultWebhookWorkers
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = DefaultWebhookRetryMin
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = max(DefaultWebhookRetryMax, cfg.RetryMin)
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
		cfg.Logger = svc.log
	}
	d := &Dispatcher{
		svc: svc, store: svc.store, cfg: cfg, self: ledger.RegionID(svc.cfg.Region),
		regions: append([]string{svc.cfg.Region}, svc.cfg.Peers...),
		log:     cfg.Logger.With("component", "webhooks"), kick: make(chan struct{}, 1),
		jobs: map[ledger.Hash]*job{}, byOrder: map[OrderID][]*job{}, targets: map[OrderID]webhookTarget{},
		rng: cfg.Rand,
	}
	d.client = d.newClient()
	return d
}

func (d *Dispatcher) newClient() *retryablehttp.Client {
	rt := d.cfg.Transport
	if !d.svc.cfg.AllowLoopback {
		guard := &PublicDialer{Resolver: d.cfg.Resolver, Dial: d.cfg.Dial}
		if rt == nil {
			rt = d.transport(guard.DialContext)
		} else {
			rt = &checkedTransport{guard: guard, next: rt}
		}
	} else if rt == nil {
		dial := d.cfg.Dial
		if dial == nil {
			dial = (&net.Dialer{Timeout: d.cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext
		}
		rt = d.transport(dial)
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{
		Transport: rt,
		Timeout:   d.cfg.Timeout,
		// A redirect would send the event (and its signature) somewhere the
		// merchant did not configure; it counts as a failed attempt.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	rc.Logger = nil
	// One quick retry after a connection failure inside an attempt; answers
	// (5xx included) wait for the outbox's backoff.
	rc.RetryMax = 1
	rc.RetryWaitMin, rc.RetryWaitMax = 100*time.Millisecond, time.Second
	rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if err == nil || resp != nil || ctx.Err() != nil || errors.Is(err, ErrInternalAddress) {
			return false, nil
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.PrepareRetry = func(r *http.Request) error {
		if sign, ok := r.Context().Value(signerKey{}).(signer); ok {
			sign(r)
		}
		return nil
	}
	return rc
}

func (d *Dispatcher) transport(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		// Never through an environment proxy: it would connect to whatever
		// the name resolves to there, unchecked.
		Proxy:                 nil,
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   min(d.cfg.Timeout, 10*time.Second),
		ResponseHeaderTimeout: d.cfg.Timeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   2,
	}
}

// Run delivers webhooks until ctx is done; call it once. Attempts in flight are abandoned
// when ctx ends (the merchant may still have received them: they are
// delivered again later, which at least once allows). Run returns when they
// have all stopped.
func (d *Dispatcher) Run(ctx context.Context) {
	pos, err := d.store.Mark(ctx, markName)
	if err != nil {
		d.log.Error("read webhook cursor; scanning the ledger from the start", "err", err)
		pos = 0
	}
	d.mu.Lock()
	d.pos, d.saved = pos, pos
	d.mu.Unlock()
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		d.saveMark(sctx, true)
		cancel()
		d.client.HTTPClient.CloseIdleConnections()
	}()
	var lastErr string
	for {
		changed := d.store.Changed()
		if err := d.scan(ctx); err != nil && ctx.Err() == nil {
			if err.Error() != lastErr {
				d.log.Error("read the ledger for webhook events", "err", err)
			}
			lastErr = err.Error()
		} else {
			lastErr = ""
		}
		d.dispatch(ctx, &wg)
		d.saveMark(ctx, false)
		timer := time.NewTimer(d.sleep())
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-changed:
		case <-d.kick:
		case <-timer.C:
		}
		timer.Stop()
	}
}

func (d *Dispatcher) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// sleep is how long Run may wait before the next attempt is due.
func (d *Dispatcher) sleep() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.queue.Len() == 0 || d.busy >= d.cfg.Concurrency {
		return d.cfg.Poll
	}
	return min(max(d.queue[0].next.Sub(d.cfg.Now()), 0), d.cfg.Poll)
}

// scan reads the entries stored since the last scan and updates the jobs.
func (d *Dispatcher) scan(ctx context.Context) error {
	for {
		d.mu.Lock()
		from := d.pos
		d.mu.Unlock()
		es, last, err := d.store.EntriesSince(ctx, from, scanBatch)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return nil
		}
		for i := range es {
			if err := d.consider(ctx, &es[i], from); err != nil {
				return err
			}
		}
		d.mu.Lock()
		d.pos = last
		d.mu.Unlock()
		if len(es) < scanBatch {
			return nil
		}
	}
}

func (d *Dispatcher) consider(ctx context.Context, e *ledger.Entry, from int64) error {
	switch {
	case isEvent(e.Kind):
		d.primeTarget(e)
		id := e.ID()
		return d.add(ctx, &job{
			request: id, event: id, kind: e.Kind, order: OrderID(e.Subject), origin: e.Origin,
			created: e.HLC.Time(), evHLC: e.HLC, evOrigin: e.Origin, evSeq: e.Seq, from: from,
		})
	case e.Kind == KindWebhookResend:
		// The resend names what it needs: its event may come from another
		// origin and reach this region later than the resend itself.
		var w deliveryData
		err := json.Unmarshal(e.Data, &w)
		ev, herr := ledger.ParseHash(w.Event)
		if err != nil || herr != nil || !isEvent(w.Type) || w.Order == "" {
			d.log.Warn("ignoring a malformed webhook.resend entry", "entry", e.ID().Short())
			return nil
		}
		return d.add(ctx, &job{
			request: e.ID(), event: ev, kind: w.Type, order: OrderID(w.Order), origin: e.Origin, resend: true,
			created: e.HLC.Time(), from: from,
		})
	case e.Kind == KindWebhookDelivered || e.Kind == KindWebhookFailed:
		var w deliveryData
		if json.Unmarshal(e.Data, &w) != nil {
			return nil
		}
		if req, err := ledger.ParseHash(w.Request); err == nil {
			d.settle(req)
		}
	}
	return nil
}

// add tracks a requested delivery unless it is tracked already, its order
// has no notification URL, or it is settled.
func (d *Dispatcher) add(ctx context.Context, j *job) error {
	d.mu.Lock()
	_, dup := d.jobs[j.request]
	d.mu.Unlock()
	if dup {
		return nil
	}
	_, err := d.target(ctx, j.order)
	switch {
	case errors.Is(err, ErrNoNotificationURL):
		return nil
	case errors.Is(err, errNotReplicated):
		// Tracked anyway: the session arrives with its origin's chain.
	case err != nil:
		return err
	}
	if done, err := d.isSettled(ctx, j.event, j.request); err != nil {
		return err
	} else if done {
		return nil
	}
	j.index = -1
	j.start = j.created
	if j.origin != d.self {
		j.start = j.created.Add(time.Duration(d.takeoverRank(j.request, j.origin)) * d.cfg.TakeoverAfter)
	}
	j.next = j.start
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, dup := d.jobs[j.request]; dup {
		return nil
	}
	d.jobs[j.request] = j
	if !j.resend {
		q := d.byOrder[j.order]
		i := sort.Search(len(q), func(i int) bool { return j.eventBefore(q[i]) })
		q = append(q, nil)
		copy(q[i+1:], q[i:])
		q[i] = j
		d.byOrder[j.order] = q
	}
	heap.Push(&d.queue, j)
	return nil
}

// takeoverRank is this region's place in the line of regions that deliver
// a request whose origin has not: 1 for the first. The line is a
// deterministic shuffle of the regions other than the origin, different for
// every request, so takeovers spread over the regions and a second region
// steps in only if the first one has not either.
func (d *Dispatcher) takeoverRank(request ledger.Hash, origin ledger.RegionID) int {
	type cand struct {
		region string
		key    [32]byte
	}
	var cs []cand
	for _, r := range d.regions {
		if r != string(origin) {
			cs = append(cs, cand{r, sha256.Sum256(append(request[:], r...))})
		}
	}
	sort.Slice(cs, func(i, j int) bool { return string(cs[i].key[:]) < string(cs[j].key[:]) })
	for i, c := range cs {
		if c.region == string(d.self) {
			return i + 1
		}
	}
	return len(cs) + 1
}

// settle forgets a request that a delivered or failed entry settled.
func (d *Dispatcher) settle(request ledger.Hash) {
	d.mu.Lock()
	defer d.mu.Unlock()
	j, ok := d.jobs[request]
	if !ok {
		return
	}
	if j.running {
		j.settled = true
		return
	}
	d.removeLocked(j)
}

// removeLocked forgets j and lets the jobs waiting for it go.
func (d *Dispatcher) removeLocked(j *job) {
	delete(d.jobs, j.request)
	if j.index >= 0 {
		heap.Remove(&d.queue, j.index)
	}
	if !j.resend {
		q := d.byOrder[j.order]
		for i, k := range q {
			if k == j {
				q = append(q[:i], q[i+1:]...)
				break
			}
		}
		if len(q) == 0 {
			delete(d.byOrder, j.order)
		} else {
			d.byOrder[j.order] = q
		}
	}
	for _, w := range j.waiters {
		if _, ok := d.jobs[w.request]; ok && w.blocked {
			w.blocked = false
			heap.Push(&d.queue, w)
		}
	}
	j.waiters = nil
}

// blockerLocked returns an earlier event of j's order that this region is
// delivering, if any: events of one order go out in order.
func (d *Dispatcher) blockerLocked(j *job, now time.Time) *job {
	if j.resend {
		return nil
	}
	for _, k := range d.byOrder[j.order] {
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
func (d *Dispatcher) dispatch(ctx context.Context, wg *sync.WaitGroup) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.cfg.Now()
	for d.busy < d.cfg.Concurrency && d.queue.Len() > 0 && ctx.Err() == nil {
		j := d.queue[0]
		if j.next.After(now) {
			return
		}
		heap.Pop(&d.queue)
		if b := d.blockerLocked(j, now); b != nil {
			j.blocked = true
			b.waiters = append(b.waiters, j)
			continue
		}
		j.running = true
		d.busy++
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.attempt(ctx, j)
		}()
	}
}

// attempt makes one delivery attempt of j and schedules what follows.
func (d *Dispatcher) attempt(ctx context.Context, j *job) {
	defer d.wake()
	// Settled since it was queued: another region's record arrived, or this
	// one delivered it before a restart.
	if done, err := d.isSettled(ctx, j.event, j.request); err == nil && done {
		d.finish(j)
		return
	}
	now := d.cfg.Now()
	if j.delivered {
		d.record(ctx, j, KindWebhookDelivered, "")
		return
	}
	if j.attempts == 0 && !now.Before(j.created.Add(d.cfg.MaxAge)) {
		// Already too old when this process first got to it (the region
		// was down, or this is an old event found on a first start): the
		// merchant's time to receive it is over.
		d.record(ctx, j, KindWebhookFailed, "not attempted within max_age")
		return
	}
	t, err := d.target(ctx, j.order)
	if errors.Is(err, ErrNoNotificationURL) {
		d.finish(j)
		return
	}
	if err != nil {
		d.retry(ctx, j, now, err.Error(), false)
		return
	}
	body, err := d.body(ctx, j)
	if err != nil {
		d.retry(ctx, j, now, "build event: "+err.Error(), false)
		return
	}
	secret, ok := d.svc.WebhookSecret(t.merchant)
	if !ok || secret == "" {
		d.retry(ctx, j, now, "no webhook secret configured for merchant "+t.merchant, true)
		return
	}
	err = d.post(ctx, t.url, secret, j.event.String(), j.kind, body)
	if ctx.Err() != nil {
		// Shutting down: not the merchant's failure. A restart delivers it.
		d.requeue(j, false)
		return
	}
	if err != nil {
		d.log.Debug("webhook attempt failed", "event", j.event.Short(), "order", j.order, "attempt", j.attempts+1, "err", err)
		d.retry(ctx, j, now, err.Error(), true)
		return
	}
	d.mu.Lock()
	j.attempts++
	j.delivered, j.lastErr = true, ""
	d.mu.Unlock()
	d.record(ctx, j, KindWebhookDelivered, "")
}

// record writes j's outcome to the ledger, which settles it in every region.
func (d *Dispatcher) record(ctx context.Context, j *job, kind, cause string) {
	d.mu.Lock()
	if j.settled {
		d.mu.Unlock()
		d.finish(j)
		return
	}
	w := deliveryData{
		Event: j.event.String(), Request: j.request.String(), Order: string(j.order), Ref: string(j.order),
		Type: j.kind, Status: "delivered", Attempts: j.attempts, Takeover: j.origin != d.self,
	}
	d.mu.Unlock()
	if kind == KindWebhookFailed {
		w.Status, w.Error = "failed", cause
	}
	_, err := d.store.Append(context.WithoutCancel(ctx), ledger.Draft{Kind: kind, Subject: j.event.String(), Data: mustJSON(w)})
	if err != nil {
		// Try to record again later; a delivered event is not sent again
		// by this process, though another region may take it over.
		d.log.Error("record webhook outcome", "event", j.event.Short(), "order", j.order, "status", w.Status, "err", err)
		d.requeue(j, true)
		return
	}
	switch {
	case kind == KindWebhookFailed:
		d.log.Warn("webhook given up", "event", j.event.Short(), "type", j.kind, "order", j.order, "attempts", j.attempts, "last_error", cause)
	case w.Takeover:
		d.log.Info("webhook delivered on behalf of its region", "event", j.event.Short(), "type", j.kind, "order", j.order, "origin", j.origin, "attempts", j.attempts)
	default:
		d.log.Debug("webhook delivered", "event", j.event.Short(), "type", j.kind, "order", j.order, "attempts", j.attempts)
	}
	d.finish(j)
}

// retry schedules j's next attempt with backoff, or gives it up when the
// next one would come after MaxAge. counted says whether this was an
// attempt at the merchant (or only at finding what to send).
func (d *Dispatcher) retry(ctx context.Context, j *job, now time.Time, cause string, counted bool) {
	deadline := j.created.Add(d.cfg.MaxAge)
	d.mu.Lock()
	if counted {
		j.attempts++
	}
	j.lastErr = truncate(cause, maxErrorChars)
	n := max(j.attempts, 1)
	wait := d.cfg.RetryMin
	for i := 1; i < n && wait < d.cfg.RetryMax; i++ {
		wait *= 2
	}
	wait = min(wait, d.cfg.RetryMax)
	// Equal jitter: at least half the wait, so retries never bunch up at
	// zero, and never all at the same instant across events.
	if half := int64(wait / 2); half > 0 {
		wait = time.Duration(half + d.rng.Int64N(half+1))
	}
	j.next = now.Add(wait)
	if j.next.After(deadline) {
		j.next = deadline
	}
	giveUp := !now.Before(deadline)
	d.mu.Unlock()
	if giveUp {
		d.record(ctx, j, KindWebhookFailed, j.lastErr)
		return
	}
	d.requeue(j, false)
}

// requeue puts j back in the queue after an attempt; soon says to try again
// after the shortest wait (a failed write of its outcome).
func (d *Dispatcher) requeue(j *job, soon bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	j.running = false
	d.busy--
	if _, ok := d.jobs[j.request]; !ok || j.settled {
		d.removeLocked(j)
		return
	}
	if soon {
		j.next = d.cfg.Now().Add(d.cfg.RetryMin)
	}
	heap.Push(&d.queue, j)
}

// finish forgets j after its attempt.
func (d *Dispatcher) finish(j *job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	j.running = false
	d.busy--
	d.removeLocked(j)
}

// isSettled reports whether a delivered or failed entry settles request.
func (d *Dispatcher) isSettled(ctx context.Context, event, request ledger.Hash) (bool, error) {
	es, err := d.store.EntriesBySubject(ctx, event.String())
	if err != nil {
		return false, err
	}
	for _, e := range es {
		if e.Kind != KindWebhookDelivered && e.Kind != KindWebhookFailed {
			continue
		}
		var w deliveryData
		if json.Unmarshal(e.Data, &w) == nil && w.Request == request.String() {
			return true, nil
		}
	}
	return false, nil
}

// target finds where an order's events go. It returns ErrNoNotificationURL
// for a session without one and errNotReplicated while the session (or the
// order's authorization) has not reached this region.
func (d *Dispatcher) target(ctx context.Context, order OrderID) (webhookTarget, error) {
	d.mu.Lock()
	t, ok := d.targets[order]
	d.mu.Unlock()
	if !ok {
		es, err := d.store.EntriesBySubject(ctx, string(order))
		if err != nil {
			return t, err
		}
		var sid SessionID
		carried := false
		for i := range es {
			e := &es[i]
			if e.Kind != KindOrderAuthorized && e.Kind != KindOrderDeclined && e.Kind != KindOrderPending {
				continue
			}
			if t, carried = targetOf(e); carried {
				break
			}
			var a authData
			if json.Unmarshal(e.Data, &a) == nil && a.Session != "" {
				sid = a.Session
				break
			}
		}
		if !carried && sid == "" {
			return t, errNotReplicated
		}
		if !carried {
			ss, err := d.store.EntriesBySubject(ctx, string(sid))
			if err != nil {
				return t, err
			}
			var first *ledger.Entry
			for i := range ss {
				if ss[i].Kind == KindSessionCreated && (first == nil || ss[i].HLC.Less(first.HLC)) {
					first = &ss[i]
				}
			}
			if first == nil {
				return t, errNotReplicated
			}
			var sd sessionData
			if err := jsonUnmarshal(first.Data, &sd); err != nil {
				return t, err
			}
			t = webhookTarget{merchant: sd.Merchant, url: sd.URLs.Notification}
		}
		d.cacheTarget(order, t)
	}
	if t.url == "" {
		return t, ErrNoNotificationURL
	}
	return t, nil
}

func (d *Dispatcher) cacheTarget(order OrderID, t webhookTarget) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.targets) >= maxTargets {
		clear(d.targets)
	}
	d.targets[order] = t
}

// targetOf reads the webhook target an authorization entry carries (its
// session's merchant and notification URL), if it carries one.
func targetOf(e *ledger.Entry) (webhookTarget, bool) {
	var a struct {
		Merchant string  `json:"merchant"`
		Notify   *string `json:"notify"`
	}
	if json.Unmarshal(e.Data, &a) != nil || a.Notify == nil || a.Merchant == "" {
		return webhookTarget{}, false
	}
	return webhookTarget{merchant: a.Merchant, url: *a.Notify}, true
}

// primeTarget caches an order's webhook target from its authorization
// entry, so the order's events need no read of the session.
func (d *Dispatcher) primeTarget(e *ledger.Entry) {
	if e.Kind != KindOrderAuthorized && e.Kind != KindOrderDeclined && e.Kind != KindOrderPending {
		return
	}
	if t, ok := targetOf(e); ok {
		d.cacheTarget(OrderID(e.Subject), t)
	}
}

// body renders the event: the order as it was right after the entry, so
// every attempt, and a region taking over, sends the same document.
func (d *Dispatcher) body(ctx context.Context, j *job) ([]byte, error) {
	ev, err := d.store.Entry(ctx, j.event)
	if err != nil {
		return nil, err
	}
	es, err := d.store.EntriesBySubject(ctx, string(j.order))
	if err != nil {
		return nil, err
	}
	sort.SliceStable(es, func(a, b int) bool {
		x, y := es[a], es[b]
		if x.HLC != y.HLC {
			return x.HLC.Less(y.HLC)
		}
		if x.Origin != y.Origin {
			return x.Origin < y.Origin
		}
		return x.Seq < y.Seq
	})
	cut := len(es)
	for i := range es {
		if es[i].Origin == ev.Origin && es[i].Seq == ev.Seq {
			cut = i + 1
			break
		}
	}
	st, err := fold(j.order, es[:cut], ev.HLC.Time())
	if err != nil {
		return nil, err
	}
	return json.Marshal(WebhookEvent{
		ID: j.event.String(), Object: "event", Type: ev.Kind, Created: ev.HLC.Time().Unix(),
		Region: string(ev.Origin), Data: WebhookEventData{Order: st.Order},
	})
}

// Signature returns the Kassa-Signature header value for body sent at t:
// "t=<unix>,v1=<hex HMAC-SHA256 of "<unix>.<body>" keyed with secret>".
func Signature(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// post sends one event. Only the status and the kind of a failure come
// back, never the URL's path or query (which can hold the merchant's
// tokens) or the answer's body.
func (d *Dispatcher) post(ctx context.Context, target, secret, eventID, kind string, body []byte) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("notification URL is not an absolute http(s) URL")
	}
	if !d.svc.cfg.AllowLoopback && u.Scheme != "https" {
		return errors.New("notification URL must use https in production")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*d.cfg.Timeout+2*time.Second)
	defer cancel()
	sign := signer(func(r *http.Request) { r.Header.Set("Kassa-Signature", Signature(secret, d.cfg.Now(), body)) })
	ctx = context.WithValue(ctx, signerKey{}, sign)
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, target, body)
	if err != nil {
		return errors.New("notification URL is not usable")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kassa-webhooks/1")
	req.Header.Set("Kassa-Event-Id", eventID)
	req.Header.Set("Kassa-Event-Type", kind)
	sign(req.Request)
	resp, err := d.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxReadBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered HTTP %d", u.Host, resp.StatusCode)
	}
	return nil
}

// signer signs a request; a retry inside an attempt is signed afresh.
type signer func(*http.Request)

type signerKey struct{}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Delivery is one requested delivery of an event as support staff see it:
// the event's own, or one asked for with Resend.
type Delivery struct {
	EventID string    `json:"event_id"`
	Type    string    `json:"type"`
	Created time.Time `json:"created"`
	// Request is the entry that asked for this delivery: the event itself,
	// or a webhook.resend entry.
	Request string `json:"request"`
	Resend  bool   `json:"resend"`
	// Origin is the region that wrote the request and is first in line to
	// deliver it.
	Origin string `json:"origin"`
	// Status is pending, delivered or failed (given up after max_age).
	Status string `json:"status"`
	// Region is the region that delivered or gave up, once settled.
	Region      string     `json:"region,omitempty"`
	Takeover    bool       `json:"takeover,omitempty"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error,omitempty"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	SettledAt   *time.Time `json:"settled_at,omitempty"`
}

// Deliveries lists the webhook deliveries of an order, oldest event first:
// settled ones as recorded in the ledger (by any region), pending ones with
// this region's attempts, last error and next attempt when this region is
// delivering them. An order whose session has no notification URL has
// none. It returns ErrNotFound for an unknown order.
func (d *Dispatcher) Deliveries(ctx context.Context, order OrderID) ([]Delivery, error) {
	es, err := d.store.EntriesBySubject(ctx, string(order))
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, ErrNotFound
	}
	if _, err := d.target(ctx, order); errors.Is(err, ErrNoNotificationURL) {
		return []Delivery{}, nil
	} else if err != nil && !errors.Is(err, errNotReplicated) {
		return nil, err
	}
	refs, err := d.store.EntriesByRef(ctx, string(order))
	if err != nil {
		return nil, err
	}
	resends := map[string][]ledger.Entry{}
	settled := map[string][]ledger.Entry{}
	for _, e := range refs {
		var w deliveryData
		if json.Unmarshal(e.Data, &w) != nil {
			continue
		}
		switch e.Kind {
		case KindWebhookResend:
			resends[w.Event] = append(resends[w.Event], e)
		case KindWebhookDelivered, KindWebhookFailed:
			settled[w.Request] = append(settled[w.Request], e)
		}
	}
	out := []Delivery{}
	for _, ev := range es {
		if !isEvent(ev.Kind) {
			continue
		}
		id := ev.ID()
		reqs := append([]ledger.Entry{ev}, resends[id.String()]...)
		for i, r := range reqs {
			rid := r.ID()
			dl := Delivery{
				EventID: id.String(), Type: ev.Kind, Created: ev.HLC.Time(), Request: rid.String(),
				Resend: i > 0, Origin: string(r.Origin), Status: "pending",
			}
			d.describe(&dl, rid, settled[rid.String()])
			out = append(out, dl)
		}
	}
	return out, nil
}

// describe fills a delivery's status from its settling entries (a delivery
// beats a give-up) or, while pending, from this region's attempts.
func (d *Dispatcher) describe(dl *Delivery, request ledger.Hash, settles []ledger.Entry) {
	var best *ledger.Entry
	for i := range settles {
		e := &settles[i]
		if best == nil || (e.Kind == KindWebhookDelivered && best.Kind != KindWebhookDelivered) ||
			(e.Kind == best.Kind && e.HLC.Less(best.HLC)) {
			best = e
		}
	}
	if best != nil {
		var w deliveryData
		json.Unmarshal(best.Data, &w)
		at := best.HLC.Time()
		dl.Status, dl.Region, dl.Takeover, dl.Attempts, dl.LastError, dl.SettledAt = w.Status, string(best.Origin), w.Takeover, w.Attempts, w.Error, &at
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	j, ok := d.jobs[request]
	if !ok {
		return
	}
	dl.Attempts, dl.LastError = j.attempts, j.lastErr
	if j.running || j.attempts > 0 || !d.cfg.Now().Before(j.start) {
		dl.Region = string(d.self)
		dl.Takeover = j.origin != d.self
	}
	if !j.running {
		next := j.next
		dl.NextAttempt = &next
	}
}

// Resend asks for one more delivery of an event (its id, as in the
// webhook's "id"). A delivery of it that this region is still retrying is
// tried at once instead; otherwise a webhook.resend entry is written and
// this region delivers it, with the same id and body, retried like any
// other. It returns ErrNotFound for an unknown event and
// ErrNoNotificationURL when the order has no webhooks.
func (d *Dispatcher) Resend(ctx context.Context, eventID string) error {
	id, err := ledger.ParseHash(eventID)
	if err != nil {
		return fmt.Errorf("%w: event %q", ErrNotFound, truncate(eventID, 80))
	}
	ev, err := d.store.Entry(ctx, id)
	if errors.Is(err, ledger.ErrNotFound) || (err == nil && !isEvent(ev.Kind)) {
		return fmt.Errorf("%w: event %s", ErrNotFound, id.Short())
	}
	if err != nil {
		return err
	}
	order := OrderID(ev.Subject)
	if _, err := d.target(ctx, order); err != nil {
		return err
	}
	if d.retryNow(id) {
		d.wake()
		return nil
	}
	w := deliveryData{Event: id.String(), Order: string(order), Ref: string(order), Type: ev.Kind}
	if _, err := d.store.Append(context.WithoutCancel(ctx), ledger.Draft{Kind: KindWebhookResend, Subject: id.String(), Data: mustJSON(w)}); err != nil {
		return fmt.Errorf("checkout: record webhook resend: %w", err)
	}
	d.wake()
	return nil
}

// retryNow moves a pending delivery of event that this region tracks to
// the front of the queue. It reports whether there was one.
func (d *Dispatcher) retryNow(event ledger.Hash) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	found := false
	now := d.cfg.Now()
	for _, j := range d.jobs {
		if j.event != event || j.settled || j.delivered {
			continue
		}
		found = true
		if j.index >= 0 {
			j.next = now
			if j.start.After(now) {
				j.start = now
			}
			heap.Fix(&d.queue, j.index)
		}
	}
	return found
}

// saveMark stores the low-water mark: the scan position before the oldest
// request still pending here, so a restart scans from there and finds
// every pending delivery again. It writes at most once a second unless
// forced.
func (d *Dispatcher) saveMark(ctx context.Context, force bool) {
	d.mu.Lock()
	low := d.pos
	for _, j := range d.jobs {
		low = min(low, j.from)
	}
	if low == d.saved || (!force && time.Since(d.savedAt) < time.Second) {
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	if err := d.store.SetMark(ctx, markName, low); err != nil {
		if ctx.Err() == nil {
			d.log.Warn("store webhook cursor", "err", err)
		}
		return
	}
	d.mu.Lock()
	d.saved, d.savedAt = low, time.Now()
	d.mu.Unlock()
}

// jobQueue is a min-heap of jobs by next attempt.
type jobQueue []*job

func (q jobQueue) Len() int { return len(q) }
func (q jobQueue) Less(i, j int) bool {
	if !q[i].next.Equal(q[j].next) {
		return q[i].next.Before(q[j].next)
	}
	return q[i].eventBefore(q[j])
}
func (q jobQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *jobQueue) Push(x any) {
	j := x.(*job)
	j.index = len(*q)
	*q = append(*q, j)
}
func (q *jobQueue) Pop() any {
	old := *q
	j := old[len(old)-1]
	old[len(old)-1] = nil
	j.index = -1
	*q = old[:len(old)-1]
	return j
}
