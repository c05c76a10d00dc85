package sync_test

import (
	"bytes"
	"io"
	"net/http"
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
	var relay *relayCounter
	c := newCluster(t, 3, 29, func(cfg *regionsync.Config) {
		if tr := cfg.Transport.(*transport); tr.from == "r2" {
			relay = &relayCounter{next: cfg.Transport, peer: "r3", origin: "r1", to: func(host string) string {
				tr.f.mu.Lock()
				defer tr.f.mu.Unlock()
				return tr.f.hosts[host]
			}}
			cfg.Transport = relay
		}
	})
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
