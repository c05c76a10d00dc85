package ledger_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kassa/ledger"
)

var ctx = context.Background()

func TestAppendChainsAndSigns(t *testing.T) {
	r1 := newRegion("r1")
	s := MustOpen(t, r1)
	var prev ledger.Hash
	for i := 1; i <= 3; i++ {
		e, err := s.Append(ctx, sale(i, 100))
		if err != nil {
			t.Fatal(err)
		}
		if e.Origin != "r1" || e.Seq != uint64(i) || e.Prev != prev {
			t.Fatalf("got %s/%d prev %s, want r1/%d prev %s", e.Origin, e.Seq, e.Prev.Short(), i, prev.Short())
		}
		if err := e.VerifySignature(r1.key.Public().(ed25519.PublicKey)); err != nil {
			t.Fatal(err)
		}
		prev = e.ID()
	}
	if got := s.Vector()["r1"]; got != 3 {
		t.Fatalf("got vector %d, want 3", got)
	}
	bal, _ := s.Balance(ctx, "merchant:demo:payable", "SEK")
	if bal != -300 {
		t.Fatalf("got balance %d, want -300", bal)
	}
}

func TestConcurrentAppendsGroupCommit(t *testing.T) {
	s := MustOpen(t, newRegion("r1"))
	const n = 400
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Append(ctx, sale(i, 10)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := s.Vector()["r1"]; got != n {
		t.Fatalf("got vector %d, want %d", got, n)
	}
	rep, err := ledger.Verify(ctx, s.Path(), keysOf(newRegion("r1")))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if rep.Entries != n || rep.Digest != s.Digest() {
		t.Fatalf("got %d entries digest %s, want %d and %s", rep.Entries, rep.Digest, n, s.Digest())
	}
}

func TestAppendRejectsBadDraftAndChangesNothing(t *testing.T) {
	s := MustOpen(t, newRegion("r1"))
	s.Append(ctx, sale(1, 5))
	before := snapshot(t, s)
	bad := sale(2, 5)
	bad.Postings[0].Amount = 6
	if _, err := s.Append(ctx, bad); !errors.Is(err, ledger.ErrUnbalanced) {
		t.Fatalf("got %v, want ErrUnbalanced", err)
	}
	if after := snapshot(t, s); after != before {
		t.Fatalf("state changed:\n%s\n%s", before, after)
	}
}

func TestApplyReplicatesAndIsIdempotent(t *testing.T) {
	r1, r2 := newRegion("r1"), newRegion("r2")
	a, b := MustOpen(t, r1, r2), MustOpen(t, r2, r1)
	var es []ledger.Entry
	for i := 0; i < 20; i++ {
		e, err := a.Append(ctx, sale(i, ledger.Amount(i+1)))
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	// Reversed and duplicated: Apply sorts and skips what it holds.
	in := append([]ledger.Entry(nil), es...)
	for i, j := 0, len(in)-1; i < j; i, j = i+1, j-1 {
		in[i], in[j] = in[j], in[i]
	}
	in = append(in, es[:5]...)
	res, err := b.Apply(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 20 || res.Duplicates != 5 || len(res.Rejected) != 0 {
		t.Fatalf("got %+v, want 20 applied, 5 duplicates", res)
	}
	res, _ = b.Apply(ctx, es)
	if res.Applied != 0 || res.Duplicates != 20 {
		t.Fatalf("second apply: got %+v, want all duplicates", res)
	}
	if snapshot(t, a) != snapshot(t, b) {
		t.Fatalf("states differ:\n%s\n%s", snapshot(t, a), snapshot(t, b))
	}
}

// TestApplyWire takes entries in their wire form: they apply as Apply's do,
// what is held is skipped, and an entry that does not decode refuses the
// whole call, naming it, with nothing stored.
func TestApplyWire(t *testing.T) {
	r1, r2 := newRegion("r1"), newRegion("r2")
	a, b := MustOpen(t, r1, r2), MustOpen(t, r2, r1)
	var wire [][]byte
	for i := 0; i < 10; i++ {
		e, err := a.Append(ctx, sale(i, ledger.Amount(i+1)))
		if err != nil {
			t.Fatal(err)
		}
		w, _ := e.MarshalBinary()
		wire = append(wire, w)
	}
	before := snapshot(t, b)
	bad := append([][]byte(nil), wire[:3]...)
	bad[2] = append([]byte(nil), bad[2][:len(bad[2])-70]...)
	_, err := b.ApplyWire(ctx, bad)
	var we *ledger.WireError
	if !errors.As(err, &we) || we.Index != 2 || !errors.Is(err, ledger.ErrMalformed) {
		t.Fatalf("got %v, want a WireError for entry 2 wrapping ErrMalformed", err)
	}
	if after := snapshot(t, b); after != before {
		t.Fatalf("state changed:\n%s\n%s", before, after)
	}
	res, err := b.ApplyWire(ctx, wire[:6])
	if err != nil || res.Applied != 6 {
		t.Fatalf("got %+v, %v, want 6 applied", res, err)
	}
	// Held entries are skipped, the rest applied; the batch may overlap.
	res, err = b.ApplyWire(ctx, wire[4:])
	if err != nil || res.Applied != 4 || res.Duplicates != 2 || len(res.Rejected) != 0 {
		t.Fatalf("got %+v, %v, want 4 applied and 2 duplicates", res, err)
	}
	if snapshot(t, a) != snapshot(t, b) {
		t.Fatalf("states differ:\n%s\n%s", snapshot(t, a), snapshot(t, b))
	}
}

// TestSubmitOrder prepares two consecutive batches, the later one first, and
// hands them to the writer in chain order: both apply, although the later
// was verified first.
func TestSubmitOrder(t *testing.T) {
	r1, r2 := newRegion("r1"), newRegion("r2")
	a, b := MustOpen(t, r1, r2), MustOpen(t, r2, r1)
	var wire [][]byte
	for i := 0; i < 8; i++ {
		e, err := a.Append(ctx, sale(i, 5))
		if err != nil {
			t.Fatal(err)
		}
		w, _ := e.MarshalBinary()
		wire = append(wire, w)
	}
	later, err := b.PrepareWire(ctx, wire[4:])
	if err != nil {
		t.Fatal(err)
	}
	earlier, err := b.PrepareWire(ctx, wire[:4])
	if err != nil {
		t.Fatal(err)
	}
	waitEarlier, err := earlier.Submit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitLater, err := later.Submit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r1res, err1 := waitEarlier()
	r2res, err2 := waitLater()
	if err1 != nil || err2 != nil || r1res.Applied != 4 || r2res.Applied != 4 {
		t.Fatalf("got %+v (%v) and %+v (%v), want 4 applied by each", r1res, err1, r2res, err2)
	}
	if snapshot(t, a) != snapshot(t, b) {
		t.Fatalf("states differ:\n%s\n%s", snapshot(t, a), snapshot(t, b))
	}
}

func TestApplyRejections(t *testing.T) {
	r1, r2, r3 := newRegion("r1"), newRegion("r2"), newRegion("r3")
	chain := signedChain(r2, 3, rand.New(rand.NewPCG(9, 9)))
	stranger := signedChain(r3, 1, rand.New(rand.NewPCG(1, 1)))[0]
	forged := chain[0]
	forged.Sign(r1.key) // r1 cannot write r2's entries
	unbalanced := chain[0]
	unbalanced.Postings = []ledger.Posting{{Account: "a", Amount: 1, Currency: "SEK"}}
	unbalanced.Sign(r2.key)

	tests := []struct {
		name  string
		setup []ledger.Entry
		in    ledger.Entry
		want  error
	}{
		{"bad signature", nil, forged, ledger.ErrSignature},
		{"unknown origin", nil, stranger, ledger.ErrUnknownOrigin},
		{"unbalanced", nil, unbalanced, ledger.ErrUnbalanced},
		{"gap", nil, chain[1], ledger.ErrGap},
		{"chain", chain[:1], relink(chain[1], r2, ledger.Hash{1}), ledger.ErrChain},
		{"fork", chain[:2], reword(chain[1], r2), ledger.ErrFork},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := MustOpen(t, r1, r2)
			if _, err := s.Apply(ctx, tt.setup); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, s)
			res, err := s.Apply(ctx, []ledger.Entry{tt.in})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rejected) != 1 || !errors.Is(res.Rejected[0], tt.want) {
				t.Fatalf("got %+v, want one rejection %v", res, tt.want)
			}
			if after := snapshot(t, s); after != before {
				t.Fatalf("state changed:\n%s\n%s", before, after)
			}
		})
	}
}

