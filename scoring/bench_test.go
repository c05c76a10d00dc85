package scoring_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"kassa/checkout"
	"kassa/ledger"
)

// BenchmarkDecide measures one credit decision in-process on a region whose
// ledger holds 100,000 consumers, each with a credit line and an order
// (target: p99 under 2 ms). It reports p50 and p99 of Decide alone and of
// Decide plus the write that spends the rights (the group commit's wait
// included, one caller at a time).
//
//	go test ./scoring -run '^$' -bench Decide -benchtime 5000x
func BenchmarkDecide(b *testing.B) {
	const consumers = 100_000
	w := newWorld(b, nil, "r1")
	ctx := context.Background()
	store := w.stores["r1"]
	id := func(i int) checkout.ConsumerID { return checkout.ConsumerID(fmt.Sprintf("con_bench%07d", i)) }
	// Fill the ledger with many concurrent writers, so the group commit
	// carries it: a line and an order per consumer.
	var wg sync.WaitGroup
	next := make(chan int)
	for range 512 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := id(i)
				acct := "credit:" + string(c)
				if _, err := store.Append(ctx, ledger.Draft{Kind: "credit.granted", Subject: acct + ":SEK", Postings: []ledger.Posting{
					{Account: acct + ":limit", Amount: -100_000, Currency: "SEK"}, {Account: acct + ":rights:r1", Amount: 100_000, Currency: "SEK"}}}); err != nil {
					b.Error(err)
					return
				}
				data, _ := json.Marshal(map[string]any{"amount": 10_000, "currency": "SEK", "credit": checkout.CreditHold{Consumer: c, Source: "rights", Region: "r1"}})
				if _, err := store.Append(ctx, ledger.Draft{Kind: checkout.KindOrderAuthorized, Subject: fmt.Sprintf("ord_bench%07d", i), Data: data,
					Postings: []ledger.Posting{{Account: acct + ":rights:r1", Amount: -10_000, Currency: "SEK"}, {Account: acct + ":exposure", Amount: 10_000, Currency: "SEK"}}}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for i := range consumers {
		next <- i
	}
	close(next)
	wg.Wait()
	e := w.engines["r1"]
	if err := e.Start(ctx); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	decide := make([]time.Duration, 0, b.N)
	full := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := id(rng.IntN(consumers))
		in := checkout.DecisionInput{Consumer: c, Country: "SE", OrderCountry: "SE", Method: "pay_later", Amount: 100, Currency: "SEK", NamesGiven: true}
		start := time.Now()
		d, err := e.Decide(ctx, in)
		decided := time.Since(start)
		if err != nil || d.Outcome != "approved" {
			b.Fatalf("%+v %v", d, err)
		}
		if _, err := store.Append(ctx, ledger.Draft{Kind: "bench.spend", Subject: string(c), Postings: d.Postings, Guards: d.Guards}); err != nil {
			b.Fatal(err)
		}
		decide = append(decide, decided)
		full = append(full, time.Since(start))
	}
	b.StopTimer()
	pct := func(ds []time.Duration, p float64) float64 {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(decide, .5), "decide-p50-ms")
	b.ReportMetric(pct(decide, .99), "decide-p99-ms")
	b.ReportMetric(pct(full, .5), "with-write-p50-ms")
	b.ReportMetric(pct(full, .99), "with-write-p99-ms")
	b.ReportMetric(float64(store.Count()), "entries")
}
