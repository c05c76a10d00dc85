package backup

import (
	"time"

	"kassa/config"
)

// DefaultSyncInterval is how often changes are shipped when
// Settings.SyncInterval is zero.
const DefaultSyncInterval = time.Second

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
}

// DefaultSettings returns the default of every setting; URL has none of
// its own.
func DefaultSettings() Settings { return Settings{SyncInterval: DefaultSyncInterval} }

// Validate returns a *config.Error naming the first bad setting, its key
// relative to the backup section.
func (s Settings) Validate() error {
	if err := ValidateURL(s.URL); err != nil {
		return config.Errorf("url", "%v", err)
	}
	if s.SyncInterval < 100*time.Millisecond || s.SyncInterval > time.Hour {
		return config.Errorf("sync_interval", "must be between 100ms and 1h, got %s", s.SyncInterval)
	}
	return nil
}
