package sync

import (
	"time"

	"kassa/config"
)

// The defaults of Settings: what New uses for a zero field, and what the
// embedded config.yaml documents under sync.
const (
	DefaultBatchSize            = 512
	DefaultMaxBodyBytes         = 8 << 20
	DefaultInterval             = time.Second
	DefaultTimeout              = 5 * time.Second
	DefaultRetries              = 3
	DefaultRetryWaitMin         = 50 * time.Millisecond
	DefaultRetryWaitMax         = 2 * time.Second
	DefaultMaxConcurrentPerPeer = 4
	DefaultMaxRightsPerPeer     = 16
	DefaultPushesInFlight       = 2
	DefaultReplayWindow         = time.Minute
	DefaultRecoveryTimeout      = 10 * time.Second
	DefaultAckTimeout           = 5 * time.Second
	DefaultLookupTimeout        = 300 * time.Millisecond
)

// Settings are the tunables of replication an operator sets in the sync
// section of the config file.
type Settings struct {
	// BatchSize is the most entries one push carries (and a receiver
	// accepts).
	BatchSize int `mapstructure:"batch_size"`
	// MaxBodyBytes bounds a request body the receiver accepts; one that
	// declares more is refused before it is read, and at most four such
	// bodies are read at once, across all peers, before their signatures
	// can be checked.
	MaxBodyBytes int64 `mapstructure:"max_body_bytes"`
	// Interval is how often a peer that has nothing new gets an empty push
	// (the vector exchange that repairs anything a lost push missed).
	Interval time.Duration `mapstructure:"interval"`
	// Timeout bounds one HTTP attempt, and how long a peer's request body
	// may take to arrive; Retries is how often a failed attempt is retried
	// (with backoff between RetryWaitMin and RetryWaitMax).
	Timeout      time.Duration `mapstructure:"timeout"`
	Retries      int           `mapstructure:"retries"`
	RetryWaitMin time.Duration `mapstructure:"retry_wait_min"`
	RetryWaitMax time.Duration `mapstructure:"retry_wait_max"`
	// MaxConcurrentPerPeer bounds the requests from one peer served at once,
	// counted from before the body is read (the peer is then only claimed);
	// more are answered 429.
	MaxConcurrentPerPeer int `mapstructure:"max_concurrent_per_peer"`
	// MaxRightsPerPeer bounds the rights requests from one peer served at
	// once. They have a lane of their own, apart from MaxConcurrentPerPeer:
	// a shopper's decision waits on each, so pushes and pulls, however
	// many, never crowd them out. More are answered 429.
	MaxRightsPerPeer int `mapstructure:"max_rights_per_peer"`
	// PushesInFlight is how many pushes to one peer may await their answers
	// at once while this region catches it up: the peer verifies the next
	// batch while it commits the previous one. A peer that answers a push
	// with 429 (its MaxConcurrentPerPeer is lower) gets one at a time from
	// then on.
	PushesInFlight int `mapstructure:"pushes_in_flight"`
	// ReplayWindow is how far a request's timestamp may be from this
	// region's clock; signatures are remembered that long.
	ReplayWindow time.Duration `mapstructure:"replay_window"`
	// RecoveryTimeout bounds how long Recover waits for peers.
	RecoveryTimeout time.Duration `mapstructure:"recovery_timeout"`
	// AckTimeout bounds how long AwaitPeer waits for a peer to report
	// that it holds an entry (durability: peer).
	AckTimeout time.Duration `mapstructure:"ack_timeout"`
	// LookupTimeout bounds a read-through (Lookup): how long a region
	// asked for an object it does not hold waits for its peers' answers
	// before it says the object may exist elsewhere.
	LookupTimeout time.Duration `mapstructure:"lookup_timeout"`
}

// DefaultSettings returns the default of every setting.
func DefaultSettings() Settings {
	return Settings{
		BatchSize: DefaultBatchSize, MaxBodyBytes: DefaultMaxBodyBytes, Interval: DefaultInterval,
		Timeout: DefaultTimeout, Retries: DefaultRetries, RetryWaitMin: DefaultRetryWaitMin, RetryWaitMax: DefaultRetryWaitMax,
		MaxConcurrentPerPeer: DefaultMaxConcurrentPerPeer, MaxRightsPerPeer: DefaultMaxRightsPerPeer, PushesInFlight: DefaultPushesInFlight,
		ReplayWindow: DefaultReplayWindow, RecoveryTimeout: DefaultRecoveryTimeout, AckTimeout: DefaultAckTimeout,
		LookupTimeout: DefaultLookupTimeout,
	}
}

// Validate returns a *config.Error naming the first bad setting, its key
// relative to the sync section.
func (s Settings) Validate() error {
	if s.BatchSize < 1 || s.BatchSize > 10000 {
		return config.Errorf("batch_size", "must be between 1 and 10000, got %d", s.BatchSize)
	}
	if s.MaxBodyBytes < 64<<10 || s.MaxBodyBytes > 256<<20 {
		return config.Errorf("max_body_bytes", "must be between 65536 and 268435456, got %d", s.MaxBodyBytes)
	}
	if s.Retries < 0 || s.Retries > 20 {
		return config.Errorf("retries", "must be between 0 and 20, got %d", s.Retries)
	}
	if s.MaxConcurrentPerPeer < 1 || s.MaxConcurrentPerPeer > 1000 {
		return config.Errorf("max_concurrent_per_peer", "must be between 1 and 1000, got %d", s.MaxConcurrentPerPeer)
	}
	if s.MaxRightsPerPeer < 1 || s.MaxRightsPerPeer > 1000 {
		return config.Errorf("max_rights_per_peer", "must be between 1 and 1000, got %d", s.MaxRightsPerPeer)
	}
	if s.PushesInFlight < 1 || s.PushesInFlight > 16 {
		return config.Errorf("pushes_in_flight", "must be between 1 and 16, got %d", s.PushesInFlight)
	}
	// In a fixed order, so the first problem is the same one every time.
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"interval", s.Interval}, {"timeout", s.Timeout}, {"retry_wait_min", s.RetryWaitMin},
		{"retry_wait_max", s.RetryWaitMax}, {"replay_window", s.ReplayWindow}, {"recovery_timeout", s.RecoveryTimeout},
		{"ack_timeout", s.AckTimeout}, {"lookup_timeout", s.LookupTimeout},
	} {
		if d.v < time.Millisecond || d.v > time.Hour {
			return config.Errorf(d.key, "must be a duration between 1ms and 1h, got %s", d.v)
		}
	}
	if s.RetryWaitMin > s.RetryWaitMax {
		return config.Errorf("retry_wait_min", "must not exceed sync.retry_wait_max")
	}
	return nil
}
