package mail_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"kassa/ledger"
	"kassa/mail"
	"kassa/outbox"
)

// These tests run the mail channel in a real outbox over a real ledger,
// inside a synctest bubble: time.Sleep moves the bubble's clock at once and
// synctest.Wait returns when the outbox and the ledger's writer have
// nothing left to do until it moves.

const kindNote = "note.created"

// noteComposer writes an email for every note.created entry: its data
// names the recipient and subject; mode "nomail" asks for none, and mode
// "later" is not held until the test says so.
type noteComposer struct {
	mu   sync.Mutex
	held bool
	asks int
}

type note struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Mode    string `json:"mode"`
}

func (c *noteComposer) Carries(kind string) bool { return kind == kindNote }

func (c *noteComposer) Compose(_ context.Context, e *ledger.Entry) (mail.Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asks++
	var n note
	if err := json.Unmarshal(e.Data, &n); err != nil {
		return mail.Message{}, err
	}
	switch {
	case n.Mode == "nomail":
		return mail.Message{}, fmt.Errorf("note %s: %w", e.Subject, mail.ErrNoMail)
	case n.Mode == "later" && !c.held:
		return mail.Message{}, fmt.Errorf("note %s: %w", e.Subject, outbox.ErrNotHeld)
	}
	return mail.Message{To: n.To, Subject: n.Subject, Text: "Hello", HTML: "<p>Hello</p>", Locale: "sv"}, nil
}

func (c *noteComposer) setHeld() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = true
}

// fakeTransport records every message and refuses the first refuse ones.
type fakeTransport struct {
	mu     sync.Mutex
	refuse int
	tries  []mail.Message
	sent   []mail.Message
}

func (f *fakeTransport) Send(_ context.Context, m mail.Message) (*outbox.Receipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tries = append(f.tries, m)
	if f.refuse > 0 {
		f.refuse--
		return nil, errors.New("smtp relay.test:25 refused the recipient (RCPT TO): temporary failure 451 try later")
	}
	f.sent = append(f.sent, m)
	return nil, nil
}

func (f *fakeTransport) counts() (tries, sent int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tries), len(f.sent)
}

type harness struct {
	store *ledger.Store
	box   *outbox.Outbox
}

const retryMin = time.Minute

// start runs one region's mail outbox over t and c until the test ends.
func start(t *testing.T, tr mail.Transport, c mail.Composer) *harness {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	store, err := ledger.Open(ctx, ledger.Options{Path: filepath.Join(t.TempDir(), "r1.db"), Region: "r1", Key: key, Keys: ledger.Keys{"r1": pub}})
	if err != nil {
		t.Fatal(err)
	}
	s := mail.Settings{RetryMin: retryMin, RetryMax: 8 * retryMin, MaxAge: 24 * time.Hour}
	cfg := s.Outbox("r1", nil)
	cfg.Poll = time.Hour
	if tr == nil {
		tr = mail.NewMailbox(store, nil)
	}
	box, err := outbox.New(store, mail.NewChannel(store, tr, c), cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		box.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		store.Close()
	})
	return &harness{store: store, box: box}
}

func (h *harness) write(t *testing.T, subject string, n note) ledger.Hash {
	t.Helper()
	data, _ := json.Marshal(n)
	e, err := h.store.Append(context.Background(), ledger.Draft{Kind: kindNote, Subject: subject, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return e.ID()
}

// records counts the entries of kind with subject id.
func (h *harness) records(t *testing.T, kind string, id ledger.Hash) int {
	t.Helper()
	es, err := h.store.EntriesBySubject(context.Background(), id.String())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func TestChannelDeliversOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &fakeTransport{}
		h := start(t, tr, &noteComposer{})
		id := h.write(t, "ord-1", note{To: " Ada@Example.COM ", Subject: "Your invoice"})
		synctest.Wait()
		time.Sleep(48 * time.Hour)
		synctest.Wait()
		if tries, sent := tr.counts(); tries != 1 || sent != 1 {
			t.Fatalf("got %d attempts, %d sent; want 1 and 1", tries, sent)
		}
		m := tr.sent[0]
		if m.ID != id.String() || m.To != "ada@example.com" || m.Subject != "Your invoice" || m.Locale != "sv" {
			t.Fatalf("got %+v, want the entry's id and the normalised recipient", m)
		}
		if n := h.records(t, mail.KindDelivered, id); n != 1 {
			t.Fatalf("got %d mail.delivered records, want 1", n)
		}
		ds, err := h.box.Deliveries(context.Background(), "ord-1")
		if err != nil || len(ds) != 1 || ds[0].Status != "delivered" || ds[0].Attempts != 1 {
			t.Fatalf("deliveries: got %+v, %v; want one delivered in one attempt", ds, err)
		}
	})
}

