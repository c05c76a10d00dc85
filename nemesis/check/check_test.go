package check_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"kassa/nemesis/check"
)

var regions = []string{"eu", "us", "ap"}

// fataler is what body needs of a *testing.T or *rapid.T.
type fataler interface {
	Helper()
	Fatal(args ...any)
}

func body(tb fataler, v any) json.RawMessage {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// cleanHistory is a small run in which everything went right: a pay
// later order captured in part and refunded in part, a card order
// captured in full, a declined shopper, an unanswered capture, and one
// webhook delivered twice but processed once.
func cleanHistory(tb testing.TB) check.History {
	tb.Helper()
	ms := time.Millisecond
	ops := []check.Op{
		{Kind: check.KindSession, Key: "k1", Session: "s1", Start: 0, End: 20 * ms, Status: 201, Region: "eu", Outcome: check.OutcomeOK},
		{Kind: check.KindAuthorize, Key: "k2", Session: "s1", Order: "o1", Consumer: "a@example.com", Method: "pay_later", Amount: 10000,
			Start: 30 * ms, End: 60 * ms, Status: 201, Region: "eu", Outcome: check.OutcomeOK},
		{Kind: check.KindCapture, Key: "k3", Order: "o1", Amount: 6000, Start: 1100 * ms, End: 1120 * ms, Status: 201, Region: "us", Outcome: check.OutcomeOK,
			Body: body(tb, map[string]any{"id": "o1", "operation": check.Movement{ID: "cap1", Amount: 6000, Status: "succeeded"}})},
		{Kind: check.KindRefund, Key: "k4", Order: "o1", Amount: 2000, Start: 1200 * ms, End: 1230 * ms, Status: 201, Region: "us", Outcome: check.OutcomeOK,
			Body: body(tb, map[string]any{"id": "o1", "operation": check.Movement{ID: "ref1", Amount: 2000, Status: "succeeded"}})},
		{Kind: check.KindSession, Key: "k5", Session: "s2", Start: 1300 * ms, End: 1310 * ms, Status: 201, Region: "us", Outcome: check.OutcomeOK},
		{Kind: check.KindAuthorize, Key: "k6", Session: "s2", Consumer: "b@example.com", Method: "card", Amount: 5000,
			Start: 1320 * ms, End: 1400 * ms, Status: 201, Region: "us", Outcome: check.OutcomeOK, Body: body(tb, map[string]any{"id": "o2"})},
		{Kind: check.KindCapture, Key: "k7", Order: "o2", Start: 2100 * ms, End: 2150 * ms, Status: 200, Region: "ap", Outcome: check.OutcomeOK,
			Body: body(tb, map[string]any{"id": "o2", "operation": check.Movement{ID: "cap2", Amount: 5000, Status: "succeeded"}})},
		{Kind: check.KindAuthorize, Key: "k8", Session: "s3", Consumer: "c@example.com", Method: "pay_later", Amount: 900000,
			Start: 2200 * ms, End: 2240 * ms, Status: 402, Region: "ap", Outcome: check.OutcomeDeclined},
		{Kind: check.KindCapture, Key: "k9", Order: "o1", Amount: 1000, Start: 2300 * ms, End: 12300 * ms, Outcome: check.OutcomeTimeout},
	}
	final := check.Final{
		Digests:        map[string]string{},
		ConvergedAfter: 400 * ms,
		Orders:         map[string]map[string]check.Order{},
		Consumers:      map[string]map[string]check.Consumer{},
		Acquirer:       map[string]check.Books{"o2": {Authorized: 5000, Captured: 5000}},
		Verify:         map[string]string{},
	}
	for _, r := range regions {
		final.Digests[r] = "d41d8c"
		final.Verify[r] = ""
		final.Orders[r] = map[string]check.Order{
			"o1": {ID: "o1", Status: "captured", Method: "pay_later", Currency: "SEK", Amount: 10000, Captured: 6000, Refunded: 2000,
				Captures: []check.Movement{{ID: "cap1", Amount: 6000, Status: "succeeded"}},
				Refunds:  []check.Movement{{ID: "ref1", Amount: 2000, Status: "succeeded"}}},
			"o2": {ID: "o2", Status: "captured", Method: "card", Currency: "SEK", Amount: 5000, Captured: 5000,
				Captures: []check.Movement{{ID: "cap2", Amount: 5000, Status: "succeeded"}}},
		}
		final.Consumers[r] = map[string]check.Consumer{
			"a@example.com": {Limit: 50000, Exposure: 4000},
			"c@example.com": {Limit: 0, Exposure: 0, Unsecured: 0},
		}
	}
	return check.History{
		Regions: regions,
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Ops:     ops,
		Faults: []check.Fault{
			{Kind: "partition", At: 1000 * ms, Duration: 1500 * ms, Regions: []string{"eu"}},
		},
		HealedAt: 2500 * ms,
		Webhooks: []check.Webhook{
			{EventID: "ev1", Type: "order.captured", Order: "o1", At: 1130 * ms, Processed: true},
			{EventID: "ev1", Type: "order.captured", Order: "o1", At: 1900 * ms},
			{EventID: "ev2", Type: "order.captured", Order: "o2", At: 2160 * ms, Processed: true},
		},
		Final: final,
	}
}

func failed(r check.Report) []string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c.Name)
		}
	}
	return out
}

