package client

import (
	"sync"
	"time"
)

// SuspectFor is how long a region that did not answer an attempt (a
// connection error, or an attempt that timed out) is asked last by every
// Client sharing its Health, unless it answers sooner. After that, a
// Client with a probe (Config.Probe) asks the region's /healthz before it
// sends it an operation again, until the region answers something.
const SuspectFor = 5 * time.Second

// Health is what Clients remember about regions between operations: which
// ones did not answer lately. A region that took a whole attempt timeout
// to not answer (frozen, or a black hole) would otherwise cost that much
// again to every operation that starts with it. Clients given the same
// Health (Config.Health) share what each learns; a Client without one has
// its own. The zero value is ready to use, and it is safe for concurrent
// use.
type Health struct {
	mu sync.Mutex
	// suspect holds, for each region that did not answer and has not
	// answered since, until when it is asked last.
	suspect map[string]time.Time
	now     func() time.Time // time.Now; tests move it
}

func (h *Health) clock() time.Time {
	if h.now != nil {
		return h.now()
	}
	return time.Now()
}

// NewHealth returns an empty Health.
func NewHealth() *Health { return &Health{} }

// failed notes that region did not answer an attempt.
func (h *Health) failed(region string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.suspect == nil {
		h.suspect = map[string]time.Time{}
	}
	h.suspect[region] = h.clock().Add(SuspectFor)
}

// answered notes that region answered (whatever it said).
func (h *Health) answered(region string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.suspect, region)
}

// Suspect reports whether region failed to answer within the last
// SuspectFor and has not answered since.
func (h *Health) Suspect(region string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	until, ok := h.suspect[region]
	return ok && h.clock().Before(until)
}

// lapsed reports whether region was suspect and has not answered since,
// though SuspectFor has passed: it may be back, or still frozen.
func (h *Health) lapsed(region string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	until, ok := h.suspect[region]
	return ok && !h.clock().Before(until)
}