func TestForkIsQuarantined(t *testing.T) {
	r1, r2 := newRegion("r1"), newRegion("r2")
	s := MustOpen(t, r1, r2)
	chain := signedChain(r2, 2, rand.New(rand.NewPCG(2, 2)))
	s.Apply(ctx, chain)
	other := reword(chain[1], r2)
	s.Apply(ctx, []ledger.Entry{other})
	s.Apply(ctx, []ledger.Entry{other}) // reported again, stored once
	forks, err := s.Forks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(forks) != 1 || forks[0].ID != other.ID() {
		t.Fatalf("got %d forks, want the one entry %s", len(forks), other.ID().Short())
	}
	got, _ := s.EntriesAfter(ctx, "r2", 1, 10)
	if len(got) != 1 || got[0].ID() != chain[1].ID() {
		t.Fatal("the held entry was replaced")
	}
	if _, err := ledger.Verify(ctx, s.Path(), keysOf(r1, r2)); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

func TestOwnChainComesBack(t *testing.T) {
	// A region whose disk was lost gets its own entries back from a peer and
	// then continues its chain.
	r1, r2 := newRegion("r1"), newRegion("r2")
	a := MustOpen(t, r1, r2)
	var es []ledger.Entry
	for i := 0; i < 5; i++ {
		e, _ := a.Append(ctx, sale(i, 1))
		es = append(es, e)
	}
	fresh := MustOpen(t, r1, r2)
	if res, err := fresh.Apply(ctx, es); err != nil || res.Applied != 5 {
		t.Fatalf("got %+v %v, want 5 applied", res, err)
	}
	e, err := fresh.Append(ctx, sale(9, 1))
	if err != nil || e.Seq != 6 || e.Prev != es[4].ID() {
		t.Fatalf("got %d prev %s, %v; want seq 6 after %s", e.Seq, e.Prev.Short(), err, es[4].ID().Short())
	}
}

func TestReopenKeepsStateWithoutReplay(t *testing.T) {
	r1 := newRegion("r1")
	path := filepath.Join(t.TempDir(), "kassa.db")
	s := MustOpenPath(t, path, r1)
	for i := 0; i < 10; i++ {
		s.Append(ctx, sale(i, 3))
	}
	want := snapshot(t, s)
	s.Close()
	s2 := MustOpenPath(t, path, r1)
	if got := snapshot(t, s2); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	e, err := s2.Append(ctx, sale(11, 3))
	if err != nil || e.Seq != 11 {
		t.Fatalf("got seq %d %v, want 11", e.Seq, err)
	}
}

func TestOpenRefusesOtherRegionOrKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kassa.db")
	s := MustOpenPath(t, path, newRegion("r1"))
	s.Close()
	for name, r := range map[string]region{
		"region": newRegion("r2"),
		"key":    {id: "r1", key: newRegion("other").key},
	} {
		_, err := ledger.Open(ctx, ledger.Options{Path: path, Region: r.id, Key: r.key, Keys: keysOf(r), Logger: quietLogger()})
		if !errors.Is(err, ledger.ErrRegionMismatch) {
			t.Errorf("%s: got %v, want ErrRegionMismatch", name, err)
		}
	}
}

