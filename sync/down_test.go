package sync_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	regionsync "kassa/sync"
)

// frozenPeer is a peer process that accepts connections and reads
// requests but, while frozen, never answers (as under SIGSTOP); thawed, it
// answers every rights request that it has none to give.
type frozenPeer struct {
	srv    *httptest.Server
	rights atomic.Int64 // rights requests that reached it
	mu     stdsync.Mutex
	thawed chan struct{}
}

func newFrozenPeer(t *testing.T) *frozenPeer {
	f := &frozenPeer{thawed: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/rights") {
			f.rights.Add(1)
		}
		f.mu.Lock()
		thawed := f.thawed
		f.mu.Unlock()
		select {
		case <-thawed:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`{"error":{"code":"rights_unavailable","message":"none here"}}`))
	}))
	t.Cleanup(f.srv.Close)
	t.Cleanup(f.thaw)
	return f
}

func (f *frozenPeer) thaw() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.thawed:
	default:
		close(f.thawed)
	}
}

// TestRightsSkipDownPeer: once a rights request to a frozen peer times
// out, the peer is Down and requests to it fail at once without being
// sent, except one short probe per interval; the first answer brings it
// back.
func TestRightsSkipDownPeer(t *testing.T) {
	peer := newFrozenPeer(t)
	var mu stdsync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	rc := mustOpenReceiver(t, func(c *regionsync.Config) {
		c.Peers = []regionsync.Peer{{ID: "r1", URL: peer.srv.URL, PublicKey: keyFor("r1").Public().(ed25519.PublicKey)}}
		c.Interval, c.Timeout, c.Now = time.Second, 5*time.Second, clock
	})
	n := rc.node
	ask := func(budget time.Duration) error {
		ctx, cancel := context.WithTimeout(bg, budget)
		defer cancel()
		return n.RequestRights(ctx, "r1", "order_1", "capture:order_1:", 100)
	}
	isDown := func(err error) bool {
		var pd interface{ PeerDown() bool }
		return errors.As(err, &pd) && pd.PeerDown()
	}

	// A request its caller cuts short says nothing about the peer.
	if err := ask(5 * time.Millisecond); err == nil || isDown(err) {
		t.Fatalf("a short ask of a frozen peer: got %v, want a timeout", err)
	}
	if n.Down("r1") {
		t.Fatal("a request cut short by its caller took the peer down")
	}
	// The first full ask waits out its budget and takes the peer down.
	if err := ask(300 * time.Millisecond); err == nil || isDown(err) {
		t.Fatalf("first ask of a frozen peer: got %v, want a timeout", err)
	}
	if !n.Down("r1") || !n.Unreachable() {
		t.Fatal("a peer whose rights request timed out is not down")
	}
	sent := peer.rights.Load()
	for i := 0; i < 50; i++ {
		if err := ask(time.Second); !isDown(err) {
			t.Fatalf("ask %d of a down peer: got %v, want a PeerDownError", i, err)
		}
	}
	if got := peer.rights.Load(); got != sent {
		t.Fatalf("%d rights requests reached a down peer within one interval, want none", got-sent)
	}
	// One probe per interval, with a short budget.
	advance(time.Second)
	start := time.Now()
	if err := ask(time.Second); err == nil || isDown(err) {
		t.Fatalf("the probe of a frozen peer: got %v, want a timeout", err)
	}
	if waited := time.Since(start); waited >= 900*time.Millisecond {
		t.Fatalf("the probe waited %s, its budget is %s", waited, regionsync.DownProbeBudget)
	}
	if err := ask(time.Second); !isDown(err) {
		t.Fatalf("ask after the probe: got %v, want a PeerDownError", err)
	}
	waitFor(t, func() bool { return peer.rights.Load() == sent+1 })
	// Thawed: the next probe's answer (a refusal is an answer) brings it
	// back, and requests go out again.
	peer.thaw()
	advance(time.Second)
	var pe *regionsync.PeerError
	if err := ask(time.Second); !errors.As(err, &pe) || !pe.NoRights() {
		t.Fatalf("probe of the thawed peer: got %v, want its refusal", err)
	}
	if n.Down("r1") {
		t.Fatal("a peer that answered is still down")
	}
	for i := 0; i < 3; i++ {
		if err := ask(time.Second); !errors.As(err, &pe) {
			t.Fatalf("ask %d of a peer that is back: got %v, want its answer", i, err)
		}
	}
	if got := peer.rights.Load(); got != sent+5 {
		t.Fatalf("%d rights requests reached the peer in all, want %d", got, sent+5)
	}
	if st := n.Status(); len(st.Peers) != 1 || st.Peers[0].Down {
		t.Fatalf("status after the peer came back: %+v", st.Peers)
	}
}

