package backup

import (
	"time"

	"kassa/config"
)

// DefaultSyncInterval is how often changes are shipped when
// Settings.SyncInterval is zero.
const DefaultSyncInterval = time.Second

// DefaultSnapshotInterval and DefaultRetention keep two snapshots and one
// to two days of history: a restore can reach any point of the last 24
// hours, and the replica holds two compressed copies of the database plus
// the pages changed in up to three days (see docs/backup.md).
const (
	DefaultSnapshotInterval = 24 * time.Hour
	DefaultRetention        = 24 * time.Hour
)

// Bounds of the retention settings. A snapshot copies the whole database,
// so more often than every minute would mostly rewrite it; a week of history
// is the most this package promises to keep restorable.
const (
	minSnapshotInterval = time.Minute
	maxRetention        = 7 * 24 * time.Hour
)

// Settings are what an operator sets in the backup section of the config
// file.
type Settings struct {
	// URL is the replica: file:///abs/dir or s3://bucket/path?endpoint=...
	// (see ValidateURL). The region derives a default from its data
	// directory.
	URL string `mapstructure:"url"`
	// SyncInterval is how often committed changes are shipped to the
	// replica (DefaultSyncInterval if zero). It bounds what a lost disk can
	// lose of the writes not yet pushed to peers. Half of it is spent
	// noticing new WAL frames, half uploading them, so a commit reaches the
	// replica within about one SyncInterval plus the upload's duration.
	SyncInterval time.Duration `mapstructure:"sync_interval"`
	// SnapshotInterval is how often the replica gets a full copy of the
	// database (DefaultSnapshotInterval if zero, as for Retention). Each snapshot costs the
	// database's size in the replica; between snapshots the replica holds
	// only the pages that changed.
	SnapshotInterval time.Duration `mapstructure:"snapshot_interval"`
	// Retention is how far back a restore can reach (DefaultRetention if
	// zero). Every SnapshotInterval, snapshots older than Retention are
	// deleted (the newest is always kept) with the changes before the newest
	// of them, so a restore reaches between Retention and Retention +
	// SnapshotInterval back, and the replica keeps changed pages for at most
	// Retention + 2×SnapshotInterval. It must be at least SnapshotInterval.
	Retention time.Duration `mapstructure:"retention"`
}

// DefaultSettings returns the default of every setting; URL has none of
// its own.
func DefaultSettings() Settings {
	return Settings{
		SyncInterval:     DefaultSyncInterval,
		SnapshotInterval: DefaultSnapshotInterval,
		Retention:        DefaultRetention,
	}
}

// Validate returns a *config.Error naming the first bad setting, its key
// relative to the backup section.
func (s Settings) Validate() error {
	if err := ValidateURL(s.URL); err != nil {
		return config.Errorf("url", "%v", err)
	}
	if s.SyncInterval < 100*time.Millisecond || s.SyncInterval > time.Hour {
		return config.Errorf("sync_interval", "must be between 100ms and 1h, got %s", s.SyncInterval)
	}
	s = s.withDefaults()
	if s.SnapshotInterval < minSnapshotInterval || s.SnapshotInterval > maxRetention {
		return config.Errorf("snapshot_interval", "must be between %s and %s, got %s", minSnapshotInterval, maxRetention, s.SnapshotInterval)
	}
	if s.Retention < s.SnapshotInterval || s.Retention > maxRetention {
		return config.Errorf("retention", "must be between snapshot_interval (%s) and %s, got %s", s.SnapshotInterval, maxRetention, s.Retention)
	}
	return nil
}

// withDefaults returns s with the retention settings left zero set to their
// defaults.
func (s Settings) withDefaults() Settings {
	if s.SnapshotInterval == 0 {
		s.SnapshotInterval = DefaultSnapshotInterval
	}
	if s.Retention == 0 {
		s.Retention = DefaultRetention
	}
	return s
}
