package ledger

// Exported for the benchmarks' insert ceiling, which writes SQLite as the
// store does but without it: the same write-connection DSN and the same
// multi-row statements.
var (
	WriteDSN     = func(path string) string { return dsn(path, "NORMAL", false, nil) }
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
