package ledger_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"kassa/ledger"
)

// The regions, accounts and currencies that generated entries draw from. They
// are few so that generated entries collide on accounts and sums interact.
var (
	propRegions    = []region{newRegion("r1"), newRegion("r2"), newRegion("r3")}
	propCurrencies = []string{"SEK", "EUR"}
	propAccounts   = []string{
		"consumer:c1:receivable",
		"consumer:c2:receivable",
		"merchant:m1:payable",
		"acquirer:adyen:clearing",
		"kassa:revenue",
	}
	propKinds = []string{"order.authorized", "order.captured", "order.refunded", "credit.granted", "staff.action"}
)

// drawPostings draws a balanced set of postings: up to three transfers, each
// moving a positive amount between two accounts in one of the currencies.
func drawPostings(t *rapid.T, currencies []string) []ledger.Posting {
	n := rapid.IntRange(0, 3).Draw(t, "transfers")
	var ps []ledger.Posting
	for range n {
		cur := rapid.SampledFrom(currencies).Draw(t, "currency")
		from := rapid.SampledFrom(propAccounts).Draw(t, "from")
		to := rapid.SampledFrom(propAccounts).Draw(t, "to")
		// Mostly small amounts, sometimes up to the limit: 40 entries of three
		// such transfers still sum far from int64 overflow.
		amount := rapid.OneOf(
			rapid.Int64Range(1, 100_000),
			rapid.Int64Range(1, 1_000_000_000_000_000),
		).Draw(t, "amount")
		ps = append(ps,
			ledger.Posting{Account: to, Amount: ledger.Amount(amount), Currency: cur},
			ledger.Posting{Account: from, Amount: ledger.Amount(-amount), Currency: cur})
	}
	if len(ps) > 1 {
		ps = rapid.Permutation(ps).Draw(t, "posting order")
	}
	return ps
}

// drawChain draws n signed entries of r's chain, as r would have written them.
func drawChain(t *rapid.T, r region, n int, currencies []string) []ledger.Entry {
	out := make([]ledger.Entry, 0, n)
	var prev ledger.Hash
	hlc := ledger.HLC{Wall: 1_790_000_000_000 + rapid.Int64Range(0, 5).Draw(t, "start")}
	for i := 1; i <= n; i++ {
		if i > 1 {
			// Same millisecond (the logical counter moves) or a later one.
			if step := rapid.Int64Range(0, 2).Draw(t, "wall step"); step == 0 {
				hlc.Logical++
			} else {
				hlc = ledger.HLC{Wall: hlc.Wall + step, Logical: rapid.Uint32Range(0, 3).Draw(t, "logical")}
			}
		}
		var data json.RawMessage
		if rapid.Bool().Draw(t, "has data") {
			data, _ = json.Marshal(map[string]any{
				"note": rapid.String().Draw(t, "note"),
				"n":    rapid.Int().Draw(t, "n"),
			})
		}
		e := ledger.Entry{
			Origin:   r.id,
			Seq:      uint64(i),
			Prev:     prev,
			HLC:      hlc,
			Kind:     rapid.SampledFrom(propKinds).Draw(t, "kind"),
			Subject:  rapid.StringMatching(`[ -~]{0,12}`).Draw(t, "subject"),
			Postings: drawPostings(t, currencies),
			Data:     data,
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("generated an invalid entry: %v", err)
		}
		e.Sign(r.key)
		prev = e.ID()
		out = append(out, e)
	}
	return out
}

// drawChains draws the chains of two or three regions, at most maxTotal
// entries in all, and returns the regions and their entries in chain order.
func drawChains(t *rapid.T, maxTotal int) ([]region, []ledger.Entry) {
	regs := slices.Clip(propRegions[:rapid.IntRange(2, len(propRegions)).Draw(t, "regions")])
	currencies := propCurrencies[:rapid.IntRange(1, len(propCurrencies)).Draw(t, "currencies")]
	var all []ledger.Entry
	for _, r := range regs {
		n := rapid.IntRange(0, maxTotal/len(regs)).Draw(t, "chain length "+string(r.id))
		all = append(all, drawChain(t, r, n, currencies)...)
	}
	return regs, all
}

