package checkout

import (
	"net/url"
	"time"

	"kassa/config"
)

// The defaults of Settings and of Config: what New uses for a zero field,
// and what the embedded config.yaml documents under checkout.
const (
	DefaultSessionTTL        = 48 * time.Hour
	DefaultAuthTTL           = 28 * 24 * time.Hour
	DefaultInvoiceDays       = 30
	DefaultRatePerMerchant   = 20000
	DefaultRatePerClient     = 20000
	DefaultAcquirerTimeout   = 10 * time.Second
	DefaultReconcileInterval = 30 * time.Second

	// DefaultRatePerPageClient is a person's pace, with room for a few
	// shoppers behind one address: a hosted page's form is posted once or
	// a few times per payment.
	DefaultRatePerPageClient = 10
)

// MaxAuthLifetime is how long after it was authorized an authorization can
// be captured at most, however often it is extended: 180 days, Klarna's
// limit. auth_ttl may not exceed it, and Extend stops there.
const MaxAuthLifetime = 180 * 24 * time.Hour

// The development keys of the defaults, which production refuses.
const (
	DemoIDKey          = "dev-id-key-not-for-production"
	DemoIdentityKey    = "dev-identity-key-not-for-production"
	DemoFingerprintKey = "dev-fingerprint-key-not-for-production"
	DemoSecretKey      = "dev-secret-key-not-for-production"
)

// Settings are what an operator sets in the checkout section of the config
// file: the keys every region of a deployment shares, lifetimes, rate
// limits and the card acquirer.
type Settings struct {
	// IDKey derives session ids from (merchant, Idempotency-Key)
	// (SessionIDs.Key), so that they cannot be guessed; every region of a
	// deployment must share it.
	IDKey string `mapstructure:"id_key"`
	// IdentityKey derives consumer ids from emails (Consumers.Key); every
	// region of a deployment must share it.
	IdentityKey string `mapstructure:"identity_key"`
	// FingerprintKey keys card fingerprints; shared by every region.
	FingerprintKey string `mapstructure:"fingerprint_key"`
	// SecretKey seals (AES-256-GCM) the webhook secrets of merchants
	// created through the admin API in their ledger entries, so every
	// region can sign their webhooks and no entry holds one in plain
	// text; shared by every region.
	SecretKey string `mapstructure:"secret_key"`
	// SessionTTL is how long a checkout session can be completed; AuthTTL
	// how long an authorization can be captured (extend renews it).
	SessionTTL time.Duration `mapstructure:"session_ttl"`
	AuthTTL    time.Duration `mapstructure:"auth_ttl"`
	// RatePerMerchant and RatePerClient are the merchant API's request
	// rates (per second) for each merchant and each client address; 0 is
	// off.
	RatePerMerchant float64 `mapstructure:"rate_per_merchant"`
	RatePerClient   float64 `mapstructure:"rate_per_client"`
	// RatePerPageClient is the rate of form posts to the hosted checkout
	// pages per client address, in buckets of their own: a shopper's posts
	// never spend the merchant's API limits. 0 is off.
	RatePerPageClient float64 `mapstructure:"rate_per_page_client"`
	// AcquirerURL is the card acquirer; empty means the built-in simulated
	// acquirer (development only). AcquirerTimeout bounds one call to it.
	AcquirerURL     string        `mapstructure:"acquirer_url"`
	AcquirerTimeout time.Duration `mapstructure:"acquirer_timeout"`
	// ReconcileInterval is how often card outcomes that are unknown are
	// settled and authorizations swept (Reconcile and Sweep).
	ReconcileInterval time.Duration `mapstructure:"reconcile_interval"`
}

// DefaultSettings returns the default of every setting: the development
// keys, which production refuses, and no acquirer (the simulated one).
func DefaultSettings() Settings {
	return Settings{
		IDKey: DemoIDKey, IdentityKey: DemoIdentityKey, FingerprintKey: DemoFingerprintKey, SecretKey: DemoSecretKey,
		SessionTTL: DefaultSessionTTL, AuthTTL: DefaultAuthTTL,
		RatePerMerchant: DefaultRatePerMerchant, RatePerClient: DefaultRatePerClient, RatePerPageClient: DefaultRatePerPageClient,
		AcquirerTimeout: DefaultAcquirerTimeout, ReconcileInterval: DefaultReconcileInterval,
	}
}

// Validate returns a *config.Error naming the first bad setting, its key
// relative to the checkout section (empty for the section as a whole). In
// production the development keys, the simulated acquirer and an acquirer
// reached over plain http are refused.
func (s Settings) Validate(production bool) error {
	if len(s.IDKey) < 16 {
		return config.Errorf("id_key", "must be at least 16 characters, the same in every region")
	}
	if len(s.IdentityKey) < 16 {
		return config.Errorf("identity_key", "must be at least 16 characters, the same in every region")
	}
	if len(s.FingerprintKey) < 16 {
		return config.Errorf("fingerprint_key", "must be at least 16 characters, the same in every region")
	}
	if len(s.SecretKey) < 16 {
		return config.Errorf("secret_key", "must be at least 16 characters, the same in every region")
	}
	if production && (s.IdentityKey == DemoIdentityKey || s.FingerprintKey == DemoFingerprintKey) {
		return config.Errorf("", "the development identity and fingerprint keys are refused in production mode")
	}
	if production && s.IDKey == DemoIDKey {
		return config.Errorf("id_key", "the development key is refused in production mode: with it anyone can compute a checkout page's address")
	}
	if production && s.SecretKey == DemoSecretKey {
		return config.Errorf("secret_key", "the development key is refused in production mode: with it anyone holding the ledger can read merchants' webhook secrets")
	}
	// In a fixed order, so the first problem is the same one every time.
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"session_ttl", s.SessionTTL}, {"auth_ttl", s.AuthTTL},
		{"acquirer_timeout", s.AcquirerTimeout}, {"reconcile_interval", s.ReconcileInterval},
	} {
		if d.v < time.Millisecond || d.v > 365*24*time.Hour {
			return config.Errorf(d.key, "must be a positive duration, got %s", d.v)
		}
	}
	if s.AuthTTL > MaxAuthLifetime {
		return config.Errorf("auth_ttl", "must be at most %s (%d days): no authorization lives longer, got %s", MaxAuthLifetime, int(MaxAuthLifetime.Hours()/24), s.AuthTTL)
	}
	if s.RatePerMerchant < 0 {
		return config.Errorf("rate_per_merchant", "must not be negative")
	}
	if s.RatePerClient < 0 {
		return config.Errorf("rate_per_client", "must not be negative")
	}
	if s.RatePerPageClient < 0 {
		return config.Errorf("rate_per_page_client", "must not be negative")
	}
	if s.AcquirerURL == "" && production {
		return config.Errorf("acquirer_url", "production needs a real acquirer; the simulated one is for development")
	}
	if s.AcquirerURL != "" {
		u, err := url.Parse(s.AcquirerURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return config.Errorf("acquirer_url", "must be an http(s) URL")
		}
		if production && u.Scheme != "https" {
			// Card numbers go to the acquirer in the request body.
			return config.Errorf("acquirer_url", "must use https in production mode: card numbers travel in the request")
		}
	}
	return nil
}