// waitFor polls cond until it holds or 5s pass (a handler's count lands
// after the client gave up on it).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRightsSkipSilentPeer: a peer that has left a request unanswered for
// SilentAfter is treated as down before any request to it has failed: the
// next rights request is a short probe, not a wait of its whole budget,
// and the ones after it are not sent.
func TestRightsSkipSilentPeer(t *testing.T) {
	peer := newFrozenPeer(t)
	var mu stdsync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	rc := mustOpenReceiver(t, func(c *regionsync.Config) {
		c.Peers = []regionsync.Peer{{ID: "r1", URL: peer.srv.URL, PublicKey: keyFor("r1").Public().(ed25519.PublicKey)}}
		c.Interval, c.Timeout, c.Now = time.Second, 5*time.Second, clock
	})
	n := rc.node
	ask := func(subject string, budget time.Duration) error {
		ctx, cancel := context.WithTimeout(bg, budget)
		defer cancel()
		return n.RequestRights(ctx, "r1", subject, "capture:"+subject+":", 100)
	}
	// One request is in flight and stays unanswered (the peer froze).
	first := make(chan error, 1)
	go func() { first <- ask("order_0", 5*time.Second) }()
	waitFor(t, func() bool { return peer.rights.Load() == 1 })
	mu.Lock()
	now = now.Add(regionsync.SilentAfter)
	mu.Unlock()
	start := time.Now()
	if err := ask("order_2", 2*time.Second); err == nil {
		t.Fatal("an ask of a frozen peer succeeded")
	}
	if waited := time.Since(start); waited >= time.Second {
		t.Fatalf("an ask of a peer silent for %s waited %s; want a probe of %s", regionsync.SilentAfter, waited, regionsync.DownProbeBudget)
	}
	if !n.Down("r1") {
		t.Fatal("the peer is not down after its probe timed out")
	}
	var pd interface{ PeerDown() bool }
	if err := ask("order_3", 2*time.Second); !errors.As(err, &pd) {
		t.Fatalf("an ask after the probe: got %v, want a PeerDownError", err)
	}
	peer.thaw()
	<-first
}

// TestRightsSlowPeerIsNotSilent: a peer whose answers take long (both
// machines saturated) is not treated as silent, and so not probed with a
// short budget and taken down, while it keeps this region waiting no more
// than a few times its usual answer time; past that bound (and past a
// second whatever its pace) it is.
func TestRightsSlowPeerIsNotSilent(t *testing.T) {
	var mu stdsync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	release := make(chan struct{})
	var held, asked atomic.Int64
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req regionsync.RightsRequest
		if json.NewDecoder(r.Body).Decode(&req) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		asked.Add(1)
		switch {
		case strings.HasPrefix(req.Subject, "held_"):
			// Left unanswered until released.
			held.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		case strings.HasPrefix(req.Subject, "slow_"):
			// Answered 400 ms after it was sent, by this region's clock.
			advance(400 * time.Millisecond)
		case strings.HasPrefix(req.Subject, "late_"):
			// Answered later than the shortest probe waits.
			time.Sleep(2 * regionsync.DownProbeBudget)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`{"error":{"code":"rights_unavailable","message":"none here"}}`))
	}))
	var once stdsync.Once
	stop := func() { once.Do(func() { close(release) }) }
	t.Cleanup(peer.Close)
	t.Cleanup(stop)
	rc := mustOpenReceiver(t, func(c *regionsync.Config) {
		c.Peers = []regionsync.Peer{{ID: "r1", URL: peer.URL, PublicKey: keyFor("r1").Public().(ed25519.PublicKey)}}
		c.Interval, c.Timeout, c.Now = time.Second, 5*time.Second, clock
	})
	n := rc.node
	ask := func(subject string) error {
		ctx, cancel := context.WithTimeout(bg, 5*time.Second)
		defer cancel()
		return n.RequestRights(ctx, "r1", subject, "capture:"+subject+":", 100)
	}
	var pe *regionsync.PeerError
	for i := range 3 {
		if err := ask(fmt.Sprintf("slow_%d", i)); !errors.As(err, &pe) || !pe.NoRights() {
			t.Fatalf("slow ask %d: got %v, want the peer's refusal", i, err)
		}
	}
	// A request stays unanswered for 600 ms: silent for a peer that
	// answers at once, not for one that takes 400 ms.
	first := make(chan error, 1)
	go func() { first <- ask("held_0") }()
	waitFor(t, func() bool { return held.Load() == 1 })
	advance(600 * time.Millisecond)
	if err := ask("late_0"); !errors.As(err, &pe) || !pe.NoRights() {
		t.Fatalf("an ask of a slow peer 600 ms into a wait: got %v, want its refusal", err)
	}
	if n.Down("r1") {
		t.Fatal("a slow peer that answered is down")
	}
	// Unanswered for more than a second since its last answer: silent
	// however slow it was, so the next ask is a probe, and the probe of a
	// peer that answers later than its budget takes it down.
	advance(1100 * time.Millisecond)
	start := time.Now()
	if err := ask("held_1"); err == nil {
		t.Fatal("the probe of a peer silent for 1.1 s got an answer")
	}
	if waited := time.Since(start); waited >= time.Second {
		t.Fatalf("the probe of a silent peer waited %s; its budget is at most %s", waited, regionsync.SilentAfter)
	}
	if !n.Down("r1") {
		t.Fatal("a peer silent for 1.1 s whose probe timed out is not down")
	}
	// The next probe, an interval later, waits for this peer longer than
	// for one that answers at once: twice its usual answer time, at most
	// SilentAfter, so an answer 100 ms late brings it back.
	advance(time.Second)
	if err := ask("late_1"); !errors.As(err, &pe) || !pe.NoRights() {
		t.Fatalf("the probe of a slow peer answering in 100 ms: got %v, want its refusal", err)
	}
	if n.Down("r1") {
		t.Fatal("a slow peer that answered its probe is down")
	}
	if got := asked.Load(); got != 7 {
		t.Fatalf("%d rights requests reached the peer, want 7", got)
	}
	stop()
	<-first
}

