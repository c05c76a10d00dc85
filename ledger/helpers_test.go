package ledger_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"kassa/clocktest"
	"kassa/ledger"
)

// region is a test identity: an id and a deterministic key.
type region struct {
	id  ledger.RegionID
	key ed25519.PrivateKey
}

func newRegion(id string) region {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "test-seed:"+id)
	return region{ledger.RegionID(id), ed25519.NewKeyFromSeed(seed)}
}

func keysOf(rs ...region) ledger.Keys {
	k := ledger.Keys{}
	for _, r := range rs {
		k[r.id] = r.key.Public().(ed25519.PublicKey)
	}
	return k
}

// newTestClock is an injected clock that ticks a millisecond per reading
// and otherwise moves only when told.
func newTestClock() *clocktest.Clock {
	return clocktest.At(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)).Stepping(time.Millisecond)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// MustOpen opens a store for r in a fresh temp dir, knowing the keys of all.
func MustOpen(tb testing.TB, r region, all ...region) *ledger.Store {
	tb.Helper()
	return MustOpenPath(tb, filepath.Join(tb.TempDir(), "kassa.db"), r, all...)
}

func MustOpenPath(tb testing.TB, path string, r region, all ...region) *ledger.Store {
	tb.Helper()
	s, err := ledger.Open(context.Background(), ledger.Options{
		Path:   path,
		Region: r.id,
		Key:    r.key,
		Keys:   keysOf(append(all, r)...),
		Now:    newTestClock().Now,
		Logger: quietLogger(),
	})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// sale is a balanced draft: a consumer owes a merchant amount.
func sale(n int, amount ledger.Amount) ledger.Draft {
	return ledger.Draft{
		Kind:    "order.captured",
		Subject: fmt.Sprintf("order-%d", n),
		Postings: []ledger.Posting{
			{Account: fmt.Sprintf("consumer:c%d:receivable", n%7), Amount: amount, Currency: "SEK"},
			{Account: "merchant:demo:payable", Amount: -amount, Currency: "SEK"},
		},
		Data: []byte(fmt.Sprintf(`{"n":%d}`, n)),
	}
}

// signedChain builds n signed entries of r's chain without a store.
func signedChain(r region, n int, rng *rand.Rand) []ledger.Entry {
	out := make([]ledger.Entry, 0, n)
	var prev ledger.Hash
	wall := int64(1_790_000_000_000)
	for i := 1; i <= n; i++ {
		d := sale(rng.IntN(1000), ledger.Amount(1+rng.IntN(100000)))
		wall += int64(rng.IntN(3))
		e := ledger.Entry{
			Origin: r.id, Seq: uint64(i), Prev: prev,
			HLC:  ledger.HLC{Wall: wall, Logical: uint32(i)},
			Kind: d.Kind, Subject: d.Subject, Postings: d.Postings, Data: d.Data,
		}
		e.Sign(r.key)
		prev = e.ID()
		out = append(out, e)
	}
	return out
}