func TestCleanHistoryPasses(t *testing.T) {
	r := check.Check(cleanHistory(t), check.Options{MinCheckouts: 3})
	if !r.OK() {
		t.Fatalf("got failed checks %v, want none: %+v", failed(r), r.Checks)
	}
	if len(r.Checks) != 10 {
		t.Errorf("got %d checks, want 10", len(r.Checks))
	}
	if r.Checkouts != 3 || r.CheckoutsAnswered != 3 || r.CheckoutAvailability != 1 {
		t.Errorf("got checkouts %d answered %d (%v), want 3, 3 (1)", r.Checkouts, r.CheckoutsAnswered, r.CheckoutAvailability)
	}
	if r.Attempted != 9 || r.Answered != 8 || r.Availability != 8.0/9 {
		t.Errorf("got %d of %d answered (%v), want 8 of 9", r.Answered, r.Attempted, r.Availability)
	}
	if r.Lost != 0 || r.InvariantViolations != 0 {
		t.Errorf("got lost %d, violations %d, want 0, 0", r.Lost, r.InvariantViolations)
	}
	if got := r.Ops[check.KindCapture]; got.Attempted != 3 || got.Answered != 2 || got.Outcomes[check.OutcomeTimeout] != 1 {
		t.Errorf("got capture stats %+v, want 3 attempted, 2 answered, 1 timeout", got)
	}
	if r.Outcomes[check.OutcomeDeclined] != 1 {
		t.Errorf("got outcomes %v, want one declined", r.Outcomes)
	}
	if len(r.Unanswered) != 1 || r.Unanswered[0].Kind != check.KindCapture || r.Unanswered[0].Outcome != check.OutcomeTimeout {
		t.Errorf("got unanswered %+v, want the capture that timed out", r.Unanswered)
	}
	// Authorize latencies 30, 80 and 40 ms.
	if r.AuthorizeMs.P50 != 40 || r.AuthorizeMs.P99 != 80 || r.AuthorizeMs.Max != 80 {
		t.Errorf("got authorize_ms %+v, want p50 40, p99 80", r.AuthorizeMs)
	}
	if r.ConvergenceMs.P50 != 400 || r.ConvergenceMs.Max != 400 || r.ConvergenceMs.Samples != 1 {
		t.Errorf("got convergence_ms %+v, want 400/400 over 1", r.ConvergenceMs)
	}
	if want := (check.WebhookStats{Deliveries: 3, Events: 2, Duplicates: 1, Processed: 2}); r.Webhooks != want {
		t.Errorf("got webhooks %+v, want %+v", r.Webhooks, want)
	}
	if len(r.Faults) != 1 || fmt.Sprint(r.Faults[0]) != fmt.Sprint(check.FaultReport{Kind: "partition", AtMs: 1000, Ms: 1500, Regions: []string{"eu"}}) {
		t.Errorf("got faults %+v, want the partition at 1000 ms for 1500 ms", r.Faults)
	}
}

