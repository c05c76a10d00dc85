package ledger

import (
	"fmt"
	"slices"
	"sync"
)

// tailCap is how many of the latest committed entries the tail keeps.
// Followers (folds, outboxes, the activity feed) are normally a few commits
// behind; one that falls further behind (a slow start, a burst of
// replication) reads from the database until it is within reach again.
const tailCap = 16384

// tail keeps the stored form of the latest committed entries in local
// order, so that EntriesSince and EntriesOfKindsSince serve the region's
// followers from memory: each of them reads every entry, and reading each
// back from SQLite once per follower cost more than writing it.
//
// Positions are SQLite rowids of an INTEGER PRIMARY KEY table that is only
// ever appended to by the one committer: each inserted entry gets the
// largest position plus one. So the entries committed after Open are at
// floor+1, floor+2, ... in commit order, and the tail knows each one's
// position without asking the database.
type tail struct {
	mu    sync.RWMutex
	floor int64 // every entry at a position above floor is in items
	items []tailItem
	cap   int // tailCap, or less in tests
}

type tailItem struct {
	kind   string
	origin RegionID
	seq    uint64
	body   []byte // canonical bytes and signature, as stored
}

// head is the position of the last entry committed. The caller holds mu.
func (t *tail) head() int64 { return t.floor + int64(len(t.items)) }

// add records the entries one commit inserted, in insertion order.
func (t *tail) add(items []tailItem) {
	t.mu.Lock()
	defer t.mu.Unlock()
	capacity := t.cap
	if capacity <= 0 {
		capacity = tailCap
	}
	if over := len(t.items) + len(items) - capacity; over > 0 {
		// Drop down to half the capacity, so that trimming is rare.
		drop := min(len(t.items), over+capacity/2)
		t.items = slices.Delete(t.items, 0, drop)
		t.floor += int64(drop)
	}
	t.items = append(t.items, items...)
}

// since returns, if the tail holds everything after pos, up to limit
// entries after pos of the given kinds (all kinds when kinds is nil), the
// position read up to, and true. Only the entries returned are decoded.
func (t *tail) since(pos int64, kinds []string, limit int) ([]Entry, int64, bool, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if pos < t.floor {
		return nil, pos, false, nil
	}
	head := t.head()
	if pos >= head {
		return nil, max(pos, head), true, nil
	}
	var out []Entry
	last := pos
	for i := pos - t.floor; i < int64(len(t.items)) && len(out) < limit; i++ {
		it := &t.items[i]
		last = t.floor + i + 1
		if kinds != nil && !slices.Contains(kinds, it.kind) {
			continue
		}
		// Validated when it was stored (a draft on Append, a peer's entry
		// before it was verified): decoding is all that is left.
		var e Entry
		if err := e.decode(it.body, false); err != nil {
			return nil, pos, true, fmt.Errorf("%w: stored entry %s/%d (local position %d): %v", ErrCorrupt, it.origin, it.seq, last, err)
		}
		out = append(out, e)
	}
	if kinds != nil && len(out) < limit {
		last = head // nothing else of these kinds up to the head
	}
	return out, last, true, nil
}