// openProp opens a fresh store for r that lives as long as one rapid case.
func openProp(t *rapid.T, r region, all ...region) *ledger.Store {
	dir, err := os.MkdirTemp("", "ledger-prop-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s, err := ledger.Open(ctx, ledger.Options{
		Path:   filepath.Join(dir, "kassa.db"),
		Region: r.id,
		Key:    r.key,
		Keys:   keysOf(slices.Concat(all, []region{r})...),
		Now:    newTestClock().Now,
		Logger: quietLogger(),
	})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sumOfIDs is the digest computed straight from its definition.
func sumOfIDs(es []ledger.Entry) ledger.Digest {
	var d ledger.Digest
	for i := range es {
		d = d.Add(es[i].ID())
	}
	return d
}

// balancesOf sums the postings of es per account and currency, the model of
// what a store holding exactly es must report.
func balancesOf(es []ledger.Entry) map[[2]string]ledger.Amount {
	m := make(map[[2]string]ledger.Amount)
	for _, e := range es {
		for _, p := range e.Postings {
			m[[2]string{p.Account, p.Currency}] += p.Amount
		}
	}
	return m
}

// checkBalances fails t unless s's balances are exactly the sums of the
// postings of held and every currency sums to zero over all accounts.
func checkBalances(t *rapid.T, s *ledger.Store, held []ledger.Entry) {
	bs, err := s.Balances(ctx)
	if err != nil {
		t.Fatalf("balances: %v", err)
	}
	got := make(map[[2]string]ledger.Amount, len(bs))
	perCurrency := make(map[string]ledger.Amount)
	for _, b := range bs {
		got[[2]string{b.Account, b.Currency}] = b.Amount
		perCurrency[b.Currency] += b.Amount
	}
	if want := balancesOf(held); !maps.Equal(got, want) {
		t.Fatalf("got balances %v, want %v", got, want)
	}
	for cur, sum := range perCurrency {
		if sum != 0 {
			t.Fatalf("got %s balances summing to %d, want 0", cur, sum)
		}
	}
}

// heldEntries returns every entry s holds, in the order it stored them.
func heldEntries(t *rapid.T, s *ledger.Store) []ledger.Entry {
	es, _, err := s.EntriesSince(ctx, 0, 1<<20)
	if err != nil {
		t.Fatalf("entries: %v", err)
	}
	return es
}

// delivery is one way the network might hand entries to a region: every
// entry at least once, some more than once, in some order, in batches.
type delivery [][]ledger.Entry

// drawDelivery draws a permutation of all with duplicates, cut into batches.
func drawDelivery(t *rapid.T, name string, all []ledger.Entry) delivery {
	if len(all) == 0 {
		return nil
	}
	idx := make([]int, len(all))
	for i := range idx {
		idx[i] = i
	}
	dups := rapid.SliceOfN(rapid.IntRange(0, len(all)-1), 0, len(all)).Draw(t, name+" duplicates")
	idx = rapid.Permutation(append(idx, dups...)).Draw(t, name+" order")
	var cuts []int
	if len(idx) > 1 {
		cuts = rapid.SliceOfNDistinct(rapid.IntRange(1, len(idx)-1), 0, 7, rapid.ID[int]).Draw(t, name+" cuts")
	}
	slices.Sort(cuts)
	cuts = append(cuts, len(idx))
	var d delivery
	lo := 0
	for _, hi := range cuts {
		batch := make([]ledger.Entry, 0, hi-lo)
		for _, i := range idx[lo:hi] {
			batch = append(batch, all[i])
		}
		d = append(d, batch)
		lo = hi
	}
	return d
}

// deliver applies d to s in rounds, as anti-entropy would: entries that came
// too early (a gap in their origin's chain) are sent again in the next round,
// until a round applies nothing new. It checks, after every batch, that the
// version vector never moves backwards and that every rejection is a gap, and
// returns how many entries were applied in all.
func deliver(t *rapid.T, s *ledger.Store, d delivery, maxRounds int) int {
	applied := 0
	vec := s.Vector()
	for round := 1; ; round++ {
		if round > maxRounds {
			t.Fatalf("still applying entries after %d rounds", maxRounds)
		}
		n := 0
		for _, batch := range d {
			res, err := s.Apply(ctx, batch)
			if err != nil {
				t.Fatalf("round %d: apply: %v", round, err)
			}
			if got := res.Applied + res.Duplicates + len(res.Rejected); got != len(batch) {
				t.Fatalf("round %d: got %d outcomes (%+v), want %d", round, got, res, len(batch))
			}
			for _, re := range res.Rejected {
				if !errors.Is(re, ledger.ErrGap) {
					t.Fatalf("round %d: got rejection %v, want only gaps", round, re)
				}
			}
			next := s.Vector()
			for o, seq := range vec {
				if next[o] < seq {
					t.Fatalf("round %d: got vector %v after %v: %s moved backwards", round, next, vec, o)
				}
			}
			vec = next
			n += res.Applied
		}
		applied += n
		if n == 0 {
			return applied
		}
	}
}

