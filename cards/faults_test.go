package cards_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"kassa/cards"
)

func TestSetFaultsValidates(t *testing.T) {
	sim := cards.NewSimulator(func() time.Time { return now })
	for _, f := range []cards.Faults{
		{Refuse: -0.1}, {FailBefore: 1.1}, {FailAfter: math.NaN()}, {Refuse: 0.5, FailBefore: 0.3, TimeoutAfter: 0.3},
	} {
		if err := sim.SetFaults(f); err == nil {
			t.Errorf("%+v: got nil, want an error", f)
		}
	}
	if err := sim.SetFaults(cards.Faults{Refuse: 0.25, FailBefore: 0.25, FailAfter: 0.25, TimeoutAfter: 0.25}); err != nil {
		t.Errorf("got %v, want nil", err)
	}
}

// TestSimulatorFaultsDeterministic: the same seed and calls give the same
// answers; every fault kind occurs; each does what it says to the books.
func TestSimulatorFaultsDeterministic(t *testing.T) {
	run := func(seed uint64) (codes []string, captured int64, committed int) {
		sim := cards.NewSimulator(func() time.Time { return now })
		sim.Stall = time.Nanosecond
		h := sim.Handler()
		id := authorize(t, h, "auth", "4242424242424242", "ord_1", 1000000)
		if err := sim.SetFaults(cards.Faults{Seed: seed, Refuse: 0.2, FailBefore: 0.2, FailAfter: 0.2, TimeoutAfter: 0.2}); err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			w := operate(h, "captures", id, fmt.Sprint("cap-", i), opBody(10, "SEK"))
			code := fmt.Sprint(w.Code)
			if w.Code == 200 {
				a := decodeOp(t, w)
				code = a.Status + a.RefusalCode
			}
			if w.Code == 200 || w.Code == 500 {
				committed++
			}
			codes = append(codes, code)
		}
		return codes, books(t, h, "ord_1").Captured, committed
	}
	a, capturedA, committed := run(7)
	b, _, _ := run(7)
	if strings.Join(a, " ") != strings.Join(b, " ") {
		t.Errorf("same seed: got\n%v\nand\n%v", a, b)
	}
	c, _, _ := run(8)
	if strings.Join(a, " ") == strings.Join(c, " ") {
		t.Errorf("another seed: got the same answers")
	}
	seen := map[string]int{}
	for _, code := range a {
		seen[code]++
	}
	for _, want := range []string{"succeeded", "refusedprocessing_refused", "503", "500"} {
		if seen[want] == 0 {
			t.Errorf("got %v, want some %s", seen, want)
		}
	}
	// Succeeded covers plain answers and held-back ones; 500s were committed as captures too.
	if capturedA != int64(10*(seen["succeeded"]+seen["500"])) || committed != seen["succeeded"]+seen["500"]+seen["refusedprocessing_refused"] {
		t.Errorf("got captured %d with %v, want 10 per success and per 500", capturedA, seen)
	}
}

func TestSimulatorFaultsSpareAuthorizationsUnlessAsked(t *testing.T) {
	sim := cards.NewSimulator(func() time.Time { return now })
	h := sim.Handler()
	sim.SetFaults(cards.Faults{FailBefore: 1})
	if w := post(h, "a1", body4242); w.Code != 200 {
		t.Errorf("without Authorizations: got %d, want 200", w.Code)
	}
	sim.SetFaults(cards.Faults{FailBefore: 1, Authorizations: true})
	if w := post(h, "a2", body4242); w.Code != 503 || decode(t, w).Error.Code != "not_processed" {
		t.Errorf("fail before: got %d %s, want 503 not_processed", w.Code, w.Body)
	}
	if w := get(h, "a2"); w.Code != 404 {
		t.Errorf("after fail before: got %d, want nothing recorded", w.Code)
	}
	sim.SetFaults(cards.Faults{Refuse: 1, Authorizations: true})
	if a := decode(t, post(h, "a3", body4242)); a.Status != "declined" || a.DeclineCode != cards.RefusalProcessingRefused {
		t.Errorf("refuse: got %+v, want declined processing_refused", a)
	}
	// A refusal cannot undo what was committed: the replay answers as before.
	if a := decode(t, post(h, "a1", body4242)); a.Status != "approved" {
		t.Errorf("refuse on a replay: got %+v, want the approval", a)
	}
	sim.SetFaults(cards.Faults{FailAfter: 1, Authorizations: true})
	if w := post(h, "a4", body4242); w.Code != 500 {
		t.Errorf("fail after: got %d, want 500", w.Code)
	}
	if w := get(h, "a4"); w.Code != 200 || decode(t, w).Status != "approved" {
		t.Errorf("after fail after: got %d %s, want the approval recorded", w.Code, w.Body)
	}
	if got := sim.Charges(); got != 2 {
		t.Errorf("got %d charges, want 2", got)
	}
}

