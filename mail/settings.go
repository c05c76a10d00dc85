package mail

import (
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"strings"
	"time"

	"kassa/config"
	"kassa/outbox"
)

// The transports a region can send with (the `mail.transport` setting).
const (
	// TransportMailbox keeps every message in the ledger for staff to read
	// (development only).
	TransportMailbox = "mailbox"
	// TransportSMTP hands every message to an SMTP server.
	TransportSMTP = "smtp"
)

// The TLS modes of the SMTP transport (the `mail.smtp.tls` setting).
const (
	TLSNone     = "none"     // plain text; refused with a username
	TLSStartTLS = "starttls" // STARTTLS required before anything is sent
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
)

// Defaults of the settings; a zero setting takes its default. The outbox
// timings are the webhooks' (kassa/checkout/webhook): an email waits out
// the same outages as a merchant's endpoint.
const (
	DefaultTransport     = TransportMailbox
	DefaultFromName      = "kassa"
	DefaultSMTPPort      = 587
	DefaultSMTPTLS       = TLSStartTLS
	DefaultSMTPTimeout   = 30 * time.Second
	DefaultMaxAge        = 36 * time.Hour
	DefaultTakeoverAfter = 15 * time.Minute
	DefaultConcurrency   = 4
	DefaultRetryMin      = 30 * time.Second
	DefaultRetryMax      = time.Hour
)

// Settings are the `mail` section of config.yaml. Zero values take the
// defaults; Validate checks them.
type Settings struct {
	// Transport is "mailbox" (development: messages are kept in the ledger
	// and shown at /admin/mail) or "smtp". Production requires smtp.
	Transport string `mapstructure:"transport"`
	// From and FromName are the sender of every email. From is required
	// with smtp; its domain is also the domain of every Message-ID.
	From     string `mapstructure:"from"`
	FromName string `mapstructure:"from_name"`
	// SMTP is the server the smtp transport hands messages to.
	SMTP SMTPSettings `mapstructure:"smtp"`
	// MaxAge is how long a message is retried before it is given up and
	// recorded as failed (mail.failed). At least a day.
	MaxAge time.Duration `mapstructure:"max_age"`
	// TakeoverAfter is how long another region waits for the writing
	// region to record a delivery before it sends the message itself; the
	// second region in line waits twice as long, and so on.
	TakeoverAfter time.Duration `mapstructure:"takeover_after"`
	// Concurrency bounds the messages in flight.
	Concurrency int `mapstructure:"concurrency"`
	// RetryMin and RetryMax bound the jittered exponential backoff between
	// attempts.
	RetryMin time.Duration `mapstructure:"retry_min"`
	RetryMax time.Duration `mapstructure:"retry_max"`
}

// SMTPSettings are the `mail.smtp` settings.
type SMTPSettings struct {
	Host string `mapstructure:"host"`
	Port int    `mapstructure:"port"`
	// TLS is none, starttls (the default) or tls.
	TLS string `mapstructure:"tls"`
	// Username and Password authenticate (AUTH, over TLS only); no AUTH
	// when Username is empty. Set the password from the environment
	// (KASSA_MAIL_SMTP_PASSWORD) rather than the file; it is never logged.
	Username string `mapstructure:"username"`
	Password string `mapstructure:"password"`
	// Timeout bounds connecting and each step of one delivery.
	Timeout time.Duration `mapstructure:"timeout"`
}

// DefaultSettings returns the default of every setting.
func DefaultSettings() Settings {
	return Settings{
		Transport: DefaultTransport, FromName: DefaultFromName,
		SMTP:   SMTPSettings{Port: DefaultSMTPPort, TLS: DefaultSMTPTLS, Timeout: DefaultSMTPTimeout},
		MaxAge: DefaultMaxAge, TakeoverAfter: DefaultTakeoverAfter, Concurrency: DefaultConcurrency,
		RetryMin: DefaultRetryMin, RetryMax: DefaultRetryMax,
	}
}

// WithDefaults returns s with every zero setting set to its default.
func (s Settings) WithDefaults() Settings {
	d := DefaultSettings()
	if s.Transport == "" {
		s.Transport = d.Transport
	}
	if s.FromName == "" {
		s.FromName = d.FromName
	}
	if s.SMTP.Port == 0 {
		s.SMTP.Port = d.SMTP.Port
	}
	if s.SMTP.TLS == "" {
		s.SMTP.TLS = d.SMTP.TLS
	}
	if s.SMTP.Timeout <= 0 {
		s.SMTP.Timeout = d.SMTP.Timeout
	}
	if s.MaxAge <= 0 {
		s.MaxAge = d.MaxAge
	}
	if s.TakeoverAfter <= 0 {
		s.TakeoverAfter = d.TakeoverAfter
	}
	if s.Concurrency <= 0 {
		s.Concurrency = d.Concurrency
	}
	if s.RetryMin <= 0 {
		s.RetryMin = d.RetryMin
	}
	if s.RetryMax <= 0 {
		s.RetryMax = max(d.RetryMax, s.RetryMin)
	}
	return s
}

