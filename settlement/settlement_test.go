package settlement_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"kassa/clocktest"
	"kassa/config"
	"kassa/ledger"
	"kassa/settlement"
)

func TestSettleFeeRoundsHalfUpPerCapture(t *testing.T) {
	for _, c := range []struct {
		amount, bps, fixed, want int64
	}{
		{10000, 140, 0, 140},    // 1.40 % of 100.00
		{50, 100, 0, 1},         // 0.5 rounds up
		{49, 100, 0, 0},         // 0.49 rounds down
		{150, 100, 0, 2},        // 1.5 rounds up
		{1, 0, 180, 180},        // fixed only
		{33333, 299, 180, 1177}, // 996.6567 -> 997, + 180
		{1 << 50, 10000, 0, 1 << 50},
		{(1 << 62) + 1, 10000, 0, (1 << 62) + 1}, // no overflow in the product
	} {
		f := settlement.Fee{RateBPS: c.bps, Fixed: c.fixed}
		if got := f.On(c.amount); got != c.want {
			t.Errorf("Fee{%d bps, %d}.On(%d): got %d, want %d", c.bps, c.fixed, c.amount, got, c.want)
		}
	}
	s := settlement.Settings{VATBPS: 2500}
	for fee, want := range map[int64]int64{0: 0, 1: 0, 2: 1, 3: 1, 4: 1, 6: 2, 140: 35} {
		if got := s.VAT(fee); got != want {
			t.Errorf("25 %% VAT on %d: got %d, want %d", fee, got, want)
		}
	}
}

func TestSettleSettingsValidate(t *testing.T) {
	if err := settlement.DefaultSettings().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for key, tune := range map[string]func(*settlement.Settings){
		"card.rate_bps":     func(s *settlement.Settings) { s.Card.RateBPS = 10001 },
		"pay_later.fixed":   func(s *settlement.Settings) { s.PayLater.Fixed = -1 },
		"instalments.fixed": func(s *settlement.Settings) { s.Instalments.Fixed = settlement.MaxFixed + 1 },
		"vat_bps":           func(s *settlement.Settings) { s.VATBPS = -5 },
	} {
		s := settlement.DefaultSettings()
		tune(&s)
		var ce *config.Error
		if err := s.Validate(); !errors.As(err, &ce) || ce.Key != key {
			t.Errorf("got %v, want a config error naming %s", err, key)
		}
	}
}

func TestSettleParseRange(t *testing.T) {
	if rg, err := settlement.ParseRange("2026-01-30", "2026-02-02"); err != nil || len(rg.Days()) != 4 || rg.Days()[3] != "2026-02-02" {
		t.Fatalf("got %v %v", rg.Days(), err)
	}
	if _, err := settlement.ParseRange("2026-01-01", "2026-04-02"); err != nil {
		t.Fatalf("92 days: %v", err)
	}
	for _, c := range []struct{ from, to, field string }{
		{"", "2026-01-01", "from"}, {"2026-01-01", "", "to"}, {"2026-1-1", "2026-01-02", "from"},
		{"2026-01-01", "2026-02-30", "to"}, {"2026-01-02", "2026-01-01", "to"}, {"2026-01-01", "2026-04-03", "to"},
	} {
		var re *settlement.RangeError
		if _, err := settlement.ParseRange(c.from, c.to); !errors.As(err, &re) || re.Field != c.field {
			t.Errorf("ParseRange(%q, %q): got %v, want an error naming %s", c.from, c.to, err, c.field)
		}
	}
	if err := settlement.ParseCursor("starting_after", "2026-01-02:SEK"); err != nil {
		t.Error(err)
	}
	for _, c := range []string{"2026-01-02", "2026-13-02:SEK", "2026-01-02:sek", "x"} {
		if settlement.ParseCursor("starting_after", c) == nil {
			t.Errorf("cursor %q accepted", c)
		}
	}
}

// entry is a capture or refund as checkout writes it (unsigned: a report
// never checks signatures, the store did).
func entry(seq uint64, kind, merchant, day, method, currency string, amount int64) ledger.Entry {
	data, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("op%d", seq), "amount": amount, "currency": currency,
		"merchant": merchant, "method": method, "day": day, "refs": []string{settlement.Ref(merchant, day)}})
	return ledger.Entry{Origin: "r1", Seq: seq, Kind: kind, Subject: fmt.Sprintf("ord_%d", seq), Data: data}
}

