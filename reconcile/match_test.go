package reconcile_test

import (
	"fmt"
	"slices"
	"testing"

	"kassa/reconcile"
)

// ops are the ledger's operations for a file of the given ops.
func ledgerOps(ops ...op) []reconcile.Operation {
	out := make([]reconcile.Operation, len(ops))
	for i, o := range ops {
		out[i] = reconcile.Operation{Entry: fmt.Sprintf("e%d", i), Key: o.key, Type: o.typ, Order: fmt.Sprintf("ord_%d", i),
			Amount: o.amount, Currency: o.currency}
	}
	return out
}

func with(ops []op, i int, f func(*op)) []op {
	out := slices.Clone(ops)
	f(&out[i])
	return out
}

func TestReconcileMatch(t *testing.T) {
	type want struct {
		kind               reconcile.Kind
		line               int
		key                string
		expected, actual   string
		currency           string
		wantRawContainsKey bool
	}
	dup := append(slices.Clone(clean), clean[1])
	for _, tc := range []struct {
		name    string
		file    []op
		ledger  []op
		matched int
		want    []want
	}{
		{"clean", clean, clean, 5, nil},
		{"empty", nil, nil, 0, nil},
		{"missing in ledger", clean, clean[:4], 4, []want{{reconcile.MissingInLedger, 6, "k5", "", "refund 100", "EUR", true}}},
		{"missing at acquirer", clean[1:], clean, 4, []want{{reconcile.MissingAtAcquirer, 0, "k1", "capture 1000", "", "SEK", false}}},
		{"amount mismatch", with(clean, 2, func(o *op) { o.amount = 600 }), clean, 4,
			[]want{{reconcile.AmountMismatch, 4, "k3", "500", "600", "SEK", true}}},
		{"currency mismatch", with(clean, 3, func(o *op) { o.currency = "USD" }), clean, 4,
			[]want{{reconcile.CurrencyMismatch, 5, "k4", "EUR", "USD", "EUR", true}}},
		{"type mismatch", with(clean, 0, func(o *op) { o.typ = "refund" }), clean, 4,
			[]want{{reconcile.TypeMismatch, 2, "k1", "capture", "refund", "SEK", true}}},
		{"duplicate line", dup, clean, 5, []want{{reconcile.DuplicateLine, 7, "k2", "line 3", "line 7", "SEK", true}}},
		{"booked twice in the ledger", clean, append(slices.Clone(clean), clean[0]), 5,
			[]want{{reconcile.MissingAtAcquirer, 0, "k1", "capture 1000", "", "SEK", false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := reconcile.Match(day, lines(tc.file...), ledgerOps(tc.ledger...))
			if res.Lines != len(tc.file) || res.Matched != tc.matched {
				t.Errorf("got %d lines, %d matched, want %d, %d", res.Lines, res.Matched, len(tc.file), tc.matched)
			}
			if len(res.Differences) != len(tc.want) {
				t.Fatalf("got differences %+v, want %+v", res.Differences, tc.want)
			}
			for i, w := range tc.want {
				d := res.Differences[i]
				if d.Kind != w.kind || d.Line != w.line || d.Key != w.key || d.Expected != w.expected || d.Actual != w.actual || d.Currency != w.currency {
					t.Errorf("got %+v, want %+v", d, w)
				}
				if w.wantRawContainsKey && d.Raw != lines(tc.file...)[d.Line-2].Raw {
					t.Errorf("got raw %q, want line %d's text", d.Raw, d.Line)
				}
				if len(d.ID) != 23 {
					t.Errorf("got id %q, want rd_ and 20 hex digits", d.ID)
				}
			}
			again := reconcile.Match(day, lines(tc.file...), ledgerOps(tc.ledger...))
			for i := range again.Differences {
				if again.Differences[i].ID != res.Differences[i].ID {
					t.Fatalf("ids differ between runs over the same input: %s, %s", again.Differences[i].ID, res.Differences[i].ID)
				}
			}
		})
	}
}

// TestMatchOneAlteredLine alters each line of a clean file in each way
// and checks that the differences name that line and no other.
func TestReconcileMatchOneAlteredLine(t *testing.T) {
	alter := map[string]func(*op){
		"amount":   func(o *op) { o.amount++ },
		"currency": func(o *op) { o.currency = "NOK" },
		"type": func(o *op) {
			o.typ = map[string]string{"capture": "refund", "refund": "capture"}[o.typ]
		},
		"key": func(o *op) { o.key += "x" },
	}
	for name, f := range alter {
		for i := range clean {
			res := reconcile.Match(day, lines(with(clean, i, f)...), ledgerOps(clean...))
			if len(res.Differences) == 0 {
				t.Fatalf("%s of line %d: no difference", name, i+2)
			}
			for _, d := range res.Differences {
				if d.Line != 0 && d.Line != i+2 {
					t.Errorf("%s of line %d: got a difference on line %d", name, i+2, d.Line)
				}
			}
			if d := res.Differences[0]; d.Line != i+2 {
				t.Errorf("%s of line %d: got first difference %+v, want it on that line", name, i+2, d)
			}
			if res.Matched != len(clean)-1 {
				t.Errorf("%s of line %d: got %d matched, want %d", name, i+2, res.Matched, len(clean)-1)
			}
		}
	}
}

func TestReconcileMatchTotals(t *testing.T) {
	res := reconcile.Match(day, lines(clean...), ledgerOps(clean[:4]...))
	want := reconcile.Totals{Captures: 1, Captured: 9900, Refunds: 1, Refunded: 100}
	if got := res.File["EUR"]; got != want {
		t.Errorf("file EUR: got %+v, want %+v", got, want)
	}
	if got := res.Ledger["EUR"]; got != (reconcile.Totals{Captures: 1, Captured: 9900}) {
		t.Errorf("ledger EUR: got %+v", got)
	}
	if got := res.File["SEK"]; got != (reconcile.Totals{Captures: 2, Captured: 3500, Refunds: 1, Refunded: 500}) {
		t.Errorf("file SEK: got %+v", got)
	}
}
