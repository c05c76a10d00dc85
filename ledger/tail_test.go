package ledger_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"kassa/ledger"
)

// TestTailMatchesDatabase: what followers read while the store serves them
// from memory (trimmed to a few entries, so both the memory and the
// database fallback are used) is exactly what the database answers for
// the same positions after a restart, for every position, limit and kind
// filter, entry for entry (an entry without postings or data too);
// duplicates and refused entries take no position.
func TestTailMatchesDatabase(t *testing.T) {
	ctx := context.Background()
	r1, r2 := newRegion("r1"), newRegion("r2")
	path := filepath.Join(t.TempDir(), "kassa.db")
	a := MustOpenPath(t, path, r1, r2)
	ledger.SetTailCap(a, 5)
	b := MustOpen(t, r2, r1)
	kinds := []string{"a", "b", "c"}
	draft := func(n int) ledger.Draft {
		d := sale(n, ledger.Amount(100+n))
		d.Kind = kinds[n%3]
		if n%5 == 2 { // empty, not absent: read back, both are nil
			d.Postings, d.Data = []ledger.Posting{}, []byte{}
		}
		return d
	}
	interleave(t, a, b, draft)
	// The last of a's own, without postings or data, is in memory still.
	if _, err := a.Append(ctx, draft(42)); err != nil {
		t.Fatal(err)
	}
	type read struct {
		pos, limit int
		kinds      string
	}
	type answer struct {
		entries []ledger.Entry
		last    int64
	}
	ask := func(s *ledger.Store, r read) answer {
		var es []ledger.Entry
		var last int64
		var err error
		if r.kinds == "" {
			es, last, err = s.EntriesSince(ctx, int64(r.pos), r.limit)
		} else {
			es, last, err = s.EntriesOfKindsSince(ctx, int64(r.pos), []string{r.kinds, "c"}, r.limit)
		}
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		return answer{es, last}
	}
	count := int(a.Count())
	if count != 25 {
		t.Fatalf("stored %d entries, want 25", count)
	}
	var reads []read
	for pos := 0; pos <= count+1; pos++ {
		for _, limit := range []int{1, 2, 100} {
			for _, k := range []string{"", "a"} {
				reads = append(reads, read{pos, limit, k})
			}
		}
	}
	fromMemory := map[read]answer{}
	for _, r := range reads {
		fromMemory[r] = ask(a, r)
	}
	a.Close()
	reopened := MustOpenPath(t, path, r1, r2) // nothing in memory: every read is the database's
	for _, r := range reads {
		if got, want := fromMemory[r], ask(reopened, r); !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: served %+v, the database answers %+v", r, got, want)
		}
	}
}

// TestWireAfterMatchesDatabase: what a push or a rights answer reads
// (WireAfter, from memory while the tail holds what is asked for) is what
// the database answers, for every origin, starting point and limit, with
// the tail trimmed to a few entries (both paths used) and with room for
// everything; an origin the store has never seen has nothing.
func TestWireAfterMatchesDatabase(t *testing.T) {
	ctx := context.Background()
	for _, tailCap := range []int{5, 1000} {
		r1, r2, r3 := newRegion("r1"), newRegion("r2"), newRegion("r3")
		a := MustOpen(t, r1, r2, r3)
		ledger.SetTailCap(a, tailCap)
		b := MustOpen(t, r2, r1, r3)
		interleave(t, a, b, func(n int) ledger.Draft { return sale(n, ledger.Amount(100+n)) })
		for _, origin := range []ledger.RegionID{"r1", "r2", "r3"} {
			for after := uint64(0); after <= 14; after++ {
				for _, limit := range []int{0, 1, 2, 5, 100} {
					got, err := a.WireAfter(ctx, origin, after, limit)
					if err != nil {
						t.Fatal(err)
					}
					want, err := ledger.WireFromDatabase(ctx, a, origin, after, limit)
					if err != nil {
						t.Fatal(err)
					}
					if len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
						t.Errorf("tail %d, %s after %d, limit %d: read %d entries %v, the database has %d %v",
							tailCap, origin, after, limit, len(got), seqsOf(got), len(want), seqsOf(want))
					}
				}
			}
		}
	}
}

func seqsOf(ws []ledger.Wire) []uint64 {
	out := make([]uint64, len(ws))
	for i, w := range ws {
		out[i] = w.Seq
	}
	return out
}

// interleave has a (region r1) and b (r2) each append twelve drafts in four
// rounds; after each round a takes in all of b's chain again (the earlier
// entries as duplicates) and then b's last entry alone (a duplicate too),
// so that a's local order mixes its own entries with b's and some applies
// store nothing.
func interleave(t *testing.T, a, b *ledger.Store, draft func(n int) ledger.Draft) {
	t.Helper()
	for round := range 4 {
		for i := range 3 {
			if _, err := a.Append(ctx, draft(round*10+i)); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Append(ctx, draft(round*10+i+5)); err != nil {
				t.Fatal(err)
			}
		}
		es, err := b.EntriesAfter(ctx, "r2", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Apply(ctx, es); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Apply(ctx, es[len(es)-1:]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWireAfterWhileCommitting: reads racing commits and the tail's
// trimming (a tail of 64 entries) always get a run of consecutive entries
// starting right after the seq asked for, each body the entry it says.
func TestWireAfterWhileCommitting(t *testing.T) {
	r1 := newRegion("r1")
	a := MustOpen(t, r1)
	ledger.SetTailCap(a, 64)
	const n = 1500
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if _, err := a.Append(ctx, sale(i, 100)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	rng := rand.New(rand.NewPCG(3, 3))
	for writing := true; writing; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			writing = false
		default:
		}
		head := a.Vector()["r1"]
		after := head - min(head, uint64(rng.IntN(100)))
		ws, err := a.WireAfter(ctx, "r1", after, 50)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range ws {
			var e ledger.Entry
			if err := e.UnmarshalBinary(w.Body); err != nil {
				t.Fatal(err)
			}
			if want := after + 1 + uint64(i); w.Seq != want || e.Seq != want || e.Origin != "r1" {
				t.Fatalf("after %d, entry %d: seq %d (body says %s/%d), want %d", after, i, w.Seq, e.Origin, e.Seq, want)
			}
		}
	}
}
