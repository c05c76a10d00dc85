package merchantapi_test

import (
	"strings"
	"testing"
	"time"

	"kassa/cards"
	"kassa/region"
)

// cardOrder authorizes a card order of 10000 SEK with number at base.
func cardOrder(t *testing.T, base, key, number string) string {
	t.Helper()
	s := call(t, "POST", base+"/v1/sessions", key, sessionBody(10000, "ref-"+key))
	if s.status != 201 {
		t.Fatalf("session: %d %s", s.status, s.raw)
	}
	o := call(t, "POST", base+"/v1/sessions/"+s.str("id")+"/authorize", key+"-auth", map[string]any{"method": "card",
		"consumer": consumer(key + "@example.com"), "card": map[string]any{"number": number, "exp_month": 12, "exp_year": 2031, "cvc": "123"}})
	if o.status != 201 {
		t.Fatalf("authorize: %d %s", o.status, o.raw)
	}
	return o.str("id")
}

// TestCardOperationAnswers checks each answer a card capture, refund,
// cancel or release can get: done, refused by the acquirer (402 with its
// reason), not sent (503 with Retry-After, and the same key may try
// again), and unknown (202, settled by the reconciler).
func TestCardOperationAnswers(t *testing.T) {
	tr := startRegion(t, func(c *region.Config) {
		c.Checkout.AcquirerTimeout = 300 * time.Millisecond
		c.Checkout.ReconcileInterval = time.Hour // the test runs the reconciler itself
	})
	sim := tr.r.Simulator()
	sim.Stall = 5 * time.Second
	base := tr.url

	// Refused: this card's captures are always refused.
	o := cardOrder(t, base, "refuse", "4000 0000 0000 0341")
	res := call(t, "POST", base+"/v1/orders/"+o+"/captures", "cap-1", map[string]any{"amount": 4000})
	if res.status != 402 || res.str("error", "code") != "acquirer_refused" || !strings.Contains(res.str("error", "message"), "capture_refused") {
		t.Fatalf("refused capture: %d %s", res.status, res.raw)
	}
	if again := call(t, "POST", base+"/v1/orders/"+o+"/captures", "cap-1", map[string]any{"amount": 4000}); again.status != 402 {
		t.Fatalf("refused capture replayed: %d %s", again.status, again.raw)
	}
	got := call(t, "GET", base+"/v1/orders/"+o, "", nil)
	if got.body["captured"].(float64) != 0 || got.str("status") != "authorized" {
		t.Fatalf("after a refused capture: %s", got.raw)
	}
	// ... and its cancel voids the whole authorization.
	if res := call(t, "POST", base+"/v1/orders/"+o+"/cancel", "x-1", nil); res.status != 200 || res.str("status") != "cancelled" ||
		res.str("operation", "status") != "succeeded" {
		t.Fatalf("cancel: %d %s", res.status, res.raw)
	}

	// Done, and refunds only of what was captured.
	o = cardOrder(t, base, "ok", "4242 4242 4242 4242")
	if res := call(t, "POST", base+"/v1/orders/"+o+"/captures", "cap-1", map[string]any{"amount": 6000}); res.status != 201 ||
		res.str("operation", "status") != "succeeded" {
		t.Fatalf("capture: %d %s", res.status, res.raw)
	}
	if res := call(t, "POST", base+"/v1/orders/"+o+"/refunds", "ref-1", map[string]any{"amount": 6001}); res.status != 400 ||
		res.str("error", "code") != "invalid_amount" {
		t.Fatalf("refund over the capture: %d %s", res.status, res.raw)
	}

	// Not sent: the acquirer answers 503 "not processed" to every try.
	if err := sim.SetFaults(cards.Faults{Seed: 1, FailBefore: 1}); err != nil {
		t.Fatal(err)
	}
	res = call(t, "POST", base+"/v1/orders/"+o+"/refunds", "ref-2", map[string]any{"amount": 1000})
	if res.status != 503 || res.str("error", "code") != "acquirer_unavailable" || res.header.Get("Retry-After") == "" {
		t.Fatalf("refund with the acquirer unavailable: %d %s", res.status, res.raw)
	}
	if err := sim.SetFaults(cards.Faults{}); err != nil {
		t.Fatal(err)
	}
	if res := call(t, "POST", base+"/v1/orders/"+o+"/refunds", "ref-2", map[string]any{"amount": 1000}); res.status != 201 ||
		res.body["refunded"].(float64) != 1000 {
		t.Fatalf("the same refund once the acquirer is back: %d %s", res.status, res.raw)
	}

	// Unknown: the acquirer does it and the answer never comes back.
	if err := sim.SetFaults(cards.Faults{Seed: 1, TimeoutAfter: 1}); err != nil {
		t.Fatal(err)
	}
	res = call(t, "POST", base+"/v1/orders/"+o+"/release", "rel-1", nil)
	if res.status != 202 || res.str("operation", "status") != "pending" || res.str("status") != "part_captured" {
		t.Fatalf("release with no answer: %d %s", res.status, res.raw)
	}
	if err := sim.SetFaults(cards.Faults{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.r.Checkout().Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	res = call(t, "POST", base+"/v1/orders/"+o+"/release", "rel-1", nil)
	if res.status != 200 || res.str("status") != "captured" || res.body["released"].(float64) != 4000 {
		t.Fatalf("release after the reconciler: %d %s", res.status, res.raw)
	}
	books := call(t, "GET", base+"/simulator/acquirer/v1/payments?reference="+o, "", nil)
	if books.body["captured"].(float64) != 6000 || books.body["refunded"].(float64) != 1000 || books.body["voided"].(float64) != 4000 {
		t.Fatalf("the acquirer's books: %s", books.raw)
	}
}
