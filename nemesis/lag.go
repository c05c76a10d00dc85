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
	book := lagBook{regions: len(h.regions)}
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
			if st, err := getStatus(ctx, hc, r.url()); err == nil {
				vectors[r.id] = st.Vector
			}
		}
		lags := book.observe(now, vectors)
		h.mu.Lock()
		for id, lag := range lags {
			h.lag = append(h.lag, check.Sample{At: now, Region: id, Ms: float64(lag.Microseconds()) / 1000})
		}
		h.mu.Unlock()
	}
}

// lagBook turns polls of the regions' vectors into replication lag: it
// remembers when each origin's head was first seen at each seq.
type lagBook struct {
	regions int                  // how many regions there are
	written map[string][]lagMark // origin -> when its head reached each seq seen, oldest first
}

type lagMark struct {
	seq uint64
	at  time.Duration
}

// observe takes the vectors of the regions that answered a poll at now
// (region id -> origin -> seq) and returns each one's lag: how long ago
// the oldest entry it lacks was first seen written, 0 if it lacks none.
func (b *lagBook) observe(now time.Duration, vectors map[string]map[string]uint64) map[string]time.Duration {
	if b.written == nil {
		b.written = map[string][]lagMark{}
	}
	for id, v := range vectors {
		if ms := b.written[id]; len(ms) == 0 || ms[len(ms)-1].seq < v[id] {
			b.written[id] = append(ms, lagMark{v[id], now})
		}
	}
	lags := make(map[string]time.Duration, len(vectors))
	for id, v := range vectors {
		var lag time.Duration
		for origin, ms := range b.written {
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
		lags[id] = lag
	}
	// Marks every region is past say nothing more; the last of each
	// origin is kept. Only a poll every region answered can tell.
	if len(vectors) == b.regions {
		for origin, ms := range b.written {
			keep := 0
			for ; keep < len(ms)-1; keep++ {
				held := true
				for _, v := range vectors {
					held = held && v[origin] >= ms[keep].seq
				}
				if !held {
					break
				}
			}
			b.written[origin] = ms[keep:]
		}
	}
	return lags
}