func TestChannelDropsNoMail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &fakeTransport{}
		c := &noteComposer{}
		h := start(t, tr, c)
		id := h.write(t, "ord-2", note{To: "ada@example.com", Subject: "x", Mode: "nomail"})
		synctest.Wait()
		time.Sleep(48 * time.Hour)
		synctest.Wait()
		if tries, _ := tr.counts(); tries != 0 {
			t.Fatalf("the transport saw %d attempts, want none", tries)
		}
		if c.asks != 1 {
			t.Fatalf("the composer was asked %d times, want once (dropped, not retried)", c.asks)
		}
		if d, f := h.records(t, mail.KindDelivered, id), h.records(t, mail.KindFailed, id); d+f != 0 {
			t.Fatalf("got %d delivered and %d failed records, want none", d, f)
		}
	})
}

func TestChannelRetriesWhatIsNotHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &fakeTransport{}
		c := &noteComposer{}
		h := start(t, tr, c)
		id := h.write(t, "ord-3", note{To: "ada@example.com", Subject: "Later", Mode: "later"})
		synctest.Wait()
		time.Sleep(3 * retryMin)
		synctest.Wait()
		if tries, _ := tr.counts(); tries != 0 || c.asks < 2 {
			t.Fatalf("got %d transport attempts and %d compositions, want none and several", tries, c.asks)
		}
		c.setHeld()
		time.Sleep(16 * retryMin)
		synctest.Wait()
		if tries, sent := tr.counts(); tries != 1 || sent != 1 {
			t.Fatalf("got %d attempts, %d sent; want 1 and 1 once held", tries, sent)
		}
		ds, err := h.box.Deliveries(context.Background(), "ord-3")
		if err != nil || len(ds) != 1 || ds[0].Status != "delivered" || ds[0].Attempts != 1 {
			t.Fatalf("deliveries: got %+v, %v; want delivered, waiting not counted as attempts", ds, err)
		}
		if n := h.records(t, mail.KindDelivered, id); n != 1 {
			t.Fatalf("got %d mail.delivered records, want 1", n)
		}
	})
}

func TestChannelRetriesAFailingTransport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &fakeTransport{refuse: 2}
		h := start(t, tr, &noteComposer{})
		id := h.write(t, "ord-4", note{To: "ada@example.com", Subject: "Retry"})
		synctest.Wait()
		ds, _ := h.box.Deliveries(context.Background(), "ord-4")
		if len(ds) != 1 || ds[0].Status != "pending" || ds[0].Attempts != 1 || ds[0].LastError == "" {
			t.Fatalf("after a refusal: got %+v, want pending with the error", ds)
		}
		time.Sleep(48 * time.Hour)
		synctest.Wait()
		if tries, sent := tr.counts(); tries != 3 || sent != 1 {
			t.Fatalf("got %d attempts, %d sent; want 3 and 1", tries, sent)
		}
		if n := h.records(t, mail.KindDelivered, id); n != 1 {
			t.Fatalf("got %d mail.delivered records, want 1", n)
		}
		for _, m := range tr.tries {
			if m.ID != id.String() {
				t.Fatalf("an attempt had id %s, want every attempt to carry %s", m.ID, id)
			}
		}
	})
}

// A message a composer makes without a usable recipient is never handed to
// the transport: it waits (uncounted) for a composer that can.
func TestChannelRefusesABadMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &fakeTransport{}
		h := start(t, tr, &noteComposer{})
		h.write(t, "ord-5", note{To: "Ada <ada@example.com>", Subject: "Named"})
		synctest.Wait()
		if tries, _ := tr.counts(); tries != 0 {
			t.Fatalf("the transport saw %d attempts, want none", tries)
		}
		ds, _ := h.box.Deliveries(context.Background(), "ord-5")
		if len(ds) != 1 || ds[0].Attempts != 0 || ds[0].LastError == "" {
			t.Fatalf("got %+v, want a pending delivery with the reason and no attempt", ds)
		}
	})
}

