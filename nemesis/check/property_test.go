package check_test

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"kassa/nemesis/check"
)

// genCleanHistory draws a run in which every region ends with the same,
// consistent state: acknowledged writes applied, refused ones not, and
// unanswered ones applied or not (an unknown outcome may have happened).
func genCleanHistory(t *rapid.T) check.History {
	regions := []string{"r1", "r2", "r3", "r4", "r5"}[:rapid.IntRange(1, 5).Draw(t, "regions")]
	outcomes := []string{check.OutcomeOK, check.OutcomeOK, check.OutcomeOK, check.OutcomeRefused,
		check.OutcomeUnavailable, check.OutcomeTimeout, check.OutcomeError}
	methods := []string{"pay_later", "instalments", "card"}
	var ops []check.Op
	var clock time.Duration
	op := func(o check.Op) check.Op {
		o.Start = clock
		clock += time.Duration(rapid.IntRange(1, 500).Draw(t, "ms")) * time.Millisecond
		o.End = clock
		o.Region = regions[rapid.IntRange(0, len(regions)-1).Draw(t, "region")]
		o.Key = fmt.Sprintf("k%d", len(ops))
		switch o.Outcome {
		case check.OutcomeOK:
			o.Status = 200
		case check.OutcomeDeclined, check.OutcomeRefused:
			o.Status = 402
		case check.OutcomeUnavailable:
			o.Status = 503
		}
		ops = append(ops, o)
		return o
	}
	orders := map[string]check.Order{}
	acquirer := map[string]check.Books{}
	var webhooks []check.Webhook
	n := rapid.IntRange(0, 20).Draw(t, "orders")
	for i := range n {
		id := fmt.Sprintf("o%d", i)
		amount := rapid.Int64Range(1, 100000).Draw(t, "amount")
		method := rapid.SampledFrom(methods).Draw(t, "method")
		outcome := rapid.SampledFrom(append(outcomes, check.OutcomeDeclined)).Draw(t, "authorize")
		if outcome == check.OutcomeRefused {
			outcome = check.OutcomeDeclined
		}
		a := check.Op{Kind: check.KindAuthorize, Session: "s" + id, Method: method, Amount: amount, Outcome: outcome}
		if outcome == check.OutcomeOK {
			a.Order = id
		}
		op(a)
		if outcome != check.OutcomeOK && !(outcome == check.OutcomeTimeout && rapid.Bool().Draw(t, "created anyway")) {
			continue
		}
		o := check.Order{ID: id, Status: "authorized", Method: method, Currency: "SEK", Amount: amount}
		for j := range rapid.IntRange(0, 4).Draw(t, "movements") {
			kind := rapid.SampledFrom([]string{check.KindCapture, check.KindRefund}).Draw(t, "kind")
			open := o.Amount - o.Captured - o.Released
			if kind == check.KindRefund {
				open = o.Captured - o.Refunded
			}
			want := rapid.Int64Range(1, 100000).Draw(t, "move")
			outcome := rapid.SampledFrom(outcomes).Draw(t, "outcome")
			if want > open && outcome == check.OutcomeOK {
				outcome = check.OutcomeRefused
			}
			applied := outcome == check.OutcomeOK || (want <= open && outcome == check.OutcomeTimeout && rapid.Bool().Draw(t, "applied"))
			mv := check.Movement{ID: fmt.Sprintf("m%s-%d", id, j), Amount: want, Status: "succeeded"}
			c := check.Op{Kind: kind, Order: id, Amount: want, Outcome: outcome}
			if outcome == check.OutcomeOK {
				c.Body = body(t, map[string]any{"id": id, "operation": mv})
			}
			op(c)
			if !applied {
				continue
			}
			if kind == check.KindCapture {
				o.Captured += want
				o.Captures = append(o.Captures, mv)
			} else {
				o.Refunded += want
				o.Refunds = append(o.Refunds, mv)
			}
			ev := check.Webhook{EventID: "e" + mv.ID, Type: "order." + kind, Order: id, At: clock, Processed: true}
			webhooks = append(webhooks, ev)
			for range rapid.IntRange(0, 2).Draw(t, "redeliveries") {
				ev.Processed = false
				webhooks = append(webhooks, ev)
			}
		}
		if rapid.Bool().Draw(t, "release") {
			o.Released = o.Amount - o.Captured
		}
		orders[id] = o
		if method == "card" {
			acquirer[id] = check.Books{Authorized: o.Amount, Captured: o.Captured, Refunded: o.Refunded, Voided: o.Released}
		}
	}
	final := check.Final{
		Digests:        map[string]string{},
		ConvergedAfter: time.Duration(rapid.Int64Range(0, int64(2*time.Second)).Draw(t, "converged")),
		Orders:         map[string]map[string]check.Order{},
		Consumers:      map[string]map[string]check.Consumer{},
		Acquirer:       acquirer,
		Verify:         map[string]string{},
	}
	limit := rapid.Int64Range(0, 100000).Draw(t, "limit")
	unsecured := rapid.Int64Range(0, 1000).Draw(t, "unsecured")
	exposure := rapid.Int64Range(0, limit+unsecured).Draw(t, "exposure")
	for _, r := range regions {
		final.Digests[r] = "same"
		final.Verify[r] = ""
		final.Orders[r] = map[string]check.Order{}
		for id, o := range orders {
			final.Orders[r][id] = o
		}
		final.Consumers[r] = map[string]check.Consumer{"x@example.com": {Limit: limit, Unsecured: unsecured, Exposure: exposure}}
	}
	return check.History{Regions: regions, Ops: ops, Webhooks: webhooks, HealedAt: clock, Final: final}
}

func TestRandomCleanHistoryPasses(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := genCleanHistory(t)
		r := check.Check(h, check.Options{})
		if !r.OK() || r.Lost != 0 || r.InvariantViolations != 0 {
			t.Fatalf("got failed checks %v (lost %d, violations %d), want none: %+v", failed(r), r.Lost, r.InvariantViolations, r.Checks)
		}
		answered := 0
		for _, op := range h.Ops {
			switch op.Outcome {
			case check.OutcomeOK, check.OutcomeDeclined, check.OutcomeRefused:
				answered++
			}
		}
		if r.Answered != answered || r.Attempted != len(h.Ops) {
			t.Fatalf("got %d of %d answered, want %d of %d", r.Answered, r.Attempted, answered, len(h.Ops))
		}
		if len(h.Ops) > 0 && r.Availability != float64(answered)/float64(len(h.Ops)) {
			t.Fatalf("got availability %v, want %d/%d", r.Availability, answered, len(h.Ops))
		}
		if r.Availability < 0 || r.Availability > 1 || r.CheckoutAvailability < 0 || r.CheckoutAvailability > 1 {
			t.Fatalf("got availability %v, checkout availability %v, want both in [0, 1]", r.Availability, r.CheckoutAvailability)
		}
	})
}
