package region

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"kassa/admin"
	"kassa/backup"
	"kassa/checkout"
	"kassa/checkout/webhook"
	"kassa/config"
	"kassa/invoice"
	"kassa/ledger"
	"kassa/mail"
	"kassa/ratelimit"
	"kassa/reconcile"
	"kassa/scoring"
	"kassa/settlement"
	regionsync "kassa/sync"
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
	// SiteURL is the deployment's one address for shoppers and merchants
	// (site.go): what checkout links and emails name. PublicURL when empty.
	SiteURL string `mapstructure:"site_url"`
	// KeyFile holds the region's ed25519 signing key; <data_dir>/region.key
	// when empty.
	KeyFile string `mapstructure:"key_file"`
	// Peers are the other regions: where to reach them and the public key
	// their entries must be signed with.
	Peers []Peer `mapstructure:"peers"`
	// Durability says when a write is acknowledged: "local" (after this
	// region's commit, which ledger.synchronous NORMAL does not fsync: it
	// survives a crash of the process, not a power loss), "fsync" (after the
	// commit is fsynced: synchronous FULL) or "peer" (after the commit and
	// once at least one peer holds the entry).
	Durability string `mapstructure:"durability"`
	// ClockOffset, development only, makes the region's clock run this far
	// from the machine's (negative: behind): every reader of the region's
	// time (ledger HLC stamps, request signatures and the replay window,
	// checkout, scoring, webhooks, reconciliation) sees the shifted time.
	// It injects clock skew in fault tests; production refuses a non-zero
	// value. At most MaxClockOffset either way.
	ClockOffset time.Duration `mapstructure:"clock_offset"`
	// The sections of backup, sync, ledger, checkout and scoring are
	// owned by those packages: their settings, defaults and validation
	// live there. http and log are the region's own.
	Backup    backup.Settings     `mapstructure:"backup"`
	Sync      regionsync.Settings `mapstructure:"sync"`
	Ledger    ledger.Settings     `mapstructure:"ledger"`
	HTTP      HTTPConfig          `mapstructure:"http"`
	Log       LogConfig           `mapstructure:"log"`
	Checkout  checkout.Settings   `mapstructure:"checkout"`
	Scoring   scoring.Settings    `mapstructure:"scoring"`
	Webhooks  webhook.Config      `mapstructure:"webhooks"`
	Merchants []Merchant          `mapstructure:"merchants"`
	Staff     []Staff             `mapstructure:"staff"`

	// Reconciliation schedules the reconciliation of the acquirer's
	// settlement files; package reconcile owns it.
	Reconciliation reconcile.Settings `mapstructure:"reconciliation"`

	// Invoice is the invoices' links, reminders and payee; package invoice
	// owns it.
	Invoice invoice.Settings `mapstructure:"invoice"`

	// Settlement is the fees of merchant settlement reports, owned by
	// the settlement package.
	Settlement settlement.Settings `mapstructure:"settlement"`

	// Mail is how emails to shoppers are sent (SMTP, or the development
	// mailbox) and the timings of their outbox; package mail owns it.
	Mail mail.Settings `mapstructure:"mail"`
}

// Peer is another region.
type Peer struct {
	ID        string `mapstructure:"id"`
	URL       string `mapstructure:"url"`
	PublicKey string `mapstructure:"public_key"`
}

// Policy is the scoring policy the config describes. Merchant categories
// come from the merchants.
func (c *Config) Policy() scoring.Policy {
	cats := map[string]string{}
	for _, m := range c.Merchants {
		if m.Category != "" {
			cats[m.ID] = m.Category
		}
	}
	return c.Scoring.PolicyFor(cats)
}

// HTTPConfig sets the server's limits (the http section). Every timeout
// is set.
type HTTPConfig struct {
	ReadTimeout     time.Duration `mapstructure:"read_timeout"`
	WriteTimeout    time.Duration `mapstructure:"write_timeout"`
	IdleTimeout     time.Duration `mapstructure:"idle_timeout"`
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	MaxBodyBytes    int64         `mapstructure:"max_body_bytes"`
	// MetricsToken, when set, is the bearer token GET /metrics and GET
	// /sync/v1/status require (Authorization: Bearer <token>).
	MetricsToken string `mapstructure:"metrics_token"`
	// MetricsAllow, when set, are the client networks (CIDR, or a single
	// address) those two may be read from. Set, both must hold; production
	// needs at least one of them.
	MetricsAllow []string `mapstructure:"metrics_allow"`
}

// MaxClockOffset bounds clock_offset either way.
const MaxClockOffset = time.Hour

