package region

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"kassa/backup"
	"kassa/checkout/webhook"
	"kassa/scoring"
)

// Config is everything a region needs to start. main fills it from the
// embedded default config.yaml, a --config file, KASSA_* environment
// variables and flags; packages only ever see this plain struct.
type Config struct {
	// Mode is "development" (the default: demo merchant and staff, loopback
	// webhooks) or "production" (refuses demo credentials).
	Mode string `mapstructure:"mode"`
	// Region is this region's id, the origin of every entry it writes.
	Region string `mapstructure:"region"`
	// Listen is the address the HTTP server binds.
	Listen string `mapstructure:"listen"`
	// DataDir holds the database (kassa.db) and, by default, the key file
	// and the local backup replica.
	DataDir string `mapstructure:"data_dir"`
	// PublicURL is how shoppers, merchants and peers reach this region;
	// derived from Listen when empty.
	PublicURL string `mapstructure:"public_url"`
	// KeyFile holds the region's ed25519 signing key; <data_dir>/region.key
	// when empty.
	KeyFile string `mapstructure:"key_file"`
	// Peers are the other regions: where to reach them and the public key
	// their entries must be signed with.
	Peers []Peer `mapstructure:"peers"`
	// Durability is "local" (acknowledge after this region's fsync).
	Durability string         `mapstructure:"durability"`
	Backup     BackupConfig   `mapstructure:"backup"`
	Sync       SyncConfig     `mapstructure:"sync"`
	Ledger     LedgerConfig   `mapstructure:"ledger"`
	HTTP       HTTPConfig     `mapstructure:"http"`
	Log        LogConfig      `mapstructure:"log"`
	Checkout   CheckoutConfig `mapstructure:"checkout"`
	Scoring    ScoringConfig  `mapstructure:"scoring"`
	Webhooks   webhook.Config `mapstructure:"webhooks"`
	Merchants  []Merchant     `mapstructure:"merchants"`
	Staff      []Staff        `mapstructure:"staff"`
}

// Peer is another region.
type Peer struct {
	ID        string `mapstructure:"id"`
	URL       string `mapstructure:"url"`
	PublicKey string `mapstructure:"public_key"`
}

// BackupConfig configures the Litestream replica.
type BackupConfig struct {
	// URL of the replica: file:///dir or s3://bucket/path. Defaults to
	// file://<data_dir>/backup.
	URL string `mapstructure:"url"`
	// SyncInterval bounds how much a lost disk can lose of what was not yet
	// pushed to a peer.
	SyncInterval time.Duration `mapstructure:"sync_interval"`
}

// SyncConfig tunes replication between regions.
type SyncConfig struct {
	// BatchSize is the most entries one push carries (and a receiver accepts).
	BatchSize int `mapstructure:"batch_size"`
	// MaxBodyBytes bounds a push a receiver accepts.
	MaxBodyBytes int64 `mapstructure:"max_body_bytes"`
	// Interval is how often an idle peer gets a vector exchange.
	Interval time.Duration `mapstructure:"interval"`
	// Timeout bounds one request to a peer; Retries and the waits set the
	// backoff between attempts.
	Timeout      time.Duration `mapstructure:"timeout"`
	Retries      int           `mapstructure:"retries"`
	RetryWaitMin time.Duration `mapstructure:"retry_wait_min"`
	RetryWaitMax time.Duration `mapstructure:"retry_wait_max"`
	// MaxConcurrentPerPeer bounds the requests one peer has served at once.
	MaxConcurrentPerPeer int `mapstructure:"max_concurrent_per_peer"`
	// PushesInFlight is how many pushes to one peer may await answers at
	// once while catching it up; keep it below the peers'
	// max_concurrent_per_peer (a peer that answers 429 gets one at a time).
	PushesInFlight int `mapstructure:"pushes_in_flight"`
	// ReplayWindow is how far a request's timestamp may be from this clock.
	ReplayWindow time.Duration `mapstructure:"replay_window"`
	// RecoveryTimeout bounds how long a starting region waits for peers to
	// hand back its own chain before it takes writes.
	RecoveryTimeout time.Duration `mapstructure:"recovery_timeout"`
}

