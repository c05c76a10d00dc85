package page_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"kassa/cards"
	"kassa/checkout"
	"kassa/invoice"
	"kassa/invoice/page"
)

// flaky is an acquirer whose every answer is drawn: approved, declined,
// lost after it charged, lost before, or unreachable. It keeps books like
// a real one: a key charges at most once, a capture key captures at most
// once.
type flaky struct {
	mu       sync.Mutex
	t        *rapid.T
	reliable bool
	payments map[string]cards.Result // by idempotency key
	captured map[string]int64        // by payment id
	capKeys  map[string]string       // capture key -> payment id
}

func (f *flaky) draw(label string, n int) int {
	if f.reliable {
		return 0
	}
	return rapid.IntRange(0, n-1).Draw(f.t, label)
}

func (f *flaky) Authorize(_ context.Context, p cards.Payment) (cards.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.payments[p.IdempotencyKey]; ok {
		return r, nil
	}
	switch f.draw("authorize", 5) {
	case 1:
		r := cards.Result{ID: "pay_" + p.IdempotencyKey, DeclineCode: cards.DeclineCardDeclined}
		f.payments[p.IdempotencyKey] = r
		return r, nil
	case 2: // charged, answer lost
		f.payments[p.IdempotencyKey] = cards.Result{ID: "pay_" + p.IdempotencyKey, Approved: true, Amount: p.Amount, Currency: p.Currency}
		return cards.Result{}, cards.ErrUnknownOutcome
	case 3: // lost on the way there
		return cards.Result{}, cards.ErrUnknownOutcome
	case 4:
		return cards.Result{}, cards.ErrUnavailable
	}
	r := cards.Result{ID: "pay_" + p.IdempotencyKey, Approved: true, Amount: p.Amount, Currency: p.Currency}
	f.payments[p.IdempotencyKey] = r
	return r, nil
}

func (f *flaky) Lookup(_ context.Context, key string) (cards.Result, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.draw("lookup", 4) == 3 {
		return cards.Result{}, false, cards.ErrUnavailable
	}
	r, ok := f.payments[key]
	return r, ok, nil
}

func (f *flaky) Capture(_ context.Context, op cards.Operation) (cards.OperationResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pay, ok := f.capKeys[op.IdempotencyKey]; ok {
		return cards.OperationResult{ID: "cap_" + op.IdempotencyKey, Payment: pay, Succeeded: true, Amount: op.Amount}, nil
	}
	switch f.draw("capture", 4) {
	case 1: // captured, answer lost
		f.capKeys[op.IdempotencyKey] = op.Payment
		f.captured[op.Payment] += op.Amount
		return cards.OperationResult{}, cards.ErrUnknownOutcome
	case 2:
		return cards.OperationResult{}, cards.ErrUnavailable
	case 3:
		return cards.OperationResult{Payment: op.Payment, RefusalCode: cards.RefusalCaptureRefused}, nil
	}
	f.capKeys[op.IdempotencyKey] = op.Payment
	f.captured[op.Payment] += op.Amount
	return cards.OperationResult{ID: "cap_" + op.IdempotencyKey, Payment: op.Payment, Succeeded: true, Amount: op.Amount}, nil
}

func (f *flaky) Void(context.Context, cards.Operation) (cards.OperationResult, error) {
	return cards.OperationResult{Succeeded: true}, nil
}

// TestPaymentsNeverChargeTwice pays one invoice through an acquirer that
// fails in every way, with settle runs and a clock that moves in
// between: whatever happens, each payment is captured at most once, what
// is owed never goes below zero, and once the acquirer answers again and
// the reconciler has run, every amount captured is accounted for as
// repaid or as the consumer's credit balance.
func TestPaymentsNeverChargeTwice(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		st := mustOpenLedger(t)
		b := &book{byTo: map[string]invoice.Invoice{}}
		inv := openInvoice("tok", "en-GB")
		b.put(inv)
		d := &debts{book: b, repaid: map[string]int64{}}
		acq := &flaky{t: rt, payments: map[string]cards.Result{}, captured: map[string]int64{}, capKeys: map[string]string{}}
		clock := now
		p := page.NewPayments(page.PaymentsConfig{Region: "r1", Ledger: st, Acquirer: acq, Debts: d,
			Now: func() time.Time { return clock }, Logger: quiet(), SettleAfter: time.Minute})
		card := cards.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2030, CVC: "123"}
		ctx := context.Background()
		for i, n := 0, rapid.IntRange(1, 12).Draw(rt, "steps"); i < n; i++ {
			d.mu.Lock()
			d.fail = nil
			if rapid.IntRange(0, 4).Draw(rt, "repay fails") == 0 {
				d.fail = checkout.ErrRightsUnavailable
			}
			d.mu.Unlock()
			switch rapid.IntRange(0, 2).Draw(rt, "step") {
			case 0:
				cur, _ := b.ByToken("tok")
				if _, err := p.Pay(ctx, cur, card); err != nil && !errors.Is(err, page.ErrNothingOwed) {
					rt.Fatalf("Pay: %v", err)
				}
			case 1:
				if _, err := p.Settle(ctx); err != nil {
					rt.Fatalf("Settle: %v", err)
				}
			default:
				clock = clock.Add(time.Duration(rapid.IntRange(1, 120).Draw(rt, "seconds")) * time.Second)
			}
			if cur, _ := b.ByToken("tok"); cur.Owed < 0 || cur.Paid > inv.Amount {
				rt.Fatalf("owed %d, paid %d of %d", cur.Owed, cur.Paid, inv.Amount)
			}
		}
		// The acquirer and checkout answer again; the reconciler drains.
		acq.reliable = true
		d.mu.Lock()
		d.fail = nil
		d.mu.Unlock()
		clock = clock.Add(2 * time.Minute)
		for range 3 {
			if _, err := p.Settle(ctx); err != nil {
				rt.Fatalf("Settle: %v", err)
			}
		}
		as, err := p.Attempts(ctx, inv.ID)
		if err != nil {
			rt.Fatal(err)
		}
		for _, a := range as {
			if a.Status == page.AttemptPending {
				rt.Fatalf("attempt %s still pending after the drain", a.Key)
			}
		}
		var captured, accounted int64
		for pay, amount := range acq.captured {
			captured += amount
			if amount > inv.Amount {
				rt.Fatalf("payment %s captured %d of an invoice of %d", pay, amount, inv.Amount)
			}
		}
		for _, n := range d.repaid {
			accounted += n
		}
		for _, o := range d.balances {
			accounted += o.Amount
		}
		if captured != accounted {
			rt.Fatalf("captured %d, accounted for %d (repaid %v, balances %v)", captured, accounted, d.repaid, d.balances)
		}
	})
}