func TestClientOperations(t *testing.T) {
	sim, srv := MustSimulator(t)
	c := cards.NewClient(srv.URL, nil, 2*time.Second, 2)
	ctx := context.Background()
	auth, err := c.Authorize(ctx, payment("auth", "4242424242424242"))
	if err != nil {
		t.Fatal(err)
	}
	op := func(key string, amount int64) cards.Operation {
		return cards.Operation{IdempotencyKey: key, Payment: auth.ID, Amount: amount, Currency: "SEK", Reference: "A-1001"}
	}
	steps := []struct {
		call func(context.Context, cards.Operation) (cards.OperationResult, error)
		typ  string
		op   cards.Operation
		want string
	}{
		{c.Capture, cards.OperationCapture, op("c1", 20000), ""},
		{c.Void, cards.OperationVoid, op("v1", 5901), cards.RefusalAmountExceedsOpen},
		{c.Void, cards.OperationVoid, op("v2", 5900), ""},
		{c.Refund, cards.OperationRefund, op("r1", 20001), cards.RefusalAmountExceedsCaptured},
		{c.Refund, cards.OperationRefund, op("r2", 20000), ""},
		{c.Capture, cards.OperationCapture, cards.Operation{IdempotencyKey: "c2", Payment: "pay_nope", Amount: 1, Currency: "SEK"}, cards.RefusalPaymentNotFound},
	}
	for i, st := range steps {
		res, err := st.call(ctx, st.op)
		if err != nil || res.Succeeded != (st.want == "") || res.RefusalCode != st.want || res.Type != st.typ ||
			res.Payment != st.op.Payment || res.Amount != st.op.Amount || res.Currency != "SEK" {
			t.Errorf("step %d: got %+v %v, want %s refusal %q", i, res, err, st.typ, st.want)
		}
		if st.want != cards.RefusalPaymentNotFound && (res.ID == "" || !res.Created.Equal(now) || res.Reference != "A-1001") {
			t.Errorf("step %d: got %+v, want an id, the reference and the time", i, res)
		}
	}
	// The same key again replays the first answer.
	again, err := c.Capture(ctx, op("c1", 20000))
	if err != nil || !again.Succeeded || again.Amount != 20000 {
		t.Errorf("replay: got %+v %v", again, err)
	}
	if _, err := c.Capture(ctx, op("c1", 1)); !errors.Is(err, cards.ErrIdempotencyConflict) {
		t.Errorf("conflict: got %v, want ErrIdempotencyConflict", err)
	}
	for _, bad := range []cards.Operation{{Payment: auth.ID, Amount: 1, Currency: "SEK"}, {IdempotencyKey: "k", Amount: 1, Currency: "SEK"}, op("k", 0)} {
		if _, err := c.Capture(ctx, bad); !errors.Is(err, cards.ErrRejected) {
			t.Errorf("%+v: got %v, want ErrRejected", bad, err)
		}
	}
	if b, _, _ := c.Books(ctx, "A-1001"); b.Captured != 20000 || b.Refunded != 20000 || b.Voided != 5900 {
		t.Errorf("got books %+v", b)
	}
	if got := sim.Charges(); got != 1 {
		t.Errorf("got %d charges, want 1", got)
	}
}