// CheckoutConfig configures sessions, orders and the merchant API.
type CheckoutConfig struct {
	// IdentityKey derives consumer ids from emails; every region of a
	// deployment must share it.
	IdentityKey string `mapstructure:"identity_key"`
	// FingerprintKey keys card fingerprints; shared by every region.
	FingerprintKey string        `mapstructure:"fingerprint_key"`
	SessionTTL     time.Duration `mapstructure:"session_ttl"`
	AuthTTL        time.Duration `mapstructure:"auth_ttl"`
	// Rate limits in requests per second (0: off).
	RatePerMerchant float64 `mapstructure:"rate_per_merchant"`
	RatePerClient   float64 `mapstructure:"rate_per_client"`
	// AcquirerURL is the card acquirer; empty means the built-in simulated
	// acquirer (development only).
	AcquirerURL     string        `mapstructure:"acquirer_url"`
	AcquirerTimeout time.Duration `mapstructure:"acquirer_timeout"`
	// ReconcileInterval is how often unknown card outcomes are settled.
	ReconcileInterval time.Duration `mapstructure:"reconcile_interval"`
}

// ScoringConfig is the credit policy (see docs/credit.md).
type ScoringConfig struct {
	// Mode is the degradation mode: normal, conservative, card_only or
	// pay_later_off. Staff can switch it at run time.
	Mode           string   `mapstructure:"mode"`
	MaxPayLater    int64    `mapstructure:"max_pay_later"`
	MinInstalments int64    `mapstructure:"min_instalments"`
	Countries      []string `mapstructure:"countries"`
	// PayLaterOff is the older name of mode pay_later_off.
	PayLaterOff        bool                     `mapstructure:"pay_later_off"`
	BaseScore          int                      `mapstructure:"base_score"`
	ApproveScore       int                      `mapstructure:"approve_score"`
	ReferScore         int                      `mapstructure:"refer_score"`
	ConservativeMargin int                      `mapstructure:"conservative_margin"`
	Scorecard          []scoring.Characteristic `mapstructure:"scorecard"`
	CategoryRisk       map[string]int64         `mapstructure:"category_risk"`
	CreditLimit        map[string]int64         `mapstructure:"credit_limit"`
	UnsecuredBudget    map[string]int64         `mapstructure:"unsecured_budget"`
	UnsecuredMaxOrder  int64                    `mapstructure:"unsecured_max_order"`
	UnsecuredMinScore  int                      `mapstructure:"unsecured_min_score"`
	RightsTimeout      time.Duration            `mapstructure:"rights_timeout"`
	GrantShare         float64                  `mapstructure:"grant_share"`
	RebalanceShare     float64                  `mapstructure:"rebalance_share"`
	RebalanceWindow    time.Duration            `mapstructure:"rebalance_window"`
	RebalanceInterval  time.Duration            `mapstructure:"rebalance_interval"`
	InvoiceDays        int                      `mapstructure:"invoice_days"`
	GraceDays          int                      `mapstructure:"grace_days"`
}

// Policy is the scoring policy the config describes. Merchant categories
// come from the merchants.
func (c *Config) Policy() scoring.Policy {
	sc := c.Scoring
	mode, err := scoring.ParseMode(sc.Mode)
	if err != nil {
		mode = scoring.Mode(sc.Mode) // Validate names it
	}
	if sc.PayLaterOff && mode == scoring.ModeNormal {
		mode = scoring.ModePayLaterOff
	}
	cats := map[string]string{}
	for _, m := range c.Merchants {
		if m.Category != "" {
			cats[m.ID] = m.Category
		}
	}
	return scoring.Policy{
		Mode: mode, MaxPayLater: sc.MaxPayLater, MinInstalments: sc.MinInstalments, Countries: sc.Countries,
		BaseScore: sc.BaseScore, ApproveScore: sc.ApproveScore, ReferScore: sc.ReferScore,
		ConservativeMargin: sc.ConservativeMargin, Scorecard: sc.Scorecard,
		CategoryRisk: sc.CategoryRisk, MerchantCategories: cats,
		CreditLimit: upperKeys(sc.CreditLimit), UnsecuredBudget: upperKeys(sc.UnsecuredBudget),
		UnsecuredMaxOrder: sc.UnsecuredMaxOrder, UnsecuredMinScore: sc.UnsecuredMinScore,
		RightsTimeout: sc.RightsTimeout, GrantShare: sc.GrantShare, RebalanceShare: sc.RebalanceShare,
		RebalanceWindow: sc.RebalanceWindow, GraceDays: sc.GraceDays,
	}
}

