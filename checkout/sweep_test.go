package checkout_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"kassa/checkout"
	"kassa/ledger"
	"kassa/region"
	"kassa/scoring"
)

// sweepWorld is one region's store with a checkout service and a credit
// engine over it, built again by restart as a region's start does.
type sweepWorld struct {
	tb     testing.TB
	store  *ledger.Store
	now    time.Time
	svc    *checkout.Service
	credit *scoring.Engine
}

func newSweepWorld(tb testing.TB) *sweepWorld {
	tb.Helper()
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := ledger.Open(context.Background(), ledger.Options{Path: filepath.Join(tb.TempDir(), "kassa.db"), Region: "r1", Key: key,
		Keys: ledger.Keys{"r1": key.Public().(ed25519.PublicKey)}, Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	w := &sweepWorld{tb: tb, store: store, now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	w.restart()
	return w
}

// restart builds the service and the engine again over the same store.
func (w *sweepWorld) restart() {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := func() time.Time { return w.now }
	w.credit = scoring.New(w.store, scoring.Config{Region: "r1", Logger: log, Now: clock, Policy: scoring.Policy{MaxPayLater: 1_000_000,
		CreditLimit: map[string]int64{"SEK": 100_000_000}, GraceDays: 5}})
	w.svc = checkout.New(w.store, w.credit, nil, nil, checkout.Config{Region: "r1", PublicURL: "http://kassa.test", Logger: log, Now: clock,
		AuthTTL: 28 * 24 * time.Hour, Merchants: []checkout.MerchantConfig{{ID: "demo", APISecret: "sk"}},
		Consumers: checkout.Consumers{Key: []byte("k")}, FingerprintKey: []byte("f")})
}

func (w *sweepWorld) authorize(ref string) checkout.Order {
	w.tb.Helper()
	ctx := context.Background()
	req := checkout.SessionRequest{Amount: 1000, Currency: "SEK", Country: "SE", MerchantReference: ref,
		Lines: []checkout.Line{{Name: "A", Quantity: 1, UnitPrice: 1000, Total: 1000}},
		URLs:  checkout.URLs{Confirmation: "https://shop.example/ok", Cancel: "https://shop.example/c"}}
	sess, _, err := w.svc.CreateSession(ctx, "demo", ref, req, ref)
	if err != nil {
		w.tb.Fatal(err)
	}
	o, _, err := w.svc.Authorize(ctx, "demo", sess.ID, checkout.AuthorizeRequest{Method: "pay_later", Consumer: checkout.Consumer{
		Email: "sweep@example.com", GivenName: "Ada", FamilyName: "Lovelace", PostalCode: "11122", Country: "SE"}}, ref)
	if err != nil || o.Status != "authorized" {
		w.tb.Fatalf("authorize %s: %+v %v", ref, o, err)
	}
	return o
}

// settled authorizes n orders and cancels each.
func (w *sweepWorld) settled(prefix string, n int) {
	w.tb.Helper()
	for i := range n {
		o := w.authorize(fmt.Sprintf("%s-%d", prefix, i))
		if _, _, err := w.svc.Cancel(context.Background(), "demo", o.ID, "x", "x"); err != nil {
			w.tb.Fatal(err)
		}
	}
}

func (w *sweepWorld) sweep() (voided, released int) {
	w.tb.Helper()
	v, r, err := w.svc.Sweep(context.Background())
	if err != nil {
		w.tb.Fatal(err)
	}
	return v, r
}

// TestSweepForgetsSettledOrdersAndResumes: the sweep keeps only the credit
// authorizations it may still have to release, and a restart reads the
// ledger from the stored position (before the oldest of those) instead of
// from the start, and still releases what expires.
func TestSweepForgetsSettledOrdersAndResumes(t *testing.T) {
	w := newSweepWorld(t)
	ctx := context.Background()
	w.settled("before", 6)
	w.sweep()
	if n := w.svc.SweepFollows(); n != 0 {
		t.Fatalf("after settled orders only: the sweep follows %d orders, want 0", n)
	}
	open := w.authorize("open")
	w.settled("after", 4)
	w.sweep()
	if n := w.svc.SweepFollows(); n != 1 {
		t.Fatalf("the sweep follows %d orders, want the open one", n)
	}

	// A restart reads from the stored position: the open order and the
	// four settled after it, not the six before it.
	w.restart()
	if err := w.svc.StartSweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := w.svc.SweepFollows(); n != 5 {
		t.Fatalf("after a restart the sweep read %d credit authorizations, want 5 (the open one and the 4 after it)", n)
	}
	if _, released := w.sweep(); released != 0 {
		t.Fatalf("released %d before expiry", released)
	}
	if n := w.svc.SweepFollows(); n != 1 {
		t.Fatalf("after a restart and a run the sweep follows %d orders, want the open one", n)
	}

	// Past its expiry, after another restart, the open order is released.
	w.now = w.now.Add(29 * 24 * time.Hour)
	w.restart()
	if _, released := w.sweep(); released != 1 {
		t.Fatalf("released %d after expiry, want the open order", released)
	}
	if o, err := w.svc.Order(ctx, "demo", open.ID); err != nil || o.Status != "cancelled" {
		t.Fatalf("open order after expiry: %+v %v", o, err)
	}
	if n := w.svc.SweepFollows(); n != 0 {
		t.Fatalf("the sweep follows %d orders, want none", n)
	}
	// With nothing to follow, a restart reads only what comes next.
	w.restart()
	if err := w.svc.StartSweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := w.svc.SweepFollows(); n != 0 {
		t.Fatalf("after a restart with nothing open the sweep read %d authorizations again, want 0", n)
	}
}

// BenchmarkSweepAndBookHeap reports the live heap the sweep and the credit
// book hold after following n settled credit orders (authorized, then
// cancelled) of 100 consumers: it must not grow with n.
//
//	go test ./checkout -run '^$' -bench SweepAndBookHeap -benchtime 1x
func BenchmarkSweepAndBookHeap(b *testing.B) {
	for _, n := range []int{10_000, 50_000} {
		b.Run(fmt.Sprintf("orders=%d", n), func(b *testing.B) {
			for range b.N {
				w := newSweepWorld(b)
				writeSettled(b, w.store, n, 100)
				before := liveHeap()
				if _, _, err := w.svc.Sweep(context.Background()); err != nil {
					b.Fatal(err)
				}
				if err := w.credit.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				after := liveHeap()
				runtime.KeepAlive(w)
				b.ReportMetric(float64(int64(after)-int64(before))/(1<<20), "heap-MB")
			}
		})
	}
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// writeSettled appends n credit orders of consumers consumers, each
// authorized and then cancelled, with many writers so the group commit
// carries them.
func writeSettled(tb testing.TB, store *ledger.Store, n, consumers int) {
	tb.Helper()
	ctx := context.Background()
	expires := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC).UnixMilli()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := checkout.ConsumerID(fmt.Sprintf("con_heap%04d", i%consumers))
				oid := fmt.Sprintf("ord_heap%07d", i)
				auth, _ := json.Marshal(map[string]any{"merchant": "demo", "method": "pay_later", "amount": 1000, "currency": "SEK",
					"expires_at": expires, "decision": map[string]any{"outcome": "approved"},
					"credit": checkout.CreditHold{Consumer: c, Source: "rights", Region: "r1"}})
				if _, err := store.Append(ctx, ledger.Draft{Kind: checkout.KindOrderAuthorized, Subject: oid, Data: auth}); err != nil {
					tb.Error(err)
					return
				}
				if _, err := store.Append(ctx, ledger.Draft{Kind: checkout.KindOrderCancelled, Subject: oid, Data: []byte(`{"id":"op_x","amount":1000}`)}); err != nil {
					tb.Error(err)
					return
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// TestSweepFollowsAsEntriesCommit: the sweep reads the ledger as entries
// commit, not only when it runs every reconcile interval, so that a busy
// region's authorizations are followed a few at a time while the orders
// are still in the ledger's memory, not all at once every interval.
func TestSweepFollowsAsEntriesCommit(t *testing.T) {
	r := startRegions(t, 1, func(c *region.Config) { c.Checkout.ReconcileInterval = time.Hour })[0]
	benchAuthorizations(t, benchClient(), r.url, "follow", 40)
	head := r.r.Ledger().Count()
	deadline := time.Now().Add(10 * time.Second)
	for r.r.Checkout().SweepRead() < head {
		if time.Now().After(deadline) {
			t.Fatalf("the sweep read up to %d of %d entries within 10 s, with no sweep run due for an hour", r.r.Checkout().SweepRead(), head)
		}
		time.Sleep(10 * time.Millisecond) // polling the sweep's position
	}
	if n := r.r.Checkout().SweepFollows(); n != 40 {
		t.Fatalf("the sweep follows %d open credit authorizations, want the 40 just made", n)
	}
}
