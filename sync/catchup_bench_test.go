package sync_test

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"kassa/ledger"
	regionsync "kassa/sync"
)

// BenchmarkCatchUp: r3 is cut off from r1 and r2 while each of the three
// regions writes a backlog of 4,000 entries; after the heal, how long
// until every region holds every entry written before it (16,000 entries
// to apply in all), while the cluster keeps taking 300 appends/s. Bare
// stores and sync nodes in one process, production sync settings.
//
//	go test ./sync -run '^$' -bench CatchUp -benchtime 1x -count 2
func BenchmarkCatchUp(b *testing.B) {
	const backlog = 4000 // entries per region written during the partition
	const rate = 300     // appends/s across the cluster after the heal
	for it := 0; it < b.N; it++ {
		var regs []*prometheus.Registry
		c := newCluster(b, 3, 1, func(cfg *regionsync.Config) {
			benchProductionSync(cfg)
			reg := prometheus.NewRegistry()
			regs = append(regs, reg)
			cfg.Registerer = reg
		})
		r1, r2, r3 := c.members[0], c.members[1], c.members[2]
		c.f.partition("r1", "r3", true)
		c.f.partition("r2", "r3", true)
		var wg sync.WaitGroup
		for _, m := range c.members {
			for g := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := g; i < backlog; i += 16 {
						if _, err := m.store.Append(bg, benchDraft(i)); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
		}
		wg.Wait()
		heads := map[ledger.RegionID]uint64{}
		for _, m := range c.members {
			heads[ledger.RegionID(m.id)] = m.store.Vector()[ledger.RegionID(m.id)]
		}
		stop := make(chan struct{})
		var load sync.WaitGroup
		load.Add(1)
		go func() {
			defer load.Done()
			t := time.NewTicker(time.Second / rate)
			defer t.Stop()
			i := 0
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					m := c.members[i%3]
					i++
					go m.store.Append(bg, benchDraft(backlog+i))
				}
			}
		}()
		start := time.Now()
		c.f.healAll()
		for {
			caught := true
			for _, m := range []*member{r1, r2, r3} {
				v := m.store.Vector()
				for o, s := range heads {
					if v[o] < s {
						caught = false
					}
				}
			}
			if caught {
				break
			}
			if time.Since(start) > 60*time.Second {
				b.Fatal("no catch-up within 60 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		took := time.Since(start)
		b.ReportMetric(float64(took.Milliseconds()), "catchup_ms")
		// r3 lacked r1's and r2's backlogs, r1 and r2 each lacked r3's.
		b.ReportMetric(4*backlog/took.Seconds(), "entries/s")
		close(stop)
		load.Wait()
		// Entries that arrived at a region already holding them: work a
		// relay did twice.
		var dup float64
		for _, reg := range regs {
			dup += receivedDuplicates(b, reg)
		}
		b.ReportMetric(dup/(4*backlog), "dup/entry")
	}
}

// receivedDuplicates sums kassa_sync_entries_received_total{outcome=
// "duplicate"} in reg.
func receivedDuplicates(tb testing.TB, reg *prometheus.Registry) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "kassa_sync_entries_received_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == "duplicate" {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}
