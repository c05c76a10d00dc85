package checkout_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"kassa/cards"
	"kassa/checkout"
	"kassa/ledger"
)

// Behaviours of the fake acquirer for the next operation call.
const (
	actOK          = "ok"          // done, answered
	actRefuse      = "refuse"      // refused, answered
	actUnavailable = "unavailable" // never reached: nothing done
	actLostBefore  = "lost-before" // reached, failed before doing it, no answer
	actLostAfter   = "lost-after"  // done, answer lost
)

// bookAcquirer is an acquirer with books per payment that does each
// operation key at most once, as the simulator does, and behaves for each
// call as the test scripts (ok when the script is empty).
type bookAcquirer struct {
	mu      sync.Mutex
	seq     int
	script  []string
	done    map[string]cards.OperationResult // by idempotency key
	books   map[string]*books                // by payment
	calls   []string                         // keys, in call order
	payment map[string]string                // authorization key -> payment
}

type books struct{ authorized, captured, refunded, voided int64 }

func newBookAcquirer() *bookAcquirer {
	return &bookAcquirer{done: map[string]cards.OperationResult{}, books: map[string]*books{}, payment: map[string]string{}}
}

func (a *bookAcquirer) then(acts ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.script = append(a.script, acts...)
}

func (a *bookAcquirer) Authorize(_ context.Context, p cards.Payment) (cards.Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok := a.payment[p.IdempotencyKey]
	if !ok {
		a.seq++
		id = fmt.Sprintf("pay_%d", a.seq)
		a.payment[p.IdempotencyKey] = id
		a.books[id] = &books{authorized: p.Amount}
	}
	return cards.Result{ID: id, Approved: true, Amount: p.Amount, Currency: p.Currency}, nil
}

func (a *bookAcquirer) Lookup(_ context.Context, key string) (cards.Result, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok := a.payment[key]
	return cards.Result{ID: id, Approved: ok}, ok, nil
}

func (a *bookAcquirer) Capture(ctx context.Context, op cards.Operation) (cards.OperationResult, error) {
	return a.operate("capture", op)
}

func (a *bookAcquirer) Refund(ctx context.Context, op cards.Operation) (cards.OperationResult, error) {
	return a.operate("refund", op)
}

func (a *bookAcquirer) Void(ctx context.Context, op cards.Operation) (cards.OperationResult, error) {
	return a.operate("void", op)
}

func (a *bookAcquirer) operate(kind string, op cards.Operation) (cards.OperationResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	act := actOK
	if len(a.script) > 0 {
		act, a.script = a.script[0], a.script[1:]
	}
	a.calls = append(a.calls, op.IdempotencyKey)
	switch act {
	case actUnavailable:
		return cards.OperationResult{}, fmt.Errorf("test: %w", cards.ErrUnavailable)
	case actLostBefore:
		return cards.OperationResult{}, fmt.Errorf("test: %w", cards.ErrUnknownOutcome)
	}
	res, ok := a.done[op.IdempotencyKey]
	if !ok {
		b := a.books[op.Payment]
		a.seq++
		res = cards.OperationResult{ID: fmt.Sprintf("op_%d", a.seq), Payment: op.Payment, Type: kind, Amount: op.Amount,
			Currency: op.Currency, Created: time.Date(2026, 3, 15, 12, 0, a.seq, 0, time.UTC)}
		switch {
		case act == actRefuse:
			res.RefusalCode = "test_refused"
		case b == nil:
			res.RefusalCode = "payment_not_found"
		case kind == "capture" && op.Amount <= b.authorized-b.captured-b.voided:
			b.captured += op.Amount
			res.Succeeded = true
		case kind == "refund" && op.Amount <= b.captured-b.refunded:
			b.refunded += op.Amount
			res.Succeeded = true
		case kind == "void" && op.Amount <= b.authorized-b.captured-b.voided:
			b.voided += op.Amount
			res.Succeeded = true
		default:
			res.RefusalCode = "amount_exceeds_books"
		}
		a.done[op.IdempotencyKey] = res
	}
	if act == actLostAfter {
		return cards.OperationResult{}, fmt.Errorf("test: %w", cards.ErrUnknownOutcome)
	}
	return res, nil
}

func (a *bookAcquirer) book(payment string) books {
	a.mu.Lock()
	defer a.mu.Unlock()
	return *a.books[payment]
}

// cardEnv is one region's checkout over its own ledger, with a card order
// of 10000 SEK authorized.
type cardEnv struct {
	store *ledger.Store
	svc   *checkout.Service
	acq   *bookAcquirer
	order checkout.OrderID
	cfg   checkout.Config
	now   *time.Time
}

