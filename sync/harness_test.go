package sync_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"kassa/ledger"
	regionsync "kassa/sync"
)

var bg = context.Background()

func keyFor(id string) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "sync-test:"+id)
	return ed25519.NewKeyFromSeed(seed)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// faults is a seeded, switchable fault injector shared by a cluster's
// transports: it drops requests, loses answers, duplicates requests, delays
// them (which reorders them across peers) and cuts links.
type faults struct {
	mu        sync.Mutex
	rng       *rand.Rand
	drop      float64 // request never arrives
	loseReply float64 // request arrives, answer is lost
	dup       float64 // request arrives twice
	maxDelay  time.Duration
	// lateAnswers holds each answer back for up to this long, which
	// reorders the answers to requests in flight at once.
	lateAnswers time.Duration
	cut         map[[2]string]bool
	hosts       map[string]string // host:port -> region id
	// busyPushes answers the next this many pushes from busyFrom 429
	// without delivering them, as a peer whose slots are full does.
	busyFrom   string
	busyPushes int
}

func newFaults(seed uint64) *faults {
	return &faults{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), cut: map[[2]string]bool{}, hosts: map[string]string{}}
}

func (f *faults) roll(p float64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Float64() < p
}

func (f *faults) delay() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.maxDelay <= 0 {
		return 0
	}
	return time.Duration(f.rng.Int64N(int64(f.maxDelay)))
}

// answerDelay is how long to hold the next answer back.
func (f *faults) answerDelay() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lateAnswers <= 0 {
		return 0
	}
	return time.Duration(f.rng.Int64N(int64(f.lateAnswers)))
}

// partition cuts (or, with cut false, heals) the link between a and b.
func (f *faults) partition(a, b string, cut bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut[[2]string{a, b}], f.cut[[2]string{b, a}] = cut, cut
}

func (f *faults) healAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut = map[[2]string]bool{}
}

func (f *faults) set(drop, loseReply, dup float64, maxDelay time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drop, f.loseReply, f.dup, f.maxDelay = drop, loseReply, dup, maxDelay
}

var errInjected = errors.New("injected network fault")

// transport is one region's outbound network as the faults see it.
type transport struct {
	from string
	f    *faults
	next http.RoundTripper
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.f.mu.Lock()
	to := t.f.hosts[r.URL.Host]
	cut := t.f.cut[[2]string{t.from, to}]
	drop, lose, dup := t.f.drop, t.f.loseReply, t.f.dup
	busy := t.f.busyPushes > 0 && t.from == t.f.busyFrom && r.URL.Path == "/sync/v1/entries"
	if busy {
		t.f.busyPushes--
	}
	t.f.mu.Unlock()
	if cut {
		return nil, fmt.Errorf("%w: %s-%s partitioned", errInjected, t.from, to)
	}
	if busy {
		body := `{"error":{"code":"too_many_requests","message":"injected: no slot free"}}`
		return &http.Response{StatusCode: http.StatusTooManyRequests, Status: "429 Too Many Requests", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Retry-After": {"1"}, "Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	}
	if d := t.f.delay(); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	if t.f.roll(drop) {
		return nil, fmt.Errorf("%w: request lost", errInjected)
	}
	if t.f.roll(dup) && r.GetBody != nil {
		c := r.Clone(r.Context())
		c.Body, _ = r.GetBody()
		if res, err := t.next.RoundTrip(c); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		r.Body, _ = r.GetBody()
	}
	res, err := t.next.RoundTrip(r)
	if d := t.f.answerDelay(); d > 0 && err == nil {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			res.Body.Close()
			return nil, r.Context().Err()
		}
	}
	if err == nil && t.f.roll(lose) {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return nil, fmt.Errorf("%w: answer lost", errInjected)
	}
	return res, err
}

// member is one region of a test cluster.
type member struct {
	id      string
	path    string
	key     ed25519.PrivateKey
	srv     *httptest.Server
	handler atomic.Pointer[http.Handler]
	store   *ledger.Store
	node    *regionsync.Node
	cancel  context.CancelFunc
	done    chan struct{}
}

type cluster struct {
	// life guards members' store and cancel, which start and stop
	// replace while watchers read them.
	life    sync.Mutex
	t       testing.TB
	f       *faults
	members []*member
	keys    ledger.Keys
	tune    func(*regionsync.Config)
}

