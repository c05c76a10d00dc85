package ledger

import (
	"slices"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

const (
	// subjectCap is how many subjects' entries the store keeps in memory,
	// the most recently used first: about the last few seconds of checkouts
	// at full load, when a session is authorized and its order captured.
	subjectCap = 8192
	// subjectMaxEntries is the longest list kept: a subject with more
	// entries (a region's mode, a busy day's reconciliation) is read from
	// the database each time, so that one commit never copies a long list.
	subjectMaxEntries = 64
	// seenFalsePositives is the share of subjects never stored that the
	// filter of stored subjects takes for stored ones; each costs one
	// database read that finds nothing.
	seenFalsePositives = 0.01
	// seenMinCapacity is the first filter's capacity on a new ledger.
	seenMinCapacity = 1 << 18
)

// subjects serves EntriesBySubject from memory for the subjects a region is
// busy with: the entries of recently read or written subjects, complete and
// in the database's order, kept up to date by every commit, and a filter of every
// subject stored, so that asking about a subject nothing was ever stored
// for (a new session's id, checked before it is created; an order not yet
// authorized) reads nothing either.
//
// A list is complete: it holds every entry about its subject the store
// held when the list was made, and each commit that stores another adds it
// before the commit's writers are answered. The filter never says a stored
// subject is unknown; it may take an unknown one for stored (about one in a
// hundred for each filter in the chain), and then the database answers. Until the subjects stored before
// Open have all been read into it (in the background, see Store.learn), it
// is not asked.
//
// Lists reach the cache in two ways: a commit storing the first entry of a
// subject the filter has never seen, and a database read (completed from the
// tail with whatever committed after the read's snapshot). Its fields are
// guarded by mu; the tail's lock is taken before mu when both are held.
type subjects struct {
	mu    sync.Mutex
	lists *simplelru.LRU[string, []Entry]
	seen  []*bloom.BloomFilter // a chain, each twice the previous one's capacity
	last  uint                 // the capacity of the last filter
	room  uint                 // new subjects the last filter takes before the next is added
	ready bool                 // seen holds every subject stored before Open, too
	limit int                  // subjectMaxEntries, or less in tests
}

// newSubjects makes a cache for a ledger that holds stored entries.
func newSubjects(stored int64) *subjects {
	lists, err := simplelru.NewLRU[string, []Entry](subjectCap, nil)
	if err != nil {
		panic(err) // only for a size below one
	}
	c := &subjects{lists: lists, limit: subjectMaxEntries}
	c.grow(max(seenMinCapacity, 2*uint(stored)))
	return c
}

func (c *subjects) grow(capacity uint) {
	c.seen = append(c.seen, bloom.NewWithEstimates(capacity, seenFalsePositives))
	c.last, c.room = capacity, capacity
}

// seenLocked reports whether subject may have been stored. The caller holds mu.
func (c *subjects) seenLocked(subject string) bool {
	for _, f := range c.seen {
		if f.TestString(subject) {
			return true
		}
	}
	return false
}

// markLocked records that subject is stored. The caller holds mu.
func (c *subjects) markLocked(subject string) {
	if !c.seenLocked(subject) {
		c.addLocked(subject)
	}
}

// addLocked adds subject, not yet seen, to the filter. The caller holds mu.
func (c *subjects) addLocked(subject string) {
	if c.room == 0 {
		c.grow(2 * c.last)
	}
	c.seen[len(c.seen)-1].AddString(subject)
	c.room--
}

// learn records subjects stored before Open; done says that all of them
// have been.
func (c *subjects) learn(batch []string, done bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range batch {
		c.markLocked(s)
	}
	if done {
		c.ready = true
	}
}

// get returns subject's entries and true when memory knows them: a copy of
// its list, or none when no entry about it was ever stored.
func (c *subjects) get(subject string) ([]Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.lists.Get(subject); ok {
		return slices.Clone(l), true
	}
	if c.ready && !c.seenLocked(subject) {
		return nil, true
	}
	return nil, false
}

// committed takes the entries one commit stored, in the order stored. The
// caller holds the tail's lock.
func (c *subjects) committed(es []*Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range es {
		if e.Subject == "" {
			continue
		}
		l, listed := c.lists.Peek(e.Subject)
		seen := listed || c.seenLocked(e.Subject) // a listed subject is in the filter
		switch {
		case listed && len(l) >= c.limit:
			c.lists.Remove(e.Subject)
		case listed:
			c.lists.Add(e.Subject, insertEntry(l, *e))
		case c.ready && !seen:
			c.lists.Add(e.Subject, []Entry{*e})
		}
		if !seen {
			c.addLocked(e.Subject)
		}
	}
}

// fill keeps es, every entry about subject as of the tail's head, unless
// memory holds a list already. The caller holds the tail's lock (for
// reading at least), so no commit runs in between.
func (c *subjects) fill(subject string, es []Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(es) > 0 && len(es) <= c.limit && !c.lists.Contains(subject) {
		c.lists.Add(subject, slices.Clone(es))
	}
}

// insertEntry returns l with e in its place in subject order (usually the
// end: entries mostly commit in that order).
func insertEntry(l []Entry, e Entry) []Entry {
	i := len(l)
	for i > 0 && subjectLess(&e, &l[i-1]) {
		i--
	}
	return slices.Insert(l, i, e)
}

// subjectLess is the order EntriesBySubject answers in, the database's
// (ORDER BY hlc, origin, seq, where the hlc column is the wall part): the
// same in every region, though not quite fold order (Before), which
// compares the logical part before the origin.
func subjectLess(a, b *Entry) bool {
	if a.HLC.Wall != b.HLC.Wall {
		return a.HLC.Wall < b.HLC.Wall
	}
	if a.Origin != b.Origin {
		return a.Origin < b.Origin
	}
	return a.Seq < b.Seq
}

// sortSubject sorts es in subject order.
func sortSubject(es []Entry) {
	slices.SortStableFunc(es, func(a, b Entry) int {
		switch {
		case subjectLess(&a, &b):
			return -1
		case subjectLess(&b, &a):
			return 1
		}
		return 0
	})
}
