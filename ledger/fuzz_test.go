package ledger_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"kassa/ledger"
)

// seedEntries are real signed entries of the kinds a region writes: a chain
// of sales, a two-currency entry, one without postings or data, and one
// with a large payload.
func seedEntries() []ledger.Entry {
	r1, r2 := newRegion("r1"), newRegion("r2")
	es := signedChain(r1, 3, rand.New(rand.NewPCG(11, 12)))
	multi := ledger.Entry{
		Origin: r2.id, Seq: 1, HLC: ledger.HLC{Wall: 1_790_000_000_123, Logical: 7},
		Kind: "rights.transferred", Subject: "credit-line 42/eu",
		Postings: []ledger.Posting{
			{Account: "consumer:c9:receivable", Amount: 12_345, Currency: "SEK"},
			{Account: "kassa:revenue", Amount: -12_345, Currency: "SEK"},
			{Account: "acquirer:adyen:clearing", Amount: -1_000_000_000_000_000, Currency: "EUR"},
			{Account: "merchant:m_1.eu:payable", Amount: 1_000_000_000_000_000, Currency: "EUR"},
		},
		Data: json.RawMessage(`{"from":"eu","to":"us","rights":[1,2,3]}`),
	}
	multi.Sign(r2.key)
	bare := ledger.Entry{
		Origin: r2.id, Seq: 2, Prev: multi.ID(), HLC: ledger.HLC{Wall: 1_790_000_000_124},
		Kind: "session.created",
	}
	bare.Sign(r2.key)
	big := es[2]
	big.Seq, big.Prev = 4, es[2].ID()
	big.HLC.Logical++
	big.Data = json.RawMessage(`{"pad":"` + string(bytes.Repeat([]byte("x"), 2000)) + `"}`)
	big.Sign(r1.key)
	return append(es, multi, bare, big)
}

func encode(tb testing.TB, e ledger.Entry) []byte {
	tb.Helper()
	b, err := e.MarshalBinary()
	if err != nil {
		tb.Fatalf("encode: %v", err)
	}
	return b
}

// FuzzDecodeEntry checks the wire decoder on arbitrary bytes: it never
// panics, every error it returns is a rejection of the entry, and what it
// accepts is canonical: re-encoding gives exactly the input, the entry
// validates and its id is the hash of the input's canonical part.
func FuzzDecodeEntry(f *testing.F) {
	for _, e := range seedEntries() {
		b := encode(f, e)
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte{})
	f.Add([]byte("kassaev1"))
	f.Fuzz(func(t *testing.T, in []byte) {
		b := bytes.Clone(in)
		e, err := ledger.DecodeEntry(b)
		if err != nil {
			if !errors.Is(err, ledger.ErrMalformed) && !errors.Is(err, ledger.ErrUnbalanced) {
				t.Fatalf("got error %v, want one wrapping ErrMalformed or ErrUnbalanced", err)
			}
			return
		}
		// The entry must not alias the buffer it was decoded from: the
		// caller (a network read, a SQLite row) reuses it.
		clear(b)
		out := encode(t, e)
		if !bytes.Equal(out, in) {
			t.Fatalf("got re-encoding %x, want the input %x", out, in)
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("decoded entry does not validate: %v", err)
		}
		if got, want := e.ID(), ledger.Hash(sha256.Sum256(in[:len(in)-ed25519.SignatureSize])); got != want {
			t.Fatalf("got id %s, want %s", got, want)
		}
		again, err := ledger.DecodeEntry(out)
		if err != nil {
			t.Fatalf("decode of re-encoding: %v", err)
		}
		if again.ID() != e.ID() || !reflect.DeepEqual(again, e) {
			t.Fatalf("got %+v, want %+v", again, e)
		}
	})
}

