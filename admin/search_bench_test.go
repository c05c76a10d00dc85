package admin_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kassa/checkout"
	"kassa/ledger"
)

var searchEntries = flag.Int("search-entries", 1_000_000, "ledger entries BenchmarkSearch fills the region with")

// BenchmarkSearch measures GET /admin/api/search on a region holding
// -search-entries ledger entries (a million by default): one sub-benchmark
// per kind of query. The region holds a shopper with card and credit
// orders at two merchants among filler entries shaped like a busy region's
// (a third of them with a merchant reference and refs, as
// authorizations have, over 200,000 consumers; the rest with only an
// order as subject), so every index a search reads is as large as in a
// region of that size. The filler has no postings: balances are not read
// by a search. The store is filled once per run through Store.Append from
// many callers, and the time that takes is logged.
//
//	go test ./admin -run '^$' -bench BenchmarkSearch -benchtime 200x
func BenchmarkSearch(b *testing.B) {
	e := newEnv(b)
	const shopper = "frequent@example.com"
	var orders []checkout.Order
	for i := range 5 {
		orders = append(orders, authorizeCard(b, e, "demo", fmt.Sprintf("B-%d", i), shopper, 1500))
		orders = append(orders, authorize(b, e, fmt.Sprintf("B-credit-%d", i), shopper, 1000))
	}
	authorizeCard(b, e, "shop2", "B-shared", shopper, 900)

	start := time.Now()
	fill(b, e.store, *searchEntries-int(e.store.Count()))
	took := time.Since(start)
	b.Logf("filled the ledger to %d entries in %s (%.0f entries/s)", e.store.Count(), took.Round(time.Second), float64(*searchEntries)/took.Seconds())

	search := func(tb testing.TB, q string) {
		req := httptest.NewRequest("GET", "/admin/api/search?"+url.Values{"q": {q}}.Encode(), nil)
		req.SetBasicAuth("viewer", "viewer-pass")
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			tb.Fatalf("search %q: got %d %s", q, rec.Code, rec.Body)
		}
	}
	// The credit engine follows the ledger as it grows; in a running
	// region it has caught up long before a search.
	start = time.Now()
	search(b, shopper)
	b.Logf("first search, with the credit engine catching up: %s", time.Since(start).Round(time.Millisecond))

	for _, q := range []struct{ name, q string }{
		{"order_id", string(orders[3].ID)},
		{"merchant_reference", "B-shared"},
		{"email_card_and_credit", shopper},
		{"consumer_id", string(e.svc.ConsumerID(shopper))},
		{"merchant_name", "bikes"},
		{"email_unknown", "nobody@example.com"},
		{"reference_unknown", "Z-404"},
	} {
		b.Run(q.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				search(b, q.q)
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(e.store.Count()), "entries")
		})
	}
}

// fill appends n filler entries to store from many callers, so that the
// store's group commit writes them in large batches.
func fill(tb testing.TB, store *ledger.Store, n int) {
	tb.Helper()
	const callers = 1024
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				order := i / 3
				d := ledger.Draft{Kind: "bench.filler", Subject: fmt.Sprintf("ord_filler%08d", order)}
				if i%3 == 0 {
					// An authorization: a merchant reference and refs.
					d.Data = fmt.Appendf(nil, `{"ref":"ref:m%03d:F-%08d","refs":["consumer:con_filler%06d","reference:F-%08d"],"method":"card","amount":%d,"currency":"SEK"}`,
						order%200, order, order%200_000, order, 1000+order%50_000)
				} else {
					d.Data = fmt.Appendf(nil, `{"id":"op_%08d","amount":%d}`, i, 1000+order%50_000)
				}
				if _, err := store.Append(context.Background(), d); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		tb.Fatal(err)
	}
}
