package ledger

import (
	"strings"

	"kassa/config"
)

// The defaults of Settings: what Open uses for a zero field, and what the
// embedded config.yaml documents under ledger.
const (
	DefaultSynchronous = "NORMAL"
	DefaultMaxBatch    = 1024
)

// Settings are the store's tunables an operator sets in the ledger section
// of the config file.
type Settings struct {
	// Synchronous is SQLite's synchronous pragma in WAL mode: "NORMAL"
	// (the WAL is fsynced at checkpoints, not at each commit: a commit
	// survives a crash of the process, but a power loss can lose the last
	// commits, never corrupting the database) or "FULL" (each commit is
	// fsynced before Append returns). Empty is NORMAL.
	Synchronous string `mapstructure:"synchronous"`
	// MaxBatch bounds how many write requests one transaction commits.
	MaxBatch int `mapstructure:"max_batch"`
}

// DefaultSettings returns the default of every setting.
func DefaultSettings() Settings {
	return Settings{Synchronous: DefaultSynchronous, MaxBatch: DefaultMaxBatch}
}

// Validate returns a *config.Error naming the first bad setting, its key
// relative to the ledger section.
func (s Settings) Validate() error {
	switch strings.ToUpper(s.Synchronous) {
	case "", "NORMAL", "FULL":
	default:
		return config.Errorf("synchronous", "must be NORMAL or FULL, got %q", s.Synchronous)
	}
	if s.MaxBatch < 1 || s.MaxBatch > 65536 {
		return config.Errorf("max_batch", "must be between 1 and 65536, got %d", s.MaxBatch)
	}
	return nil
}