// fuzzEntry builds an entry from fuzzed fields. npost picks how many of the
// fuzzed postings it carries: none, one (unbalanced unless its amount is
// zero, which is refused too), a transfer in cur1, or transfers in cur1 and
// cur2.
func fuzzEntry(origin string, seq uint64, prev []byte, wall int64, logical uint32, kind, subject string,
	npost uint8, acct1, acct2 string, amt1, amt2 int64, cur1, cur2 string, data []byte) ledger.Entry {
	e := ledger.Entry{
		Origin: ledger.RegionID(origin), Seq: seq,
		HLC:  ledger.HLC{Wall: wall, Logical: logical},
		Kind: kind, Subject: subject,
	}
	copy(e.Prev[:], prev)
	if len(data) > 0 {
		e.Data = json.RawMessage(data)
	}
	switch npost % 4 {
	case 1:
		e.Postings = []ledger.Posting{{Account: acct1, Amount: ledger.Amount(amt1), Currency: cur1}}
	case 2, 3:
		e.Postings = []ledger.Posting{
			{Account: acct1, Amount: ledger.Amount(amt1), Currency: cur1},
			{Account: acct2, Amount: ledger.Amount(-amt1), Currency: cur1},
		}
		if npost%4 == 3 {
			e.Postings = append(e.Postings,
				ledger.Posting{Account: acct2, Amount: ledger.Amount(amt2), Currency: cur2},
				ledger.Posting{Account: acct1, Amount: ledger.Amount(-amt2), Currency: cur2})
		}
	}
	return e
}

// shiftBoundary returns a copy of e with k bytes moved across the boundary
// between its string fields i and i+1 (forward: from the end of i to the
// start of i+1), or false if field i (or i+1) has too few bytes.
func shiftBoundary(e ledger.Entry, i, k int, forward bool) (ledger.Entry, bool) {
	e.Postings = append([]ledger.Posting(nil), e.Postings...)
	origin, data := string(e.Origin), string(e.Data)
	fs := []*string{&origin, &e.Kind, &e.Subject}
	for j := range e.Postings {
		fs = append(fs, &e.Postings[j].Account, &e.Postings[j].Currency)
	}
	fs = append(fs, &data)
	i %= len(fs) - 1
	a, b := fs[i], fs[i+1]
	if forward {
		if k > len(*a) {
			return e, false
		}
		*a, *b = (*a)[:len(*a)-k], (*a)[len(*a)-k:]+*b
	} else {
		if k > len(*b) {
			return e, false
		}
		*a, *b = *a+(*b)[:k], (*b)[k:]
	}
	e.Origin = ledger.RegionID(origin)
	e.Data = nil
	if data != "" {
		e.Data = json.RawMessage(data)
	}
	return e, true
}

// FuzzCanonical checks the canonical encoding from the other side: an entry
// built from any field values that validates survives MarshalBinary and
// DecodeEntry with every field and its id intact, and two entries whose
// fields differ only in where one field ends and the next begins never share
// an encoding (length prefixes, not separators, delimit the fields).
func FuzzCanonical(f *testing.F) {
	for _, e := range seedEntries() {
		acct1, acct2, cur1, cur2 := "a", "b", "SEK", "EUR"
		var amt1, amt2 int64 = 1, 1
		npost := uint8(len(e.Postings))
		if len(e.Postings) >= 2 {
			acct1, acct2, cur1, amt1 = e.Postings[0].Account, e.Postings[1].Account, e.Postings[0].Currency, int64(e.Postings[0].Amount)
		}
		if len(e.Postings) >= 4 {
			cur2, amt2 = e.Postings[2].Currency, int64(e.Postings[3].Amount)
			npost = 3
		}
		for shift := uint8(0); shift < 3; shift++ {
			f.Add(string(e.Origin), e.Seq, e.Prev[:], e.HLC.Wall, e.HLC.Logical, e.Kind, e.Subject,
				npost, acct1, acct2, amt1, amt2, cur1, cur2, []byte(e.Data), shift, uint8(1+shift))
		}
	}
	f.Fuzz(func(t *testing.T, origin string, seq uint64, prev []byte, wall int64, logical uint32, kind, subject string,
		npost uint8, acct1, acct2 string, amt1, amt2 int64, cur1, cur2 string, data []byte, boundary, shift uint8) {
		e := fuzzEntry(origin, seq, prev, wall, logical, kind, subject, npost, acct1, acct2, amt1, amt2, cur1, cur2, data)
		c := e.Canonical()
		if !bytes.Equal(e.Canonical(), c) {
			t.Fatal("canonical encoding is not deterministic")
		}

		// Moving bytes across a field boundary must change the encoding,
		// whether or not the entries are valid.
		k := 1 + int(shift%8)
		if moved, ok := shiftBoundary(e, int(boundary>>1), k, boundary&1 == 0); ok {
			if bytes.Equal(moved.Canonical(), c) {
				t.Fatalf("entries %+v and %+v have the same encoding %x", e, moved, c)
			}
			if moved.ID() == e.ID() {
				t.Fatalf("entries %+v and %+v have the same id", e, moved)
			}
		}

		if e.Validate() != nil {
			return
		}
		r := newRegion(origin)
		e.Sign(r.key)
		b := encode(t, e)
		if !bytes.HasPrefix(b, c) || len(b) != len(c)+ed25519.SignatureSize {
			t.Fatalf("got wire form %x, want canonical bytes %x and a signature", b, c)
		}
		got, err := ledger.DecodeEntry(b)
		if err != nil {
			t.Fatalf("decode of a valid entry: %v", err)
		}
		if got.ID() != e.ID() {
			t.Fatalf("got id %s, want %s", got.ID(), e.ID())
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("got %+v, want %+v", got, e)
		}
		if err := got.VerifySignature(r.key.Public().(ed25519.PublicKey)); err != nil {
			t.Fatalf("verify decoded entry: %v", err)
		}
	})
}