func newCardEnv(t testing.TB) *cardEnv {
	t.Helper()
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := ledger.Open(context.Background(), ledger.Options{Path: filepath.Join(t.TempDir(), "kassa.db"), Region: "r1", Key: key,
		Keys: ledger.Keys{"r1": key.Public().(ed25519.PublicKey)}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	e := &cardEnv{store: store, acq: newBookAcquirer(), now: &now}
	e.cfg = checkout.Config{Region: "r1", PublicURL: "http://kassa.test", AllowLoopback: true, Logger: log,
		Merchants: []checkout.MerchantConfig{{ID: "demo", APISecret: "sk_test_demo"}},
		Consumers: checkout.Consumers{Key: []byte("identity-key-for-tests")}, FingerprintKey: []byte("fingerprint-key-for-tests"),
		Now: func() time.Time { return *e.now }}
	e.svc = checkout.New(store, nil, e.acq, nil, e.cfg)
	e.newOrder(t, "k1")
	return e
}

// newOrder authorizes a card order of 10000 SEK under the session key
// key, and makes it the env's order.
func (e *cardEnv) newOrder(t testing.TB, key string) {
	t.Helper()
	ctx := context.Background()
	req := checkout.SessionRequest{Amount: 10000, Currency: "SEK", Country: "SE", MerchantReference: "R-1",
		Lines: []checkout.Line{{Name: "A", Quantity: 1, UnitPrice: 10000, Total: 10000}},
		URLs:  checkout.URLs{Confirmation: "https://shop.example/ok", Cancel: "https://shop.example/c"}}
	sess, _, err := e.svc.CreateSession(ctx, "demo", key, req, "h1")
	if err != nil {
		t.Fatal(err)
	}
	areq := checkout.AuthorizeRequest{Method: "card", Consumer: checkout.Consumer{Email: "ada@example.com", GivenName: "Ada",
		FamilyName: "L", PostalCode: "11122", Country: "SE"}, Card: &checkout.CardInput{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2030, CVC: "123"}}
	o, _, err := e.svc.Authorize(ctx, "demo", sess.ID, areq, e.svc.AuthorizeHash(areq))
	if err != nil || o.Status != "authorized" {
		t.Fatalf("authorize: %+v %v", o, err)
	}
	e.order = o.ID
}

// restart is the region after a restart: a new service over the same
// ledger.
func (e *cardEnv) restart() { e.svc = checkout.New(e.store, nil, e.acq, nil, e.cfg) }

func (e *cardEnv) payment(t testing.TB) string {
	t.Helper()
	es, err := e.store.EntriesBySubject(context.Background(), string(e.order))
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range es {
		if en.Kind == checkout.KindOrderAuthorized {
			var a struct {
				Payment string `json:"payment"`
			}
			if err := json.Unmarshal(en.Data, &a); err != nil || a.Payment == "" {
				t.Fatalf("authorization without its payment: %s", en.Data)
			}
			return a.Payment
		}
	}
	t.Fatal("no authorization")
	return ""
}

// agree fails unless the acquirer's books of the order's payment equal the
// order's, and nothing is pending.
func (e *cardEnv) agree(t testing.TB) checkout.Order {
	t.Helper()
	o, err := e.svc.Order(context.Background(), "", e.order)
	if err != nil {
		t.Fatal(err)
	}
	b := e.acq.book(e.payment(t))
	if b.authorized != o.Amount || b.captured != o.Captured || b.refunded != o.Refunded || b.voided != o.Released {
		t.Fatalf("books differ: acquirer %+v, kassa captured %d refunded %d released %d", b, o.Captured, o.Refunded, o.Released)
	}
	for _, l := range [][]checkout.Movement{o.Captures, o.Refunds, o.Voids} {
		for _, m := range l {
			if m.Status == checkout.MovementPending {
				t.Fatalf("still pending: %+v", m)
			}
		}
	}
	return o
}

func TestCardCaptureReachesTheAcquirer(t *testing.T) {
	e := newCardEnv(t)
	ctx := context.Background()
	o, replayed, err := e.svc.Capture(ctx, "demo", e.order, "c1", 4000, "h")
	if err != nil || replayed || o.Captured != 4000 || o.Operation == nil || o.Operation.Status != checkout.MovementSucceeded {
		t.Fatalf("capture: %+v %v %v", o, replayed, err)
	}
	// The same request again: the same answer, no second call.
	calls := len(e.acq.calls)
	o, replayed, err = e.svc.Capture(ctx, "demo", e.order, "c1", 4000, "h")
	if err != nil || !replayed || o.Captured != 4000 || len(e.acq.calls) != calls {
		t.Fatalf("replay: %+v %v %v, %d calls", o, replayed, err, len(e.acq.calls))
	}
	if _, _, err := e.svc.Refund(ctx, "demo", e.order, "r1", 1500, "h"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Release(ctx, "demo", e.order, "rel", "h"); err != nil {
		t.Fatal(err)
	}
	o = e.agree(t)
	if o.Captured != 4000 || o.Refunded != 1500 || o.Released != 6000 || len(o.Voids) != 1 {
		t.Fatalf("order: %+v", o)
	}
	es, _ := e.store.EntriesBySubject(ctx, string(e.order))
	var captured struct {
		Day      string   `json:"day"`
		Refs     []string `json:"refs"`
		Merchant string   `json:"merchant"`
		Acquirer struct {
			Key, Payment, Operation string
			At                      int64
		} `json:"acquirer"`
	}
	for _, en := range es {
		if en.Kind == checkout.KindOrderCaptured {
			if err := json.Unmarshal(en.Data, &captured); err != nil {
				t.Fatal(err)
			}
		}
	}
	if captured.Day != "2026-03-15" || captured.Merchant != "demo" || captured.Acquirer.Operation == "" || captured.Acquirer.At == 0 ||
		len(captured.Refs) != 2 || captured.Refs[0] != "settle:demo:2026-03-15" || captured.Refs[1] != "acquirer-day:2026-03-15" {
		t.Fatalf("captured entry data: %+v", captured)
	}
}

func TestCardCaptureRefusedGivesRightsBack(t *testing.T) {
	e := newCardEnv(t)
	ctx := context.Background()
	e.acq.then(actRefuse)
	o, _, err := e.svc.Capture(ctx, "demo", e.order, "c1", 4000, "h")
	var re *checkout.RefusedError
	if !errors.As(err, &re) || re.Code != "test_refused" || re.Op != "capture" {
		t.Fatalf("refused capture: %+v %v", o, err)
	}
	// The same key again is the same refusal, without a call.
	calls := len(e.acq.calls)
	if _, _, err := e.svc.Capture(ctx, "demo", e.order, "c1", 4000, "h"); !errors.As(err, &re) || len(e.acq.calls) != calls {
		t.Fatalf("replayed refusal: %v, %d calls", err, len(e.acq.calls))
	}
	// The rights came back: all of it can be captured.
	o, _, err = e.svc.Capture(ctx, "demo", e.order, "c2", 0, "h")
	if err != nil || o.Captured != 10000 || o.Status != "captured" {
		t.Fatalf("capture after a refusal: %+v %v", o, err)
	}
	e.agree(t)
}

func TestCardCaptureUnavailableMayBeRetried(t *testing.T) {
	e := newCardEnv(t)
	ctx := context.Background()
	e.acq.then(actUnavailable)
	if _, _, err := e.svc.Capture(ctx, "demo", e.order, "c1", 4000, "h"); !errors.Is(err, checkout.ErrAcquirerUnavailable) {
		t.Fatalf("unavailable: %v", err)
	}
	o, err := e.svc.Order(ctx, "demo", e.order)
	if err != nil || o.Captured != 0 {
		t.Fatalf("after unavailable: %+v %v", o, err)
	}
	o, replayed, err := e.svc.Capture(ctx, "demo", e.order, "c1", 4000, "h")
	if err != nil || replayed || o.Captured != 4000 {
		t.Fatalf("retry: %+v %v %v", o, replayed, err)
	}
	if e.acq.calls[0] != e.acq.calls[1] {
		t.Fatalf("the retry used another key: %v", e.acq.calls)
	}
	e.agree(t)
}

func TestCardOperationOutcomeUnknownIsSettledAfterRestart(t *testing.T) {
	for _, act := range []string{actLostBefore, actLostAfter} {
		t.Run(act, func(t *testing.T) {
			e := newCardEnv(t)
			ctx := context.Background()
			if _, _, err := e.svc.Capture(ctx, "demo", e.order, "c1", 6000, "h"); err != nil {
				t.Fatal(err)
			}
			e.acq.then(act)
			o, _, err := e.svc.Refund(ctx, "demo", e.order, "r1", 2000, "h")
			if err != nil || o.Operation == nil || o.Operation.Status != checkout.MovementPending || o.Refunded != 0 {
				t.Fatalf("refund with no answer: %+v %v", o, err)
			}
			// What is asked of the acquirer is spent: only 4000 more can be refunded.
			if _, _, err := e.svc.Refund(ctx, "demo", e.order, "r2", 4001, "h"); err == nil {
				t.Fatal("refunded more than captured while a refund was pending")
			}
			e.restart()
			if n, err := e.svc.Reconcile(ctx); err != nil || n != 1 {
				t.Fatalf("reconcile: %d %v", n, err)
			}
			o = e.agree(t)
			if o.Refunded != 2000 || o.Refunds[0].Status != checkout.MovementSucceeded {
				t.Fatalf("after the reconciler: %+v", o)
			}
			// The merchant's retry is the same operation.
			o, replayed, err := e.svc.Refund(ctx, "demo", e.order, "r1", 2000, "h")
			if err != nil || !replayed || o.Refunded != 2000 {
				t.Fatalf("retry after settling: %+v %v %v", o, replayed, err)
			}
		})
	}
}

func TestCardCancelAndExpiryVoidAtTheAcquirer(t *testing.T) {
	e := newCardEnv(t)
	ctx := context.Background()
	e.acq.then(actRefuse)
	if _, _, err := e.svc.Cancel(ctx, "demo", e.order, "x1", "h"); !errors.Is(err, checkout.ErrAcquirerRefused) {
		t.Fatalf("refused cancel: %v", err)
	}
	if o, _ := e.svc.Order(ctx, "demo", e.order); o.Status != "authorized" {
		t.Fatalf("a refused cancel left the order %s", o.Status)
	}
	if o, _, err := e.svc.Cancel(ctx, "demo", e.order, "x2", "h"); err != nil || o.Status != "cancelled" {
		t.Fatalf("cancel: %+v %v", o, err)
	}
	e.agree(t)

	// Expiry: the sweep releases, and so voids, what was not captured.
	e2 := newCardEnv(t)
	if _, _, err := e2.svc.Capture(ctx, "demo", e2.order, "c1", 2500, "h"); err != nil {
		t.Fatal(err)
	}
	*e2.now = e2.now.Add(checkout.DefaultAuthTTL + time.Hour)
	if _, released, err := e2.svc.Sweep(ctx); err != nil || released != 1 {
		t.Fatalf("sweep: %d %v", released, err)
	}
	if o := e2.agree(t); o.Released != 7500 {
		t.Fatalf("after expiry: %+v", o)
	}
}

// TestCardOperationsKeepBooksEqual drives random operations against an
// acquirer that answers, refuses, cannot be reached or loses its answer,
// with restarts and reconciler runs in between; at every step kassa never
// has more captured, refunded or voided than the order allows, and once the
// acquirer behaves and the reconciler has run, both books are equal.
func TestCardOperationsKeepBooksEqual(t *testing.T) {
	e := newCardEnv(t)
	n := 0
	rapid.Check(t, func(rt *rapid.T) {
		n++
		e.acq.mu.Lock()
		e.acq.script = nil
		e.acq.mu.Unlock()
		e.newOrder(t, fmt.Sprintf("order-%d", n))
		ctx := context.Background()
		acts := []string{actOK, actOK, actOK, actRefuse, actUnavailable, actLostBefore, actLostAfter}
		for i := range rapid.IntRange(1, 25).Draw(rt, "steps") {
			e.acq.then(rapid.SampledFrom(acts).Draw(rt, "act"))
			key := fmt.Sprintf("k%d-%d", n, i)
			amount := rapid.Int64Range(0, 4000).Draw(rt, "amount")
			var err error
			switch rapid.SampledFrom([]string{"capture", "refund", "release", "cancel", "reconcile", "restart"}).Draw(rt, "op") {
			case "capture":
				_, _, err = e.svc.Capture(ctx, "demo", e.order, key, amount, "h")
			case "refund":
				_, _, err = e.svc.Refund(ctx, "demo", e.order, key, amount, "h")
			case "release":
				_, _, err = e.svc.Release(ctx, "demo", e.order, key, "h")
			case "cancel":
				_, _, err = e.svc.Cancel(ctx, "demo", e.order, key, "h")
			case "reconcile":
				_, err = e.svc.Reconcile(ctx)
			case "restart":
				e.restart()
			}
			var ae *checkout.AmountError
			if err != nil && !errors.Is(err, checkout.ErrAcquirerRefused) && !errors.Is(err, checkout.ErrAcquirerUnavailable) &&
				!errors.Is(err, checkout.ErrInvalidState) && !errors.As(err, &ae) {
				rt.Fatalf("unexpected error: %v", err)
			}
			o, err := e.svc.Order(ctx, "demo", e.order)
			if err != nil {
				rt.Fatal(err)
			}
			b := e.acq.book(e.payment(t))
			if o.Captured+o.Released > o.Amount || o.Refunded > o.Captured || b.captured > o.Captured+pendingSum(o.Captures) ||
				b.refunded > o.Refunded+pendingSum(o.Refunds) || b.voided > o.Released+pendingSum(o.Voids) ||
				b.captured < o.Captured || b.refunded < o.Refunded || b.voided < o.Released {
				rt.Fatalf("books out of bounds: acquirer %+v, order %+v", b, o)
			}
		}
		e.acq.mu.Lock()
		e.acq.script = nil
		e.acq.mu.Unlock()
		if _, err := e.svc.Reconcile(ctx); err != nil {
			rt.Fatal(err)
		}
		e.agree(t)
	})
}

func pendingSum(ms []checkout.Movement) int64 {
	var n int64
	for _, m := range ms {
		if m.Status == checkout.MovementPending {
			n += m.Amount
		}
	}
	return n
}