// TestSettleRowsProperties: for any entries, each row's net is captured -
// refunded - fees - VAT, fees are not negative, the rows' sums equal the
// entries' sums, and the rows do not depend on the entries' order or on
// duplicates.
func TestSettleRowsProperties(t *testing.T) {
	rg, _ := settlement.ParseRange("2026-03-01", "2026-03-05")
	rapid.Check(t, func(t *rapid.T) {
		s := settlement.Settings{
			Card:        settlement.Fee{RateBPS: rapid.Int64Range(0, 10000).Draw(t, "card_bps"), Fixed: rapid.Int64Range(0, 500).Draw(t, "card_fixed")},
			PayLater:    settlement.Fee{RateBPS: rapid.Int64Range(0, 10000).Draw(t, "pl_bps"), Fixed: rapid.Int64Range(0, 500).Draw(t, "pl_fixed")},
			Instalments: settlement.Fee{RateBPS: rapid.Int64Range(0, 10000).Draw(t, "in_bps")},
			VATBPS:      rapid.Int64Range(0, 10000).Draw(t, "vat"),
		}
		n := rapid.IntRange(0, 40).Draw(t, "n")
		var es []ledger.Entry
		var captured, refunded, fees int64
		for i := range n {
			kind := rapid.SampledFrom([]string{"order.captured", "order.refunded"}).Draw(t, "kind")
			merchant := rapid.SampledFrom([]string{"demo", "other"}).Draw(t, "merchant")
			day := fmt.Sprintf("2026-03-%02d", rapid.IntRange(1, 6).Draw(t, "day")) // the 6th is outside
			method := rapid.SampledFrom([]string{"card", "pay_later", "instalments"}).Draw(t, "method")
			currency := rapid.SampledFrom([]string{"SEK", "EUR"}).Draw(t, "currency")
			amount := rapid.Int64Range(1, 1_000_000_000).Draw(t, "amount")
			es = append(es, entry(uint64(i+1), kind, merchant, day, method, currency, amount))
			if merchant != "demo" || day > "2026-03-05" {
				continue
			}
			if kind == "order.captured" {
				captured += amount
				f, _ := s.FeeFor(method)
				fees += f.On(amount)
			} else {
				refunded += amount
			}
		}
		rows := s.Rows("demo", rg, es)
		var gotC, gotR, gotF int64
		for _, r := range rows {
			if r.Net != r.Captured-r.Refunded-r.Fees-r.FeeVAT {
				t.Fatalf("row %+v: net is not captured - refunded - fees - vat", r)
			}
			if r.Fees < 0 || r.FeeVAT < 0 || r.FeeVAT > r.Fees {
				t.Fatalf("row %+v: fees or VAT out of bounds", r)
			}
			if r.Merchant != "demo" || r.Date < "2026-03-01" || r.Date > "2026-03-05" {
				t.Fatalf("row %+v: another merchant's or outside the range", r)
			}
			gotC, gotR, gotF = gotC+r.Captured, gotR+r.Refunded, gotF+r.Fees
		}
		if gotC != captured || gotR != refunded || gotF != fees {
			t.Fatalf("sums: got captured %d refunded %d fees %d, want %d %d %d", gotC, gotR, gotF, captured, refunded, fees)
		}
		// Shuffled, with some entries twice.
		perm := rapid.Permutation(es).Draw(t, "perm")
		if len(es) > 0 {
			perm = append(perm, es[rapid.IntRange(0, len(es)-1).Draw(t, "dup")])
		}
		if again := s.Rows("demo", rg, perm); !reflect.DeepEqual(again, rows) {
			t.Fatalf("another order gave other rows:\n got %+v\nwant %+v", again, rows)
		}
	})
}

