package invoice

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"kassa/checkout"
	"kassa/ledger"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// entryOf builds a stored-looking entry (unsigned: the book reads only
// its fields and id).
func entryOf(origin string, seq uint64, at time.Time, kind, order string, data any) ledger.Entry {
	b, _ := json.Marshal(data)
	return ledger.Entry{Origin: ledger.RegionID(origin), Seq: seq, HLC: ledger.HLC{Wall: at.UnixMilli()}, Kind: kind, Subject: order, Data: b}
}

// genOrderEntries generates the entries of one credit order: an
// authorization, captures (some written twice), refunds, repayments and
// reminders with fees, in causal time order.
func genOrderEntries(t *rapid.T) []ledger.Entry {
	const oid = "ord_1"
	method := rapid.SampledFrom([]string{"pay_later", "instalments"}).Draw(t, "method")
	origins := []string{"r1", "r2", "r3"}
	seq := map[string]uint64{}
	at := t0
	next := func() (string, uint64, time.Time) {
		o := rapid.SampledFrom(origins).Draw(t, "origin")
		seq[o]++
		at = at.Add(time.Duration(rapid.IntRange(1, 1000).Draw(t, "gap")) * time.Millisecond)
		return o, seq[o], at
	}
	o, s, a := next()
	es := []ledger.Entry{entryOf(o, s, a, checkout.KindOrderAuthorized, oid, map[string]any{
		"merchant": "demo", "method": method, "currency": "SEK",
		"consumer": map[string]any{"id": "con_1", "email": "a***@example.com", "given_name": "Ada"},
		"credit":   map[string]any{"consumer": "con_1"}, "locale": "sv-SE"})}
	var captured, settled, invoices int64
	var ops []string
	for i := range rapid.IntRange(1, 12).Draw(t, "events") {
		o, s, a := next()
		switch rapid.IntRange(0, 3).Draw(t, "kind") {
		case 0:
			amount := rapid.Int64Range(1, 100000).Draw(t, "amount")
			op := fmt.Sprintf("cap_%d", i)
			due := []checkout.Due{{Amount: amount, At: a.Add(30 * 24 * time.Hour).UnixMilli()}}
			if method == "instalments" {
				due = []checkout.Due{{Amount: amount - 2*(amount/3), At: a.Add(30 * 24 * time.Hour).UnixMilli()},
					{Amount: amount / 3, At: a.Add(60 * 24 * time.Hour).UnixMilli()}, {Amount: amount / 3, At: a.Add(90 * 24 * time.Hour).UnixMilli()}}
			}
			es = append(es, entryOf(o, s, a, checkout.KindOrderCaptured, oid, map[string]any{
				"id": op, "amount": amount, "consumer": "con_1", "due": due, "currency": "SEK", "method": method}))
			captured += amount
			ops = append(ops, op)
			invoices++
		case 1, 2:
			if captured+0 <= settled {
				continue
			}
			x := rapid.Int64Range(1, captured-settled).Draw(t, "settle")
			kind := checkout.KindOrderRepaid
			if rapid.Bool().Draw(t, "refund") {
				kind = checkout.KindOrderRefunded
			}
			es = append(es, entryOf(o, s, a, kind, oid, map[string]any{"id": fmt.Sprintf("op_%d", i), "consumer": "con_1", "debt": x}))
			settled += x
		case 3:
			if len(ops) == 0 {
				continue
			}
			op := rapid.SampledFrom(ops).Draw(t, "reminded")
			fee := rapid.Int64Range(0, 6000).Draw(t, "fee")
			ref := ReminderRef(ID(op), 1, StepOverdue)
			es = append(es, entryOf(o, s, a, KindReminder, oid, reminderData{Invoice: ID(op), Instalment: 1, Step: StepOverdue, Fee: fee, Ref: ref}))
		}
	}
	return es
}

func bookOf(es []ledger.Entry) []Invoice {
	b := NewBook(nil, BookConfig{LinkKey: []byte("test-link-key-0123"), Now: func() time.Time { return t0 }})
	for i := range es {
		b.Add(&es[i])
	}
	return b.ForOrder("ord_1")
}

// TestBookIsAFunctionOfTheEntrySet: any permutation of the entries, with
// any of them repeated, gives the same invoices; what is owed is never
// negative and nothing is paid or credited beyond what was invoiced with
// fees.
func TestBookIsAFunctionOfTheEntrySet(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		es := genOrderEntries(t)
		want := bookOf(es)
		shuffled := rapid.Permutation(es).Draw(t, "order")
		for _, i := range rapid.SliceOfN(rapid.IntRange(0, len(es)-1), 0, 5).Draw(t, "dups") {
			shuffled = append(shuffled, es[i])
		}
		got := bookOf(shuffled)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("the book depends on arrival order:\n got %+v\nwant %+v", got, want)
		}
		for _, inv := range got {
			if inv.Owed < 0 || inv.Paid < 0 || inv.Credited < 0 {
				t.Fatalf("invoice %s: owed %d, paid %d, credited %d: none may be negative", inv.Number, inv.Owed, inv.Paid, inv.Credited)
			}
			if inv.Paid+inv.Credited > inv.Amount+inv.Fees {
				t.Fatalf("invoice %s: paid %d + credited %d exceed amount %d + fees %d", inv.Number, inv.Paid, inv.Credited, inv.Amount, inv.Fees)
			}
			if inv.Owed != inv.Amount+inv.Fees-inv.Paid-inv.Credited {
				t.Fatalf("invoice %s: owed %d is not amount %d + fees %d - paid %d - credited %d", inv.Number, inv.Owed, inv.Amount, inv.Fees, inv.Paid, inv.Credited)
			}
			var sum int64
			for _, in := range inv.Instalments {
				if in.Paid < 0 || in.Paid > in.Amount {
					t.Fatalf("invoice %s instalment %d: paid %d of %d", inv.Number, in.Number, in.Paid, in.Amount)
				}
				sum += in.Amount
			}
			if sum != inv.Amount {
				t.Fatalf("invoice %s: instalments add up to %d, want %d", inv.Number, sum, inv.Amount)
			}
		}
	})
}