// upperKeys returns m with upper-case keys: config keys are case-insensitive,
// currencies are upper case.
func upperKeys(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[strings.ToUpper(k)] = v
	}
	return out
}

// Development keys that production refuses.
const (
	DemoIdentityKey    = "dev-identity-key-not-for-production"
	DemoFingerprintKey = "dev-fingerprint-key-not-for-production"
)

// LedgerConfig tunes the SQLite store.
type LedgerConfig struct {
	// Synchronous is SQLite's synchronous pragma: NORMAL or FULL.
	Synchronous string `mapstructure:"synchronous"`
	// MaxBatch bounds the entries one group commit writes.
	MaxBatch int `mapstructure:"max_batch"`
}

// HTTPConfig sets the server's limits. Every timeout is set.
type HTTPConfig struct {
	ReadTimeout     time.Duration `mapstructure:"read_timeout"`
	WriteTimeout    time.Duration `mapstructure:"write_timeout"`
	IdleTimeout     time.Duration `mapstructure:"idle_timeout"`
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	MaxBodyBytes    int64         `mapstructure:"max_body_bytes"`
}

// LogConfig selects the log level and format.
type LogConfig struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// Merchant is a merchant account known to every region.
type Merchant struct {
	ID            string `mapstructure:"id"`
	Name          string `mapstructure:"name"`
	APISecret     string `mapstructure:"api_secret"`
	WebhookSecret string `mapstructure:"webhook_secret"`
	// Category is the merchant's category for the scorecard's
	// merchant_category_risk (scoring.category_risk).
	Category string `mapstructure:"category"`
}

// Staff is a support user of the admin UI.
type Staff struct {
	Username string `mapstructure:"username"`
	Password string `mapstructure:"password"`
	Role     string `mapstructure:"role"`
}

// The development defaults that production refuses.
const (
	DemoMerchantID    = "demo"
	DemoAPISecret     = "sk_test_demo"
	DemoWebhookSecret = "whsec_test_demo"
	DemoStaffUser     = "admin"
	DemoStaffPassword = "admin-demo"
)

// ConfigError names the configuration key that is wrong and why.
type ConfigError struct {
	Key string
	Msg string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("config: %s: %s", e.Key, e.Msg) }

var regionID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// DBPath returns the ledger database's path.
func (c *Config) DBPath() string { return filepath.Join(c.DataDir, "kassa.db") }

// Normalize fills the values derived from others (key file, backup URL,
// public URL) and makes the data directory absolute, so that a backup URL
// derived from it means the same thing whatever the working directory.
func (c *Config) Normalize() error {
	if c.DataDir != "" {
		abs, err := filepath.Abs(c.DataDir)
		if err != nil {
			return &ConfigError{"data_dir", err.Error()}
		}
		c.DataDir = abs
	}
	if c.KeyFile == "" && c.DataDir != "" {
		c.KeyFile = filepath.Join(c.DataDir, "region.key")
	}
	if c.Backup.URL == "" && c.DataDir != "" {
		c.Backup.URL = (&url.URL{Scheme: "file", Path: filepath.Join(c.DataDir, "backup")}).String()
	}
	if c.PublicURL == "" && c.Listen != "" {
		c.PublicURL = "http://" + c.Listen
	}
	return nil
}

