package nemesis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"kassa/client"
	"kassa/nemesis/check"
)

// The card every card checkout pays with: always approved by the
// simulated acquirer.
const testCard = "4242 4242 4242 4242"

// worker is one stream of checkouts for one merchant, through its own
// failover client, with its own seeded choices.
type worker struct {
	h      *harness
	c      *client.Client
	m      merchant
	tr     http.RoundTripper // shared by the clients that send a follow-up elsewhere
	rng    *rand.Rand
	n      int // checkouts started
	prefix string
	stop   <-chan struct{} // closed: start no new operation
	// pace, if set, says when to start each checkout; nil: whenever the
	// last one ends.
	pace *pacer
}

// pacer schedules a paced worker's checkouts: one every `every`, the first
// at next. A checkout that ends after its successor was due is followed at
// once, and the schedule goes on from that start: a slow answer delays
// the checkouts after it, it never makes them bunch up to catch up.
type pacer struct {
	every time.Duration
	next  time.Time
}

// start returns when the next checkout starts, given that the last one
// ended at now, and schedules the one after it.
func (p *pacer) start(now time.Time) time.Time {
	at := p.next
	if now.After(at) {
		at = now
	}
	p.next = at.Add(p.every)
	return at
}

// wait blocks until start, or until stop or ctx ends; it reports whether
// to go on.
func (w *worker) wait(ctx context.Context, start time.Time) bool {
	d := time.Until(start)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.stop:
		return false
	case <-ctx.Done():
		return false
	}
}

func (w *worker) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// recorder collects the operations of every worker.
type recorder struct {
	mu      sync.Mutex
	ops     []check.Op
	answers int
}

func (r *recorder) add(op check.Op) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	if op.Outcome == "ok" || op.Outcome == "declined" || op.Outcome == "refused" {
		r.answers++
	}
	r.mu.Unlock()
}

func (r *recorder) counts() (ops, answered int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ops), r.answers
}

// orderView is what the workload reads of an order answer.
type orderView struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Amount   int64  `json:"amount"`
	Captured int64  `json:"captured"`
	Refunded int64  `json:"refunded"`
	Released int64  `json:"released"`
}

// run checks out until ctx ends or stop is closed; the checkout in
// flight then ends after its current operation, which runs to its answer. A checkout is a session, an
// authorization and, when authorized, a seeded sequence of captures,
// refunds, cancels and releases; a step without an answer ends it.
// A paced worker starts each checkout when its pacer says.
func (w *worker) run(ctx context.Context) {
	for ctx.Err() == nil && !w.stopped() {
		if w.pace != nil && !w.wait(ctx, w.pace.start(time.Now())) {
			return
		}
		w.checkout(ctx)
	}
}

func (w *worker) checkout(ctx context.Context) {
	w.n++
	ref := fmt.Sprintf("%s-%d", w.prefix, w.n)
	method := []string{"pay_later", "pay_later", "instalments", "card", "card"}[w.rng.IntN(5)]
	amount := int64(1000 + w.rng.IntN(49)*1000)
	if method == "instalments" {
		amount += 10000
	}
	email := w.h.emails[w.rng.IntN(len(w.h.emails))]
	sessReq := map[string]any{
		"amount": amount, "currency": "SEK", "country": "SE", "merchant_reference": ref,
		"lines": []map[string]any{{"name": "Socks", "quantity": 1, "unit_price": amount, "total": amount}},
		"urls": map[string]string{"confirmation": "https://shop.example/ok", "cancel": "https://shop.example/cart",
			"notification": w.h.webhookURL},
	}
	op := w.do(ctx, w.c, check.Op{Kind: "session", Consumer: email, Method: method, Amount: amount}, http.MethodPost, "/v1/sessions", sessReq)
	if op.Outcome != "ok" || w.stopped() {
		return
	}
	var sess struct {
		ID string `json:"id"`
	}
	json.Unmarshal(op.Body, &sess)
	creator := op.Region
	// The shopper opens the hosted page before paying.
	w.follow(ctx, creator, check.Op{Kind: check.KindPage, Session: sess.ID, Consumer: email, Method: method}, http.MethodGet, "/checkout/"+sess.ID, nil)
	if w.stopped() {
		return
	}
	auth := map[string]any{"method": method, "consumer": map[string]string{
		"email": email, "given_name": "Nemo", "family_name": "Sis", "postal_code": "11122", "country": "SE"}}
	if method == "card" {
		auth["card"] = map[string]any{"number": testCard, "exp_month": 12, "exp_year": time.Now().Year() + 3, "cvc": "123"}
	}
	op = w.follow(ctx, creator, check.Op{Kind: "authorize", Session: sess.ID, Consumer: email, Method: method, Amount: amount},
		http.MethodPost, "/v1/sessions/"+sess.ID+"/authorize", auth)
	var o orderView
	json.Unmarshal(op.Body, &o)
	if o.ID != "" {
		w.h.noteOrder(o.ID, method, email)
	}
	if op.Outcome != "ok" || o.Status != "authorized" {
		return
	}
	base := check.Op{Session: sess.ID, Order: o.ID, Consumer: email, Method: method}
	path := "/v1/orders/" + o.ID
	if w.rng.IntN(3) == 0 { // the merchant reads the order back
		get := base
		get.Kind = check.KindGet
		w.follow(ctx, creator, get, http.MethodGet, path, nil)
	}
	switch w.rng.IntN(6) {
	case 0: // cancel the whole authorization
		w.step(ctx, creator, base, "cancel", path+"/cancel", 0)
	case 1: // capture part, release the rest
		if w.step(ctx, creator, base, "capture", path+"/captures", amount/2) {
			w.step(ctx, creator, base, "release", path+"/release", 0)
		}
	case 2, 3: // capture part, refund part of it, capture the rest
		if w.step(ctx, creator, base, "capture", path+"/captures", amount/2) &&
			w.step(ctx, creator, base, "refund", path+"/refunds", amount/4) {
			w.step(ctx, creator, base, "capture", path+"/captures", 0)
		}
	default: // capture it all, sometimes refund it all
		if w.step(ctx, creator, base, "capture", path+"/captures", 0) && w.rng.IntN(2) == 0 {
			w.step(ctx, creator, base, "refund", path+"/refunds", 0)
		}
	}
}

