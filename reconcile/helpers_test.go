package reconcile_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"kassa/clocktest"
	"kassa/ledger"
	"kassa/reconcile"
)

const day = "2026-03-14"

// ledgerStart is when the test ledgers' clocks start: the day after day.
var ledgerStart = time.Date(2026, 3, 15, 1, 0, 0, 0, time.UTC)

func keyOf(region string) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "reconcile-test:"+region)
	return ed25519.NewKeyFromSeed(seed)
}

// MustOpen opens a ledger of region that knows the keys of r1, r2 and r3.
func MustOpen(tb testing.TB, region string) *ledger.Store {
	tb.Helper()
	keys := ledger.Keys{}
	for _, id := range []string{"r1", "r2", "r3"} {
		keys[ledger.RegionID(id)] = keyOf(id).Public().(ed25519.PublicKey)
	}
	s, err := ledger.Open(context.Background(), ledger.Options{Path: filepath.Join(tb.TempDir(), "kassa.db"),
		Region: ledger.RegionID(region), Key: keyOf(region), Keys: keys,
		Now: clocktest.At(ledgerStart).Stepping(time.Millisecond).Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// op is a card capture or refund, as a file line and a ledger entry.
type op struct {
	typ, key string
	amount   int64
	currency string
}

func (o op) line(n int) reconcile.Line {
	opID := fmt.Sprintf("op_%08d", n)
	raw := fmt.Sprintf("%s,%s,%s,pay_%d,ord_%d,%s,%d,%s,%sT10:00:00Z", day, o.typ, opID, n, n, o.key, o.amount, o.currency, day)
	return reconcile.Line{Line: n + 1, Raw: raw, Type: o.typ, OperationID: opID, Payment: fmt.Sprintf("pay_%d", n),
		Reference: fmt.Sprintf("ord_%d", n), IdempotencyKey: o.key, Amount: o.amount, Currency: o.currency}
}

// lines is a settlement file of ops: line 1 is the header, so op i is on
// line i+2.
func lines(ops ...op) []reconcile.Line {
	out := make([]reconcile.Line, len(ops))
	for i, o := range ops {
		out[i] = o.line(i + 1)
	}
	return out
}

// record appends o as the order.captured or order.refunded entry checkout
// writes for a card operation of day.
func record(tb testing.TB, s *ledger.Store, order string, o op) ledger.Entry {
	tb.Helper()
	kind := map[string]string{"capture": "order.captured", "refund": "order.refunded"}[o.typ]
	data, _ := json.Marshal(map[string]any{
		"id": "opid-" + o.key, "amount": o.amount, "currency": o.currency, "merchant": "demo", "method": "card", "day": day,
		"acquirer": map[string]any{"key": o.key, "payment": "pay_x", "operation": "op_x", "at": ledgerStart.UnixMilli()},
		"refs":     []string{"settle:demo:" + day, "acquirer-day:" + day},
	})
	e, err := s.Append(context.Background(), ledger.Draft{Kind: kind, Subject: order, Data: data})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// file is a Source holding one day's lines, which a test may change.
type file struct {
	lines []reconcile.Line
	err   error
	reads int
}

func (f *file) Settlement(_ context.Context, d string) ([]reconcile.Line, error) {
	f.reads++
	if f.err != nil {
		return nil, f.err
	}
	if d != day {
		return nil, nil
	}
	return f.lines, nil
}

// clean are the operations of a clean day.
var clean = []op{
	{"capture", "k1", 1000, "SEK"},
	{"capture", "k2", 2500, "SEK"},
	{"refund", "k3", 500, "SEK"},
	{"capture", "k4", 9900, "EUR"},
	{"refund", "k5", 100, "EUR"},
}

func entriesOf(tb testing.TB, s *ledger.Store, subject string) []ledger.Entry {
	tb.Helper()
	es, err := s.EntriesBySubject(context.Background(), subject)
	if err != nil {
		tb.Fatal(err)
	}
	return es
}

func countKind(es []ledger.Entry, kind string) int {
	n := 0
	for _, e := range es {
		if e.Kind == kind {
			n++
		}
	}
	return n
}