// newCluster starts n regions (r1..rn) in this process, each with its own
// store, HTTP server and faulty transport.
func newCluster(t testing.TB, n int, seed uint64, tune func(*regionsync.Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, f: newFaults(seed), keys: ledger.Keys{}, tune: tune}
	dir := t.TempDir()
	for i := 1; i <= n; i++ {
		m := &member{id: fmt.Sprintf("r%d", i), key: keyFor(fmt.Sprintf("r%d", i))}
		m.path = filepath.Join(dir, m.id+".db")
		setHandler(m, http.NotFoundHandler())
		m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			(*m.handler.Load()).ServeHTTP(w, r)
		}))
		t.Cleanup(m.srv.Close)
		u, _ := url.Parse(m.srv.URL)
		c.f.hosts[u.Host] = m.id
		c.keys[ledger.RegionID(m.id)] = m.key.Public().(ed25519.PublicKey)
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		c.start(m)
	}
	t.Cleanup(func() {
		for _, m := range c.members {
			c.stop(m)
		}
	})
	return c
}

// start opens m's store (from its file, if it exists), recovers its own
// chain from peers and starts pushing.
func (c *cluster) start(m *member) {
	c.t.Helper()
	store, err := ledger.Open(bg, ledger.Options{Path: m.path, Region: ledger.RegionID(m.id), Key: m.key, Keys: c.keys, Logger: quiet()})
	if err != nil {
		c.t.Fatal(err)
	}
	c.life.Lock()
	m.store = store
	c.life.Unlock()
	cfg := regionsync.Config{
		Key: m.key,
		Settings: regionsync.Settings{
			BatchSize:       64,
			Interval:        50 * time.Millisecond,
			Timeout:         2 * time.Second,
			Retries:         2,
			RetryWaitMin:    5 * time.Millisecond,
			RetryWaitMax:    20 * time.Millisecond,
			RecoveryTimeout: 5 * time.Second,
		},
		Transport: &transport{from: m.id, f: c.f, next: http.DefaultTransport},
		Logger:    quiet(),
	}
	for _, p := range c.members {
		if p != m {
			cfg.Peers = append(cfg.Peers, regionsync.Peer{ID: p.id, URL: p.srv.URL, PublicKey: p.key.Public().(ed25519.PublicKey)})
		}
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	m.node, err = regionsync.New(m.store, cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	r := mux.NewRouter()
	m.node.Routes(r)
	setHandler(m, r)
	ctx, cancel := context.WithCancel(bg)
	c.life.Lock()
	m.cancel, m.done = cancel, make(chan struct{})
	c.life.Unlock()
	go func() {
		defer close(m.done)
		m.node.Run(ctx)
	}()
}

// stop stops m's pushes and closes its store, as a crash after the last
// commit would.
func (c *cluster) stop(m *member) {
	if m.cancel == nil {
		return
	}
	setHandler(m, http.NotFoundHandler())
	m.cancel()
	<-m.done
	m.store.Close()
	c.life.Lock()
	m.cancel = nil
	c.life.Unlock()
}

// converged waits until every region holds the same entries, or fails.
func (c *cluster) converged(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		first := c.members[0].store.Digest()
		same := true
		for _, m := range c.members[1:] {
			if m.store.Digest() != first || m.store.Count() != c.members[0].store.Count() {
				same = false
			}
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			for _, m := range c.members {
				c.t.Logf("%s: vector %v digest %s status %+v", m.id, m.store.Vector(), m.store.Digest().String()[:12], m.node.Status().Peers)
			}
			c.t.Fatalf("regions did not converge within %s", timeout)
		}
		time.Sleep(5 * time.Millisecond) // polling the observable state, not standing in for an event
	}
}

func draft(region string, i int) ledger.Draft {
	amount := ledger.Amount(100 + i)
	return ledger.Draft{
		Kind:    "order.captured",
		Subject: fmt.Sprintf("%s-order-%d", region, i),
		Postings: []ledger.Posting{
			{Account: fmt.Sprintf("consumer:c%d:receivable", i%5), Amount: amount, Currency: "SEK"},
			{Account: "merchant:demo:payable", Amount: -amount, Currency: "SEK"},
		},
	}
}

func setHandler(m *member, h http.Handler) { m.handler.Store(&h) }
