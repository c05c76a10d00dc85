package checkout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kassa/cards"
	"kassa/checkout"
	"kassa/reconcile"
	"kassa/region"
)

// cardOp is one merchant call on a card order, drawn before the run.
type cardOp struct {
	kind   string // capture, refund, cancel, release
	amount int64  // 0: all that is open
	region int
	key    string
}

// TestCardBooksAgreeAcrossRegions drives 200 card orders through three
// regions sharing one acquirer: partial captures, refunds, cancels and
// releases issued in any region, while the acquirer refuses, fails with
// 5xx before and after doing the operation, and times out after doing it,
// and while one region is cut off for a third of the run. After the heal
// and the reconciler, for every payment the acquirer's books equal
// kassa's, every region shows the same, nothing is pending, the
// settlement file has exactly one line per operation kassa recorded and
// reconciles with no difference, and the merchant settlement report
// equals the file less fees in every region.
func TestCardBooksAgreeAcrossRegions(t *testing.T) {
	const orders = 200
	rng := rand.New(rand.NewPCG(12, 1))
	sim := cards.NewSimulator(time.Now)
	sim.Stall = 5 * time.Second
	if err := sim.SetFaults(cards.Faults{Seed: 7, Refuse: 0.04, FailBefore: 0.05, FailAfter: 0.05, TimeoutAfter: 0.03}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acqSrv := &http.Server{Handler: sim.Handler()}
	go acqSrv.Serve(ln)
	t.Cleanup(func() { acqSrv.Close() })
	acqURL := "http://" + ln.Addr().String()
	rs := startRegions(t, 3, func(c *region.Config) {
		c.Checkout.AcquirerURL = acqURL
		c.Checkout.AcquirerTimeout = 400 * time.Millisecond
		c.Checkout.ReconcileInterval = 250 * time.Millisecond
	})
	ctx := context.Background()

	// Authorize every order, each in a random region.
	type order struct {
		id     string
		amount int64
		ops    []cardOp
	}
	os := make([]*order, orders)
	for i := range os {
		amount := int64(1000 + rng.IntN(99)*100)
		base := rs[rng.IntN(3)].url
		key := fmt.Sprintf("card-%d", i)
		s := call(t, "POST", base+"/v1/sessions", key, sessionBody(amount, "ref-"+key))
		if s.status != 201 {
			t.Fatalf("session: %d %s", s.status, s.raw)
		}
		a := call(t, "POST", base+"/v1/sessions/"+s.str("id")+"/authorize", key+"-auth", map[string]any{"method": "card",
			"consumer": consumer(key + "@example.com"), "card": map[string]any{"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2031, "cvc": "123"}})
		if a.status != 201 || a.str("status") != "authorized" {
			t.Fatalf("authorize: %d %s", a.status, a.raw)
		}
		o := &order{id: a.str("id"), amount: amount}
		// One to four operations: captures and refunds of parts, or a
		// cancel, or a release of the rest.
		for j := range 1 + rng.IntN(4) {
			op := cardOp{kind: []string{"capture", "capture", "refund", "refund", "cancel", "release"}[rng.IntN(6)],
				region: rng.IntN(3), key: fmt.Sprintf("%s-op%d", key, j)}
			if j == 0 && rng.IntN(10) < 7 {
				op.kind = "capture" // most orders are captured first
			}
			if op.kind == "capture" || op.kind == "refund" {
				op.amount = int64(100 * (1 + rng.IntN(int(amount/200))))
			}
			o.ops = append(o.ops, op)
		}
		os[i] = o
	}

	// The operations, eight orders at a time; r3 is cut off from the
	// others while the middle third of the orders run.
	var (
		mu       sync.Mutex
		statuses = map[int]int{} // final answers
		firsts   = map[int]int{} // first answers
		next     int
	)
	worker := func() error {
		for {
			mu.Lock()
			i := next
			next++
			switch i {
			case orders / 3:
				partition(rs[2], rs[0], true)
				partition(rs[2], rs[1], true)
			case 2 * orders / 3:
				partition(rs[2], rs[0], false)
				partition(rs[2], rs[1], false)
			}
			mu.Unlock()
			if i >= orders {
				return nil
			}
			o := os[i]
			for _, op := range o.ops {
				var body any
				if op.amount > 0 {
					body = map[string]any{"amount": op.amount}
				}
				path := map[string]string{"capture": "/captures", "refund": "/refunds", "cancel": "/cancel", "release": "/release"}[op.kind]
				res := callE(rs[op.region].url+"/v1/orders/"+o.id+path, op.key, body)
				mu.Lock()
				firsts[res.status]++
				mu.Unlock()
				if res.status == 202 || res.status == 503 {
					// The merchant retries once with the same key.
					res = callE(rs[op.region].url+"/v1/orders/"+o.id+path, op.key, body)
				}
				mu.Lock()
				statuses[res.status]++
				mu.Unlock()
				switch res.status {
				case 200, 201, 202, 400, 402, 409, 503:
				default:
					return fmt.Errorf("%s %s in r%d: %d %s", op.kind, o.id, op.region+1, res.status, res.raw)
				}
			}
		}
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() { errs <- worker() }()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("answers by status: first %v, after a retry %v", firsts, statuses)
	for _, s := range []int{200, 201, 202, 402, 503} {
		if firsts[s] == 0 {
			t.Fatalf("no %d answer in the run: the faults or the workload are not exercised (%v)", s, firsts)
		}
	}

	// Heal, let the acquirer behave, and reconcile until nothing is pending.
	if err := sim.SetFaults(cards.Faults{}); err != nil {
		t.Fatal(err)
	}
	pending := func() int {
		n := 0
		for _, o := range os {
			got, err := rs[0].r.Checkout().Order(ctx, "", checkout.OrderID(o.id))
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range [][]checkout.Movement{got.Captures, got.Refunds, got.Voids} {
				for _, m := range l {
					if m.Status == checkout.MovementPending {
						n++
					}
				}
			}
		}
		return n
	}
	for round := 0; ; round++ {
		for _, r := range rs {
			if _, err := r.r.Checkout().Reconcile(ctx); err != nil {
				t.Fatal(err)
			}
		}
		converge(t, rs)
		if pending() == 0 {
			break
		}
		if round == 10 {
			t.Fatalf("%d operations still pending after %d reconciler rounds", pending(), round)
		}
	}

	// The books agree, for every payment, in every region.
	client := cards.NewClient(acqURL, nil, 5*time.Second, 0)
	var done int // succeeded captures and refunds kassa recorded
	capturedTotal, refundedTotal := int64(0), int64(0)
	for _, o := range os {
		var views []checkout.Order
		for _, r := range rs {
			v, err := r.r.Checkout().Order(ctx, "", checkout.OrderID(o.id))
			if err != nil {
				t.Fatal(err)
			}
			views = append(views, v)
		}
		k := views[0]
		for i, v := range views[1:] {
			if v.Captured != k.Captured || v.Refunded != k.Refunded || v.Released != k.Released || v.Status != k.Status {
				t.Fatalf("%s: r%d shows %+v, r1 %+v", o.id, i+2, v, k)
			}
		}
		b, found, err := client.Books(ctx, o.id)
		if err != nil || !found {
			t.Fatalf("books of %s: %v %v", o.id, found, err)
		}
		if len(b.Payments) != 1 || b.Authorized != k.Amount || b.Captured != k.Captured || b.Refunded != k.Refunded || b.Voided != k.Released {
			t.Fatalf("%s: acquirer %+v, kassa amount %d captured %d refunded %d released %d", o.id, b, k.Amount, k.Captured, k.Refunded, k.Released)
		}
		if b.Captured+b.Voided > b.Authorized || b.Refunded > b.Captured {
			t.Fatalf("%s: the acquirer's books break their bounds: %+v", o.id, b)
		}
		for _, l := range [][]checkout.Movement{k.Captures, k.Refunds} {
			for _, m := range l {
				if m.Status == checkout.MovementSucceeded {
					done++
				}
			}
		}
		capturedTotal += k.Captured
		refundedTotal += k.Refunded
	}

	// One settlement line per operation, and the file reconciles clean.
	today := time.Now().UTC()
	days := []string{today.AddDate(0, 0, -1).Format(time.DateOnly), today.Format(time.DateOnly)}
	var lines int
	var fileCaptured, fileRefunded int64
	var sample []reconcile.Line
	for _, day := range days {
		ls, err := client.Settlement(ctx, day)
		if err != nil {
			t.Fatal(err)
		}
		lines += len(ls)
		for _, l := range ls {
			if l.Type == "capture" {
				fileCaptured += l.Amount
			} else {
				fileRefunded += l.Amount
			}
		}
		for _, r := range rs {
			d, err := r.r.Reconciler().Run(ctx, day, reconcile.Actor{Name: "test", Role: "admin"})
			if err != nil {
				t.Fatal(err)
			}
			if d.Open != 0 || (len(ls) > 0 && d.Status != "clean") {
				t.Fatalf("reconciliation of %s in %s: %+v", day, r.id, d)
			}
		}
		if len(ls) > 0 {
			for _, l := range ls {
				sample = append(sample, reconcile.Line{Line: l.Line, Raw: l.Raw, Type: l.Type, OperationID: l.OperationID,
					Payment: l.Payment, Reference: l.Reference, IdempotencyKey: l.IdempotencyKey, Amount: l.Amount, Currency: l.Currency})
			}
			// One altered line is flagged, with that line.
			ops, err := rs[0].r.Reconciler().Operations(ctx, day)
			if err != nil {
				t.Fatal(err)
			}
			altered := append([]reconcile.Line(nil), sample...)
			n := len(altered) / 2
			altered[n].Amount++
			altered[n].Raw = strings.Replace(altered[n].Raw, ","+strconv.FormatInt(sample[n].Amount, 10)+",", ","+strconv.FormatInt(sample[n].Amount+1, 10)+",", 1)
			res := reconcile.Match(day, altered, ops)
			if len(res.Differences) != 1 || res.Differences[0].Line != altered[n].Line {
				t.Fatalf("one altered line (%d): got %+v", altered[n].Line, res.Differences)
			}
			sample = nil
		}
	}
	if lines != done || fileCaptured != capturedTotal || fileRefunded != refundedTotal {
		t.Fatalf("settlement files: %d lines, %d captured, %d refunded; kassa: %d operations, %d captured, %d refunded",
			lines, fileCaptured, fileRefunded, done, capturedTotal, refundedTotal)
	}

	// The merchant's report: the file less fees, the same in every region.
	var first string
	for _, r := range rs {
		res := call(t, "GET", r.url+"/v1/settlements?from="+days[0]+"&to="+days[1]+"&limit=100", "", nil)
		if res.status != 200 {
			t.Fatalf("settlements in %s: %d %s", r.id, res.status, res.raw)
		}
		var list struct {
			Data []struct {
				Captured int64 `json:"captured"`
				Refunded int64 `json:"refunded"`
				Fees     int64 `json:"fees"`
				FeeVAT   int64 `json:"fee_vat"`
				Net      int64 `json:"net"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(res.raw), &list); err != nil {
			t.Fatal(err)
		}
		var c, rf, fees, net int64
		for _, row := range list.Data {
			c, rf, fees, net = c+row.Captured, rf+row.Refunded, fees+row.Fees+row.FeeVAT, net+row.Net
		}
		if c != fileCaptured || rf != fileRefunded || net != fileCaptured-fileRefunded-fees || fees <= 0 {
			t.Fatalf("settlements in %s: captured %d refunded %d fees %d net %d; file: captured %d refunded %d", r.id, c, rf, fees, net, fileCaptured, fileRefunded)
		}
		if first == "" {
			first = res.raw
		} else if res.raw != first {
			t.Fatalf("settlements differ between regions:\n%s\n%s", first, res.raw)
		}
	}
}

// callE is call for a worker goroutine: a failure to send is a response
// with status 0, not a test failure from outside the test's goroutine.
func callE(url, key string, body any) response {
	var rd *strings.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = strings.NewReader(string(j))
	} else {
		rd = strings.NewReader("")
	}
	req, _ := http.NewRequest("POST", url, rd)
	req.SetBasicAuth("demo", "sk_test_demo")
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{raw: err.Error()}
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	out := response{status: res.StatusCode, header: res.Header, raw: b.String()}
	json.Unmarshal([]byte(out.raw), &out.body)
	return out
}