// TestRightsNotRetriedWhenRefusedForConcurrency: a rights request answered
// 429 (the owner's lane for this region is full) is not retried after the
// Retry-After second while a shopper waits: the caller hears the refusal
// at once and goes on to the next owner or degrades; the owner answered,
// so it is not down.
func TestRightsNotRetriedWhenRefusedForConcurrency(t *testing.T) {
	var asked atomic.Int64
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/rights") {
			asked.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"error":{"code":"too_many_requests","message":"more than 16 concurrent rights requests from r2"}}`))
	}))
	t.Cleanup(peer.Close)
	rc := mustOpenReceiver(t, func(c *regionsync.Config) {
		c.Peers = []regionsync.Peer{{ID: "r1", URL: peer.URL, PublicKey: keyFor("r1").Public().(ed25519.PublicKey)}}
		c.Retries = 3
	})
	ctx, cancel := context.WithTimeout(bg, 5*time.Second)
	defer cancel()
	err := rc.node.RequestRights(ctx, "r1", "order_1", "capture:order_1:", 100)
	var pe *regionsync.PeerError
	if !errors.As(err, &pe) || pe.Status != http.StatusTooManyRequests {
		t.Fatalf("got %v, want the owner's 429", err)
	}
	if n := asked.Load(); n != 1 {
		t.Fatalf("the request was sent %d times, want once", n)
	}
	if rc.node.Down("r1") {
		t.Fatal("an owner that answered 429 is down")
	}
}

// TestRightsAnswerWithAMalformedEntry: an owner whose answer carries an
// entry that does not decode is named in the error, and nothing of the
// answer is stored.
func TestRightsAnswerWithAMalformedEntry(t *testing.T) {
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"transfer":"` + strings.Repeat("0", 64) + `","entries":["bm90IGFuIGVudHJ5"]}`))
	}))
	t.Cleanup(peer.Close)
	rc := mustOpenReceiver(t, func(c *regionsync.Config) {
		c.Peers = []regionsync.Peer{{ID: "r1", URL: peer.URL, PublicKey: keyFor("r1").Public().(ed25519.PublicKey)}}
	})
	before := stateOf(rc.store)
	err := rc.node.RequestRights(bg, "r1", "order_1", "capture:order_1:", 100)
	if err == nil || !strings.Contains(err.Error(), "r1 sent a malformed entry") {
		t.Fatalf("got %v, want the owner named for a malformed entry", err)
	}
	unchanged(t, rc.store, before)
}
