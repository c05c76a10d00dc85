package checkout_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kassa/region"
)

// BenchmarkDurability measures what each durability setting costs a
// checkout: two peered regions in this process on loopback (the same for
// every setting, so both always replicate), and clients sending to r1 a
// session and its pay-later authorization for a new consumer, each waiting
// for its answers. local acknowledges on commit (synchronous NORMAL),
// fsync after each group commit is fsynced (FULL), peer once r2 answered a
// push holding the entry. It reports authorizations/s (both requests of
// each checkout) and the authorize request's p50 and p99 latency.
//
//	go test ./checkout -run '^$' -bench Durability -benchtime 2000x -count 2
func BenchmarkDurability(b *testing.B) {
	for _, durability := range []string{"local", "fsync", "peer"} {
		for _, clients := range []int{1, benchClients} {
			b.Run(fmt.Sprintf("durability=%s/clients=%d", durability, clients), func(b *testing.B) {
				rs := startRegions(b, 2, func(c *region.Config) {
					c.Durability, c.Ledger.Synchronous = durability, ""
					// The production settings of config.yaml, not the
					// test harness's fast ones.
					c.Sync.Interval, c.Sync.Timeout, c.Sync.BatchSize = time.Second, 5*time.Second, 512
				})
				c := benchClient()
				b.ResetTimer()
				took, lat := benchCheckouts(b, c, rs[0].url, "d", b.N, clients)
				b.StopTimer()
				b.ReportMetric(float64(len(lat))/took.Seconds(), "authorizations/s")
				b.ReportMetric(float64(percentile(lat, .5).Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(percentile(lat, .99).Microseconds())/1000, "p99-ms")
			})
		}
	}
}

// benchCheckouts runs n checkouts at base from clients concurrent clients
// and returns how long they took and each authorization's latency.
func benchCheckouts(tb testing.TB, c *http.Client, base, run string, n, clients int) (time.Duration, []time.Duration) {
	var next atomic.Int64
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				key := fmt.Sprintf("%s-%d", run, i)
				code, s, err := callWith(c, "POST", base+"/v1/sessions", key, sessionBody(25_900, key))
				if err != nil || code != 201 {
					tb.Errorf("session: %d %v", code, err)
					return
				}
				t0 := time.Now()
				code, _, err = callWith(c, "POST", base+"/v1/sessions/"+s["id"].(string)+"/authorize", key+"-a",
					map[string]any{"method": "pay_later", "consumer": consumer(key + "@example.com")})
				d := time.Since(t0)
				if err != nil || code != 201 {
					tb.Errorf("authorize: %d %v", code, err)
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return time.Since(start), lat
}
