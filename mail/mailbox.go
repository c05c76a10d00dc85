package mail

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"kassa/ledger"
	"kassa/outbox"
)

// KindReceived is a message the development mailbox received, as it kept
// them before a delivery's record carried the message: subject the message
// id, data a mailboxEntry. Ledgers that hold such entries still show them;
// none is written any more.
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

// mailboxEntry is a message as the mailbox keeps it: the content of a
// mail.delivered record's receipt, or the data of a mail.received entry.
type mailboxEntry struct {
	ID      string    `json:"id"`
	To      string    `json:"to"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	HTML    string    `json:"html"`
	Locale  string    `json:"locale,omitempty"`
	SentAt  time.Time `json:"sent_at"`
	Ref     string    `json:"ref,omitempty"` // in a mail.received entry
}

// deliveredEntry is the part of a mail.delivered record the mailbox reads:
// the receipt's content.
type deliveredEntry struct {
	Content *mailboxEntry `json:"content"`
}

// Mailbox is the development transport: it sends nothing. Every message
// it accepts is kept in the record of its delivery (the mail.delivered
// entry the outbox writes, as with SMTP; its receipt holds the message and
// is found by the recipient), so a delivery costs one entry and every
// region's mailbox shows every region's mail once replicated. It is safe
// for concurrent use.
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

// Send accepts m: its receipt is m as the mailbox shows it. It returns an
// error for a message without a valid recipient or too large for one
// record.
func (b *Mailbox) Send(_ context.Context, m Message) (*outbox.Receipt, error) {
	to, err := ParseAddress(m.To)
	if err != nil {
		return nil, err
	}
	ref := refPrefix + to
	data, err := json.Marshal(mailboxEntry{ID: m.ID, To: to, Subject: m.Subject, Text: m.Text, HTML: m.HTML,
		Locale: m.Locale, SentAt: b.now().UTC()})
	if err != nil {
		return nil, fmt.Errorf("mail: encode mailbox entry: %w", err)
	}
	r := &outbox.Receipt{Refs: []string{ref}, Content: data}
	if n := r.Size(); n > outbox.MaxReceiptLen {
		return nil, fmt.Errorf("mail: message %s is %d bytes, more than the mailbox keeps in one record (%d)", m.ID, n, outbox.MaxReceiptLen)
	}
	return r, nil
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
		var d mailboxEntry
		switch e.Kind {
		case KindDelivered:
			var r deliveredEntry
			if json.Unmarshal(e.Data, &r) != nil || r.Content == nil {
				continue
			}
			d = *r.Content
		case KindReceived:
			if json.Unmarshal(e.Data, &d) != nil {
				continue
			}
		default:
			continue
		}
		if d.To != addr {
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
