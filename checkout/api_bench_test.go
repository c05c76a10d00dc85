package checkout_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAuthorizeAPI drives one region through its HTTP API in-process:
// 32 clients, each creating a session and authorizing it for pay later
// (a new consumer each time). It reports authorizations per second and
// authorize latency; `kassa bench` is the same load from outside.
//
//	go test ./checkout -run '^$' -bench AuthorizeAPI -benchtime 4000x -cpuprofile /tmp/cpu.out
func BenchmarkAuthorizeAPI(b *testing.B) {
	r := startRegions(b, 1, nil)[0]
	var next atomic.Int64
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				key := fmt.Sprintf("b%d", i)
				code, s, err := try("POST", r.url+"/v1/sessions", key, sessionBody(25_900, key))
				if err != nil || code != 201 {
					b.Errorf("session: %d %v", code, err)
					return
				}
				t0 := time.Now()
				code, _, err = try("POST", r.url+"/v1/sessions/"+s["id"].(string)+"/authorize", key+"-a",
					map[string]any{"method": "pay_later", "consumer": consumer(fmt.Sprintf("b%d@example.com", i))})
				d := time.Since(t0)
				if err != nil || code != 201 {
					b.Errorf("authorize: %d %v", code, err)
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(len(lat))/time.Since(start).Seconds(), "authorizations/s")
	b.ReportMetric(float64(percentile(lat, .5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, .99).Microseconds())/1000, "p99-ms")
}
