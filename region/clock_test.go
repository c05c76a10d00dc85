package region_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"kassa/ledger"
	"kassa/region"
)

// lastEntry returns the newest entry of origin that s holds.
func lastEntry(t *testing.T, s *ledger.Store, origin string) (ledger.Entry, bool) {
	t.Helper()
	seq := s.Vector()[ledger.RegionID(origin)]
	if seq == 0 {
		return ledger.Entry{}, false
	}
	es, err := s.EntriesAfter(context.Background(), ledger.RegionID(origin), seq-1, 1)
	if err != nil || len(es) != 1 {
		t.Fatalf("read %s/%d: %v", origin, seq, err)
	}
	return es[0], true
}

// holds polls until s holds origin's entries up to seq.
func holds(t *testing.T, s *ledger.Store, origin string, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Vector()[ledger.RegionID(origin)] < seq {
		if time.Now().After(deadline) {
			t.Fatalf("%s's entries up to %d never arrived (holds %d)", origin, seq, s.Vector()[ledger.RegionID(origin)])
		}
		time.Sleep(5 * time.Millisecond) // polling another region's replication
	}
}

// TestClockOffset: a region whose clock_offset is +30s stamps its entries
// about 30s ahead of the machine's clock and still replicates both ways
// with a region at 0s (the offset is within sync.replay_window); a region
// 2m ahead is beyond the 1m window, and the peer's refusal says so.
func TestClockOffset(t *testing.T) {
	ps := startPeered(t, 3, func(i int, c *region.Config) {
		c.Sync.ReplayWindow = time.Minute
		switch i {
		case 1:
			c.ClockOffset = 30 * time.Second
		case 2:
			c.ClockOffset = 2 * time.Minute
			c.Sync.RecoveryTimeout = 200 * time.Millisecond // r1 refuses its pulls
		}
	})
	r1, ahead, far := ps[0], ps[1], ps[2]

	before := time.Now()
	if st, _ := api(t, "POST", ahead.url+"/v1/sessions", "skewed", map[string]any{
		"amount": 5000, "currency": "SEK", "country": "SE", "merchant_reference": "skewed",
		"lines": []map[string]any{{"name": "Shoes", "quantity": 1, "unit_price": 5000, "total": 5000}},
		"urls":  map[string]any{"confirmation": "https://shop.example/ok", "cancel": "https://shop.example/cart"},
	}); st != http.StatusCreated {
		t.Fatalf("create session in the skewed region: %d", st)
	}
	after := time.Now()
	e, ok := lastEntry(t, ahead.r.Ledger(), "r2")
	if !ok {
		t.Fatal("the skewed region wrote nothing")
	}
	at := e.HLC.Time()
	if lo, hi := before.Add(30*time.Second-time.Second), after.Add(30*time.Second+time.Second); at.Before(lo) || at.After(hi) {
		t.Fatalf("entry stamped %s; want about 30s after the machine's clock (%s..%s)", at, lo, hi)
	}
	holds(t, r1.r.Ledger(), "r2", e.Seq)

	// And the region at 0s reaches the skewed one.
	if st, _ := api(t, "POST", r1.url+"/v1/sessions", "plain", map[string]any{
		"amount": 5000, "currency": "SEK", "country": "SE", "merchant_reference": "plain",
		"lines": []map[string]any{{"name": "Shoes", "quantity": 1, "unit_price": 5000, "total": 5000}},
		"urls":  map[string]any{"confirmation": "https://shop.example/ok", "cancel": "https://shop.example/cart"},
	}); st != http.StatusCreated {
		t.Fatalf("create session in r1: %d", st)
	}
	e1, _ := lastEntry(t, r1.r.Ledger(), "r1")
	holds(t, ahead.r.Ledger(), "r1", e1.Seq)

	// 2m ahead, beyond r1's 1m replay window: r1 refuses the skewed
	// region's requests, and the refusal names the skew and the window.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var last string
		for _, p := range far.r.Node().Status().Peers {
			if p.ID == "r1" {
				last = p.LastError
			}
		}
		if strings.Contains(last, "401 stale") && strings.Contains(last, "from this region's clock (window 1m0s)") {
			t.Logf("r3 (+2m) -> r1: %s", last)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("r3's last error with r1 is %q; want r1's refusal naming the clock skew and window", last)
		}
		time.Sleep(5 * time.Millisecond) // polling the push loop's outcome
	}
}