func TestClientOperationFaults(t *testing.T) {
	tests := []struct {
		name    string
		faults  cards.Faults
		want    error // nil: an answer
		refusal string
		moved   int64 // captured after the call
	}{
		{"refused", cards.Faults{Refuse: 1}, nil, cards.RefusalProcessingRefused, 0},
		{"fail before until retries run out", cards.Faults{FailBefore: 1}, cards.ErrUnavailable, "", 0},
		{"fail after until retries run out", cards.Faults{FailAfter: 1}, cards.ErrUnknownOutcome, "", 1000},
		{"timeout after commit", cards.Faults{TimeoutAfter: 1}, cards.ErrUnknownOutcome, "", 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim, srv := MustSimulator(t) // Stall is the 30s default: the client gives up first
			c := cards.NewClient(srv.URL, nil, 300*time.Millisecond, 2)
			ctx := context.Background()
			id := authorize(t, sim.Handler(), "auth", "4242424242424242", "ord_1", 5000)
			sim.SetFaults(tt.faults)
			op := cards.Operation{IdempotencyKey: "cap", Payment: id, Amount: 1000, Currency: "SEK"}
			res, err := c.Capture(ctx, op)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Errorf("got %+v %v, want %v", res, err, tt.want)
				}
			} else if err != nil || res.Succeeded || res.RefusalCode != tt.refusal {
				t.Errorf("got %+v %v, want refused %s", res, err, tt.refusal)
			}
			if b, _, _ := c.Books(ctx, "ord_1"); b.Captured != tt.moved {
				t.Errorf("got captured %d, want %d", b.Captured, tt.moved)
			}
			// Once the acquirer behaves, the same key settles it, and never twice.
			sim.SetFaults(cards.Faults{})
			res, err = c.Capture(ctx, op)
			if err != nil || res.Succeeded != (tt.refusal == "") {
				t.Errorf("again: got %+v %v", res, err)
			}
			want := int64(1000) // captured once, by this call or by the first
			if tt.refusal != "" {
				want = 0 // the refusal was committed and replays
			}
			if b, _, _ := c.Books(ctx, "ord_1"); b.Captured != want {
				t.Errorf("again: got captured %d, want %d", b.Captured, want)
			}
		})
	}
}

// TestClientFailAfterNeverTwice: with half the answers lost after commit,
// every capture is applied exactly once, however often the client retries.
func TestClientFailAfterNeverTwice(t *testing.T) {
	sim, srv := MustSimulator(t)
	c := cards.NewClient(srv.URL, nil, 5*time.Second, 3)
	id := authorize(t, sim.Handler(), "auth", "4242424242424242", "ord_1", 100000)
	sim.SetFaults(cards.Faults{Seed: 3, FailAfter: 0.5})
	succeeded, unknown := 0, 0
	for i := range 12 {
		res, err := c.Capture(context.Background(), cards.Operation{IdempotencyKey: fmt.Sprint("cap-", i), Payment: id, Amount: 100, Currency: "SEK"})
		switch {
		case err == nil && res.Succeeded:
			succeeded++
		case errors.Is(err, cards.ErrUnknownOutcome):
			unknown++
		default:
			t.Fatalf("capture %d: got %+v %v", i, res, err)
		}
	}
	if succeeded == 0 {
		t.Errorf("got no capture through the retries, want most")
	}
	if succeeded+unknown != 12 || unknown == 0 {
		t.Errorf("got %d succeeded and %d unknown, want some of each", succeeded, unknown)
	}
	if b := books(t, sim.Handler(), "ord_1"); b.Captured != 12*100 {
		t.Errorf("got captured %d after %d succeeded and %d unknown, want 1200: each once", b.Captured, succeeded, unknown)
	}
}

// TestClientNotProcessedMeansUnavailableOnlyFromTheAcquirer: a plain 503
// (from a proxy, say) may follow processing; only the acquirer's
// not_processed promises it did not.
func TestClientNotProcessedMeansUnavailableOnlyFromTheAcquirer(t *testing.T) {
	srv := MustServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
	}))
	c := cards.NewClient(srv.URL, nil, 2*time.Second, 1)
	if _, err := c.Capture(context.Background(), cards.Operation{IdempotencyKey: "k", Payment: "p", Amount: 1, Currency: "SEK"}); !errors.Is(err, cards.ErrUnknownOutcome) {
		t.Errorf("got %v, want ErrUnknownOutcome", err)
	}
}
