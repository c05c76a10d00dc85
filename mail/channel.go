package mail

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"kassa/ledger"
	"kassa/outbox"
)

// Entry kinds of the mail outbox's bookkeeping (see outbox.Kinds): each
// has the message id as subject and the message entry's subject as "ref".
const (
	// KindResend asks for one more delivery of an email; the region that
	// writes it sends it.
	KindResend = "mail.resend"
	// KindDelivered records that the SMTP server (or the mailbox) accepted
	// an email; every region that holds it stops trying.
	KindDelivered = "mail.delivered"
	// KindFailed records that an email was given up after max_age.
	KindFailed = "mail.failed"
)

// Mark names the ledger mark that keeps the mail outbox's low-water mark.
const Mark = "mail"

// Channel is the mail channel of kassa/outbox: the entries that ask for an
// email are those some Composer carries; an email's address comes from its
// entry, so every group has a route; Send composes the email from its
// entry and hands it to the Transport. A Channel is safe for concurrent
// use.
type Channel struct {
	store     *ledger.Store
	transport Transport
	composers []Composer
}

// NewChannel returns the channel that sends, through t, the emails the
// composers write for the entries in store. A composer never carries the
// mail.* kinds (the mailbox's own entries are not emails to send).
func NewChannel(store *ledger.Store, t Transport, composers ...Composer) *Channel {
	return &Channel{store: store, transport: t, composers: composers}
}

// composer returns the first composer that carries kind, or nil.
func (c *Channel) composer(kind string) Composer {
	if strings.HasPrefix(kind, "mail.") {
		return nil
	}
	for _, cp := range c.composers {
		if cp.Carries(kind) {
			return cp
		}
	}
	return nil
}

// Carries reports whether some composer carries kind.
func (c *Channel) Carries(kind string) bool { return c.composer(kind) != nil }

// Router is a Composer that can tell, from a message's group alone (an
// order), that none of the group's entries will ever ask for an email (a
// card order's captures), so the outbox does not track them at all.
type Router interface {
	// Route returns nil if the group's entries may ask for an email, an
	// error wrapping outbox.ErrNoRoute if they never do, one wrapping
	// outbox.ErrNotHeld if what it takes to know has not arrived yet.
	Route(ctx context.Context, group string) error
}

// Route asks the composers that are Routers: nil as soon as one has a
// route (or if some composer is not a Router: an email's address is in its
// entry, which Send reads), ErrNotHeld if one cannot tell yet, else
// ErrNoRoute.
func (c *Channel) Route(ctx context.Context, group string) error {
	var notHeld error
	for _, cp := range c.composers {
		r, ok := cp.(Router)
		if !ok {
			return nil
		}
		err := r.Route(ctx, group)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, outbox.ErrNotHeld):
			notHeld = err
		case !errors.Is(err, outbox.ErrNoRoute):
			return err
		}
	}
	if notHeld != nil {
		return notHeld
	}
	return fmt.Errorf("mail: group %s: %w", group, outbox.ErrNoRoute)
}

// Send composes the email m asks for and hands it to the transport. A
// composer's ErrNoMail drops the message (as outbox.ErrNoRoute: neither
// sent nor recorded); an entry or what it needs that is not held here yet
// (outbox.ErrNotHeld), or a failed composition, is retried without counting
// as an attempt; a transport's error is a failed attempt.
func (c *Channel) Send(ctx context.Context, m outbox.Message) (*outbox.Receipt, error) {
	e, err := c.store.Entry(ctx, m.ID)
	if errors.Is(err, ledger.ErrNotFound) {
		// A resend can arrive before the message it names.
		return nil, outbox.Unsent(fmt.Errorf("mail: message entry %s: %w", m.ID.Short(), outbox.ErrNotHeld))
	}
	if err != nil {
		return nil, outbox.Unsent(fmt.Errorf("mail: read message entry %s: %w", m.ID.Short(), err))
	}
	cp := c.composer(e.Kind)
	if cp == nil {
		return nil, fmt.Errorf("mail: no composer carries %s entries: %w", e.Kind, outbox.ErrNoRoute)
	}
	msg, err := cp.Compose(ctx, &e)
	switch {
	case errors.Is(err, ErrNoMail):
		return nil, fmt.Errorf("%w: %w", outbox.ErrNoRoute, err)
	case err != nil:
		return nil, outbox.Unsent(fmt.Errorf("mail: compose %s: %w", e.Kind, err))
	}
	msg.ID = m.ID.String()
	if err := msg.check(); err != nil {
		return nil, outbox.Unsent(fmt.Errorf("mail: composed %s: %w", e.Kind, err))
	}
	return c.transport.Send(ctx, msg)
}

// check refuses a message no transport can send: no valid recipient, no
// subject, or no body.
func (m *Message) check() error {
	to, err := ParseAddress(m.To)
	if err != nil {
		return fmt.Errorf("recipient: %w", err)
	}
	m.To = to
	switch {
	case strings.TrimSpace(m.Subject) == "" || strings.ContainsAny(m.Subject, "\r\n"):
		return errors.New("the subject must be one non-empty line")
	case m.Text == "" && m.HTML == "":
		return errors.New("the message has no body")
	case m.Locale != "" && !validLocale(m.Locale):
		return fmt.Errorf("locale %q is not a language tag", m.Locale)
	}
	return nil
}

// validLocale accepts a short language tag (sv, en, de, en-GB).
func validLocale(s string) bool {
	if len(s) < 2 || len(s) > 16 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
