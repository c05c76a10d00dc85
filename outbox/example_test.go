package outbox_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"kassa/ledger"
	"kassa/outbox"
)

// invoiceMail is a second kind of message next to webhooks: an email for
// every invoice.issued entry, to the address of the order it is about.
// A real one would look the address up and hand the email to a relay; this
// one keeps what it sent.
type invoiceMail struct {
	mu   sync.Mutex
	sent []outbox.Message
}

func (c *invoiceMail) Carries(kind string) bool { return kind == "invoice.issued" }

// Route: orders named "nomail-..." have no address and never will.
func (c *invoiceMail) Route(_ context.Context, order string) error {
	if strings.HasPrefix(order, "nomail-") {
		return fmt.Errorf("no email address for %s: %w", order, outbox.ErrNoRoute)
	}
	return nil
}

func (c *invoiceMail) Send(_ context.Context, m outbox.Message) (*outbox.Receipt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, m)
	return nil, nil
}

// A channel plugs into an outbox with the entry kinds that record its
// deliveries; the outbox finds its messages in the ledger, sends each once
// and records the delivery, so the email is part of the same commit as the
// invoice and survives a crash before it is sent.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "outbox-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	store, err := ledger.Open(ctx, ledger.Options{
		Path: filepath.Join(dir, "eu-north.db"), Region: "eu-north",
		Key: key, Keys: ledger.Keys{"eu-north": key.Public().(ed25519.PublicKey)}, Logger: quiet,
	})
	if err != nil {
		panic(err)
	}
	defer store.Close()

	mail := &invoiceMail{}
	box, err := outbox.New(store, mail, outbox.Config{
		Name:  "email",
		Kinds: outbox.Kinds{Resend: "email.resend", Delivered: "email.delivered", Failed: "email.failed"},
		Mark:  "emails.cursor", Region: "eu-north", Regions: []string{"eu-north", "us-east"},
		MaxAge: 24 * time.Hour, TakeoverAfter: 10 * time.Minute,
		RetryMin: time.Second, RetryMax: time.Minute,
		Poll:   10 * time.Millisecond,
		Logger: quiet,
	})
	if err != nil {
		panic(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		box.Run(ctx)
	}()

	// Checkout (say) writes the invoices; the emails go with them.
	for _, order := range []string{"ord-1", "nomail-2"} {
		d := ledger.Draft{Kind: "invoice.issued", Subject: order, Data: []byte(`{"ref":"` + order + `"}`)}
		if _, err := store.Append(ctx, d); err != nil {
			panic(err)
		}
	}

	// Wait until the delivery is recorded in the ledger.
	var ds []outbox.Delivery
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		ds, err = box.Deliveries(ctx, "ord-1")
		if err == nil && len(ds) == 1 && ds[0].Status == "delivered" {
			break
		}
	}
	cancel()
	<-done

	for _, m := range mail.sent {
		fmt.Println("sent:", m.Kind, m.Group, "attempt", m.Attempt, "from", m.Origin)
	}
	for _, d := range ds {
		fmt.Println("ord-1:", d.Type, d.Status, "by", d.Region, "in", d.Attempts, "attempt(s)")
	}
	// An email with nowhere to go is neither sent nor listed.
	nomail, err := box.Deliveries(context.Background(), "nomail-2")
	fmt.Println("nomail-2:", len(nomail), "deliveries", err)
	// Output:
	// sent: invoice.issued ord-1 attempt 1 from eu-north
	// ord-1: invoice.issued delivered by eu-north in 1 attempt(s)
	// nomail-2: 0 deliveries <nil>
}
