package check

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Check judges h: it counts what was attempted and answered, runs every
// check (see the package doc) and returns the report. It only reads h.
func Check(h History, opt Options) Report {
	if opt.ConvergenceBound <= 0 {
		opt.ConvergenceBound = DefaultConvergenceBound
	}
	if opt.MaxExamples <= 0 {
		opt.MaxExamples = DefaultMaxExamples
	}
	c := checker{h: h, opt: opt, regions: regionsOf(h)}
	r := c.count()
	lost := c.lost()
	r.Lost = len(c.lostWrites)
	invariants := []Result{
		c.orderBounds(),
		c.regionsAgree(),
		c.exposure(),
		c.verify(),
		c.webhooks(&r.Webhooks),
		c.convergence(&r.ConvergenceMs),
		c.acquirer(),
	}
	for _, res := range invariants {
		r.InvariantViolations += res.Count
	}
	r.Checks = append([]Result{lost}, invariants...)
	r.Checks = append(r.Checks, c.runSize(r)...)
	r.Series = NewSeries(h, opt.Bucket, opt.Deadline)
	return r
}

type checker struct {
	h          History
	opt        Options
	regions    []string
	lostWrites map[string]bool
}

// regionsOf is h.Regions, or if the harness left it empty every region
// Final names, sorted.
func regionsOf(h History) []string {
	if len(h.Regions) > 0 {
		return h.Regions
	}
	seen := map[string]bool{}
	for r := range h.Final.Orders {
		seen[r] = true
	}
	for r := range h.Final.Digests {
		seen[r] = true
	}
	for r := range h.Final.Verify {
		seen[r] = true
	}
	return sortedKeys(seen)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// answered reports whether op got a final answer (success, decline or
// refusal) within the deadline.
func answered(op Op, deadline time.Duration) bool {
	switch op.Outcome {
	case OutcomeOK, OutcomeDeclined, OutcomeRefused:
		return deadline <= 0 || op.End-op.Start <= deadline
	}
	return false
}

// count fills the report's counts, availability and latencies.
func (c *checker) count() Report {
	r := Report{
		Faults:   faultReports(c.h.Faults),
		Outcomes: map[string]int{},
		Ops:      map[string]OpStats{},

		ElsewhereOutcomes: map[string]int{},
	}
	var auth []time.Duration
	var un []Op
	for _, op := range c.h.Ops {
		a := answered(op, c.opt.Deadline)
		st := r.Ops[op.Kind]
		if st.Outcomes == nil {
			st.Outcomes = map[string]int{}
		}
		st.Attempted++
		st.Outcomes[op.Outcome]++
		r.Outcomes[op.Outcome]++
		r.Attempted++
		if a {
			st.Answered++
			r.Answered++
		} else {
			un = append(un, op)
		}
		r.Ops[op.Kind] = st
		if op.Elsewhere {
			r.Elsewhere++
			r.ElsewhereOutcomes[op.Outcome]++
			if a {
				r.ElsewhereAnswered++
			}
		}
		if op.Kind == KindAuthorize {
			r.Checkouts++
			if a {
				r.CheckoutsAnswered++
			}
			auth = append(auth, op.End-op.Start)
		}
	}
	if r.Attempted > 0 {
		r.Availability = float64(r.Answered) / float64(r.Attempted)
	}
	if r.Checkouts > 0 {
		r.CheckoutAvailability = float64(r.CheckoutsAnswered) / float64(r.Checkouts)
	}
	l := sortedMs(auth)
	r.AuthorizeMs = Latency{P50: percentile(l, 50), P99: percentile(l, 99), Count: len(l)}
	if len(l) > 0 {
		r.AuthorizeMs.Max = l[len(l)-1]
	}
	if b := c.opt.AuthorizeP99Bound; b > 0 {
		within := r.AuthorizeMs.P99 <= ms(b)
		r.AuthorizeMs.BoundMs, r.AuthorizeMs.WithinBound = ms(b), &within
	}
	r.AuthorizeMsDuring = authorizeDuring(c.h)
	slices.SortStableFunc(un, func(a, b Op) int { return cmp.Compare(a.Start, b.Start) })
	for _, op := range un[:min(len(un), c.opt.MaxExamples)] {
		body := string(op.Body)
		if len(body) > 300 {
			body = body[:300]
		}
		r.Unanswered = append(r.Unanswered, Unanswered{Kind: op.Kind, Outcome: op.Outcome, AtMs: ms(op.Start), Ms: ms(op.End - op.Start),
			Status: op.Status, Region: op.Region, Error: op.Error, Body: body})
	}
	return r
}

// authorizeDuring spreads authorize latencies by the kind of fault that
// was on when each started ("none" when no fault was).
func authorizeDuring(h History) map[string]Latency {
	by := map[string][]time.Duration{}
	for _, op := range h.Ops {
		if op.Kind != KindAuthorize {
			continue
		}
		kind := "none"
		for _, f := range h.Faults {
			if op.Start >= f.At && op.Start < f.At+f.Duration {
				kind = f.Kind
				break
			}
		}
		by[kind] = append(by[kind], op.End-op.Start)
	}
	out := make(map[string]Latency, len(by))
	for kind, ds := range by {
		l := sortedMs(ds)
		out[kind] = Latency{P50: percentile(l, 50), P99: percentile(l, 99), Max: l[len(l)-1], Count: len(l)}
	}
	return out
}

// collector gathers one check's violations.
type collector struct {
	res Result
	max int
}

func (c *checker) newCollector(name string) *collector {
	return &collector{res: Result{Name: name}, max: c.opt.MaxExamples}
}

func (col *collector) add(v Violation) {
	col.res.Count++
	if len(col.res.Examples) < col.max {
		col.res.Examples = append(col.res.Examples, v)
	}
}

func (col *collector) result() Result {
	col.res.OK = col.res.Count == 0
	return col.res
}

// answer is what the checker reads of a 2xx body: the order's id and,
// for a capture or refund, the movement the request made.
type answer struct {
	ID        string    `json:"id"`
	Operation *Movement `json:"operation"`
}

func decodeAnswer(op Op) answer {
	var a answer
	if len(op.Body) > 0 {
		_ = json.Unmarshal(op.Body, &a) // an undecodable body names nothing
	}
	if op.Order != "" {
		a.ID = op.Order
	}
	return a
}

// lost checks that every acknowledged write is in every region.
func (c *checker) lost() Result {
	col := c.newCollector(CheckLost)
	c.lostWrites = map[string]bool{}
	lose := func(write string, v Violation) {
		c.lostWrites[write] = true
		col.add(v)
	}
	type sums struct{ captured, refunded int64 }
	acked := map[string]*sums{}
	for _, op := range c.h.Ops {
		if op.Outcome != OutcomeOK {
			continue
		}
		switch op.Kind {
		case KindAuthorize:
			a := decodeAnswer(op)
			if a.ID == "" {
				lose("op "+op.Key, Violation{Key: op.Key, Detail: "acknowledged authorize names no order"})
				continue
			}
			for _, r := range c.regions {
				if _, ok := c.h.Final.Orders[r][a.ID]; !ok {
					lose("order "+a.ID, Violation{Order: a.ID, Region: r, Key: op.Key,
						Detail: "acknowledged order missing after the heal", Want: "present", Got: "missing"})
				}
			}
		case KindCapture, KindRefund:
			a := decodeAnswer(op)
			if a.ID == "" {
				lose("op "+op.Key, Violation{Key: op.Key, Detail: "acknowledged " + op.Kind + " names no order"})
				continue
			}
			mv := a.Operation
			for _, r := range c.regions {
				o, ok := c.h.Final.Orders[r][a.ID]
				if !ok {
					lose("order "+a.ID, Violation{Order: a.ID, Region: r, Key: op.Key,
						Detail: "order of an acknowledged " + op.Kind + " missing after the heal", Want: "present", Got: "missing"})
					continue
				}
				if mv == nil || mv.ID == "" {
					continue
				}
				moves := o.Captures
				if op.Kind == KindRefund {
					moves = o.Refunds
				}
				if !hasMovement(moves, mv.ID) {
					lose("movement "+mv.ID, Violation{Order: a.ID, Region: r, Key: op.Key,
						Detail: "acknowledged " + op.Kind + " missing after the heal", Want: mv.ID, Got: "missing"})
				}
			}
			// A 202 (pending card operation) may still fail; only a
			// settled acknowledgement bounds the order's sums from below.
			amount := op.Amount
			if mv != nil {
				amount = mv.Amount
			}
			if op.Status == 202 || (mv != nil && mv.Status != "" && mv.Status != "succeeded") {
				continue
			}
			s := acked[a.ID]
			if s == nil {
				s = &sums{}
				acked[a.ID] = s
			}
			if op.Kind == KindCapture {
				s.captured += amount
			} else {
				s.refunded += amount
			}
		}
	}
	for _, id := range sortedKeys(acked) {
		s := acked[id]
		for _, r := range c.regions {
			o, ok := c.h.Final.Orders[r][id]
			if !ok {
				continue // reported above
			}
			if o.Captured < s.captured {
				lose("captured "+id, Violation{Order: id, Region: r, Detail: "captured below the acknowledged captures",
					Want: fmt.Sprintf(">= %d", s.captured), Got: fmt.Sprint(o.Captured)})
			}
			if o.Refunded < s.refunded {
				lose("refunded "+id, Violation{Order: id, Region: r, Detail: "refunded below the acknowledged refunds",
					Want: fmt.Sprintf(">= %d", s.refunded), Got: fmt.Sprint(o.Refunded)})
			}
		}
	}
	return col.result()
}

func hasMovement(ms []Movement, id string) bool {
	for _, m := range ms {
		if m.ID == id {
			return true
		}
	}
	return false
}

// orderBounds checks every order's money in every region.
func (c *checker) orderBounds() Result {
	col := c.newCollector(CheckOrderBounds)
	for _, r := range c.regions {
		orders := c.h.Final.Orders[r]
		for _, id := range sortedKeys(orders) {
			o := orders[id]
			if o.Captured < 0 || o.Refunded < 0 || o.Released < 0 {
				col.add(Violation{Order: id, Region: r, Detail: "negative sum", Want: ">= 0",
					Got: fmt.Sprintf("captured=%d refunded=%d released=%d", o.Captured, o.Refunded, o.Released)})
			}
			if o.Captured+o.Released > o.Amount {
				col.add(Violation{Order: id, Region: r, Detail: "captured+released over the amount",
					Want: fmt.Sprintf("<= %d", o.Amount), Got: fmt.Sprintf("%d+%d", o.Captured, o.Released)})
			}
			if o.Refunded > o.Captured {
				col.add(Violation{Order: id, Region: r, Detail: "refunded over captured",
					Want: fmt.Sprintf("<= %d", o.Captured), Got: fmt.Sprint(o.Refunded)})
			}
		}
	}
	return col.result()
}

func orderFacts(o Order) string {
	return fmt.Sprintf("status=%s method=%s amount=%d %s captured=%d refunded=%d released=%d",
		o.Status, o.Method, o.Amount, o.Currency, o.Captured, o.Refunded, o.Released)
}

// reference is the first region (in c.regions order) that has order id.
func (c *checker) reference(id string) (string, Order) {
	for _, r := range c.regions {
		if o, ok := c.h.Final.Orders[r][id]; ok {
			return r, o
		}
	}
	return "", Order{}
}

func (c *checker) orderIDs() []string {
	ids := map[string]bool{}
	for _, r := range c.regions {
		for id := range c.h.Final.Orders[r] {
			ids[id] = true
		}
	}
	return sortedKeys(ids)
}

// regionsAgree checks that every region shows every order alike.
func (c *checker) regionsAgree() Result {
	col := c.newCollector(CheckRegionsAgree)
	for _, id := range c.orderIDs() {
		ref, want := c.reference(id)
		for _, r := range c.regions {
			o, ok := c.h.Final.Orders[r][id]
			switch {
			case !ok:
				col.add(Violation{Order: id, Region: r, Detail: "order missing here but present in " + ref,
					Want: orderFacts(want), Got: "missing"})
			case orderFacts(o) != orderFacts(want):
				col.add(Violation{Order: id, Region: r, Detail: "order differs from " + ref,
					Want: orderFacts(want), Got: orderFacts(o)})
			}
		}
	}
	return col.result()
}

// exposure checks every consumer's credit in every region.
func (c *checker) exposure() Result {
	col := c.newCollector(CheckExposure)
	for _, r := range c.regions {
		cons := c.h.Final.Consumers[r]
		for _, email := range sortedKeys(cons) {
			k := cons[email]
			if k.Exposure < 0 || k.Exposure > k.Limit+k.Unsecured {
				col.add(Violation{Consumer: email, Region: r, Detail: "exposure outside [0, limit+unsecured]",
					Want: fmt.Sprintf("0..%d (limit %d + unsecured %d)", k.Limit+k.Unsecured, k.Limit, k.Unsecured),
					Got:  fmt.Sprint(k.Exposure)})
			}
		}
	}
	return col.result()
}

// verify checks that `kassa verify` ran clean in every region.
func (c *checker) verify() Result {
	col := c.newCollector(CheckVerify)
	for _, r := range c.regions {
		problem, ok := c.h.Final.Verify[r]
		switch {
		case !ok:
			col.add(Violation{Region: r, Detail: "verify did not run", Want: "clean", Got: "not run"})
		case problem != "":
			col.add(Violation{Region: r, Detail: "verify found a problem", Want: "clean", Got: problem})
		}
	}
	return col.result()
}

// webhooks checks that the receiver processed each event id once, and
// counts deliveries into st.
func (c *checker) webhooks(st *WebhookStats) Result {
	col := c.newCollector(CheckWebhooks)
	type event struct {
		order                string
		delivered, processed int
	}
	events := map[string]*event{}
	var order []string
	for _, w := range c.h.Webhooks {
		st.Deliveries++
		e := events[w.EventID]
		if e == nil {
			e = &event{order: w.Order}
			events[w.EventID] = e
			order = append(order, w.EventID)
		} else {
			st.Duplicates++
		}
		e.delivered++
		if w.Processed {
			e.processed++
			st.Processed++
		}
	}
	st.Events = len(events)
	for _, id := range order {
		if e := events[id]; e.processed > 1 {
			col.add(Violation{EventID: id, Order: e.order, Detail: "event processed more than once",
				Want: "processed once", Got: fmt.Sprintf("processed %d times in %d deliveries", e.processed, e.delivered)})
		}
	}
	return col.result()
}

// convergence checks the digests and every convergence time, and
// summarises the times into sum.
func (c *checker) convergence(sum *Convergence) Result {
	col := c.newCollector(CheckConvergence)
	bound := c.opt.ConvergenceBound
	var times []time.Duration
	for i, d := range append(append([]time.Duration(nil), c.h.Convergences...), c.h.Final.ConvergedAfter) {
		what := fmt.Sprintf("convergence %d", i+1)
		if i == len(c.h.Convergences) {
			what = "final convergence"
		}
		switch {
		case d < 0:
			sum.Never++
			col.add(Violation{Detail: what + ": digests never became equal", Want: fmt.Sprintf("<= %v", bound), Got: "never"})
			continue
		case d > bound:
			col.add(Violation{Detail: what + ": over the bound", Want: fmt.Sprintf("<= %v", bound), Got: d.String()})
		}
		times = append(times, d)
	}
	l := sortedMs(times)
	sum.Samples = len(l)
	sum.P50 = percentile(l, 50)
	if len(l) > 0 {
		sum.Max = l[len(l)-1]
	}
	var ref, want string
	for _, r := range c.regions {
		d, ok := c.h.Final.Digests[r]
		switch {
		case !ok:
			col.add(Violation{Region: r, Detail: "no digest after the heal", Want: "a digest", Got: "none"})
		case ref == "":
			ref, want = r, d
		case d != want:
			col.add(Violation{Region: r, Detail: "digest differs from " + ref, Want: want, Got: d})
		}
	}
	return col.result()
}

// acquirer checks that the acquirer booked every card order as kassa did.
func (c *checker) acquirer() Result {
	col := c.newCollector(CheckAcquirer)
	for _, id := range c.orderIDs() {
		r, o := c.reference(id)
		if o.Method != "card" {
			continue
		}
		want := fmt.Sprintf("authorized=%d captured=%d refunded=%d voided=%d", o.Amount, o.Captured, o.Refunded, o.Released)
		b, ok := c.h.Final.Acquirer[id]
		if why, unread := c.h.Final.AcquirerUnread[id]; !ok && unread {
			col.add(Violation{Order: id, Region: r, Detail: "the acquirer's books for a card order could not be read", Want: want, Got: why})
			continue
		}
		if !ok {
			col.add(Violation{Order: id, Region: r, Detail: "acquirer has no books for a card order", Want: want, Got: "none"})
			continue
		}
		got := fmt.Sprintf("authorized=%d captured=%d refunded=%d voided=%d", b.Authorized, b.Captured, b.Refunded, b.Voided)
		if got != want {
			col.add(Violation{Order: id, Region: r, Detail: "acquirer's books differ from kassa's in " + r, Want: want, Got: got})
		}
	}
	return col.result()
}

// runSize judges the run itself: enough checkouts, enough answered.
func (c *checker) runSize(r Report) []Result {
	n := c.newCollector(CheckCheckouts)
	if r.Checkouts < c.opt.MinCheckouts {
		n.add(Violation{Detail: "too few checkouts", Want: fmt.Sprintf(">= %d", c.opt.MinCheckouts), Got: fmt.Sprint(r.Checkouts)})
	}
	a := c.newCollector(CheckAvailability)
	if r.Availability < c.opt.MinAvailability {
		a.add(Violation{Detail: "availability under the target",
			Want: fmt.Sprintf(">= %v", c.opt.MinAvailability), Got: fmt.Sprintf("%v (%d of %d answered)", r.Availability, r.Answered, r.Attempted)})
	}
	return []Result{n.result(), a.result()}
}