func TestReportJSONHasFixedFields(t *testing.T) {
	b, err := json.Marshal(check.Check(cleanHistory(t), check.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"checkouts", "answered", "availability", "lost", "invariant_violations", "convergence_ms", "authorize_ms", "faults", "checks", "elsewhere"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report JSON lacks %q", k)
		}
	}
	var sub struct {
		Conv   map[string]float64 `json:"convergence_ms"`
		Auth   map[string]any     `json:"authorize_ms"`
		Faults []map[string]any   `json:"faults"`
	}
	if err := json.Unmarshal(b, &sub); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"p50", "max"} {
		if _, ok := sub.Conv[k]; !ok {
			t.Errorf("convergence_ms lacks %q", k)
		}
	}
	for _, k := range []string{"p50", "p99"} {
		if _, ok := sub.Auth[k]; !ok {
			t.Errorf("authorize_ms lacks %q", k)
		}
	}
	for _, k := range []string{"kind", "at_ms", "ms"} {
		if _, ok := sub.Faults[0][k]; !ok {
			t.Errorf("faults[0] lacks %q", k)
		}
	}
}

func setOrder(h *check.History, id string, f func(*check.Order)) {
	for _, r := range h.Regions {
		o := h.Final.Orders[r][id]
		f(&o)
		h.Final.Orders[r][id] = o
	}
}

