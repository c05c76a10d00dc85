package ledger

import "context"

// Exported for the benchmarks' insert ceiling, which writes SQLite as the
// store does but without it: the same write-connection DSN and the same
// multi-row statements.
var (
	WriteDSN     = func(path string) string { return dsn(path, "NORMAL", false, 0, nil) }
	Placeholders = placeholders
)

const (
	EntryRows   = entryRows
	BalanceRows = balanceRows
)

// SetTailCap makes s keep only n of the latest entries in memory, so that
// tests reach the tail's trimming and its fallback to the database.
func SetTailCap(s *Store, n int) {
	s.tail.mu.Lock()
	s.tail.cap = n
	s.tail.mu.Unlock()
}

// SetSubjectLimits makes s keep at most n subjects' entries in memory, and
// no list longer than entries, so that tests reach eviction and the
// database fallback.
func SetSubjectLimits(s *Store, n, entries int) {
	s.subjects.mu.Lock()
	s.subjects.lists.Resize(n)
	s.subjects.limit = entries
	s.subjects.mu.Unlock()
}

// SubjectInMemory reports whether s keeps subject's entries in memory.
func SubjectInMemory(s *Store, subject string) bool {
	s.subjects.mu.Lock()
	defer s.subjects.mu.Unlock()
	return s.subjects.lists.Contains(subject)
}

// WaitSubjectsLearned waits until s has read the subjects stored before it
// was opened.
func WaitSubjectsLearned(s *Store) { <-s.learnDone }

// SubjectFromDatabase is EntriesBySubject read from the database alone.
func SubjectFromDatabase(ctx context.Context, s *Store, subject string) ([]Entry, error) {
	return s.queryEntries(ctx, `SELECT body FROM entries WHERE subject = ? AND subject <> '' ORDER BY hlc, origin, seq`, subject)
}

// WireFromDatabase is WireAfter read from the database alone.
func WireFromDatabase(ctx context.Context, s *Store, origin RegionID, after uint64, limit int) ([]Wire, error) {
	return s.wireFromDatabase(ctx, origin, after, limit)
}
