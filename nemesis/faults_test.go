package nemesis

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestScheduleIsSeededAndQuietAtTheEnd: one seed, one schedule; every kind
// appears in a minute; faults do not overlap and none reaches the final
// quiet period.
func TestScheduleIsSeededAndQuietAtTheEnd(t *testing.T) {
	const d = time.Minute
	for _, n := range []int{3, 9} {
		a := schedule(rand.New(rand.NewPCG(7, 1)), n, d, nil)
		b := schedule(rand.New(rand.NewPCG(7, 1)), n, d, nil)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%d regions: one seed gave two schedules", n)
		}
		seen := map[string]bool{}
		var prevEnd time.Duration
		for _, p := range a {
			seen[p.Kind] = true
			if p.At < prevEnd {
				t.Errorf("%s at %s overlaps the fault before, which ends at %s", p.Kind, p.At, prevEnd)
			}
			prevEnd = p.At + p.For
			if prevEnd > quietStart(d) {
				t.Errorf("%s ends at %s, in the quiet period from %s", p.Kind, prevEnd, quietStart(d))
			}
			for _, side := range p.sides(n) {
				if len(side) == 0 {
					t.Errorf("%s with %d regions has an empty side", p.Kind, n)
				}
			}
		}
		for _, k := range Kinds {
			if !seen[k] {
				t.Errorf("%d regions: no %s in a minute", n, k)
			}
		}
	}
}

// A long run has a partition of a full minute: the issue's "convergence
// after a 60 s partition under load" is measured on it.
func TestLongRunHasAMinutePartition(t *testing.T) {
	plan := schedule(rand.New(rand.NewPCG(1, 2)), 3, 10*time.Minute, nil)
	for _, p := range plan {
		if strings.HasPrefix(p.Kind, "partition") {
			if p.For != time.Minute {
				t.Fatalf("first partition lasts %s, want 1m", p.For)
			}
			return
		}
	}
	t.Fatal("no partition in a 10 minute run")
}