// MinMetricsToken is the shortest http.metrics_token accepted.
const MinMetricsToken = 32

// The defaults of HTTPConfig.
const (
	DefaultReadTimeout     = 15 * time.Second
	DefaultWriteTimeout    = 30 * time.Second
	DefaultIdleTimeout     = 120 * time.Second
	DefaultShutdownTimeout = 20 * time.Second
	DefaultMaxBodyBytes    = 1 << 20
)

// Validate returns a *config.Error naming the first bad setting, its key
// relative to the http section.
func (h HTTPConfig) Validate() error {
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"read_timeout", h.ReadTimeout}, {"write_timeout", h.WriteTimeout},
		{"idle_timeout", h.IdleTimeout}, {"shutdown_timeout", h.ShutdownTimeout},
	} {
		if d.v <= 0 || d.v > time.Hour {
			return config.Errorf(d.key, "must be a duration between 0 and 1h, got %s", d.v)
		}
	}
	if h.MaxBodyBytes < 1024 || h.MaxBodyBytes > 64<<20 {
		return config.Errorf("max_body_bytes", "must be between 1024 and 67108864, got %d", h.MaxBodyBytes)
	}
	if h.MetricsToken != "" && len(h.MetricsToken) < MinMetricsToken {
		return config.Errorf("metrics_token", "must be at least %d characters", MinMetricsToken)
	}
	if _, err := h.metricsNetworks(); err != nil {
		return err
	}
	return nil
}