func TestSettleRowsSkipWhatLacksTheFields(t *testing.T) {
	rg, _ := settlement.ParseRange("2026-03-01", "2026-03-01")
	s := settlement.DefaultSettings()
	old := ledger.Entry{Origin: "r1", Seq: 1, Kind: "order.captured", Subject: "ord_1", Data: json.RawMessage(`{"amount":100}`)}
	other := entry(2, "order.authorized", "demo", "2026-03-01", "card", "SEK", 100)
	unknown := entry(3, "order.captured", "demo", "2026-03-01", "crypto", "SEK", 100)
	negative := entry(4, "order.refunded", "demo", "2026-03-01", "card", "SEK", -100)
	if rows := s.Rows("demo", rg, []ledger.Entry{old, other, unknown, negative}); len(rows) != 0 {
		t.Fatalf("got %+v, want no rows", rows)
	}
}

// testRegion is a region's identity with a deterministic key.
type testRegion struct {
	id  ledger.RegionID
	key ed25519.PrivateKey
}

func newRegion(id string) testRegion {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "settlement-test:"+id)
	return testRegion{ledger.RegionID(id), ed25519.NewKeyFromSeed(seed)}
}

// MustOpen opens a store of r that knows the keys of all, on a pinned
// clock.
func MustOpen(tb testing.TB, r testRegion, all ...testRegion) *ledger.Store {
	tb.Helper()
	keys := ledger.Keys{}
	for _, x := range append(all, r) {
		keys[x.id] = x.key.Public().(ed25519.PublicKey)
	}
	s, err := ledger.Open(context.Background(), ledger.Options{
		Path: filepath.Join(tb.TempDir(), "kassa.db"), Region: r.id, Key: r.key, Keys: keys,
		Now:    clocktest.At(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)).Stepping(time.Millisecond).Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// op appends a capture or a refund with the documented data and refs.
func op(tb testing.TB, s *ledger.Store, kind, order, merchant, day, method, currency string, amount int64) {
	tb.Helper()
	data, _ := json.Marshal(map[string]any{"id": "op_" + order + kind, "amount": amount, "currency": currency,
		"merchant": merchant, "method": method, "day": day, "refs": []string{settlement.Ref(merchant, day)}})
	sign := ledger.Amount(amount)
	if kind == "order.refunded" {
		sign = -sign
	}
	_, err := s.Append(context.Background(), ledger.Draft{Kind: kind, Subject: order, Data: data, Postings: []ledger.Posting{
		{Account: "merchant:" + merchant + ":payable", Amount: -sign, Currency: currency},
		{Account: "acquirer:sim:clearing", Amount: sign, Currency: currency},
	}})
	if err != nil {
		tb.Fatal(err)
	}
}

func csvOf(tb testing.TB, rows []settlement.Row) string {
	tb.Helper()
	var b bytes.Buffer
	if err := settlement.WriteCSV(&b, rows); err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

// TestSettleReportFromTheLedger: entries as checkout writes them, in a
// real store: a refund on a later day, several currencies and merchants.
func TestSettleReportFromTheLedger(t *testing.T) {
	ctx := context.Background()
	r1 := newRegion("r1")
	s := MustOpen(t, r1)
	op(t, s, "order.captured", "ord_a", "demo", "2026-03-01", "card", "SEK", 10000)
	op(t, s, "order.captured", "ord_b", "demo", "2026-03-01", "pay_later", "SEK", 33333)
	op(t, s, "order.captured", "ord_c", "demo", "2026-03-01", "card", "EUR", 2500)
	op(t, s, "order.refunded", "ord_a", "demo", "2026-03-03", "card", "SEK", 4000)
	op(t, s, "order.captured", "ord_d", "shop2", "2026-03-01", "card", "SEK", 99999)
	op(t, s, "order.captured", "ord_e", "demo", "2026-02-28", "card", "SEK", 7000) // before the range
	// Written before the settlement fields: no ref, not read.
	if _, err := s.Append(ctx, ledger.Draft{Kind: "order.captured", Subject: "ord_old", Data: json.RawMessage(`{"amount":5}`),
		Postings: []ledger.Posting{{Account: "merchant:demo:payable", Amount: -5, Currency: "SEK"}, {Account: "acquirer:sim:clearing", Amount: 5, Currency: "SEK"}}}); err != nil {
		t.Fatal(err)
	}
	settings := settlement.DefaultSettings()
	settings.VATBPS = 2500
	reports := settlement.New(s, settings)
	rg, _ := settlement.ParseRange("2026-03-01", "2026-03-31")
	rows, err := reports.Report(ctx, "demo", rg)
	if err != nil {
		t.Fatal(err)
	}
	// SEK on the 1st: card 10000 (fee 140, VAT 35), pay later 33333 (fee
	// 997+180 = 1177, VAT 294.25 -> 294). EUR: card 2500 (fee 35, VAT 8.75
	// -> 9). The 3rd: a refund of 4000, no fee back.
	want := "merchant,date,currency,captured,refunded,captures,refunds,fees,fee_vat,net\n" +
		"demo,2026-03-01,EUR,2500,0,1,0,35,9,2456\n" +
		"demo,2026-03-01,SEK,43333,0,2,0,1317,329,41687\n" +
		"demo,2026-03-03,SEK,0,4000,0,1,0,0,-4000\n"
	if got := csvOf(t, rows); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	other, err := reports.Report(ctx, "shop2", rg)
	if err != nil {
		t.Fatal(err)
	}
	if len(other) != 1 || other[0].Merchant != "shop2" || other[0].Captured != 99999 {
		t.Fatalf("shop2 sees %+v, want its one capture only", other)
	}
	if none, _ := reports.Report(ctx, "nobody", rg); len(none) != 0 {
		t.Fatalf("a merchant without entries: got %+v", none)
	}
	if js, _ := json.Marshal(rows[0]); !strings.Contains(string(js), `"object":"settlement"`) {
		t.Fatalf("JSON: got %s", js)
	}
}

// TestSettleRegionsAgree: two regions that wrote their own captures and
// then exchanged entries (in different orders) give byte-identical
// reports.
func TestSettleRegionsAgree(t *testing.T) {
	ctx := context.Background()
	r1, r2 := newRegion("r1"), newRegion("r2")
	a, b := MustOpen(t, r1, r2), MustOpen(t, r2, r1)
	for i := range 5 {
		op(t, a, "order.captured", fmt.Sprintf("ord_a%d", i), "demo", fmt.Sprintf("2026-03-0%d", 1+i%3), "card", "SEK", int64(1000+i*333))
		op(t, b, "order.captured", fmt.Sprintf("ord_b%d", i), "demo", fmt.Sprintf("2026-03-0%d", 1+i%2), "instalments", "NOK", int64(5000+i*77))
	}
	op(t, b, "order.refunded", "ord_a1", "demo", "2026-03-04", "card", "SEK", 500)
	exchange := func(from, to *ledger.Store, origin ledger.RegionID) {
		es, err := from.EntriesAfter(ctx, origin, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := to.Apply(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	exchange(a, b, "r1")
	exchange(b, a, "r2")
	rg, _ := settlement.ParseRange("2026-03-01", "2026-03-07")
	ra, err := settlement.New(a, settlement.DefaultSettings()).Report(ctx, "demo", rg)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := settlement.New(b, settlement.DefaultSettings()).Report(ctx, "demo", rg)
	if err != nil {
		t.Fatal(err)
	}
	if ca, cb := csvOf(t, ra), csvOf(t, rb); ca != cb || len(ra) != 6 {
		t.Fatalf("r1:\n%s\nr2:\n%s\nwant the same 6 rows", ca, cb)
	}
}

// FuzzSettleQuery: whatever a client sends as from, to and a cursor is
// either a range of at most MaxDays days or a *RangeError naming a field.
func FuzzSettleQuery(f *testing.F) {
	f.Add("2026-03-01", "2026-03-31", "2026-03-02:SEK")
	f.Add("2026-02-29", "x", "")
	f.Fuzz(func(t *testing.T, from, to, cursor string) {
		rg, err := settlement.ParseRange(from, to)
		var re *settlement.RangeError
		switch {
		case err != nil && (!errors.As(err, &re) || (re.Field != "from" && re.Field != "to")):
			t.Fatalf("got %v, want a RangeError naming from or to", err)
		case err == nil && (len(rg.Days()) < 1 || len(rg.Days()) > settlement.MaxDays || rg.Days()[0] != from):
			t.Fatalf("range %q..%q: %d days", from, to, len(rg.Days()))
		}
		if err := settlement.ParseCursor("starting_after", cursor); err != nil && (!errors.As(err, &re) || re.Field != "starting_after") {
			t.Fatalf("cursor: got %v", err)
		}
	})
}
