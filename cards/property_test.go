package cards_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"pgregory.net/rapid"

	"kassa/cards"
	"kassa/clocktest"
)

// TestBooksProperty: any sequence of captures, refunds and voids, on any
// payments, with any amounts, repeated keys and faults, keeps every
// payment's books within captured+voided <= authorized and refunded <=
// captured at every step; the simulator's books are exactly the sum of the
// operations it answered succeeded (or committed behind a 500); and its
// settlement files add up to the books.
func TestBooksProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		clk := clocktest.At(now)
		sim := cards.NewSimulator(clk.Now)
		sim.Stall = time.Nanosecond
		h := sim.Handler()
		numbers := []string{"4242424242424242", "4000000000000002", "4000000000000341", "4000000000005506"}
		type model struct {
			id                                     string
			authorized, captured, refunded, voided int64
		}
		payments := rapid.Custom(func(t *rapid.T) *model {
			return &model{authorized: rapid.Int64Range(1, 10000).Draw(t, "authorized")}
		})
		ps := rapid.SliceOfN(payments, 1, 4).Draw(t, "payments")
		for i, p := range ps {
			number := rapid.SampledFrom(numbers).Draw(t, "card")
			p.id = authorize(t, h, fmt.Sprint("auth-", i), number, fmt.Sprint("ord_", i), p.authorized)
			if number == "4000000000000002" {
				p.authorized = 0
			}
		}
		if rapid.Bool().Draw(t, "faults") {
			sim.SetFaults(cards.Faults{Seed: rapid.Uint64().Draw(t, "seed"), Refuse: 0.1, FailBefore: 0.1, FailAfter: 0.1, TimeoutAfter: 0.1})
		}
		type sent struct{ path, id, body string }
		var keys []sent
		days := map[string]bool{now.Format(time.DateOnly): true}
		for step := range rapid.IntRange(1, 40).Draw(t, "steps") {
			var s sent
			key := fmt.Sprint("op-", step)
			if len(keys) > 0 && rapid.IntRange(0, 4).Draw(t, "reuse") == 0 {
				k := rapid.IntRange(0, len(keys)-1).Draw(t, "which")
				key, s = fmt.Sprint("op-", k), keys[k]
			} else {
				p := ps[rapid.IntRange(0, len(ps)-1).Draw(t, "payment")]
				amount := rapid.Int64Range(1, p.authorized+10).Draw(t, "amount")
				currency := "SEK"
				if rapid.IntRange(0, 9).Draw(t, "eur") == 0 {
					currency = "EUR"
				}
				s = sent{rapid.SampledFrom([]string{"captures", "refunds", "voids"}).Draw(t, "op"), p.id, opBody(amount, currency)}
			}
			keys = append(keys, s)
			w := operate(h, s.path, s.id, key, s.body)
			replayed := w.Header().Get("Idempotent-Replayed") == "true"
			if w.Code == http.StatusOK && !replayed {
				a := decodeOp(t, w)
				var p *model
				for _, m := range ps {
					if m.id == a.Payment {
						p = m
					}
				}
				if a.Status == "succeeded" {
					switch a.Type {
					case "capture":
						p.captured += a.Amount
					case "refund":
						p.refunded += a.Amount
					case "void":
						p.voided += a.Amount
					}
				}
			}
			clk.Advance(time.Duration(rapid.IntRange(0, 12).Draw(t, "hours")) * time.Hour)
			days[clk.Now().UTC().Format(time.DateOnly)] = true

			for i, p := range ps {
				got := books(t, h, fmt.Sprint("ord_", i)).Payments[0]
				if got.Captured+got.Voided > got.Authorized || got.Refunded > got.Captured || got.Captured < 0 || got.Voided < 0 || got.Refunded < 0 {
					t.Fatalf("step %d: payment %s books %+v break the rules", step, p.id, got)
				}
				if w.Code != http.StatusInternalServerError || p.id != s.id {
					// Only a 500 commits what the caller was not told.
					if got.Captured != p.captured || got.Refunded != p.refunded || got.Voided != p.voided || got.Authorized != p.authorized {
						t.Fatalf("step %d: payment %s books %+v, want %+v", step, p.id, got, *p)
					}
				}
				p.captured, p.refunded, p.voided = got.Captured, got.Refunded, got.Voided
			}
		}

		// The settlement files add up to the books.
		captured, refunded := map[string]int64{}, map[string]int64{}
		for day := range days {
			w := settlementFile(h, day+".csv")
			lines, err := cards.ParseSettlement(w.Body)
			if err != nil {
				t.Fatalf("%s: %v", day, err)
			}
			for _, l := range lines {
				if l.Date != day || l.Currency != "SEK" {
					t.Fatalf("%s: got line %+v", day, l)
				}
				if l.Type == "capture" {
					captured[l.Payment] += l.Amount
				} else {
					refunded[l.Payment] += l.Amount
				}
			}
		}
		for _, p := range ps {
			if captured[p.id] != p.captured || refunded[p.id] != p.refunded {
				t.Fatalf("payment %s: settled %d captured and %d refunded, want the books' %d and %d", p.id, captured[p.id], refunded[p.id], p.captured, p.refunded)
			}
		}
	})
}
