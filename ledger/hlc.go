package ledger

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// HLC is a hybrid logical clock timestamp: wall time in milliseconds since the
// Unix epoch and a logical counter that orders events within one millisecond.
// Timestamps from one origin strictly increase with seq, and a region never
// stamps an entry below one it has already seen.
type HLC struct {
	Wall    int64  `json:"wall"`
	Logical uint32 `json:"logical"`
}

// Less reports whether h orders before o.
func (h HLC) Less(o HLC) bool {
	return h.Wall < o.Wall || h.Wall == o.Wall && h.Logical < o.Logical
}

// Time returns the wall part as a time.
func (h HLC) Time() time.Time { return time.UnixMilli(h.Wall).UTC() }

func (h HLC) String() string { return fmt.Sprintf("%d.%d", h.Wall, h.Logical) }

// MaxClockDrift bounds how far ahead of the local wall clock a remote
// timestamp may pull the local clock. Entries stamped further ahead are still
// stored (they are signed facts) but do not move the clock, so one region
// with a broken clock cannot drag the others into the future.
const MaxClockDrift = time.Minute

// clock issues HLC timestamps. It is safe for concurrent use.
type clock struct {
	mu   sync.Mutex
	now  func() time.Time
	last HLC
}

// next returns a timestamp above every one issued or observed before.
func (c *clock) next() HLC {
	c.mu.Lock()
	defer c.mu.Unlock()
	wall := c.now().UnixMilli()
	if wall > c.last.Wall {
		c.last = HLC{Wall: wall}
	} else {
		c.last.Logical++
	}
	return c.last
}

// observe moves the clock past a remote timestamp within MaxClockDrift.
func (c *clock) observe(h HLC) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.Wall > c.now().Add(MaxClockDrift).UnixMilli() {
		return
	}
	if c.last.Less(h) {
		c.last = h
	}
}

// Position is where an entry stands in the order every region folds
// entries in: by hybrid logical clock, then origin, then sequence number.
type Position struct {
	HLC    HLC
	Origin RegionID
	Seq    uint64
}

// Less reports whether p comes before q. It is a total order on entries
// with distinct (origin, seq), so a fold over it is the same in every
// region that holds the same entries.
func (p Position) Less(q Position) bool {
	if p.HLC != q.HLC {
		return p.HLC.Less(q.HLC)
	}
	if p.Origin != q.Origin {
		return p.Origin < q.Origin
	}
	return p.Seq < q.Seq
}

// Position returns e's position in the fold order.
func (e *Entry) Position() Position { return Position{e.HLC, e.Origin, e.Seq} }

// Before reports whether e comes before o in the fold order.
func (e *Entry) Before(o *Entry) bool { return e.Position().Less(o.Position()) }

// SortEntries sorts es in the order of Before.
func SortEntries(es []Entry) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Before(&es[j]) })
}
