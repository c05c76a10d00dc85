package region

import (
	"fmt"

	"kassa/admin"
	"kassa/mail"
	"kassa/outbox"
)

// regionMail is the region's email delivery: one mail outbox, its
// transport, and the development mailbox when that is the transport.
type regionMail struct {
	box     *outbox.Outbox
	mailbox *mail.Mailbox // nil when the region sends with SMTP
}

// mailOptions are the Options that adjust email delivery.
type mailOptions struct {
	composers []mail.Composer
	transport []func(mail.Transport) mail.Transport
	outbox    []func(*outbox.Config)
}

// WithMailComposers adds composers to the region's mail channel: the
// entries they carry are emailed. The region's own composers come first.
func WithMailComposers(cs ...mail.Composer) Option {
	return func(s *settings) { s.mail.composers = append(s.mail.composers, cs...) }
}

// WithMailTransport wraps the transport the region sends email with (the
// mailbox or SMTP, as configured); tests inject failures with it.
func WithMailTransport(wrap func(mail.Transport) mail.Transport) Option {
	return func(s *settings) { s.mail.transport = append(s.mail.transport, wrap) }
}

// WithMailOutbox lets a test adjust the mail outbox's configuration (its
// clock, poll interval) before it is built.
func WithMailOutbox(f func(*outbox.Config)) Option {
	return func(s *settings) { s.mail.outbox = append(s.mail.outbox, f) }
}

// mailComposers are the composers every region runs with, before those
// of WithMailComposers.
func (r *Region) mailComposers() []mail.Composer {
	return []mail.Composer{r.invoices.composer}
}

// newMail builds the region's mail outbox with the configured transport:
// SMTP, or in development by default the mailbox in the ledger.
func (r *Region) newMail(opts settings) (regionMail, error) {
	s := r.cfg.Mail.WithDefaults()
	var m regionMail
	var t mail.Transport
	switch s.Transport {
	case mail.TransportSMTP:
		smtp, err := mail.NewSMTP(s, nil)
		if err != nil {
			return m, fmt.Errorf("region: mail: %w", err)
		}
		t = smtp
	default:
		m.mailbox = mail.NewMailbox(r.ledger, r.now)
		t = m.mailbox
	}
	for _, wrap := range opts.mail.transport {
		t = wrap(t)
	}
	ch := mail.NewChannel(r.ledger, t, append(r.mailComposers(), opts.mail.composers...)...)
	peers := make([]string, len(r.cfg.Peers))
	for i, p := range r.cfg.Peers {
		peers[i] = p.ID
	}
	cfg := s.Outbox(r.cfg.Region, peers)
	cfg.Now, cfg.Logger = r.now, r.log
	for _, f := range opts.mail.outbox {
		f(&cfg)
	}
	box, err := outbox.New(r.ledger, ch, cfg)
	if err != nil {
		return m, fmt.Errorf("region: mail: %w", err)
	}
	m.box = box
	return m, nil
}

// adminMailbox is the mailbox the admin pages read: none (a nil
// interface, not a nil pointer in one) when the region sends with SMTP.
func (r *Region) adminMailbox() admin.Mailbox {
	if r.mail.mailbox == nil {
		return nil
	}
	return r.mail.mailbox
}

// mailBanner is the start-up banner's line about email.
func (r *Region) mailBanner(base string) string {
	if r.mail.mailbox != nil {
		return fmt.Sprintf("  mail:         not sent: kept in the development mailbox, %s/admin/mail\n", base)
	}
	s := r.cfg.Mail.WithDefaults()
	return fmt.Sprintf("  mail:         SMTP %s:%d (%s) from %s\n", s.SMTP.Host, s.SMTP.Port, s.SMTP.TLS, s.From)
}

// MailOutbox returns the outbox that delivers the region's emails.
func (r *Region) MailOutbox() *outbox.Outbox { return r.mail.box }

// Mailbox returns the development mailbox, or nil when the region sends
// with SMTP.
func (r *Region) Mailbox() *mail.Mailbox { return r.mail.mailbox }