// step sends one operation on an order of a session region creator
// created, and reports whether it succeeded.
func (w *worker) step(ctx context.Context, creator string, base check.Op, kind, path string, amount int64) bool {
	if w.stopped() {
		return false
	}
	base.Kind, base.Amount = kind, amount
	var body any = struct{}{}
	if amount > 0 {
		body = map[string]int64{"amount": amount}
	}
	return w.follow(ctx, creator, base, http.MethodPost, path, body).Outcome == "ok"
}

// follow sends a follow-up of the session that region creator (an id)
// created: with probability Config.Elsewhere first to another region,
// chosen uniformly (Op.Elsewhere), otherwise through the worker's client,
// which prefers the region that answered it last. Both draws are made
// for every follow-up, so they do not depend on which region created the
// session, though the regions they choose among do.
func (w *worker) follow(ctx context.Context, creator string, op check.Op, method, path string, body any) check.Op {
	share := w.h.cfg.Elsewhere
	if share <= 0 {
		return w.do(ctx, w.c, op, method, path, body)
	}
	draw, pick := w.rng.Float64(), w.rng.Uint64()
	if draw >= share {
		return w.do(ctx, w.c, op, method, path, body)
	}
	var others []int
	for i, r := range w.h.regions {
		if r.id != creator {
			others = append(others, i)
		}
	}
	if len(others) == 0 {
		return w.do(ctx, w.c, op, method, path, body)
	}
	first := others[pick%uint64(len(others))]
	// The other regions follow in ring order, for the client's failover.
	n := len(w.h.regions)
	regions := make([]string, 0, n)
	for k := range n {
		regions = append(regions, w.h.regions[(first+k)%n].client.URL())
	}
	c, err := client.New(client.Config{Regions: regions, Merchant: w.m.id, Secret: w.m.secret,
		Attempt: w.h.cfg.Attempt, Deadline: w.h.cfg.Deadline, Probe: w.h.cfg.Probe, Transport: w.tr, Health: w.m.health})
	if err != nil { // the same settings made the worker's own client
		return w.do(ctx, w.c, op, method, path, body)
	}
	op.Elsewhere = true
	return w.do(ctx, c, op, method, path, body)
}

// do sends one logical operation through the failover client and records
// it. A session or order not found yet (it was written in a region this
// one has not heard from) is asked for again with the same key within the
// client's deadline, as a merchant or a shopper reloading the page would.
func (w *worker) do(ctx context.Context, c *client.Client, op check.Op, method, path string, body any) check.Op {
	op.Key = client.NewKey()
	op.Start = w.h.since()
	deadline := time.Now().Add(w.h.cfg.Deadline)
	var (
		res *client.Response
		err error
	)
	for {
		res, err = c.Do(ctx, method, path, op.Key, body)
		if err != nil || res.Status != http.StatusNotFound || (op.Order == "" && op.Session == "") || time.Now().Add(200*time.Millisecond).After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond) // the merchant's pause before asking again
	}
	op.End = w.h.since()
	if res != nil {
		op.Status = res.Status
		op.Region = w.h.regionOf(res.Region)
		if res.Status < 500 && op.Kind != check.KindPage { // a page is HTML
			op.Body = json.RawMessage(res.Body)
		}
	}
	op.Outcome = outcome(op.Kind, res, err)
	if err != nil {
		op.Error = err.Error()
	}
	if op.Outcome == "ok" && op.Kind == "session" {
		var s struct {
			ID string `json:"id"`
		}
		json.Unmarshal(res.Body, &s)
		op.Session = s.ID
	}
	if ctx.Err() != nil && op.Outcome != "ok" && op.Outcome != "declined" && op.Outcome != "refused" {
		// Cut short by the end of the run, not by kassa: the client never
		// got to its deadline. Recorded all the same, as an error.
		op.Outcome = "error"
	}
	w.h.rec.add(op)
	return op
}

// outcome classifies a final answer as check.Op.Outcome says.
func outcome(kind string, res *client.Response, err error) string {
	switch {
	case errors.Is(err, client.ErrDeadline):
		if res != nil && (res.Status == http.StatusServiceUnavailable || res.Status == http.StatusTooManyRequests) {
			return "unavailable"
		}
		return "timeout"
	case err != nil || res == nil:
		return "error"
	case res.Status >= 200 && res.Status < 300:
		return "ok"
	case res.Status == http.StatusPaymentRequired && kind == "authorize":
		return "declined"
	case res.Status == http.StatusPaymentRequired, res.Status == http.StatusBadRequest, res.Status == http.StatusConflict:
		return "refused"
	case res.Status == http.StatusServiceUnavailable, res.Status == http.StatusTooManyRequests:
		return "unavailable"
	}
	return "error"
}
