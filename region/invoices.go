package region

import (
	"context"
	"strings"
	"sync"
	"time"

	"kassa/invoice"
)

// invoices is a region's invoice collection: the book that folds
// invoices from the ledger, the composer of their emails and the reminder
// schedule.
type invoices struct {
	book      *invoice.Book
	composer  *invoice.Composer
	reminders *invoice.Reminders
}

// newInvoices builds the region's invoices; the checkout service must
// exist (it opens the shoppers' sealed emails and names merchants).
func (r *Region) newInvoices(opts settings) (*invoices, error) {
	cfg := r.cfg.Invoice
	now := r.now
	if opts.now != nil {
		now = opts.now
	}
	grace := time.Duration(r.cfg.Scoring.GraceDays) * 24 * time.Hour
	book := invoice.NewBook(r.ledger, invoice.BookConfig{
		LinkKey: []byte(r.cfg.Checkout.IDKey), LinkDays: cfg.LinkDays, Grace: grace, Payee: cfg.Payee,
		Contact: r.checkout.OpenContact, MerchantName: r.checkout.MerchantName, Now: now, Logger: r.log,
	})
	base := cfg.BaseURL
	if base == "" {
		base = r.cfg.SiteURL
	}
	composer, err := invoice.NewComposer(book, r.ledger, invoice.ComposerConfig{BaseURL: strings.TrimRight(base, "/")})
	if err != nil {
		return nil, err
	}
	regions := []string{r.cfg.Region}
	for _, p := range r.cfg.Peers {
		regions = append(regions, p.ID)
	}
	reminders := invoice.NewReminders(book, r.ledger, invoice.RemindersConfig{
		Region: r.cfg.Region, Regions: regions, Schedule: cfg.Reminders, Fee: cfg.Fee,
		Interval: cfg.Interval, TakeoverAfter: cfg.TakeoverAfter, Grace: grace, Now: now, Logger: r.log,
	})
	return &invoices{book: book, composer: composer, reminders: reminders}, nil
}

// run follows the ledger into the book and writes reminders until ctx is
// done.
func (iv *invoices) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		iv.book.Follow(ctx)
	}()
	go func() {
		defer wg.Done()
		iv.reminders.Run(ctx)
	}()
	wg.Wait()
}

// Invoices returns the region's invoices, folded from its ledger.
func (r *Region) Invoices() *invoice.Book { return r.invoices.book }

// InvoiceMail returns the composer of the region's invoice and reminder
// emails, for the mail outbox.
func (r *Region) InvoiceMail() *invoice.Composer { return r.invoices.composer }

// Reminders returns the region's reminder schedule.
func (r *Region) Reminders() *invoice.Reminders { return r.invoices.reminders }