// TestEachViolationIsCaught feeds histories each with one kind of
// violation and sees that one check, and only that one, fail with an
// example that says where.
func TestEachViolationIsCaught(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(*check.History)
		check  string
		want   check.Violation // the fields set must match the first example
		lost   int
	}{
		{"lost order", func(h *check.History) {
			for _, r := range h.Regions {
				delete(h.Final.Orders[r], "o1")
			}
		}, check.CheckLost, check.Violation{Order: "o1", Region: "eu", Key: "k2", Got: "missing"}, 1},
		{"lost order in one region", func(h *check.History) {
			// After the heal one region lacks an order the others show:
			// lost, and the regions disagree.
			delete(h.Final.Orders["ap"], "o2")
		}, check.CheckLost, check.Violation{Order: "o2", Region: "ap", Key: "k6"}, 1},
		{"lost capture movement", func(h *check.History) {
			setOrder(h, "o1", func(o *check.Order) { o.Captures = nil })
		}, check.CheckLost, check.Violation{Order: "o1", Region: "eu", Key: "k3", Want: "cap1", Got: "missing"}, 1},
		{"lost captured amount", func(h *check.History) {
			h.Ops[2].Body = body(t, map[string]any{"id": "o1"}) // an answer without the movement
			setOrder(h, "o1", func(o *check.Order) { o.Captured = 5000 })
		}, check.CheckLost, check.Violation{Order: "o1", Region: "eu", Want: ">= 6000", Got: "5000"}, 1},
		{"lost refunded amount", func(h *check.History) {
			setOrder(h, "o1", func(o *check.Order) { o.Refunded = 0 })
		}, check.CheckLost, check.Violation{Order: "o1", Region: "eu", Want: ">= 2000", Got: "0"}, 1},
		{"over-capture", func(h *check.History) {
			setOrder(h, "o1", func(o *check.Order) { o.Captured, o.Released = 8000, 3000 })
		}, check.CheckOrderBounds, check.Violation{Order: "o1", Region: "eu", Want: "<= 10000", Got: "8000+3000"}, 0},
		{"refund over captured", func(h *check.History) {
			setOrder(h, "o1", func(o *check.Order) { o.Refunded = 7000 })
		}, check.CheckOrderBounds, check.Violation{Order: "o1", Region: "eu", Want: "<= 6000", Got: "7000"}, 0},
		{"regions disagree", func(h *check.History) {
			o := h.Final.Orders["us"]["o1"]
			o.Captured = 7000
			h.Final.Orders["us"]["o1"] = o
		}, check.CheckRegionsAgree, check.Violation{Order: "o1", Region: "us",
			Want: "status=captured method=pay_later amount=10000 SEK captured=6000 refunded=2000 released=0",
			Got:  "status=captured method=pay_later amount=10000 SEK captured=7000 refunded=2000 released=0"}, 0},
		{"unacknowledged order in one region only", func(h *check.History) {
			h.Final.Orders["eu"]["o9"] = check.Order{ID: "o9", Status: "authorized", Method: "pay_later", Amount: 100}
		}, check.CheckRegionsAgree, check.Violation{Order: "o9", Region: "us", Got: "missing"}, 0},
		{"exposure over limit", func(h *check.History) {
			h.Final.Consumers["us"]["a@example.com"] = check.Consumer{Limit: 50000, Unsecured: 1000, Exposure: 51001}
		}, check.CheckExposure, check.Violation{Consumer: "a@example.com", Region: "us", Got: "51001"}, 0},
		{"negative exposure", func(h *check.History) {
			h.Final.Consumers["ap"]["a@example.com"] = check.Consumer{Limit: 50000, Exposure: -1}
		}, check.CheckExposure, check.Violation{Consumer: "a@example.com", Region: "ap", Got: "-1"}, 0},
		{"verify failure", func(h *check.History) {
			h.Final.Verify["us"] = "entry 42: unbalanced"
		}, check.CheckVerify, check.Violation{Region: "us", Got: "entry 42: unbalanced"}, 0},
		{"verify not run", func(h *check.History) {
			delete(h.Final.Verify, "ap")
		}, check.CheckVerify, check.Violation{Region: "ap", Got: "not run"}, 0},
		{"webhook processed twice", func(h *check.History) {
			h.Webhooks[1].Processed = true
		}, check.CheckWebhooks, check.Violation{EventID: "ev1", Order: "o1", Got: "processed 2 times in 2 deliveries"}, 0},
		{"digests never converged", func(h *check.History) {
			h.Final.ConvergedAfter = -1
		}, check.CheckConvergence, check.Violation{Got: "never"}, 0},
		{"convergence over the bound", func(h *check.History) {
			h.Final.ConvergedAfter = 2500 * time.Millisecond
		}, check.CheckConvergence, check.Violation{Want: "<= 2s", Got: "2.5s"}, 0},
		{"an earlier convergence over the bound", func(h *check.History) {
			h.Convergences = []time.Duration{time.Second, 3 * time.Second}
		}, check.CheckConvergence, check.Violation{Detail: "convergence 2: over the bound", Got: "3s"}, 0},
		{"digests differ", func(h *check.History) {
			h.Final.Digests["ap"] = "ffffff"
		}, check.CheckConvergence, check.Violation{Region: "ap", Want: "d41d8c", Got: "ffffff"}, 0},
		{"acquirer books differ", func(h *check.History) {
			h.Final.Acquirer["o2"] = check.Books{Authorized: 5000, Captured: 4000}
		}, check.CheckAcquirer, check.Violation{Order: "o2", Region: "eu",
			Want: "authorized=5000 captured=5000 refunded=0 voided=0", Got: "authorized=5000 captured=4000 refunded=0 voided=0"}, 0},
		{"acquirer never saw a card order", func(h *check.History) {
			delete(h.Final.Acquirer, "o2")
		}, check.CheckAcquirer, check.Violation{Order: "o2", Got: "none"}, 0},
		{"acquirer's books unread", func(h *check.History) {
			delete(h.Final.Acquirer, "o2")
			h.Final.AcquirerUnread = map[string]string{"o2": "GET /payments?reference=o2: 502"}
		}, check.CheckAcquirer, check.Violation{Order: "o2", Detail: "the acquirer's books for a card order could not be read", Got: "GET /payments?reference=o2: 502"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := cleanHistory(t)
			tt.break_(&h)
			r := check.Check(h, check.Options{})
			got := failed(r)
			want := []string{tt.check}
			if tt.name == "lost order in one region" {
				want = []string{check.CheckLost, check.CheckRegionsAgree}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("got failed checks %v, want %v", got, want)
			}
			if r.OK() {
				t.Error("got Report.OK, want not OK")
			}
			if r.Lost != tt.lost {
				t.Errorf("got lost %d, want %d", r.Lost, tt.lost)
			}
			var res check.Result
			for _, c := range r.Checks {
				if c.Name == tt.check {
					res = c
				}
			}
			if tt.check != check.CheckLost && r.InvariantViolations != res.Count {
				t.Errorf("got invariant_violations %d, want %d", r.InvariantViolations, res.Count)
			}
			if res.Count == 0 || len(res.Examples) == 0 {
				t.Fatalf("got %+v, want a counted violation with an example", res)
			}
			ex := res.Examples[0]
			if ex.Detail == "" {
				t.Errorf("example %+v has no detail", ex)
			}
			for _, f := range []struct{ name, got, want string }{
				{"order", ex.Order, tt.want.Order}, {"region", ex.Region, tt.want.Region},
				{"consumer", ex.Consumer, tt.want.Consumer}, {"event", ex.EventID, tt.want.EventID},
				{"key", ex.Key, tt.want.Key}, {"want", ex.Want, tt.want.Want}, {"got", ex.Got, tt.want.Got},
			} {
				if f.want != "" && f.got != f.want {
					t.Errorf("example %s: got %q, want %q (%+v)", f.name, f.got, f.want, ex)
				}
			}
			if tt.want.Detail != "" && !strings.Contains(ex.Detail, tt.want.Detail) {
				t.Errorf("example detail: got %q, want %q", ex.Detail, tt.want.Detail)
			}
		})
	}
}

