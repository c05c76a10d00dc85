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
