package sync_test

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kassa/ledger"
	regionsync "kassa/sync"
)

// relayCounter counts the entries of one origin that one region's pushes
// carry to one peer.
type relayCounter struct {
	next   http.RoundTripper
	to     func(host string) string
	peer   string
	origin ledger.RegionID
	n      atomic.Int64
}

func (c *relayCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && r.URL.Path == "/sync/v1/entries" && r.GetBody != nil && c.to(r.URL.Host) == c.peer {
		b, _ := r.GetBody()
		body, _ := io.ReadAll(b)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var req regionsync.PushRequest
		if req.UnmarshalBinary(body) == nil {
			for _, w := range req.Entries {
				if e, err := ledger.DecodeEntry(w); err == nil && e.Origin == c.origin {
					c.n.Add(1)
				}
			}
		}
	}
	return c.next.RoundTrip(r)
}

// TestRelayHeldWhileTheDirectWayWorks: r1 writes; r3 gets r1's entries
// from r1, so r2 does not send them to r3 as well. Once the r1-r3 link is
// cut, r2 relays them and r3 catches up.
func TestRelayHeldWhileTheDirectWayWorks(t *testing.T) {
	c, counters := clusterCountingRelays(t, 3, 29, relay{"r2", "r3", "r1"})
	relay := counters[0]
	r1, r3 := c.members[0], c.members[2]
	write := func(n int) {
		t.Helper()
		for i := range n {
			e, err := r1.store.Append(bg, draft("r1", i))
			if err != nil {
				t.Fatal(err)
			}
			waitHolds(t, r3, e)
		}
	}
	write(50) // every region hears every other's vector
	before := relay.n.Load()
	write(300)
	if got := relay.n.Load() - before; got > 15 {
		t.Errorf("r2 relayed %d of r1's 300 entries to r3, which gets them from r1; want (almost) none", got)
	}
	c.f.partition("r1", "r3", true)
	before = relay.n.Load()
	for i := range 50 {
		if _, err := r1.store.Append(bg, draft("r1", 1000+i)); err != nil {
			t.Fatal(err)
		}
	}
	c.converged(10 * time.Second)
	if relay.n.Load() == before {
		t.Fatal("r3 caught up with r1 cut off, but not through r2")
	}
}

// waitHolds waits until m holds e.
func waitHolds(t *testing.T, m *member, e ledger.Entry) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for m.store.Vector()[e.Origin] < e.Seq {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not get %s/%d within 10 s", m.id, e.Origin, e.Seq)
		}
		time.Sleep(time.Millisecond) // polling the observable state
	}
}

// relay names what a relayCounter counts: origin's entries that region
// from pushes to peer.
type relay struct {
	from, peer string
	origin     ledger.RegionID
}

// clusterCountingRelays starts an n-region cluster whose transports count
// the relays asked for, one counter per relay in the same order.
func clusterCountingRelays(t *testing.T, n int, seed uint64, relays ...relay) (*cluster, []*relayCounter) {
	t.Helper()
	counters := make([]*relayCounter, len(relays))
	c := newCluster(t, n, seed, func(cfg *regionsync.Config) {
		for i, rl := range relays {
			tr, ok := cfg.Transport.(*transport)
			if !ok || tr.from != rl.from {
				continue
			}
			counters[i] = &relayCounter{next: cfg.Transport, peer: rl.peer, origin: rl.origin, to: func(host string) string {
				tr.f.mu.Lock()
				defer tr.f.mu.Unlock()
				return tr.f.hosts[host]
			}}
			cfg.Transport = counters[i]
		}
	})
	return c, counters
}

// TestRelayHeldAfterAHeal: r3 is cut off while r1 and r2 write; after the
// heal r3 gets r1's entries from r1 and r2's from r2, not each of them a
// second time from the other region as well.
func TestRelayHeldAfterAHeal(t *testing.T) {
	// r1 relaying r2's entries to r3, and r2 relaying r1's.
	c, counters := clusterCountingRelays(t, 3, 31, relay{"r1", "r3", "r2"}, relay{"r2", "r3", "r1"})
	r1r2, r2r1 := counters[0], counters[1]
	r1, r2, r3 := c.members[0], c.members[1], c.members[2]
	var last ledger.Entry
	for i := range 20 { // every region hears every other's vector
		e, err := r1.store.Append(bg, draft("r1", i))
		if err != nil {
			t.Fatal(err)
		}
		last = e
	}
	waitHolds(t, r3, last)
	c.f.partition("r1", "r3", true)
	c.f.partition("r2", "r3", true)
	for i := range 300 {
		for _, m := range []*member{r1, r2} {
			if _, err := m.store.Append(bg, draft(m.id, 100+i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := r1r2.n.Load() + r2r1.n.Load()
	c.f.healAll()
	c.converged(10 * time.Second)
	if got := r1r2.n.Load() + r2r1.n.Load() - before; got > 30 {
		t.Errorf("after the heal r3 got %d of the 600 entries r1 and r2 wrote a second time, relayed by the other region; want (almost) none", got)
	}
}

// TestNoEntryGoesBackToItsOrigin: r2 writes, and r1 (which r2 pushes to)
// never sends r2's entries back to r2, however its pushes to r2 and r2's
// pushes to it interleave.
func TestNoEntryGoesBackToItsOrigin(t *testing.T) {
	c, counters := clusterCountingRelays(t, 2, 37, relay{"r1", "r2", "r2"})
	echo := counters[0]
	r1, r2 := c.members[0], c.members[1]
	var wg sync.WaitGroup
	for _, m := range []*member{r1, r2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 400 {
				if _, err := m.store.Append(bg, draft(m.id, i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	c.converged(10 * time.Second)
	if got := echo.n.Load(); got > 0 {
		t.Errorf("r1 sent %d of r2's own entries back to r2; want none", got)
	}
}