// TestMergeConverges checks the ledger's merge laws: whatever order, batching
// and duplication the entries of several regions arrive in, every store ends
// with the same state as one that got them in order, applies each entry
// exactly once, and keeps its digest equal to the sum of the ids it holds.
func TestMergeConverges(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		regs, all := drawChains(rt, 40)
		ids := make([]ledger.Hash, len(all))
		for i := range all {
			ids[i] = all[i].ID()
		}
		a := openProp(rt, regs[0], regs...)
		b := openProp(rt, regs[len(regs)-1], regs...)
		inOrder := openProp(rt, regs[1], regs...)

		res, err := inOrder.Apply(ctx, all)
		if err != nil || res.Applied != len(all) {
			rt.Fatalf("in order: got %+v, %v; want %d applied", res, err, len(all))
		}
		want := snapshot(t, inOrder)
		wantVector := inOrder.Vector()

		// Each round applies at least the next entry of every chain not yet
		// complete, so the longest chain bounds the rounds.
		maxRounds := len(all) + 2
		for _, s := range []struct {
			name  string
			store *ledger.Store
		}{{"a", a}, {"b", b}} {
			d := drawDelivery(rt, s.name, all)
			if got := deliver(rt, s.store, d, maxRounds); got != len(all) {
				rt.Fatalf("%s: got %d entries applied, want %d (each exactly once)", s.name, got, len(all))
			}
			if got := s.store.Count(); got != int64(len(all)) {
				rt.Fatalf("%s: got count %d, want %d", s.name, got, len(all))
			}
			held := heldEntries(rt, s.store)
			if len(held) != len(all) {
				rt.Fatalf("%s: got %d entries stored, want %d", s.name, len(held), len(all))
			}
			if got, want := sumOfIDs(held), sumOfIDs(all); got != want || s.store.Digest() != want {
				rt.Fatalf("%s: got digest %s (stored entries sum to %s), want %s", s.name, s.store.Digest(), got, want)
			}
			if got := snapshot(t, s.store); got != want {
				rt.Fatalf("%s: got\n%s\nwant (entries applied in order)\n%s", s.name, got, want)
			}
			if got := s.store.Vector(); !maps.Equal(got, wantVector) {
				rt.Fatalf("%s: got vector %v, want %v", s.name, got, wantVector)
			}
			checkBalances(rt, s.store, all)
			rep, err := ledger.Verify(ctx, s.store.Path(), keysOf(regs...))
			if err != nil {
				rt.Fatalf("%s: verify: %v", s.name, err)
			}
			if rep.Entries != int64(len(all)) || rep.Digest != sumOfIDs(all) || rep.Forks != 0 {
				rt.Fatalf("%s: got verify report %+v, want %d entries, digest %s, no forks", s.name, rep, len(all), sumOfIDs(all))
			}
		}
		for i := range all {
			if all[i].ID() != ids[i] {
				rt.Fatalf("entry %d changed while being applied", i)
			}
		}
	})
}

// TestApplyTwiceChangesNothing checks idempotence: applying a set of entries
// the store already holds, in any order and batching, changes no state.
func TestApplyTwiceChangesNothing(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		regs, all := drawChains(rt, 30)
		s := openProp(rt, regs[0], regs...)
		if res, err := s.Apply(ctx, all); err != nil || res.Applied != len(all) {
			rt.Fatalf("got %+v, %v; want %d applied", res, err, len(all))
		}
		before := snapshot(t, s)
		for _, batch := range drawDelivery(rt, "again", all) {
			res, err := s.Apply(ctx, batch)
			if err != nil {
				rt.Fatalf("apply again: %v", err)
			}
			if res.Applied != 0 || res.Duplicates != len(batch) || len(res.Rejected) != 0 {
				rt.Fatalf("apply again: got %+v, want %d duplicates", res, len(batch))
			}
		}
		if after := snapshot(t, s); after != before {
			rt.Fatalf("got\n%s\nwant\n%s", after, before)
		}
		if forks, err := s.Forks(ctx); err != nil || len(forks) != 0 {
			rt.Fatalf("got %d forks, %v; want none", len(forks), err)
		}
	})
}