// Validate checks every field and returns a *ConfigError naming the first
// bad key.
func (c *Config) Validate() error {
	bad := func(key, format string, args ...any) error { return &ConfigError{key, fmt.Sprintf(format, args...)} }
	switch c.Mode {
	case "development", "production":
	default:
		return bad("mode", "must be development or production, got %q", c.Mode)
	}
	if !regionID.MatchString(c.Region) {
		return bad("region", "must be 1-32 of a-z, 0-9 and '-', starting with a letter or digit, got %q", c.Region)
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		return bad("listen", "must be host:port, got %q", c.Listen)
	}
	if c.DataDir == "" {
		return bad("data_dir", "must not be empty")
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("public_url", "must be an http(s) URL, got %q", c.PublicURL)
		}
	}
	if err := backup.ValidateURL(c.Backup.URL); err != nil {
		return bad("backup.url", "%v", err)
	}
	if c.Backup.SyncInterval < 100*time.Millisecond || c.Backup.SyncInterval > time.Hour {
		return bad("backup.sync_interval", "must be between 100ms and 1h, got %s", c.Backup.SyncInterval)
	}
	sc := c.Sync
	if sc.BatchSize < 1 || sc.BatchSize > 10000 {
		return bad("sync.batch_size", "must be between 1 and 10000, got %d", sc.BatchSize)
	}
	if sc.MaxBodyBytes < 64<<10 || sc.MaxBodyBytes > 256<<20 {
		return bad("sync.max_body_bytes", "must be between 65536 and 268435456, got %d", sc.MaxBodyBytes)
	}
	if sc.Retries < 0 || sc.Retries > 20 {
		return bad("sync.retries", "must be between 0 and 20, got %d", sc.Retries)
	}
	if sc.MaxConcurrentPerPeer < 1 || sc.MaxConcurrentPerPeer > 1000 {
		return bad("sync.max_concurrent_per_peer", "must be between 1 and 1000, got %d", sc.MaxConcurrentPerPeer)
	}
	if sc.PushesInFlight < 1 || sc.PushesInFlight > 16 {
		return bad("sync.pushes_in_flight", "must be between 1 and 16, got %d", sc.PushesInFlight)
	}
	for key, d := range map[string]time.Duration{
		"sync.interval": sc.Interval, "sync.timeout": sc.Timeout, "sync.retry_wait_min": sc.RetryWaitMin,
		"sync.retry_wait_max": sc.RetryWaitMax, "sync.replay_window": sc.ReplayWindow, "sync.recovery_timeout": sc.RecoveryTimeout,
	} {
		if d < time.Millisecond || d > time.Hour {
			return bad(key, "must be a duration between 1ms and 1h, got %s", d)
		}
	}
	if sc.RetryWaitMin > sc.RetryWaitMax {
		return bad("sync.retry_wait_min", "must not exceed sync.retry_wait_max")
	}
	ck := c.Checkout
	if len(ck.IdentityKey) < 16 {
		return bad("checkout.identity_key", "must be at least 16 characters, the same in every region")
	}
	if len(ck.FingerprintKey) < 16 {
		return bad("checkout.fingerprint_key", "must be at least 16 characters, the same in every region")
	}
	if c.Mode == "production" && (ck.IdentityKey == DemoIdentityKey || ck.FingerprintKey == DemoFingerprintKey) {
		return bad("checkout", "the development identity and fingerprint keys are refused in production mode")
	}
	for key, d := range map[string]time.Duration{"checkout.session_ttl": ck.SessionTTL, "checkout.auth_ttl": ck.AuthTTL,
		"checkout.acquirer_timeout": ck.AcquirerTimeout, "checkout.reconcile_interval": ck.ReconcileInterval} {
		if d < time.Millisecond || d > 365*24*time.Hour {
			return bad(key, "must be a positive duration, got %s", d)
		}
	}
	if ck.RatePerMerchant < 0 || ck.RatePerClient < 0 {
		return bad("checkout.rate_per_merchant", "rates must not be negative")
	}
	if ck.AcquirerURL == "" && c.Mode == "production" {
		return bad("checkout.acquirer_url", "production needs a real acquirer; the simulated one is for development")
	}
	if ck.AcquirerURL != "" {
		if u, err := url.Parse(ck.AcquirerURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("checkout.acquirer_url", "must be an http(s) URL")
		}
	}
	p := c.Policy()
	if err := p.Validate(); err != nil {
		var pe *scoring.PolicyError
		if errors.As(err, &pe) {
			return bad(pe.Key, "%s", pe.Msg)
		}
		return err
	}
	if c.Scoring.RebalanceInterval < 0 {
		return bad("scoring.rebalance_interval", "must not be negative")
	}
	if c.Scoring.InvoiceDays < 0 || c.Scoring.InvoiceDays > 365 {
		return bad("scoring.invoice_days", "must be 0 (the default, 30) to 365, got %d", c.Scoring.InvoiceDays)
	}
	if err := c.Webhooks.Validate(); err != nil {
		var we *webhook.ConfigError
		if errors.As(err, &we) {
			return bad(we.Key, "%s", we.Msg)
		}
		return err
	}
	switch c.Durability {
	case "local":
	case "peer":
		return bad("durability", "peer durability needs region sync, which this build does not have yet; use local")
	default:
		return bad("durability", "must be local or peer, got %q", c.Durability)
	}
	switch strings.ToUpper(c.Ledger.Synchronous) {
	case "NORMAL", "FULL":
	default:
		return bad("ledger.synchronous", "must be NORMAL or FULL, got %q", c.Ledger.Synchronous)
	}
	if c.Ledger.MaxBatch < 1 || c.Ledger.MaxBatch > 65536 {
		return bad("ledger.max_batch", "must be between 1 and 65536, got %d", c.Ledger.MaxBatch)
	}
	for key, d := range map[string]time.Duration{
		"http.read_timeout": c.HTTP.ReadTimeout, "http.write_timeout": c.HTTP.WriteTimeout,
		"http.idle_timeout": c.HTTP.IdleTimeout, "http.shutdown_timeout": c.HTTP.ShutdownTimeout,
	} {
		if d <= 0 || d > time.Hour {
			return bad(key, "must be a duration between 0 and 1h, got %s", d)
		}
	}
	if c.HTTP.MaxBodyBytes < 1024 || c.HTTP.MaxBodyBytes > 64<<20 {
		return bad("http.max_body_bytes", "must be between 1024 and 67108864, got %d", c.HTTP.MaxBodyBytes)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return bad("log.format", "must be text or json, got %q", c.Log.Format)
	}
	seen := map[string]bool{c.Region: true}
	for i, p := range c.Peers {
		key := fmt.Sprintf("peers[%d]", i)
		if !regionID.MatchString(p.ID) {
			return bad(key+".id", "must be a region id, got %q", p.ID)
		}
		if seen[p.ID] {
			return bad(key+".id", "region %q is listed twice (or is this region)", p.ID)
		}
		seen[p.ID] = true
		if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return bad(key+".url", "must be an http(s) URL without credentials (requests are signed with the region key)")
		}
		if _, err := ParsePublicKey(p.PublicKey); err != nil {
			return bad(key+".public_key", "%v", err)
		}
	}
	ids := map[string]bool{}
	for i, m := range c.Merchants {
		key := fmt.Sprintf("merchants[%d]", i)
		if !regionID.MatchString(m.ID) || ids[m.ID] {
			return bad(key+".id", "must be a unique id of a-z, 0-9 and '-', got %q", m.ID)
		}
		ids[m.ID] = true
		if len(m.APISecret) < 12 {
			return bad(key+".api_secret", "must be at least 12 characters")
		}
		if len(m.WebhookSecret) < 12 {
			return bad(key+".webhook_secret", "must be at least 12 characters")
		}
		if c.Mode == "production" && (m.ID == DemoMerchantID || m.APISecret == DemoAPISecret || m.WebhookSecret == DemoWebhookSecret) {
			return bad(key, "the demo merchant and its secrets are refused in production mode")
		}
	}
	users := map[string]bool{}
	for i, s := range c.Staff {
		key := fmt.Sprintf("staff[%d]", i)
		if s.Username == "" || users[s.Username] {
			return bad(key+".username", "must be a unique, non-empty name")
		}
		users[s.Username] = true
		if len(s.Password) < 8 {
			return bad(key+".password", "must be at least 8 characters")
		}
		switch s.Role {
		case "support", "admin", "viewer":
		default:
			return bad(key+".role", "must be viewer, support or admin, got %q", s.Role)
		}
		if c.Mode == "production" && (s.Username == DemoStaffUser || s.Password == DemoStaffPassword) {
			return bad(key, "the demo staff user and password are refused in production mode")
		}
	}
	return nil
}

// ParsePublicKey decodes a region's public key as printed by kassa keygen
// (standard base64 of the 32-byte ed25519 key).
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("must be the base64 of a %d-byte ed25519 public key (as kassa keygen prints)", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}