// The mailbox keeps every delivery, a second one of the same message too,
// each in the one entry that records it (no entry of its own), and still
// shows the mail.received entries ledgers hold from before.
func TestMailboxKeepsEveryDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, nil, &noteComposer{})
		ctx := context.Background()
		// A message kept the earlier way: its own mail.received entry.
		_, err := h.store.Append(ctx, ledger.Draft{Kind: mail.KindReceived, Subject: "0ld",
			Data: json.RawMessage(`{"id":"0ld","to":"bo@example.com","subject":"Before","text":"old","sent_at":"1999-12-31T23:00:00Z","ref":"mailto:bo@example.com"}`)})
		if err != nil {
			t.Fatal(err)
		}
		first := h.write(t, "ord-6", note{To: "bo@example.com", Subject: "First"})
		time.Sleep(time.Second)
		second := h.write(t, "ord-7", note{To: "BO@example.com", Subject: "Second"})
		synctest.Wait()
		// A second delivery of the first message stays visible.
		time.Sleep(time.Second)
		if err := h.box.Resend(ctx, first.String()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		box := mail.NewMailbox(h.store, nil)
		got, err := box.Messages(ctx, " Bo@Example.com")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range got {
			ids = append(ids, m.ID)
		}
		want := []string{first.String(), second.String(), first.String(), "0ld"}
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Fatalf("got ids %v, want newest first %v", ids, want)
		}
		if m := got[3]; m.Subject != "Before" || m.Region != "r1" || m.SentAt.Year() != 1999 {
			t.Fatalf("the message kept the earlier way: got %+v", m)
		}
		all, _, err := h.store.EntriesSince(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, e := range all {
			kinds[e.Kind]++
		}
		if kinds[mail.KindReceived] != 1 || kinds[mail.KindDelivered] != 3 {
			t.Fatalf("entries by kind: %v, want three deliveries recorded and only the old mail.received", kinds)
		}
		if m := got[1]; m.Subject != "Second" || m.Text != "Hello" || m.HTML != "<p>Hello</p>" || m.To != "bo@example.com" || m.Region != "r1" || m.SentAt.IsZero() {
			t.Fatalf("got %+v", m)
		}
		if other, _ := box.Messages(context.Background(), "someone@example.com"); len(other) != 0 {
			t.Fatalf("another address: got %+v, want none", other)
		}
		if _, err := box.Messages(context.Background(), "not an address"); !errors.Is(err, mail.ErrBadAddress) {
			t.Fatalf("got %v, want ErrBadAddress", err)
		}
	})
}

// routedComposer is a noteComposer that is also a mail.Router: groups
// named "card-..." never ask for an email.
type routedComposer struct{ noteComposer }

func (c *routedComposer) Route(_ context.Context, group string) error {
	if strings.HasPrefix(group, "card-") {
		return fmt.Errorf("group %s: %w", group, outbox.ErrNoRoute)
	}
	return nil
}

// TestChannelRoutesByGroup: a Router's "no route" for a group keeps its
// entries out of the outbox altogether (never composed, never listed,
// never given up), while other groups are delivered.
func TestChannelRoutesByGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &fakeTransport{}
		c := &routedComposer{}
		h := start(t, tr, c)
		card := h.write(t, "card-1", note{To: "ada@example.com", Subject: "x"})
		h.write(t, "ord-9", note{To: "ada@example.com", Subject: "y"})
		synctest.Wait()
		time.Sleep(30 * 24 * time.Hour) // past max_age
		synctest.Wait()
		if tries, sent := tr.counts(); tries != 1 || sent != 1 || tr.sent[0].Subject != "y" {
			t.Fatalf("got %d attempts, %d sent; want only the routed group's email", tries, sent)
		}
		ds, err := h.box.Deliveries(context.Background(), "card-1")
		if d, f := h.records(t, mail.KindDelivered, card), h.records(t, mail.KindFailed, card); err == nil && len(ds) != 0 || d+f != 0 {
			t.Fatalf("the unrouted group: deliveries %+v (%v), %d delivered and %d failed records; want none", ds, err, d, f)
		}
	})
}
