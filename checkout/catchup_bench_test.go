package checkout_test

import (
	"testing"
	"time"

	"kassa/ledger"
)

// BenchmarkRegionCatchUp: r2 is cut off while r1 takes b.N pay-later
// checkouts; after the heal, how fast r2 (a whole region: folds, outboxes,
// backups) takes in what it missed, with nothing else running. Its rate
// next to the sync package's BenchmarkReceive (the same transfer into a
// bare store) says what the region's followers cost a catch-up.
//
//	go test ./checkout -run '^$' -bench RegionCatchUp -benchtime 2000x -cpuprofile /tmp/catchup.out
func BenchmarkRegionCatchUp(b *testing.B) {
	rs := startRegions(b, 2, nil)
	r1, r2 := rs[0], rs[1]
	partition(r1, r2, true)
	benchAuthorizations(b, benchClient(), r1.url, "cu", b.N)
	head := r1.r.Ledger().Vector()[ledger.RegionID("r1")]
	missing := head - r2.r.Ledger().Vector()[ledger.RegionID("r1")]
	b.ResetTimer()
	start := time.Now()
	partition(r1, r2, false)
	for r2.r.Ledger().Vector()[ledger.RegionID("r1")] < head {
		if time.Since(start) > 5*time.Minute {
			b.Fatal("r2 did not catch up within 5 minutes")
		}
		time.Sleep(time.Millisecond) // polling the observable state
	}
	took := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(missing), "entries")
	b.ReportMetric(float64(missing)/took.Seconds(), "entries/s")
}