func TestPendingCaptureDoesNotBoundCaptured(t *testing.T) {
	// A 202 capture of a card order may still fail at the acquirer: it
	// must leave its movement behind, but need not add to captured.
	h := cleanHistory(t)
	h.Ops = append(h.Ops, check.Op{Kind: check.KindCapture, Key: "k10", Order: "o1", Amount: 1000, Status: 202, Outcome: check.OutcomeOK,
		Start: 2400 * time.Millisecond, End: 2410 * time.Millisecond,
		Body: body(t, map[string]any{"id": "o1", "operation": check.Movement{ID: "cap3", Amount: 1000, Status: "pending"}})})
	setOrder(&h, "o1", func(o *check.Order) {
		o.Captures = append(o.Captures, check.Movement{ID: "cap3", Amount: 1000, Status: "failed"})
	})
	if r := check.Check(h, check.Options{}); !r.OK() {
		t.Fatalf("got failed checks %v, want none: %+v", failed(r), r.Checks)
	}
}

func TestRunSizeChecks(t *testing.T) {
	h := cleanHistory(t)
	r := check.Check(h, check.Options{MinCheckouts: 4, MinAvailability: 0.9})
	if got, want := fmt.Sprint(failed(r)), fmt.Sprint([]string{check.CheckCheckouts, check.CheckAvailability}); got != want {
		t.Fatalf("got failed checks %s, want %s", got, want)
	}
	if r.InvariantViolations != 0 {
		t.Errorf("got invariant_violations %d, want 0: the run's size is no invariant", r.InvariantViolations)
	}
	if r := check.Check(h, check.Options{MinCheckouts: 3, MinAvailability: 0.88}); !r.OK() {
		t.Errorf("got failed checks %v at 8/9 answered and 3 checkouts, want none", failed(r))
	}
}

