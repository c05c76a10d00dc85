package checkout_test

import (
	"context"
	"testing"
	"time"

	"kassa/region"
	"kassa/scoring"
)

// BenchmarkRightsRoundTrip measures a credit rights request on loopback:
// r2 asks r1 (the consumer's home) over the signed sync channel, r1 writes
// the transfer and answers with its entries, r2 applies them.
//
//	go test ./checkout -run '^$' -bench RightsRoundTrip -benchtime 2000x
func BenchmarkRightsRoundTrip(b *testing.B) {
	rs := startRegions(b, 2, func(c *region.Config) {
		creditTune(c)
		c.Scoring.CreditLimit = map[string]int64{"SEK": 1_000_000_000}
		c.Scoring.GrantShare, c.Scoring.RebalanceShare = 0, 0
	})
	r1, r2 := rs[0], rs[1]
	var email string
	for i := 0; ; i++ {
		email = "rt" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@example.com"
		if scoring.Home(r1.r.Checkout().ConsumerID(email), []string{"r1", "r2"}) == "r1" {
			break
		}
	}
	if res := shop(r1.url, email, "rt", 1_000); res.outcome != "approved" {
		b.Fatalf("%+v", res)
	}
	cid := string(r1.r.Checkout().ConsumerID(email))
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := r2.r.Node().RequestRights(ctx, "r1", "credit:"+cid+":SEK", "credit:"+cid+":rights:", 1); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(lat, .5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, .99).Microseconds())/1000, "p99-ms")
}
