package nemesis

import (
	"testing"
	"time"
)

// TestLagBook: a region's lag is how long ago the oldest entry it lacks
// was first seen written; holding everything is 0; a poll some region
// missed keeps the marks it may still need.
func TestLagBook(t *testing.T) {
	b := lagBook{regions: 2}
	ms := time.Millisecond
	vec := func(r1, r2 uint64) map[string]uint64 { return map[string]uint64{"r1": r1, "r2": r2} }
	steps := []struct {
		at       time.Duration
		vectors  map[string]map[string]uint64
		want     map[string]time.Duration
		retained int // marks of r1 kept afterwards
	}{
		{0, map[string]map[string]uint64{"r1": vec(5, 0), "r2": vec(5, 0)}, map[string]time.Duration{"r1": 0, "r2": 0}, 1},
		// r1 writes 6..10; r2 does not get them.
		{250 * ms, map[string]map[string]uint64{"r1": vec(10, 0), "r2": vec(5, 0)}, map[string]time.Duration{"r1": 0, "r2": 0}, 1},
		{500 * ms, map[string]map[string]uint64{"r1": vec(12, 0), "r2": vec(5, 0)}, map[string]time.Duration{"r1": 0, "r2": 250 * ms}, 2},
		// r2 is frozen: no sample for it, and r1's marks stay.
		{750 * ms, map[string]map[string]uint64{"r1": vec(12, 0)}, map[string]time.Duration{"r1": 0}, 2},
		// r2 got up to 10: what it lacks (11, 12) was first seen at 500 ms.
		{1000 * ms, map[string]map[string]uint64{"r1": vec(12, 0), "r2": vec(10, 0)}, map[string]time.Duration{"r1": 0, "r2": 500 * ms}, 1},
		{1250 * ms, map[string]map[string]uint64{"r1": vec(12, 0), "r2": vec(12, 0)}, map[string]time.Duration{"r1": 0, "r2": 0}, 1},
	}
	for _, s := range steps {
		got := b.observe(s.at, s.vectors)
		if len(got) != len(s.want) {
			t.Fatalf("at %s: got %v, want %v", s.at, got, s.want)
		}
		for id, lag := range s.want {
			if got[id] != lag {
				t.Fatalf("at %s: %s's lag %s, want %s", s.at, id, got[id], lag)
			}
		}
		if n := len(b.written["r1"]); n != s.retained {
			t.Fatalf("at %s: %d marks of r1 kept, want %d", s.at, n, s.retained)
		}
	}
}