func TestDeadlineAndP99Bound(t *testing.T) {
	h := cleanHistory(t)
	r := check.Check(h, check.Options{Deadline: 50 * time.Millisecond, AuthorizeP99Bound: 100 * time.Millisecond})
	// The 80 ms card authorize is past a 50 ms deadline.
	if r.CheckoutsAnswered != 2 || r.Answered != 7 {
		t.Errorf("got %d checkouts, %d ops answered, want 2, 7", r.CheckoutsAnswered, r.Answered)
	}
	if w := r.AuthorizeMs.WithinBound; w == nil || !*w || r.AuthorizeMs.BoundMs != 100 {
		t.Errorf("got authorize_ms %+v, want within a 100 ms bound", r.AuthorizeMs)
	}
	r = check.Check(h, check.Options{AuthorizeP99Bound: 50 * time.Millisecond})
	if w := r.AuthorizeMs.WithinBound; w == nil || *w {
		t.Errorf("got authorize_ms %+v, want outside a 50 ms bound", r.AuthorizeMs)
	}
	if !r.OK() {
		t.Errorf("got failed checks %v, want none: the p99 bound is reported, not judged", failed(r))
	}
}

func TestConvergenceSamples(t *testing.T) {
	h := cleanHistory(t)
	h.Convergences = []time.Duration{100 * time.Millisecond, 1500 * time.Millisecond, -1}
	r := check.Check(h, check.Options{})
	want := check.Convergence{P50: 400, Max: 1500, Samples: 3, Never: 1}
	if r.ConvergenceMs != want {
		t.Errorf("got %+v, want %+v", r.ConvergenceMs, want)
	}
}

func TestEmptyHistory(t *testing.T) {
	r := check.Check(check.History{}, check.Options{})
	if r.Availability != 0 || r.Checkouts != 0 {
		t.Errorf("got availability %v, checkouts %d, want 0, 0", r.Availability, r.Checkouts)
	}
}

func TestSeries(t *testing.T) {
	h := cleanHistory(t)
	h.Lag = []check.Sample{{At: 2 * time.Second, Region: "us", Ms: 30}, {At: time.Second, Region: "eu", Ms: 12}}
	s := check.NewSeries(h, time.Second, 0)
	// The last op ends at 12.3 s: buckets 0 s to 12 s.
	if s.BucketMs != 1000 || s.DurationMs != 12300 || len(s.Points) != 13 {
		t.Fatalf("got bucket %d, duration %d, %d points, want 1000, 12300, 13", s.BucketMs, s.DurationMs, len(s.Points))
	}
	want := []check.Point{
		{AtMs: 0, Answered: 2, Authorizes: 1, AuthorizeP50Ms: 30, AuthorizeP99Ms: 30},
		{AtMs: 1000, Answered: 4, Authorizes: 1, AuthorizeP50Ms: 80, AuthorizeP99Ms: 80},
		{AtMs: 2000, Answered: 2, Authorizes: 1, AuthorizeP50Ms: 40, AuthorizeP99Ms: 40},
	}
	for i, w := range want {
		if s.Points[i] != w {
			t.Errorf("point %d: got %+v, want %+v", i, s.Points[i], w)
		}
	}
	if p := s.Points[12]; p.Unanswered != 1 || p.Answered != 0 {
		t.Errorf("last point: got %+v, want the timed-out capture unanswered", p)
	}
	if len(s.Lag) != 2 || s.Lag[0].Region != "eu" || s.Lag[1].Ms != 30 {
		t.Errorf("got lag %+v, want eu at 1 s then us at 2 s", s.Lag)
	}
	if len(s.Faults) != 1 || s.Faults[0].Kind != "partition" {
		t.Errorf("got faults %+v, want the partition", s.Faults)
	}
}
