package region

import (
	"net/http"
	"time"

	"kassa/checkout/webhook"
	invoicepage "kassa/invoice/page"
)

// Option adjusts how New builds a region, for tests.
type Option func(*settings)

type settings struct {
	transport http.RoundTripper
	webhooks  []func(*webhook.Config)
	now       func() time.Time
	mail      mailOptions
	invoices  invoicepage.Invoices
}

// WithTransport makes the region reach its peers, and merchants' webhook
// URLs, through t (tests inject network faults with it).
func WithTransport(t http.RoundTripper) Option { return func(s *settings) { s.transport = t } }

// WithClock makes the checkout service read the time from now: session and
// authorization expiry, and how long a replaced merchant API secret stays
// valid. The ledger's clock and the admin UI's stay on the region's clock
// (the wall clock shifted by clock_offset, which shifts now as well).
func WithClock(now func() time.Time) Option { return func(s *settings) { s.now = now } }

// WithWebhooks lets a test adjust the webhook dispatcher's settings (its
// clock, resolver or dialer) before it is built.
func WithWebhooks(f func(*webhook.Config)) Option {
	return func(s *settings) { s.webhooks = append(s.webhooks, f) }
}