// metricsNetworks parses MetricsAllow; an error names the bad entry.
func (h HTTPConfig) metricsNetworks() ([]netip.Prefix, error) {
	nets := make([]netip.Prefix, 0, len(h.MetricsAllow))
	for i, s := range h.MetricsAllow {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, config.Errorf(fmt.Sprintf("metrics_allow[%d]", i), "must be a network such as 10.0.0.0/8 or an address, got %q", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		nets = append(nets, p.Masked())
	}
	return nets, nil
}

// LogConfig selects the log level (debug, info, warn or error) and format
// (text or json): the log section.
type LogConfig struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// Validate returns a *config.Error naming the bad setting, its key
// relative to the log section.
func (l LogConfig) Validate() error {
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		return config.Errorf("level", "must be debug, info, warn or error, got %q", l.Level)
	}
	switch l.Format {
	case "text", "json":
	default:
		return config.Errorf("format", "must be text or json, got %q", l.Format)
	}
	return nil
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

// ConfigError names the configuration key that is wrong and why; Validate
// returns it with the full key (sync.batch_size).
type ConfigError = config.Error

// DefaultConfig returns the built-in defaults, composed of each package's:
// the embedded config.yaml documents exactly these values (main's tests
// hold the two equal). The derived values (key file, backup URL, public
// URL) are left for Normalize.
func DefaultConfig() Config {
	// ledger.synchronous follows durability unless set (see Synchronous).
	ls := ledger.DefaultSettings()
	ls.Synchronous = ""
	return Config{
		Mode: "development", Region: "r1", Listen: "127.0.0.1:8080", DataDir: "./data", Durability: "local",
		Backup: backup.DefaultSettings(), Sync: regionsync.DefaultSettings(), Ledger: ls, Settlement: settlement.DefaultSettings(),
		HTTP: HTTPConfig{ReadTimeout: DefaultReadTimeout, WriteTimeout: DefaultWriteTimeout, IdleTimeout: DefaultIdleTimeout,
			ShutdownTimeout: DefaultShutdownTimeout, MaxBodyBytes: DefaultMaxBodyBytes},
		Log:       LogConfig{Level: "info", Format: "text"},
		Checkout:  checkout.DefaultSettings(),
		Scoring:   scoring.DefaultSettings(),
		Webhooks:  webhook.DefaultConfig(),
		Merchants: []Merchant{{ID: DemoMerchantID, Name: "Demo Shop", APISecret: DemoAPISecret, WebhookSecret: DemoWebhookSecret}},
		Staff:     []Staff{{Username: DemoStaffUser, Password: DemoStaffPassword, Role: "admin"}},

		Reconciliation: reconcile.DefaultSettings(),
		Invoice:        invoice.DefaultSettings(),

		Mail: mail.DefaultSettings(),
	}
}

var regionID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// DBPath returns the ledger database's path.
func (c *Config) DBPath() string { return filepath.Join(c.DataDir, "kassa.db") }

// Synchronous returns the SQLite synchronous mode the ledger runs with:
// ledger.synchronous if set, else what durability implies (FULL for
// fsync, NORMAL for local and peer).
func (c *Config) Synchronous() string {
	if c.Ledger.Synchronous != "" {
		return strings.ToUpper(c.Ledger.Synchronous)
	}
	if c.Durability == "fsync" {
		return "FULL"
	}
	return ledger.DefaultSynchronous
}

// Normalize fills the values derived from others (key file, backup URL,
// public URL, ledger.synchronous from durability) and makes the data directory absolute, so that a backup URL
// derived from it means the same thing whatever the working directory.
func (c *Config) Normalize() error {
	if c.DataDir != "" {
		abs, err := filepath.Abs(c.DataDir)
		if err != nil {
			return &ConfigError{Key: "data_dir", Msg: err.Error()}
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
	c.normalizeSite()
	c.Ledger.Synchronous = c.Synchronous()
	c.Invoice.Normalize()
	return nil
}

// Validate checks every field and returns a *ConfigError naming the first
// bad key.
func (c *Config) Validate() error {
	bad := config.Errorf
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
	switch c.Durability {
	case "local", "fsync", "peer":
	default:
		return bad("durability", "must be local, fsync or peer, got %q", c.Durability)
	}
	if c.ClockOffset < -MaxClockOffset || c.ClockOffset > MaxClockOffset {
		return bad("clock_offset", "must be a duration between -1h and 1h, got %s", c.ClockOffset)
	}
	if c.Mode == "production" && c.ClockOffset != 0 {
		return bad("clock_offset", "is %s, but a clock offset is a development setting for fault tests; production runs on the machine's clock (set 0s)", c.ClockOffset)
	}
	if c.Durability == "peer" && len(c.Peers) == 0 {
		return bad("durability", "peer needs at least one region in peers to hold each entry; use local or fsync")
	}
	// Each durability names what synchronous mode it runs with; a
	// contradicting ledger.synchronous would make its words untrue.
	switch sync := c.Synchronous(); {
	case c.Durability == "fsync" && sync != "FULL":
		return bad("ledger.synchronous", "is %s, but durability fsync needs FULL (fsync every commit); leave it empty", sync)
	case c.Durability == "local" && sync == "FULL":
		return bad("ledger.synchronous", "FULL fsyncs every commit, which is durability fsync: set durability: fsync and leave ledger.synchronous empty")
	}
	production := c.Mode == "production"
	for _, sec := range []struct {
		name     string
		validate func() error
	}{
		{"backup", c.Backup.Validate}, {"sync", c.Sync.Validate},
		{"checkout", func() error { return c.Checkout.Validate(production) }}, {"scoring", c.Scoring.Validate},
		{"ledger", c.Ledger.Validate}, {"http", c.HTTP.Validate}, {"log", c.Log.Validate},
		{"webhooks", c.Webhooks.Validate}, {"reconciliation", c.Reconciliation.Validate},
		{"settlement", c.Settlement.Validate},
	} {
		if err := config.In(sec.name, sec.validate()); err != nil {
			return err
		}
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
		// The sign-in throttle refuses longer names unseen.
		if s.Username == "" || len(s.Username) > ratelimit.MaxName || users[s.Username] {
			return bad(key+".username", "must be a unique, non-empty name of at most %d bytes", ratelimit.MaxName)
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
	if production && c.HTTP.MetricsToken == "" && len(c.HTTP.MetricsAllow) == 0 {
		return bad("http.metrics_token", "production needs a token of at least %d characters (or http.metrics_allow) to protect /metrics and /sync/v1/status", MinMetricsToken)
	}
	// Sections added later come last, so a configuration missing several
	// things is told about them in the order it always was.
	if err := config.In("mail", c.Mail.Validate(production)); err != nil {
		return err
	}
	if err := config.In("invoice", c.Invoice.Validate(production)); err != nil {
		return err
	}
	return c.validateSite()
}

// ParsePublicKey decodes a region's public key as printed by kassa keygen
// (standard base64 of the 32-byte ed25519 key).
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("must be the base64 of a %d-byte ed25519 public key (as kassa keygen prints)", ed25519.PublicKeySize)
	}
	if err := ledger.CheckPublicKey(b); err != nil {
		return nil, fmt.Errorf("must be a region's ed25519 public key as kassa keygen prints it: %v", err)
	}
	return ed25519.PublicKey(b), nil
}

// AdminStaff returns the configured staff as the admin package takes them.
func (c *Config) AdminStaff() []admin.Staff {
	staff := make([]admin.Staff, len(c.Staff))
	for i, s := range c.Staff {
		staff[i] = admin.Staff{Username: s.Username, Password: s.Password, Role: s.Role}
	}
	return staff
}
