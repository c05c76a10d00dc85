package scoring_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"kassa/checkout"
	"kassa/ledger"
)

// TestCreditInvariantsProperty drives three regions through random
// interleavings of checkouts, returns, rebalancing, partial syncs and
// regions going out of reach. Whatever the interleaving, after a full sync
// every region has the same rights table, no rights account is negative,
// every right is accounted for (rights + secured exposure = limit), no
// region spent more than its unsecured budget, and each consumer's
// exposure is what its orders still hold.
func TestCreditInvariantsProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		w := newWorld(t, nil, "r1", "r2", "r3")
		ctx := context.Background()
		consumers := []checkout.ConsumerID{homedAt(t, "r1", w.regions, 0), homedAt(t, "r2", w.regions, 0), homedAt(t, "r3", w.regions, 0)}
		type hold struct {
			region string
			c      checkout.ConsumerID
			credit *checkout.CreditHold
			left   int64
		}
		var holds []*hold
		open := map[checkout.ConsumerID]int64{}
		n := 0
		steps := rapid.IntRange(10, 60).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			switch rapid.IntRange(0, 9).Draw(rt, "op") {
			case 0, 1, 2, 3:
				r := rapid.SampledFrom(w.regions).Draw(rt, "region")
				c := rapid.SampledFrom(consumers).Draw(rt, "consumer")
				amount := rapid.Int64Range(1_000, 40_000).Draw(rt, "amount")
				n++
				d, err := w.engines[r].Decide(ctx, checkout.DecisionInput{Consumer: c, Country: "SE", OrderCountry: "SE",
					Method: "pay_later", Amount: amount, Currency: "SEK", NamesGiven: true})
				if err != nil {
					rt.Fatal(err)
				}
				if d.Outcome != "approved" {
					continue
				}
				data, _ := json.Marshal(map[string]any{"amount": amount, "currency": "SEK", "credit": d.Credit})
				_, err = w.stores[r].Append(ctx, ledger.Draft{Kind: checkout.KindOrderAuthorized, Subject: fmt.Sprintf("ord_%d", n),
					Postings: d.Postings, Guards: d.Guards, Data: data})
				if err != nil {
					rt.Fatalf("approved but the spend failed: %v", err)
				}
				holds = append(holds, &hold{r, c, d.Credit, amount})
				open[c] += amount
			case 4:
				// The approving region gives back part of an order (a
				// release or a repayment).
				if len(holds) == 0 {
					continue
				}
				h := rapid.SampledFrom(holds).Draw(rt, "hold")
				if h.left == 0 {
					continue
				}
				x := rapid.Int64Range(1, h.left).Draw(rt, "return")
				to := h.credit.Return
				if to[len(to)-1] == ':' {
					to += h.region
				}
				if _, err := w.stores[h.region].Append(ctx, ledger.Draft{Kind: "order.released", Subject: "ret", Postings: []ledger.Posting{
					{Account: h.credit.Exposure, Amount: -ledger.Amount(x), Currency: "SEK"},
					{Account: to, Amount: ledger.Amount(x), Currency: "SEK"}}}); err != nil {
					rt.Fatal(err)
				}
				h.left -= x
				open[h.c] -= x
			case 5, 6:
				a := rapid.SampledFrom(w.regions).Draw(rt, "from")
				b := rapid.SampledFrom(w.regions).Draw(rt, "to")
				if a != b {
					w.sync(a, b)
				}
			case 7:
				r := rapid.SampledFrom(w.regions).Draw(rt, "rebalancer")
				if _, err := w.engines[r].Rebalance(ctx); err != nil {
					rt.Fatal(err)
				}
			case 8, 9:
				r := rapid.SampledFrom(w.regions).Draw(rt, "flip")
				w.down[r] = !w.down[r]
			}
		}
		w.syncAll()
		for _, r := range w.regions {
			for _, id := range w.regions {
				b, _ := w.stores[r].Balance(ctx, "unsecured:"+id, "SEK")
				if -b < 0 || -b > 30_000 {
					rt.Fatalf("%s: %s spent %d of its unsecured budget", r, id, -b)
				}
			}
		}
		for _, c := range consumers {
			var first any
			for _, r := range w.regions {
				v, err := w.engines[r].Consumer(ctx, c)
				if err != nil {
					rt.Fatal(err)
				}
				if len(v.Lines) == 0 {
					if open[c] != 0 {
						rt.Fatalf("%s: %s has no line but %d open", r, c, open[c])
					}
					continue
				}
				l := v.Lines[0]
				var sum int64
				for id, x := range l.Rights {
					if x < 0 {
						rt.Fatalf("%s: %s: %s owns %d", r, c, id, x)
					}
					sum += x
				}
				if l.LineGranted && sum+l.Secured != l.Limit {
					rt.Fatalf("%s: %s: rights %d + secured %d != limit %d", r, c, sum, l.Secured, l.Limit)
				}
				if l.Secured > l.Limit || l.Exposure != open[c] {
					rt.Fatalf("%s: %s: exposure %d (secured %d, limit %d), orders hold %d", r, c, l.Exposure, l.Secured, l.Limit, open[c])
				}
				if first == nil {
					first = l
				} else if !reflect.DeepEqual(first, l) {
					rt.Fatalf("%s: %s: %+v differs from %+v", r, c, l, first)
				}
			}
		}
	})
}