// Validate checks the settings and returns a *config.Error naming the
// first bad key relative to the mail section ("smtp.host"). Zero values
// are valid where they have a default. A production region must send with
// smtp.
func (s *Settings) Validate(production bool) error {
	switch s.Transport {
	case "", TransportMailbox:
		if production {
			return config.Errorf("transport", "is mailbox, which keeps emails in the ledger instead of sending them: production needs smtp (and mail.smtp.host, mail.from)")
		}
	case TransportSMTP:
	default:
		return config.Errorf("transport", "must be mailbox or smtp, got %q", s.Transport)
	}
	for _, r := range []struct {
		key       string
		d, lo, hi time.Duration
	}{
		{"smtp.timeout", s.SMTP.Timeout, time.Millisecond, 5 * time.Minute},
		{"max_age", s.MaxAge, 24 * time.Hour, 30 * 24 * time.Hour},
		{"takeover_after", s.TakeoverAfter, time.Millisecond, 24 * time.Hour},
		{"retry_min", s.RetryMin, time.Millisecond, time.Hour},
		{"retry_max", s.RetryMax, time.Millisecond, 24 * time.Hour},
	} {
		if r.d != 0 && (r.d < r.lo || r.d > r.hi) {
			return config.Errorf(r.key, "must be between %s and %s (or 0 for the default), got %s", r.lo, r.hi, r.d)
		}
	}
	if s.RetryMin > 0 && s.RetryMax > 0 && s.RetryMin > s.RetryMax {
		return config.Errorf("retry_min", "must not exceed mail.retry_max")
	}
	if s.Concurrency < 0 || s.Concurrency > 1000 {
		return config.Errorf("concurrency", "must be between 1 and 1000 (or 0 for the default), got %d", s.Concurrency)
	}
	if s.From != "" {
		if _, err := ParseAddress(s.From); err != nil {
			return config.Errorf("from", "must be an email address such as invoices@shop.example, got %q", s.From)
		}
	}
	if len(s.FromName) > 100 || strings.ContainsAny(s.FromName, "\r\n") {
		return config.Errorf("from_name", "must be one line of at most 100 characters")
	}
	if s.SMTP.Port < 0 || s.SMTP.Port > 65535 {
		return config.Errorf("smtp.port", "must be between 1 and 65535 (or 0 for the default %d), got %d", DefaultSMTPPort, s.SMTP.Port)
	}
	switch s.SMTP.TLS {
	case "", TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return config.Errorf("smtp.tls", "must be none, starttls or tls, got %q", s.SMTP.TLS)
	}
	if s.SMTP.Password != "" && s.SMTP.Username == "" {
		return config.Errorf("smtp.username", "is empty but mail.smtp.password is set: set both, or neither for no AUTH")
	}
	if s.Transport != TransportSMTP {
		return nil
	}
	if s.SMTP.Host == "" || strings.ContainsAny(s.SMTP.Host, " /:@") {
		return config.Errorf("smtp.host", "must be the SMTP server's host name or address (mail.transport is smtp), got %q", s.SMTP.Host)
	}
	if s.From == "" {
		return config.Errorf("from", "must be set: the sender address of every email (mail.transport is smtp)")
	}
	if s.SMTP.Username != "" && s.SMTP.TLS == TLSNone {
		return config.Errorf("smtp.tls", "is none, which would send the password unencrypted: use starttls or tls with a username")
	}
	if s.SMTP.Username != "" && s.SMTP.Password == "" {
		return config.Errorf("smtp.password", "is empty but mail.smtp.username is set (set it with KASSA_MAIL_SMTP_PASSWORD)")
	}
	return nil
}

// LogValue keeps the password out of every log line that prints the
// settings.
func (s SMTPSettings) LogValue() slog.Value {
	pw := ""
	if s.Password != "" {
		pw = "[set]"
	}
	return slog.GroupValue(slog.String("host", s.Host), slog.Int("port", s.Port), slog.String("tls", s.TLS),
		slog.String("username", s.Username), slog.String("password", pw), slog.Duration("timeout", s.Timeout))
}

// String is LogValue for fmt: the password never prints.
func (s SMTPSettings) String() string {
	return fmt.Sprint(s.LogValue())
}

// Outbox is the configuration of the outbox that delivers a region's
// emails: the mail record kinds and mark, the takeover line (region
// first, then its peers) and the timings of s (defaults for zeros). The
// caller may set Now, Rand, Poll and Logger.
func (s Settings) Outbox(region string, peers []string) outbox.Config {
	s = s.WithDefaults()
	return outbox.Config{
		Name: "mail", Kinds: outbox.Kinds{Resend: KindResend, Delivered: KindDelivered, Failed: KindFailed}, Mark: Mark, Region: region, Regions: append([]string{region}, peers...),
		MaxAge: s.MaxAge, TakeoverAfter: s.TakeoverAfter, Concurrency: s.Concurrency,
		RetryMin: s.RetryMin, RetryMax: s.RetryMax,
	}
}

// ErrBadAddress: a string that is not a bare email address.
var ErrBadAddress = errors.New("mail: not an email address")

// ParseAddress returns addr normalised (trimmed, lower-cased) if it is a
// bare email address (no display name, at most 254 bytes), the form the
// mailbox indexes recipients by. Otherwise it returns an error wrapping
// ErrBadAddress that shows the address masked.
func ParseAddress(addr string) (string, error) {
	a := strings.ToLower(strings.TrimSpace(addr))
	if a == "" || len(a) > 254 {
		return "", fmt.Errorf("%w: it must be 1-254 bytes", ErrBadAddress)
	}
	p, err := netmail.ParseAddress(a)
	if err != nil || p.Name != "" || p.Address != a {
		return "", fmt.Errorf("%w: %q is not a bare address (name@domain)", ErrBadAddress, MaskAddress(a))
	}
	return a, nil
}

// MaskAddress keeps enough of an address for support to recognise it in a
// log line or an error, never all of it.
func MaskAddress(addr string) string {
	local, domain, ok := strings.Cut(strings.TrimSpace(addr), "@")
	if !ok || local == "" {
		return "***"
	}
	return local[:1] + "***@" + domain
}
