package mail

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"kassa/ledger"
)

// KindReceived is a message the development mailbox received: subject the
// message id, data a mailboxEntry. A message delivered twice (a takeover
// that raced its writing region) is two entries with one subject: the
// mailbox shows both.
const KindReceived = "mail.received"

// refPrefix starts the ledger ref a received message is found by: its
// normalised recipient.
const refPrefix = "mailto:"

// Received is a message as the mailbox keeps it and staff read it.
type Received struct {
	ID      string    `json:"id"`
	To      string    `json:"to"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	HTML    string    `json:"html"`
	SentAt  time.Time `json:"sent_at"`
	Locale  string    `json:"locale,omitempty"`
	// Region is the region whose mailbox received it.
	Region string `json:"region"`
}

// mailboxEntry is the data of a mail.received entry.
type mailboxEntry struct {
	ID      string    `json:"id"`
	To      string    `json:"to"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	HTML    string    `json:"html"`
	Locale  string    `json:"locale,omitempty"`
	SentAt  time.Time `json:"sent_at"`
	Ref     string    `json:"ref"`
}

// Mailbox is the development transport: it sends nothing, it writes every
// message into the ledger as a mail.received entry, so every region's
// mailbox shows every region's mail once replicated. It is safe for
// concurrent use.
type Mailbox struct {
	store *ledger.Store
	now   func() time.Time
}

// NewMailbox returns the mailbox kept in store; now stamps sent_at
// (time.Now if nil).
func NewMailbox(store *ledger.Store, now func() time.Time) *Mailbox {
	if now == nil {
		now = time.Now
	}
	return &Mailbox{store: store, now: now}
}

// Send stores m. It returns an error for a message without a valid
// recipient or too large for one ledger entry, or when the entry cannot
// be written.
func (b *Mailbox) Send(ctx context.Context, m Message) error {
	to, err := ParseAddress(m.To)
	if err != nil {
		return err
	}
	data, err := json.Marshal(mailboxEntry{ID: m.ID, To: to, Subject: m.Subject, Text: m.Text, HTML: m.HTML,
		Locale: m.Locale, SentAt: b.now().UTC(), Ref: refPrefix + to})
	if err != nil {
		return fmt.Errorf("mail: encode mailbox entry: %w", err)
	}
	if len(data) > ledger.MaxDataLen {
		return fmt.Errorf("mail: message %s is %d bytes, more than the mailbox keeps in one entry (%d)", m.ID, len(data), ledger.MaxDataLen)
	}
	if _, err := b.store.Append(ctx, ledger.Draft{Kind: KindReceived, Subject: m.ID, Data: data}); err != nil {
		return fmt.Errorf("mail: store in mailbox: %w", err)
	}
	return nil
}

// Messages returns the messages to the address to that this region's
// ledger holds, newest first, each delivery once (two deliveries of one
// message are two). It returns an error wrapping ErrBadAddress for a
// malformed address.
func (b *Mailbox) Messages(ctx context.Context, to string) ([]Received, error) {
	addr, err := ParseAddress(to)
	if err != nil {
		return nil, err
	}
	es, err := b.store.EntriesByRef(ctx, refPrefix+addr)
	if err != nil {
		return nil, err
	}
	out := make([]Received, 0, len(es))
	for _, e := range es {
		if e.Kind != KindReceived {
			continue
		}
		var d mailboxEntry
		if json.Unmarshal(e.Data, &d) != nil || d.To != addr {
			continue
		}
		out = append(out, Received{ID: d.ID, To: d.To, Subject: d.Subject, Text: d.Text, HTML: d.HTML,
			SentAt: d.SentAt, Locale: d.Locale, Region: string(e.Origin)})
	}
	// The ledger's order is oldest first by hlc; newest first is its
	// reverse, with sent_at (the delivering region's clock) deciding first.
	slices.Reverse(out)
	slices.SortStableFunc(out, func(x, y Received) int { return y.SentAt.Compare(x.SentAt) })
	return out, nil
}
