package ledger_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"kassa/ledger"
)

// TestSortEntriesIsTheSameWhateverTheArrival: the fold order depends on
// the entries only, never on the order they arrived in.
func TestSortEntriesIsTheSameWhateverTheArrival(t *testing.T) {
	es := []ledger.Entry{
		{Origin: "r2", Seq: 1, HLC: ledger.HLC{Wall: 10}},
		{Origin: "r1", Seq: 2, HLC: ledger.HLC{Wall: 10}},
		{Origin: "r1", Seq: 1, HLC: ledger.HLC{Wall: 10}},
		{Origin: "r1", Seq: 3, HLC: ledger.HLC{Wall: 10, Logical: 1}},
		{Origin: "r3", Seq: 9, HLC: ledger.HLC{Wall: 9}},
	}
	key := func(es []ledger.Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, string(e.Origin)+"/"+string(rune('0'+e.Seq)))
		}
		return out
	}
	want := []string{"r3/9", "r1/1", "r1/2", "r2/1", "r1/3"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		got := slices.Clone(es)
		rng.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
		ledger.SortEntries(got)
		if !slices.Equal(key(got), want) {
			t.Fatalf("got %v, want %v", key(got), want)
		}
	}
}
