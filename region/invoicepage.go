package region

import (
	"context"
	"strings"

	"github.com/gorilla/mux"

	invoicepage "kassa/invoice/page"
	"kassa/ratelimit"
)

// WithInvoiceBook makes the region serve the shopper's invoice pages over
// book instead of its own invoice book (tests give one of their own).
func WithInvoiceBook(book invoicepage.Invoices) Option {
	return func(s *settings) { s.invoices = book }
}

// mountInvoicePages serves the shopper's invoice pages (/invoices/{token})
// over book, paying through the region's acquirer client; the posts are
// limited per client address in buckets of their own, as the checkout
// pages' are. It returns the card payments, whose unanswered attempts
// settleInvoicePayments settles. A region without an invoice book (nil)
// serves no invoice pages.
func (r *Region) mountInvoicePages(m *mux.Router, book invoicepage.Invoices, asset func(string) string) *invoicepage.Payments {
	if book == nil {
		return nil
	}
	payments := invoicepage.NewPayments(invoicepage.PaymentsConfig{
		Region: r.cfg.Region, Ledger: r.ledger, Acquirer: r.acquirer, Debts: r.checkout, Now: r.now, Logger: r.log,
	})
	limiter := ratelimit.New(0, r.cfg.Checkout.RatePerPageClient, nil)
	invoicepage.New(book, payments, invoicepage.Config{Limiter: limiter, Ready: r.ready.Load, Asset: asset,
		Secure: strings.HasPrefix(r.cfg.SiteURL, "https:") || strings.HasPrefix(r.cfg.PublicURL, "https:"), Now: r.now, Logger: r.log}).Routes(m)
	return payments
}

// settleInvoicePayments settles the invoice card payments this region
// started without an answer, every checkout.reconcile_interval, until ctx
// is done.
func (r *Region) settleInvoicePayments(ctx context.Context, p *invoicepage.Payments) {
	if p == nil {
		return
	}
	every(ctx, r.cfg.Checkout.ReconcileInterval, func() {
		if _, err := p.Settle(ctx); err != nil {
			r.log.Error("settle invoice card payments", "err", err)
		}
	})
}