// TestBalancesSumToZero checks double entry: whatever subset of entries a
// store ends up holding (only chain prefixes apply; the rest are gaps), its
// balances are the sums of their postings and each currency sums to zero.
func TestBalancesSumToZero(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		regs, all := drawChains(rt, 30)
		s := openProp(rt, regs[0], regs...)
		var subset []ledger.Entry
		for i := range all {
			if rapid.Bool().Draw(rt, fmt.Sprintf("deliver %s/%d", all[i].Origin, all[i].Seq)) {
				subset = append(subset, all[i])
			}
		}
		if len(subset) > 1 {
			subset = rapid.Permutation(subset).Draw(rt, "order")
		}
		if _, err := s.Apply(ctx, subset); err != nil {
			rt.Fatalf("apply: %v", err)
		}
		held := heldEntries(rt, s)
		checkBalances(rt, s, held)
		if got, want := s.Digest(), sumOfIDs(held); got != want {
			rt.Fatalf("got digest %s, want %s", got, want)
		}
	})
}

var hashGen = rapid.Custom(func(t *rapid.T) ledger.Hash {
	var h ledger.Hash
	// Whole-word draws reach the carry edges (all ones, zero) far more often
	// than random bytes would.
	for i := 0; i < 4; i++ {
		w := rapid.OneOf(rapid.Just(uint64(0)), rapid.Just(^uint64(0)), rapid.Uint64()).Draw(t, "word")
		for j := 0; j < 8; j++ {
			h[i*8+j] = byte(w >> (56 - 8*j))
		}
	}
	return h
})

// digestOf is Digest.Add's model: the sum of the hashes modulo 2^256.
func digestOf(hs ...ledger.Hash) ledger.Digest {
	sum := new(big.Int)
	for _, h := range hs {
		sum.Add(sum, new(big.Int).SetBytes(h[:]))
	}
	sum.Mod(sum, new(big.Int).Lsh(big.NewInt(1), 256))
	var d ledger.Digest
	sum.FillBytes(d[:])
	return d
}

// TestDigestLaws checks that Digest.Add is addition modulo 2^256: it has the
// zero hash as identity, is commutative and associative, and so a digest does
// not depend on the order its hashes were added in.
func TestDigestLaws(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		x, y, z := hashGen.Draw(rt, "x"), hashGen.Draw(rt, "y"), hashGen.Draw(rt, "z")
		var zero ledger.Digest
		dx := zero.Add(x)
		if got := dx.Add(ledger.Hash{}); got != dx {
			rt.Fatalf("x+0: got %s, want %s", got, dx)
		}
		if got, want := dx.Add(y), zero.Add(y).Add(x); got != want {
			rt.Fatalf("x+y: got %s, want y+x = %s", got, want)
		}
		yz := zero.Add(y).Add(z)
		if got, want := dx.Add(y).Add(z), dx.Add(ledger.Hash(yz)); got != want {
			rt.Fatalf("(x+y)+z: got %s, want x+(y+z) = %s", got, want)
		}
		if got, want := dx.Add(y).Add(z), digestOf(x, y, z); got != want {
			rt.Fatalf("x+y+z: got %s, want %s (sum modulo 2^256)", got, want)
		}

		hs := rapid.SliceOfN(hashGen, 0, 20).Draw(rt, "hashes")
		perm := hs
		if len(hs) > 1 {
			perm = rapid.Permutation(hs).Draw(rt, "permutation")
		}
		var a, b ledger.Digest
		for i := range hs {
			a = a.Add(hs[i])
			b = b.Add(perm[i])
		}
		if a != b {
			rt.Fatalf("permuted: got %s, want %s", b, a)
		}
		if want := digestOf(hs...); a != want {
			rt.Fatalf("got %s, want %s (sum modulo 2^256)", a, want)
		}
	})
}
