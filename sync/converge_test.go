package sync_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"kassa/ledger"
	regionsync "kassa/sync"
)

// vectorWatch samples every region's vector and records any that moved
// backwards.
type vectorWatch struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	errs []string
}

func watchVectors(c *cluster) *vectorWatch {
	w := &vectorWatch{stop: make(chan struct{}), done: make(chan struct{})}
	last := map[string]map[ledger.RegionID]uint64{}
	go func() {
		defer close(w.done)
		for {
			for _, m := range c.members {
				c.life.Lock()
				running, store := m.cancel != nil, m.store
				c.life.Unlock()
				if !running {
					continue
				}
				v := store.Vector()
				for o, s := range last[m.id] {
					if v[o] < s {
						w.mu.Lock()
						w.errs = append(w.errs, fmt.Sprintf("%s: vector[%s] went from %d to %d", m.id, o, s, v[o]))
						w.mu.Unlock()
					}
				}
				last[m.id] = v
			}
			select {
			case <-w.stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return w
}

func (w *vectorWatch) check(t *testing.T) {
	close(w.stop)
	<-w.done
	for _, e := range w.errs {
		t.Error(e)
	}
}

// TestConvergesUnderFaults writes in every region while the network drops,
// duplicates, delays and partitions, and one region is stopped and
// restarted; after healing, every region holds every acknowledged entry.
func TestConvergesUnderFaults(t *testing.T) {
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for seed := 1; seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			c := newCluster(t, 3, uint64(seed), nil)
			c.f.set(0.1, 0.1, 0.1, 3*time.Millisecond)
			watch := watchVectors(c)
			acked := map[ledger.Hash]string{}
			var mu sync.Mutex
			write := func(from, to int) {
				var wg sync.WaitGroup
				for _, m := range c.members {
					if m.cancel == nil {
						continue
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := from; i < to; i++ {
							e, err := m.store.Append(bg, draft(m.id, i))
							if err != nil {
								t.Error(err)
								return
							}
							mu.Lock()
							acked[e.ID()] = m.id
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
			}
			r1, r2, r3 := c.members[0], c.members[1], c.members[2]

			write(0, 20)
			// r1 cut off from everyone.
			c.f.partition("r1", "r2", true)
			c.f.partition("r1", "r3", true)
			write(20, 40)
			// Partial partition: r2-r3 cut, r1 reaches both; relay heals it.
			c.f.healAll()
			c.f.partition("r2", "r3", true)
			write(40, 60)
			// r3 crashes and comes back from its own disk.
			c.stop(r3)
			write(60, 70)
			c.start(r3)
			if err := r3.node.Recover(bg); err != nil {
				t.Logf("recover: %v", err)
			}
			write(70, 80)
			c.f.healAll()
			c.f.set(0, 0, 0, 0)
			c.converged(30 * time.Second)
			watch.check(t)

			for _, m := range []*member{r1, r2, r3} {
				for id, origin := range acked {
					if _, err := m.store.Entry(bg, id); err != nil {
						t.Fatalf("%s lacks acknowledged entry %s of %s: %v", m.id, id.Short(), origin, err)
					}
				}
				var sum uint64
				for _, s := range m.store.Vector() {
					sum += s
				}
				if int64(sum) != m.store.Count() || m.store.Count() != int64(len(acked)) {
					t.Fatalf("%s: got %d entries for vector sum %d, want %d acknowledged", m.id, m.store.Count(), sum, len(acked))
				}
				if rep, err := ledger.Verify(bg, m.store.Path(), c.keys); err != nil || rep.Forks != 0 {
					t.Fatalf("%s: verify: %v, %d forks", m.id, err, rep.Forks)
				}
			}
		})
	}
}

// TestRecoverOwnChain wipes a region's disk after its entries reached a peer:
// on restart it fetches its chain back before writing, so it neither forks
// nor loses anything.
func TestRecoverOwnChain(t *testing.T) {
	c := newCluster(t, 2, 7, nil)
	r1, r2 := c.members[0], c.members[1]
	for i := 0; i < 30; i++ {
		if _, err := r1.store.Append(bg, draft("r1", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.converged(10 * time.Second)
	c.stop(r1)
	r1.path += ".wiped" // an empty disk
	c.start(r1)
	if err := r1.node.Recover(bg); err != nil {
		t.Fatal(err)
	}
	if got := r1.store.Vector()["r1"]; got != 30 {
		t.Fatalf("got r1 at %d after recovery, want 30", got)
	}
	e, err := r1.store.Append(bg, draft("r1", 30))
	if err != nil || e.Seq != 31 {
		t.Fatalf("got seq %d, %v; want 31", e.Seq, err)
	}
	c.converged(10 * time.Second)
	if rep, err := ledger.Verify(bg, r2.store.Path(), c.keys); err != nil || rep.Forks != 0 {
		t.Fatalf("verify r2: %v, %d forks", err, rep.Forks)
	}
}

// TestCursorsSurviveRestart: a region that restarts while its peer is
// unreachable still knows how far behind the peer is.
func TestCursorsSurviveRestart(t *testing.T) {
	c := newCluster(t, 2, 11, nil)
	r1 := c.members[0]
	for i := 0; i < 10; i++ {
		if _, err := r1.store.Append(bg, draft("r1", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.converged(10 * time.Second)
	c.stop(r1) // a clean stop saves the cursors
	c.f.partition("r1", "r2", true)
	c.start(r1)
	for i := 10; i < 15; i++ {
		if _, err := r1.store.Append(bg, draft("r1", i)); err != nil {
			t.Fatal(err)
		}
	}
	var got *int64
	for _, p := range r1.node.Status().Peers {
		if p.ID == "r2" {
			got = p.Behind
		}
	}
	if got == nil || *got < 5 {
		t.Fatalf("got behind %v, want at least 5 known from the saved cursor", got)
	}
	// Saved cursors say what the peer held, not what it holds now: until
	// it answers, this region cannot tell whether it is behind.
	if r1.node.HeardFromAll() || r1.node.Lagging(0) || !r1.node.Unreachable() {
		t.Fatalf("before any answer: heard %v, lagging %v, unreachable %v; want false, false, true",
			r1.node.HeardFromAll(), r1.node.Lagging(0), r1.node.Unreachable())
	}
	c.f.healAll()
	c.converged(10 * time.Second)
}

// TestJoiningRegionKnowsItIsBehind: a region starting on an empty disk
// learns from its first exchange what each peer holds, so it can tell it
// is behind (and, say, not grant credit lines) until it has caught up.
func TestJoiningRegionKnowsItIsBehind(t *testing.T) {
	c := newCluster(t, 2, 11, nil)
	r1, r2 := c.members[0], c.members[1]
	for i := 0; i < 30; i++ {
		if _, err := r2.store.Append(bg, draft("r2", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.stop(r1)
	r1.path += ".new" // a region joining with an empty disk
	// r2 cannot reach r1 yet; r1 can reach r2.
	c.f.mu.Lock()
	c.f.cut[[2]string{"r2", "r1"}] = true
	c.f.mu.Unlock()
	c.start(r1)
	if err := r1.node.Recover(bg); err != nil {
		t.Fatal(err)
	}
	if !r1.node.HeardFromAll() || !r1.node.Lagging(10) || r1.node.Lagging(30) {
		t.Fatalf("after its first exchange: heard %v, lagging >10 %v, >30 %v; want true, true, false",
			r1.node.HeardFromAll(), r1.node.Lagging(10), r1.node.Lagging(30))
	}
	c.f.healAll()
	c.converged(10 * time.Second)
	if r1.node.Lagging(0) {
		t.Fatal("still lagging after converging")
	}
}

// TestPipelineNarrowsForABusyPeer catches a peer up that serves one request
// from this region at a time while this region keeps four pushes in flight:
// the pushes refused with 429 are not a failure of the peer, the region goes
// on one push at a time, and the peer catches up without being taken for
// unreachable.
func TestPipelineNarrowsForABusyPeer(t *testing.T) {
	c := newCluster(t, 2, 13, func(cfg *regionsync.Config) {
		cfg.PushesInFlight = 4
		cfg.MaxConcurrentPerPeer = 1
	})
	r1, r2 := c.members[0], c.members[1]
	c.stop(r2)
	for i := 0; i < 1000; i++ {
		if _, err := r1.store.Append(bg, draft("r1", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.start(r2)
	c.converged(20 * time.Second)
	for _, p := range r1.node.Status().Peers {
		if p.ID == "r2" && (!p.Reachable || p.LastError != "") {
			t.Fatalf("r2 as r1 sees it: reachable %v, last error %q; want reachable with no error", p.Reachable, p.LastError)
		}
	}
}

// TestPipelineWidensAgainAfterABusyMoment: a peer whose slots were full for
// one push (answered 429) gets one push at a time for a while, then the
// whole window again; it is not narrowed for the life of the process.
func TestPipelineWidensAgainAfterABusyMoment(t *testing.T) {
	var skew atomic.Int64 // how far the regions' clock is ahead of the real one
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	regs := map[string]*prometheus.Registry{}
	c := newCluster(t, 2, 19, func(cfg *regionsync.Config) {
		cfg.PushesInFlight, cfg.MaxConcurrentPerPeer, cfg.Now = 4, 8, now
		self := "r1" // the member whose peer is not r1
		if cfg.Peers[0].ID == "r1" {
			self = "r2"
		}
		reg := prometheus.NewRegistry()
		regs[self] = reg
		cfg.Registerer = reg
	})
	r1, r2 := c.members[0], c.members[1]
	allowed := func() float64 {
		t.Helper()
		return gaugeOf(t, regs["r1"], "kassa_sync_pushes_in_flight_allowed", "peer", "r2")
	}
	// catchUp stops r2, writes 500 entries at r1, starts r2 and waits
	// until it holds them; then r1 must allow want pushes in flight.
	catchUp := func(from int, want float64, when string) {
		t.Helper()
		c.stop(r2)
		for i := from; i < from+500; i++ {
			if _, err := r1.store.Append(bg, draft("r1", i)); err != nil {
				t.Fatal(err)
			}
		}
		c.start(r2)
		c.converged(20 * time.Second)
		if got := allowed(); got != want {
			t.Fatalf("%s: r1 allows %v pushes in flight to r2, want %v", when, got, want)
		}
	}
	c.f.mu.Lock()
	c.f.busyFrom, c.f.busyPushes = "r1", 1
	c.f.mu.Unlock()
	before := time.Now() // the 429 comes after this
	catchUp(0, 1, "after a 429")
	// The regions' clock goes back to before the 429, so that the second
	// catch-up, however long the first took, starts within 10 s of it.
	skew.Store(-int64(time.Since(before)))
	catchUp(500, 1, "within 10 s of the 429")
	skew.Store(int64(10*time.Second + time.Second))
	catchUp(1000, 4, "10 s after the 429")
}

// gaugeOf reads the gauge name with the label name=value from reg.
func gaugeOf(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no gauge %s{%s=%q}", name, label, value)
	return 0
}

// TestCursorNeverMovesBack catches a peer up with four pushes in flight
// while their answers come back in any order: what the sender believes the
// peer holds (its cursor, shown in the status) only ever grows.
func TestCursorNeverMovesBack(t *testing.T) {
	c := newCluster(t, 2, 17, func(cfg *regionsync.Config) { cfg.PushesInFlight = 4 })
	r1, r2 := c.members[0], c.members[1]
	c.stop(r2)
	for i := 0; i < 1500; i++ {
		if _, err := r1.store.Append(bg, draft("r1", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.f.mu.Lock()
	c.f.lateAnswers = 5 * time.Millisecond
	c.f.mu.Unlock()
	stop, done := make(chan struct{}), make(chan string)
	go func() {
		var last uint64
		for {
			select {
			case <-stop:
				done <- ""
				return
			default:
			}
			for _, p := range r1.node.Status().Peers {
				if p.ID != "r2" {
					continue
				}
				if seq := p.Vector["r1"]; seq < last {
					done <- fmt.Sprintf("r1's cursor for r2 went from %d back to %d", last, seq)
					return
				} else {
					last = seq
				}
			}
			time.Sleep(100 * time.Microsecond) // sampling the observable state
		}
	}()
	c.start(r2)
	c.converged(20 * time.Second)
	close(stop)
	if msg := <-done; msg != "" {
		t.Fatal(msg)
	}
}

// TestPeerBackWithLess: a region comes back on an empty disk, holding less
// than its peers last heard from it. Its new process answers with a new
// incarnation, so the peer takes its lower vector and sends again what it
// lost, rather than keep the higher cursor it had merged.
func TestPeerBackWithLess(t *testing.T) {
	c := newCluster(t, 2, 19, nil)
	r1, r2 := c.members[0], c.members[1]
	for i := 0; i < 30; i++ {
		if _, err := r2.store.Append(bg, draft("r2", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.converged(10 * time.Second)
	c.stop(r1)
	r1.path += ".wiped"
	c.start(r1)
	c.converged(10 * time.Second)
	if got := r1.store.Vector()["r2"]; got != 30 {
		t.Fatalf("got r1 holding r2 up to %d, want 30", got)
	}
}

// TestRecoverWaitsForASlowTransfer: a region restored with many of its own
// entries held only by a peer fetches all of them, however long the
// transfer takes, as long as the peer keeps sending; recovery_timeout
// bounds only a peer that sends nothing. Writing before it has them all
// would fork its chain.
func TestRecoverWaitsForASlowTransfer(t *testing.T) {
	c := newCluster(t, 2, 13, func(cfg *regionsync.Config) {
		cfg.BatchSize = 2
		cfg.RecoveryTimeout = 150 * time.Millisecond
	})
	r1 := c.members[0]
	for i := 0; i < 40; i++ {
		if _, err := r1.store.Append(bg, draft("r1", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.converged(10 * time.Second)
	c.stop(r1)
	r1.path += ".restored" // nothing of its own left
	c.f.mu.Lock()
	c.f.maxDelay = 60 * time.Millisecond // 20 pages take far longer than recovery_timeout
	c.f.mu.Unlock()
	c.start(r1)
	if err := r1.node.Recover(bg); err != nil {
		t.Fatal(err)
	}
	if got := r1.store.Vector()["r1"]; got != 40 {
		t.Fatalf("got r1 at %d after recovery, want 40", got)
	}
}
