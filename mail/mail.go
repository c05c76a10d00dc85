// Package mail sends kassa's emails to shoppers: it is the mail channel of
// kassa/outbox, so an email is delivered once per message, retried with
// backoff and taken over by another region when the writing region stays
// down. What an email says is not this package's: a Composer (invoices,
// reminders) turns the ledger entry that asks for an email into a Message.
//
// It owns the Message shape, the transports (SMTP, and in development a
// mailbox kept in the ledger that staff read in the admin UI) and the
// `mail` settings.
//
// Invariants:
//
//   - A message's id is the id of the entry that asked for it; every
//     attempt, resend and region sends it with that id (and the SMTP
//     Message-ID <id@domain of mail.from>).
//   - An email is composed from the ledger when it is sent: a composer's
//     ErrNoMail drops it unsent and unrecorded; what is not held yet, a
//     failed composition or a message without a valid recipient, subject
//     or body is retried without counting an attempt and never reaches a
//     transport.
//   - A delivery is one entry, its mail.delivered record; the mailbox's copy
//     of the email is that record's receipt. The mailbox hides no
//     delivery: a duplicate is two records with one message id.
//   - No password, and no recipient's full address, is in an error text
//     or a log line of this package.
package mail

import (
	"context"
	"errors"

	"kassa/ledger"
	"kassa/outbox"
)

// ErrNoMail is returned (wrapped) by a Composer for an entry that asks for
// no email after all (a card order's capture, a reminder of an invoice paid
// meanwhile): the message is dropped, not retried.
var ErrNoMail = errors.New("mail: the entry asks for no email")

// Message is one email as kassa sends it.
type Message struct {
	// ID is the message: the hex id of the ledger entry that asked for it.
	// It is the same on every attempt, resend and region.
	ID string
	// To is the recipient's address.
	To string
	// Subject, Text and HTML are what the recipient reads; Text is the
	// plain-text alternative of HTML.
	Subject string
	Text    string
	HTML    string
	// Locale is the language the message is written in (sv, en, de).
	Locale string
}

// Transport delivers a Message. A nil error means the receiving server
// (or the development mailbox) accepted it; the Receipt, if any, is kept in
// the ledger's record of the delivery (the mailbox's copy of the email).
type Transport interface {
	Send(ctx context.Context, m Message) (*outbox.Receipt, error)
}

// Composer writes the emails that entries of some kinds ask for. Its
// methods are called concurrently.
type Composer interface {
	// Carries reports whether entries of kind ask for an email.
	Carries(kind string) bool
	// Compose returns the email e asks for. An error wrapping ErrNoMail
	// drops the message; one wrapping outbox.ErrNotHeld says what the
	// email needs has not reached this region yet (tried later); any other
	// error is a failed attempt.
	Compose(ctx context.Context, e *ledger.Entry) (Message, error)
}
