package reconcile

import (
	"time"

	"kassa/config"
)

// The defaults of Settings, which the embedded config.yaml documents under
// reconciliation.
const (
	DefaultInterval = time.Minute
	DefaultDelay    = 2 * time.Hour
	DefaultStagger  = 15 * time.Minute
)

// Settings are the reconciliation section of the config file.
type Settings struct {
	// Enabled runs the daily reconciliation on a schedule; staff can run a
	// day on demand either way.
	Enabled bool `mapstructure:"enabled"`
	// Interval is how often a region checks whether the previous UTC day
	// is due (and retries a run that failed, say the file was not ready).
	Interval time.Duration `mapstructure:"interval"`
	// Delay is how long after midnight UTC the previous day is due: the
	// acquirer's file must be complete by then.
	Delay time.Duration `mapstructure:"delay"`
	// Stagger is how much longer each region waits than the one before it
	// in the sorted list of region ids, so that normally one region runs
	// the day and the others find its run.
	Stagger time.Duration `mapstructure:"stagger"`
}

// DefaultSettings returns the default of every setting.
func DefaultSettings() Settings {
	return Settings{Enabled: true, Interval: DefaultInterval, Delay: DefaultDelay, Stagger: DefaultStagger}
}

// Validate returns a *config.Error naming the first bad setting, its key
// relative to the reconciliation section.
func (s Settings) Validate() error {
	if s.Interval < time.Second || s.Interval > 24*time.Hour {
		return config.Errorf("interval", "must be a duration from 1s to 24h, got %s", s.Interval)
	}
	if s.Delay < 0 || s.Delay >= 24*time.Hour {
		return config.Errorf("delay", "must be a duration from 0s to under 24h, got %s", s.Delay)
	}
	if s.Stagger < 0 || s.Stagger > 6*time.Hour {
		return config.Errorf("stagger", "must be a duration from 0s to 6h, got %s", s.Stagger)
	}
	return nil
}
