package webhook

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"kassa/config"
	"kassa/netguard"
)

// Defaults of the settings; a zero setting takes its default.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultMaxAge        = 36 * time.Hour
	DefaultTakeoverAfter = 15 * time.Minute
	DefaultConcurrency   = 8
	DefaultRetryMin      = 30 * time.Second
	DefaultRetryMax      = time.Hour
)

// Config configures a Dispatcher. The tagged fields are the `webhooks`
// settings of config.yaml; the others are set by whoever builds the
// dispatcher (the region, tests). Zero values take the defaults.
type Config struct {
	// Timeout bounds one POST to a merchant (connect, TLS, headers, body).
	Timeout time.Duration `mapstructure:"timeout"`
	// MaxAge is how long an event is retried before it is given up and
	// recorded as failed. At least a day: merchants' outages last hours.
	MaxAge time.Duration `mapstructure:"max_age"`
	// TakeoverAfter is how long another region waits for the writing
	// region to record a delivery before it delivers the event itself. The
	// second region in line waits twice as long, and so on.
	TakeoverAfter time.Duration `mapstructure:"takeover_after"`
	// Concurrency bounds the deliveries in flight.
	Concurrency int `mapstructure:"concurrency"`
	// RetryMin and RetryMax bound the exponential backoff between
	// attempts; each wait is jittered.
	RetryMin time.Duration `mapstructure:"retry_min"`
	RetryMax time.Duration `mapstructure:"retry_max"`

	// Region is this region's id and Peers the other regions' (the
	// takeover line).
	Region string   `mapstructure:"-" json:"-"`
	Peers  []string `mapstructure:"-" json:"-"`
	// AllowLoopback (development mode) lets webhooks go to any http(s)
	// URL; otherwise only https URLs whose every address is public.
	AllowLoopback bool `mapstructure:"-" json:"-"`
	// Transport, if set, carries the POSTs instead of the dispatcher's own
	// transport (tests inject network faults with it). Outside development
	// the target's addresses are still checked before every request, but
	// only the dispatcher's own transport dials the checked address itself.
	Transport http.RoundTripper `mapstructure:"-" json:"-"`
	// Resolver and Dial are what the production dialer resolves names and
	// connects with (net.DefaultResolver and a net.Dialer if nil).
	Resolver netguard.Resolver                                                 `mapstructure:"-" json:"-"`
	Dial     func(ctx context.Context, network, addr string) (net.Conn, error) `mapstructure:"-" json:"-"`
	// Now is the clock (time.Now if nil); Rand jitters the backoff (seeded
	// from the clock if nil).
	Now  func() time.Time `mapstructure:"-" json:"-"`
	Rand *rand.Rand       `mapstructure:"-" json:"-"`
	// Poll is the longest the dispatcher sleeps before it looks at its
	// schedule again (1s if zero); it matters when Now is not the wall clock.
	Poll   time.Duration `mapstructure:"-" json:"-"`
	Logger *slog.Logger  `mapstructure:"-" json:"-"`
}

// Validate checks the settings and returns a *config.Error naming the first
// bad key relative to the webhooks section (max_age, ...). Zero values are valid: they take the
// defaults.
func (c *Config) Validate() error {
	for _, r := range []struct {
		key       string
		d, lo, hi time.Duration
	}{
		{"timeout", c.Timeout, time.Millisecond, 5 * time.Minute},
		{"max_age", c.MaxAge, 24 * time.Hour, 30 * 24 * time.Hour},
		{"takeover_after", c.TakeoverAfter, time.Millisecond, 24 * time.Hour},
		{"retry_min", c.RetryMin, time.Millisecond, time.Hour},
		{"retry_max", c.RetryMax, time.Millisecond, 24 * time.Hour},
	} {
		if r.d != 0 && (r.d < r.lo || r.d > r.hi) {
			return config.Errorf(r.key, "must be between %s and %s (or 0 for the default), got %s", r.lo, r.hi, r.d)
		}
	}
	if c.RetryMin > 0 && c.RetryMax > 0 && c.RetryMin > c.RetryMax {
		return config.Errorf("retry_min", "must not exceed webhooks.retry_max")
	}
	if c.Concurrency < 0 || c.Concurrency > 1000 {
		return config.Errorf("concurrency", "must be between 1 and 1000 (or 0 for the default), got %d", c.Concurrency)
	}
	return nil
}

// DefaultConfig returns the default of every file setting (the runtime
// fields are left for whoever builds the dispatcher).
func DefaultConfig() Config {
	return Config{Timeout: DefaultTimeout, MaxAge: DefaultMaxAge, TakeoverAfter: DefaultTakeoverAfter,
		Concurrency: DefaultConcurrency, RetryMin: DefaultRetryMin, RetryMax: DefaultRetryMax}
}

// withDefaults fills the zero settings with their defaults.
func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.TakeoverAfter <= 0 {
		c.TakeoverAfter = DefaultTakeoverAfter
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.RetryMin <= 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax <= 0 {
		c.RetryMax = max(DefaultRetryMax, c.RetryMin)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
