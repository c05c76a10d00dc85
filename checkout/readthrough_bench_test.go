package checkout_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// BenchmarkReadThrough measures what a merchant's GET of a session it just
// created in r1 costs through r2 when r1's replication is held back: r2
// misses, asks r1 over the signed sync channel (real HTTP on loopback),
// applies the session's entries with every check a push gets, and answers.
// Each session is a new one, so every GET is a miss; its p50 and p99 are
// reported with those of a GET r2 already holds (hit) for comparison.
//
//	go test ./checkout -run '^$' -bench ReadThrough -benchtime 2000x
func BenchmarkReadThrough(b *testing.B) {
	rs := startRegions(b, 2, nil)
	r1, r2 := rs[0], rs[1]
	holdPushes(r1, true, r2)
	miss := make([]time.Duration, 0, b.N)
	hit := make([]time.Duration, 0, b.N)
	get := func(url string) time.Duration {
		start := time.Now()
		got := call(b, "GET", url, "", nil)
		d := time.Since(start)
		if got.status != http.StatusOK {
			b.Fatalf("GET through r2: got %d %s", got.status, got.raw)
		}
		return d
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := call(b, "POST", r1.url+"/v1/sessions", fmt.Sprintf("bench-rt-%d", i), sessionBody(10_000, "bench-rt"))
		if s.status != http.StatusCreated {
			b.Fatalf("create session: got %d %s", s.status, s.raw)
		}
		url := r2.url + "/v1/sessions/" + s.str("id")
		b.StartTimer()
		miss = append(miss, get(url))
		b.StopTimer()
		hit = append(hit, get(url))
		b.StartTimer()
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(percentile(miss, .5)), "miss-p50-ms")
	b.ReportMetric(ms(percentile(miss, .99)), "miss-p99-ms")
	b.ReportMetric(ms(percentile(hit, .5)), "hit-p50-ms")
	b.ReportMetric(ms(percentile(hit, .99)), "hit-p99-ms")
}