// openFuzz opens a fresh store in a directory of its own. Not MustOpen: the
// seed corpus runs as subtests named "seed#N", t.TempDir puts that name in the
// path, and Open does not escape the path it puts into the SQLite URI, so the
// '#' would start a URI fragment and every seed would share one database file
// named after the text before it.
func openFuzz(t *testing.T, r region, all ...region) *ledger.Store {
	t.Helper()
	dir, err := os.MkdirTemp("", "ledger-fuzz-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return MustOpenPath(t, filepath.Join(dir, "kassa.db"), r, all...)
}

// FuzzApply feeds a store whatever entry the fuzzed bytes decode to, as
// sent and re-signed by its origin (so that chain, gap and fork handling
// are reached, not only the signature check). Apply never panics or fails,
// reports exactly one outcome, and a store that did not apply the entry is
// unchanged; one that did moved by exactly that entry.
func FuzzApply(f *testing.F) {
	r1, r2 := newRegion("r1"), newRegion("r2")
	seeds := seedEntries()
	for _, e := range seeds {
		f.Add(encode(f, e))
	}
	// A fork of r1/2 and an entry that skips r1/3.
	fork := reword(seeds[1], r1)
	f.Add(encode(f, fork))
	gap := seeds[2]
	gap.Seq = 5
	gap.Sign(r1.key)
	f.Add(encode(f, gap))
	// Every store starts holding r1/1 and r1/2.
	base := seeds[:2]

	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := ledger.DecodeEntry(in)
		if err != nil {
			return
		}
		candidates := []ledger.Entry{e}
		for _, r := range []region{r1, r2} {
			if e.Origin == r.id {
				resigned := e
				resigned.Sign(r.key)
				candidates = append(candidates, resigned)
			}
		}
		for _, c := range candidates {
			s := openFuzz(t, r2, r1)
			if res, err := s.Apply(ctx, base); err != nil || res.Applied != len(base) {
				t.Fatalf("apply base: got %+v, %v", res, err)
			}
			before, digest, count, vector := snapshot(t, s), s.Digest(), s.Count(), s.Vector()
			res, err := s.Apply(ctx, []ledger.Entry{c})
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if n := res.Applied + res.Duplicates + len(res.Rejected); n != 1 {
				t.Fatalf("got %+v, want exactly one outcome", res)
			}
			for _, re := range res.Rejected {
				if ledger.Reason(re) == "other" || re.ID != c.ID() || re.Origin != c.Origin || re.Seq != c.Seq {
					t.Fatalf("got rejection %#v (%v), want one naming %s/%d %s with a known reason", re, re, c.Origin, c.Seq, c.ID().Short())
				}
			}
			if res.Applied == 0 {
				if after := snapshot(t, s); after != before {
					t.Fatalf("state changed without an applied entry:\n%s\n%s", before, after)
				}
				s.Close()
				continue
			}
			if got, want := s.Digest(), digest.Add(c.ID()); got != want {
				t.Fatalf("got digest %s, want %s", got, want)
			}
			if got := s.Count(); got != count+1 {
				t.Fatalf("got count %d, want %d", got, count+1)
			}
			vector[c.Origin] = c.Seq
			if got := s.Vector(); !reflect.DeepEqual(got, vector) {
				t.Fatalf("got vector %v, want %v", got, vector)
			}
			s.Close()
			if _, err := ledger.Verify(ctx, s.Path(), keysOf(r1, r2)); err != nil {
				t.Fatalf("verify after applying %s/%d: %v", c.Origin, c.Seq, err)
			}
		}
	})
}