func TestOpenCorruptFile(t *testing.T) {
	r := newRegion("r1")
	for name, content := range map[string][]byte{
		"short":   []byte("not a database"),
		"garbage": []byte(strings.Repeat("garbage!", 1024)),
	} {
		path := filepath.Join(t.TempDir(), "kassa.db")
		os.WriteFile(path, content, 0o600)
		_, err := ledger.Open(ctx, ledger.Options{Path: path, Region: r.id, Key: r.key, Keys: keysOf(r), Logger: quietLogger()})
		if !errors.Is(err, ledger.ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
		if b, _ := os.ReadFile(path); string(b) != string(content) {
			t.Errorf("%s: file was changed", name)
		}
	}
}

func TestStorageFullStoresNothing(t *testing.T) {
	r := newRegion("r1")
	path := filepath.Join(t.TempDir(), "kassa.db")
	// max_page_count makes SQLite answer SQLITE_FULL, as a full disk would.
	s, err := ledger.Open(ctx, ledger.Options{Path: path, Region: r.id, Key: r.key, Keys: keysOf(r),
		Logger: quietLogger(), Pragmas: []string{"max_page_count(40)"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var full error
	var last ledger.Entry
	big := sale(1, 1)
	big.Data = []byte(`{"pad":"` + strings.Repeat("x", 3000) + `"}`)
	for i := 0; i < 200 && full == nil; i++ {
		e, err := s.Append(ctx, big)
		if err != nil {
			full = err
			break
		}
		last = e
	}
	if !errors.Is(full, ledger.ErrStorageFull) {
		t.Fatalf("got %v, want ErrStorageFull", full)
	}
	before := snapshot(t, s)
	if _, err := s.Append(ctx, big); !errors.Is(err, ledger.ErrStorageFull) {
		t.Fatalf("got %v, want ErrStorageFull again", err)
	}
	if snapshot(t, s) != before {
		t.Fatal("a failed commit changed the state")
	}
	// A small entry still fits, and continues the chain right after the last stored one.
	e, err := s.Append(ctx, sale(2, 1))
	if err == nil && (e.Seq != last.Seq+1 || e.Prev != last.ID()) {
		t.Fatalf("got seq %d after %d: the failed commit consumed a sequence number", e.Seq, last.Seq)
	}
	s.Close()
	if _, err := ledger.Verify(ctx, path, keysOf(r)); err != nil {
		t.Fatalf("verify after full disk: %v", err)
	}
}

func TestConcurrentRelaysAndAppends(t *testing.T) {
	// Peers relay the same entries, so several pushes of one entry race each
	// other and the region's own appends through the group commit. Every
	// copy after the first is a duplicate, never a rejection, and each entry
	// is stored once.
	r1, r2 := newRegion("r1"), newRegion("r2")
	chain := signedChain(r2, 100, rand.New(rand.NewPCG(3, 3)))
	s := MustOpen(t, r1, r2)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		applied  int
		rejected []*ledger.RejectError
	)
	// Local appends keep the writer busy, so that pushes queue up together.
	stop := make(chan struct{})
	var busy sync.WaitGroup
	for w := 0; w < 4; w++ {
		busy.Add(1)
		go func() {
			defer busy.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Append(ctx, sale(n, 1)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	defer busy.Wait()
	defer close(stop)
	for p := 0; p < 32; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range chain {
				res, err := s.Apply(ctx, chain[i:i+1])
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				applied += res.Applied
				for _, re := range res.Rejected {
					if !errors.Is(re, ledger.ErrGap) { // a push that overtook another
						rejected = append(rejected, re)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(rejected) > 0 {
		t.Fatalf("got %d rejections, want none; first: %v", len(rejected), rejected[0])
	}
	if applied != len(chain) || s.Vector()["r2"] != uint64(len(chain)) {
		t.Fatalf("got %d applied, vector %d; want %d each", applied, s.Vector()["r2"], len(chain))
	}
}

func TestConcurrentAppendsOnFullDiskKeepTheChain(t *testing.T) {
	// Many writers fill the disk: commits fail while the next group is
	// already staged on top of them. Whatever failed must not have consumed
	// a sequence number, and whatever succeeded must be stored as returned.
	r := newRegion("r1")
	path := filepath.Join(t.TempDir(), "kassa.db")
	s, err := ledger.Open(ctx, ledger.Options{Path: path, Region: r.id, Key: r.key, Keys: keysOf(r),
		Logger: quietLogger(), Pragmas: []string{"max_page_count(60)"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var (
		mu     sync.Mutex
		stored = map[uint64]ledger.Hash{}
		full   int
		wg     sync.WaitGroup
	)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				d := sale(w*100+i, 7)
				if i%2 == 0 {
					d.Data = []byte(`{"pad":"` + strings.Repeat("x", 1500) + `"}`)
				}
				e, err := s.Append(ctx, d)
				mu.Lock()
				switch {
				case err == nil:
					if _, dup := stored[e.Seq]; dup {
						t.Errorf("seq %d returned twice", e.Seq)
					}
					stored[e.Seq] = e.ID()
				case errors.Is(err, ledger.ErrStorageFull):
					full++
				default:
					t.Errorf("got %v, want nil or ErrStorageFull", err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if full == 0 {
		t.Fatal("the disk never filled up; the test proves nothing")
	}
	if got := s.Vector()["r1"]; got != uint64(len(stored)) {
		t.Fatalf("got vector %d, want %d: one per successful append", got, len(stored))
	}
	held, err := s.EntriesAfter(ctx, "r1", 0, len(stored)+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != len(stored) {
		t.Fatalf("got %d entries stored, want %d", len(held), len(stored))
	}
	for _, e := range held {
		if stored[e.Seq] != e.ID() {
			t.Fatalf("seq %d: stored %s, but Append returned %s", e.Seq, e.ID().Short(), stored[e.Seq].Short())
		}
	}
	s.Close()
	if _, err := ledger.Verify(ctx, path, keysOf(r)); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

func TestAppendAfterClose(t *testing.T) {
	s := MustOpen(t, newRegion("r1"))
	s.Close()
	if _, err := s.Append(ctx, sale(1, 1)); !errors.Is(err, ledger.ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
}

// snapshot renders everything a store derives, for comparing two stores.
func snapshot(tb testing.TB, s *ledger.Store) string {
	tb.Helper()
	bs, err := s.Balances(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "digest %s count %d\n", s.Digest(), s.Count())
	v := s.Vector()
	for _, o := range []ledger.RegionID{"r1", "r2", "r3"} {
		fmt.Fprintf(&b, "%s=%d ", o, v[o])
	}
	b.WriteString("\n")
	for _, x := range bs {
		fmt.Fprintf(&b, "%s %s %d\n", x.Account, x.Currency, x.Amount)
	}
	return b.String()
}

// relink re-signs e with another prev, as a region with a broken chain would.
func relink(e ledger.Entry, r region, prev ledger.Hash) ledger.Entry {
	e.Prev = prev
	e.Sign(r.key)
	return e
}

// reword re-signs e with other content at the same (origin, seq): a fork.
func reword(e ledger.Entry, r region) ledger.Entry {
	e.Subject += "-fork"
	e.Sign(r.key)
	return e
}

func TestGuardsNeverSpendTwice(t *testing.T) {
	s := MustOpen(t, newRegion("r1"))
	grant := ledger.Draft{Kind: "rights.granted", Subject: "order-1", Postings: []ledger.Posting{
		{Account: "order:o1:capture:r1", Amount: 1000, Currency: "SEK"},
		{Account: "order:o1:authorized", Amount: -1000, Currency: "SEK"},
	}}
	if _, err := s.Append(ctx, grant); err != nil {
		t.Fatal(err)
	}
	capture := func(n ledger.Amount) ledger.Draft {
		return ledger.Draft{Kind: "order.captured", Subject: "order-1", Postings: []ledger.Posting{
			{Account: "order:o1:capture:r1", Amount: -n, Currency: "SEK"},
			{Account: "order:o1:captured", Amount: n, Currency: "SEK"},
		}, Guards: []ledger.Guard{{Account: "order:o1:capture:r1", Currency: "SEK", Min: 0}}}
	}
	// 50 concurrent captures of 30 against 1000 of rights: exactly 33 succeed.
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Append(ctx, capture(30))
			mu.Lock()
			defer mu.Unlock()
			var ge *ledger.GuardError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &ge) && errors.Is(err, ledger.ErrInsufficient):
				refused++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 33 || refused != 17 {
		t.Fatalf("got %d captures and %d refusals, want 33 and 17", ok, refused)
	}
	if bal, _ := s.Balance(ctx, "order:o1:capture:r1", "SEK"); bal != 10 {
		t.Fatalf("got rights %d, want 10", bal)
	}
	if got := s.Vector()["r1"]; got != 34 {
		t.Fatalf("got %d entries, want 34: a refused draft must not take a sequence number", got)
	}
}

// TestGuardsSeeAppliedCredits: guarded spends race remote entries that
// credit the same account, over many groups; every guard decision must use
// the balance as committed (the writer's cache of balances follows every
// commit, local or applied), so the balance ends exact and never negative.
func TestGuardsSeeAppliedCredits(t *testing.T) {
	r1, r2 := newRegion("r1"), newRegion("r2")
	s := MustOpen(t, r1, r2)
	remote := MustOpen(t, r2, r1)
	spend := ledger.Draft{Kind: "spend", Postings: []ledger.Posting{
		{Account: "acct:x", Amount: -7, Currency: "SEK"}, {Account: "acct:sink", Amount: 7, Currency: "SEK"}},
		Guards: []ledger.Guard{{Account: "acct:x", Currency: "SEK"}}}
	var credited, spent int64
	for round := 0; round < 20; round++ {
		credit, err := remote.Append(ctx, ledger.Draft{Kind: "credit", Postings: []ledger.Posting{
			{Account: "acct:x", Amount: 30, Currency: "SEK"}, {Account: "acct:src", Amount: -30, Currency: "SEK"}}})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Apply(ctx, []ledger.Entry{credit}); err != nil {
				t.Error(err)
			}
		}()
		for i := 0; i < 12; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Append(ctx, spend)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					spent += 7
				case !errors.Is(err, ledger.ErrInsufficient):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		credited += 30
		bal, err := s.Balance(ctx, "acct:x", "SEK")
		if err != nil || int64(bal) != credited-spent || bal < 0 {
			t.Fatalf("round %d: balance %d (%v), want %d credited - %d spent", round, bal, err, credited, spent)
		}
	}
	if spent < 20*28-7*20 {
		t.Fatalf("only %d spent of %d credited: guards refused spends the balance allowed", spent, credited)
	}
}

// TestCheckpointsInTheBackground writes while the checkpointer runs: commits
// do not checkpoint, yet the database file takes in what was written, and
// closing leaves a database that holds everything.
func TestCheckpointsInTheBackground(t *testing.T) {
	r1 := newRegion("r1")
	path := filepath.Join(t.TempDir(), "kassa.db")
	s, err := ledger.Open(ctx, ledger.Options{Path: path, Region: r1.id, Key: r1.key, Keys: keysOf(r1), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	empty := fi.Size()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 250 {
				if _, err := s.Append(ctx, sale(w*1000+i, 1)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// The checkpointer runs within checkpointEvery of the last commit.
	deadline := time.Now().Add(10 * time.Second)
	for {
		fi, err = os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > empty {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes after 2000 commits: no checkpoint ran", fi.Size())
		}
		time.Sleep(10 * time.Millisecond) // polling the file, not standing in for an event
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := MustOpenPath(t, path, r1)
	if got := s2.Count(); got != 2000 {
		t.Fatalf("got %d entries after reopening, want 2000", got)
	}
}

// TestApplyRejectsEachBadEntryAlone: in one Apply, entries refused before
// their signature is checked (an unknown origin, a cut signature) and
// entries whose signature is bad sit among good ones of other origins;
// each bad one is refused for its own reason, an entry after a refused one
// is a gap, and every good one is stored.
func TestApplyRejectsEachBadEntryAlone(t *testing.T) {
	r1, r2, r3, r4, r5 := newRegion("r1"), newRegion("r2"), newRegion("r3"), newRegion("r4"), newRegion("r5")
	s := MustOpen(t, r1, r2, r4, r5)
	rng := rand.New(rand.NewPCG(7, 7))
	good := signedChain(r2, 4, rng)
	four := signedChain(r4, 3, rng)
	four[1].Sign(r1.key) // r1 cannot write r4's entries
	cut := signedChain(r5, 1, rng)[0]
	cut.Sig = cut.Sig[:len(cut.Sig)-1]
	stranger := signedChain(r3, 1, rng)[0]
	in := []ledger.Entry{stranger, good[0], four[2], cut, good[1], four[0], good[2], four[1], good[3]}
	res, err := s.Apply(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]error{"r3/1": ledger.ErrUnknownOrigin, "r4/2": ledger.ErrSignature, "r4/3": ledger.ErrGap, "r5/1": ledger.ErrSignature}
	if res.Applied != 5 || len(res.Rejected) != len(want) {
		t.Fatalf("applied %d, rejected %v; want 5 applied (r2/1-4, r4/1) and %d refused", res.Applied, res.Rejected, len(want))
	}
	for _, r := range res.Rejected {
		at := fmt.Sprintf("%s/%d", r.Origin, r.Seq)
		if !errors.Is(r, want[at]) {
			t.Errorf("%s refused with %v, want %v", at, r.Err, want[at])
		}
	}
	if v := s.Vector(); v["r2"] != 4 || v["r4"] != 1 || v["r5"] != 0 || v["r3"] != 0 {
		t.Fatalf("vector %v, want r2 at 4 and r4 at 1", v)
	}
}
