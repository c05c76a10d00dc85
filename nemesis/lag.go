package nemesis

import (
	"context"
	"net/http"
	"time"

	"kassa/nemesis/check"
)

// lagEvery is how often sampleLag polls every region's status.
const lagEvery = 250 * time.Millisecond

// sampleLag records each region's replication lag every lagEvery until
// stop is closed: how long ago the oldest entry it lacks was written. The
// writing time of an entry is taken as the first poll that saw its
// origin's head reach it, so the lag is known to within lagEvery. A region
// whose status does not answer (stopped, frozen) gives no sample.
func (h *harness) sampleLag(ctx context.Context, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	hc := &http.Client{Timeout: lagEvery}
	type mark struct {
		seq uint64
		at  time.Duration
	}
	written := map[string][]mark{} // origin -> when its head reached each seq seen
	t := time.NewTicker(lagEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		now := h.since()
		vectors := map[string]map[string]uint64{}
		for _, r := range h.regions {
			st, err := getStatus(ctx, hc, r.url())
			if err != nil {
				continue
			}
			vectors[r.id] = st.Vector
			head := st.Vector[r.id]
			if ms := written[r.id]; len(ms) == 0 || ms[len(ms)-1].seq < head {
				written[r.id] = append(ms, mark{head, now})
			}
		}
		for id, v := range vectors {
			var lag time.Duration
			for origin, ms := range written {
				if origin == id {
					continue
				}
				// The first mark beyond what id holds: the oldest write it
				// lacks was seen by then.
				for _, m := range ms {
					if m.seq > v[origin] {
						lag = max(lag, now-m.at)
						break
					}
				}
			}
			h.mu.Lock()
			h.lag = append(h.lag, check.Sample{At: now, Region: id, Ms: float64(lag.Microseconds()) / 1000})
			h.mu.Unlock()
		}
		// Marks every answering region is past say nothing more.
		if len(vectors) == len(h.regions) {
			for origin, ms := range written {
				keep := 0
				for keep < len(ms)-1 {
					held := true
					for _, v := range vectors {
						held = held && v[origin] >= ms[keep].seq
					}
					if !held {
						break
					}
					keep++
				}
				written[origin] = ms[keep:]
			}
		}
	}
}
