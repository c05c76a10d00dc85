package scoring_test

import (
	"fmt"
	"testing"

	"kassa/checkout"
	"kassa/scoring"
)

// consumers returns n consumer ids derived the way checkout derives them.
func consumers(n int) []checkout.ConsumerID {
	ids := checkout.Consumers{Key: []byte("home-test-key")}
	out := make([]checkout.ConsumerID, n)
	for i := range out {
		out[i] = ids.ID(fmt.Sprintf("shopper%d@example.com", i))
	}
	return out
}

func TestHome(t *testing.T) {
	regions := []string{"r1", "r2", "r3"}
	cs := consumers(30_000)

	t.Run("deterministic", func(t *testing.T) {
		reversed := []string{"r3", "r2", "r1"}
		for _, c := range cs[:1000] {
			h := scoring.Home(c, regions)
			if again, other := scoring.Home(c, regions), scoring.Home(c, reversed); again != h || other != h {
				t.Fatalf("%s: got %s, then %s, and %s with the regions reversed; want the same home", c, h, again, other)
			}
		}
		if got := scoring.Home(cs[0], []string{"solo"}); got != "solo" {
			t.Fatalf("one region: got %q, want solo", got)
		}
		if got := scoring.Home(cs[0], nil); got != "" {
			t.Fatalf("no regions: got %q, want none", got)
		}
	})

	t.Run("spread", func(t *testing.T) {
		n := map[string]int{}
		for _, c := range cs {
			n[scoring.Home(c, regions)]++
		}
		t.Logf("homes of %d consumers: %v", len(cs), n)
		want := len(cs) / len(regions)
		for _, r := range regions {
			if n[r] < want*95/100 || n[r] > want*105/100 {
				t.Errorf("%s is home to %d consumers, want %d ± 5%%", r, n[r], want)
			}
		}
		if len(n) != len(regions) {
			t.Errorf("got homes %v, want only %v", n, regions)
		}
	})

	t.Run("removing a region moves only its consumers", func(t *testing.T) {
		moved := 0
		for _, c := range cs {
			before, after := scoring.Home(c, regions), scoring.Home(c, regions[:2])
			switch {
			case before != "r3" && after != before:
				t.Fatalf("%s moved from %s to %s when r3 was removed", c, before, after)
			case before == "r3":
				moved++
				if after != "r1" && after != "r2" {
					t.Fatalf("%s moved from r3 to %q, want r1 or r2", c, after)
				}
			}
		}
		if moved == 0 {
			t.Fatal("no consumer was homed at r3")
		}
	})

	t.Run("adding a region takes consumers only to it", func(t *testing.T) {
		four := append(append([]string(nil), regions...), "r4")
		for _, c := range cs {
			before, after := scoring.Home(c, regions), scoring.Home(c, four)
			if after != before && after != "r4" {
				t.Fatalf("%s moved from %s to %s when r4 was added", c, before, after)
			}
		}
	})
}
