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

	// subjects is kept in step with the tail: both change under mu.
	subjects *subjects
}

type tailItem struct {
	kind    string
	subject string
	origin  RegionID
	seq     uint64
	body    []byte // canonical bytes and signature, as stored
}

// head is the position of the last entry committed. The caller holds mu.
func (t *tail) head() int64 { return t.floor + int64(len(t.items)) }

// add records the entries one commit inserted, in insertion order: items
// and the same entries decoded.
func (t *tail) add(items []tailItem, es []*Entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.subjects.committed(es)
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
// position read up to, and true. Only the entries returned are decoded,
// after the lock is released: the committer's add waits for no decoding.
func (t *tail) since(pos int64, kinds []string, limit int) ([]Entry, int64, bool, error) {
	picked, last, ok := t.pick(pos, kinds, limit)
	if !ok || len(picked) == 0 {
		return nil, last, ok, nil
	}
	out := make([]Entry, len(picked))
	for i, it := range picked {
		// Validated when it was stored (a draft on Append, a peer's entry
		// before it was verified): decoding is all that is left.
		if err := out[i].decode(it.body, false); err != nil {
			return nil, pos, true, fmt.Errorf("%w: stored entry %s/%d: %v", ErrCorrupt, it.origin, it.seq, err)
		}
	}
	return out, last, true, nil
}

// pick copies out the items since returns, under the read lock.
func (t *tail) pick(pos int64, kinds []string, limit int) ([]tailItem, int64, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if pos < t.floor {
		return nil, pos, false
	}
	head := t.head()
	if pos >= head {
		return nil, max(pos, head), true
	}
	var out []tailItem
	last := pos
	for i := pos - t.floor; i < int64(len(t.items)) && len(out) < limit; i++ {
		last = t.floor + i + 1
		if kinds == nil || slices.Contains(kinds, t.items[i].kind) {
			out = append(out, t.items[i])
		}
	}
	if kinds != nil && len(out) < limit {
		last = head // nothing else of these kinds up to the head
	}
	return out, last, true
}

// complete adds to es, every entry about subject that a database read whose
// snapshot ended at position snap found, the entries about subject
// committed after snap, and keeps the whole list in memory. It returns es
// unchanged when the tail no longer holds everything after snap, or when
// the read saw a commit the tail has not taken yet (it will, in a moment).
func (t *tail) complete(subject string, es []Entry, snap int64) ([]Entry, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	head := t.head()
	if snap < t.floor || snap > head {
		return es, nil
	}
	added := false
	for i := snap - t.floor; i < int64(len(t.items)); i++ {
		if it := &t.items[i]; it.subject == subject {
			var e Entry
			if err := e.decode(it.body, false); err != nil {
				return nil, fmt.Errorf("%w: stored entry %s/%d: %v", ErrCorrupt, it.origin, it.seq, err)
			}
			es, added = append(es, e), true
		}
	}
	if added {
		sortSubject(es)
	}
	t.subjects.fill(subject, es)
	return es, nil
}

// wireAfter returns, if the tail holds every entry of origin with seq after
// after that has been committed, up to limit of them in seq order, and true.
// An origin's entries are committed in seq order, so once the tail holds
// after+1 it holds all that came later. The search runs back from the
// newest entry: a peer that is keeping up asks for a few entries near the
// end.
func (t *tail) wireAfter(origin RegionID, after uint64, limit int) ([]Wire, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	start := -1
	for i := len(t.items) - 1; i >= 0; i-- {
		it := &t.items[i]
		if it.origin != origin || it.seq > after+1 {
			continue
		}
		if it.seq == after+1 {
			start = i
		}
		break // below after+1: the entry after it is not in the tail
	}
	if start < 0 {
		return nil, false
	}
	var out []Wire
	for i := start; i < len(t.items) && len(out) < limit; i++ {
		if it := &t.items[i]; it.origin == origin {
			out = append(out, Wire{Origin: origin, Seq: it.seq, Body: it.body})
		}
	}
	return out, true
}
