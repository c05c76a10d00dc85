package outbox_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"kassa/ledger"
	"kassa/outbox"
)

// The outbox knows nothing of webhooks: these tests send a second kind of
// message, an email of a made-up "invoice.issued" entry, through it. They
// run in a synctest bubble, so the clock the outbox and the ledger read is
// the bubble's: time.Sleep moves it forward at once, and synctest.Wait
// returns when every goroutine (the outboxes, the ledgers' writers) has
// nothing left to do until the clock moves.

const (
	kindInvoice = "invoice.issued"
	retryMin    = time.Minute
	retryMax    = 8 * time.Minute
	takeover    = 10 * time.Minute
	maxAge      = 24 * time.Hour
)

// relay is a fake mail relay that both regions send through. It records
// every attempt and can refuse a region's attempts (a region cut off from
// it, or the relay down for everyone).
type relay struct {
	mu       sync.Mutex
	refuse   map[ledger.RegionID]int // attempts still to refuse per region; -1 refuses all
	attempts []attempt
	accepted map[ledger.Hash]int
	gate     chan struct{} // when set, attempts wait until it is closed
}

type attempt struct {
	region   ledger.RegionID
	msg      outbox.Message
	accepted bool
	at       time.Time
}

func newRelay() *relay {
	return &relay{refuse: map[ledger.RegionID]int{}, accepted: map[ledger.Hash]int{}}
}

func (r *relay) send(from ledger.RegionID, m outbox.Message) error {
	r.mu.Lock()
	gate := r.gate
	r.mu.Unlock()
	if gate != nil {
		<-gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.refuse[from]
	ok := n == 0
	if n > 0 {
		r.refuse[from] = n - 1
	}
	r.attempts = append(r.attempts, attempt{from, m, ok, time.Now()})
	if !ok {
		return errors.New("relay answered 451 try again later")
	}
	r.accepted[m.ID]++
	return nil
}

func (r *relay) set(region ledger.RegionID, refuse int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refuse[region] = refuse
}

// of returns the attempts at one message, in order.
func (r *relay) of(id ledger.Hash) []attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []attempt
	for _, a := range r.attempts {
		if a.msg.ID == id {
			out = append(out, a)
		}
	}
	return out
}

// mailer is one region's email channel: invoice.issued entries are emails
// about their subject (an order); orders named "nomail-..." have no
// address to send to.
type mailer struct {
	region ledger.RegionID
	relay  *relay
}

func (m mailer) Carries(kind string) bool { return kind == kindInvoice }

func (m mailer) Route(_ context.Context, group string) error {
	if strings.HasPrefix(group, "nomail-") {
		return fmt.Errorf("no email address for %s: %w", group, outbox.ErrNoRoute)
	}
	return nil
}

// Send hands msg to the relay. Emails of orders named "kept-..." leave a
// receipt (a copy found by "copy:<order>"); those of "huge-..." one too
// large for any record, those of "garbled-..." one that is not JSON.
func (m mailer) Send(_ context.Context, msg outbox.Message) (*outbox.Receipt, error) {
	if err := m.relay.send(m.region, msg); err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(msg.Group, "kept-"):
		return &outbox.Receipt{Refs: []string{"copy:" + msg.Group}, Content: json.RawMessage(`{"copy":"` + msg.ID.String() + `"}`)}, nil
	case strings.HasPrefix(msg.Group, "garbled-"):
		return &outbox.Receipt{Content: json.RawMessage(`{"copy":`)}, nil
	case strings.HasPrefix(msg.Group, "huge-"):
		return &outbox.Receipt{Content: json.RawMessage(`"` + strings.Repeat("x", outbox.MaxReceiptLen) + `"`)}, nil
	}
	return nil, nil
}

// node is one region: its ledger and its email outbox.
type node struct {
	id    ledger.RegionID
	store *ledger.Store
	box   *outbox.Outbox
	stop  func() // ends the outbox's Run and waits for it to return
}

// startNodes opens the ledgers of regions r1 and r2 and runs an email
// outbox on each until the test ends. Entries reach the other region only
// when the test copies them.
func startNodes(t *testing.T, rl *relay) (r1, r2 *node) {
	return startNodesWith(t, rl, nil)
}

// startNodesWith is startNodes with each outbox's Config changed by tune.
func startNodesWith(t *testing.T, rl *relay, tune func(*outbox.Config), pragmas ...string) (r1, r2 *node) {
	t.Helper()
	ids := []ledger.RegionID{"r1", "r2"}
	keys := ledger.Keys{}
	priv := map[ledger.RegionID]ed25519.PrivateKey{}
	for _, id := range ids {
		pub, k, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		keys[id], priv[id] = pub, k
	}
	var nodes []*node
	dir := t.TempDir()
	for _, id := range ids {
		store, err := ledger.Open(context.Background(), ledger.Options{Path: filepath.Join(dir, string(id)+".db"), Region: id, Key: priv[id], Keys: keys, Pragmas: pragmas,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		cfg := outbox.Config{
			Name: "email", Kinds: outbox.Kinds{Resend: "email.resend", Delivered: "email.delivered", Failed: "email.failed"},
			Mark: "emails.cursor", Region: string(id), Regions: []string{"r1", "r2"},
			MaxAge: maxAge, TakeoverAfter: takeover, RetryMin: retryMin, RetryMax: retryMax, Concurrency: 4,
			// The bubble's timers are exact: no need to look at the schedule
			// more often than it says.
			Poll: time.Hour,
		}
		if tune != nil {
			tune(&cfg)
		}
		box, err := outbox.New(store, mailer{id, rl}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			box.Run(ctx)
		}()
		nodes = append(nodes, &node{id: id, store: store, box: box, stop: func() { cancel(); <-done }})
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.stop()
			n.store.Close()
		}
	})
	return nodes[0], nodes[1]
}

// issue writes an invoice.issued entry about order in n: an email to send.
func (n *node) issue(t *testing.T, order string) ledger.Hash {
	t.Helper()
	e, err := n.store.Append(context.Background(), ledger.Draft{Kind: kindInvoice, Subject: order, Data: []byte(`{"ref":"` + order + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	return e.ID()
}

// copyTo hands every entry n holds to other, as sync would.
func (n *node) copyTo(t *testing.T, other *node) {
	t.Helper()
	es, _, err := n.store.EntriesSince(context.Background(), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	res, err := other.store.Apply(context.Background(), es)
	if err != nil || len(res.Rejected) > 0 {
		t.Fatalf("copy %s to %s: %v %v", n.id, other.id, err, res.Rejected)
	}
}

func (n *node) delivery(t *testing.T, order string) outbox.Delivery {
	t.Helper()
	ds, err := n.box.Deliveries(context.Background(), order)
	if err != nil || len(ds) != 1 {
		t.Fatalf("%s: deliveries of %s: got %+v, %v, want one", n.id, order, ds, err)
	}
	return ds[0]
}

// records counts the entries of kind about message id in n's ledger.
func (n *node) records(t *testing.T, kind string, id ledger.Hash) int {
	t.Helper()
	es, err := n.store.EntriesBySubject(context.Background(), id.String())
	if err != nil {
		t.Fatal(err)
	}
	c := 0
	for _, e := range es {
		if e.Kind == kind {
			c++
		}
	}
	return c
}

// An email goes out once, from the region that wrote it, and is recorded
// once; the other region, holding the record, never sends it.
func TestEmailDeliveredOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rl := newRelay()
		r1, r2 := startNodes(t, rl)
		id := r1.issue(t, "ord-1")
		r1.issue(t, "nomail-1")
		synctest.Wait()
		if as := rl.of(id); len(as) != 1 || as[0].region != "r1" || !as[0].accepted || as[0].msg.Attempt != 1 || as[0].msg.Takeover {
			t.Fatalf("got attempts %+v, want one accepted first attempt by r1", as)
		}
		r1.copyTo(t, r2)
		time.Sleep(3 * takeover)
		synctest.Wait()
		if n := len(rl.of(id)); n != 1 {
			t.Fatalf("the relay saw %d attempts, want 1", n)
		}
		for _, n := range []*node{r1, r2} {
			dl := n.delivery(t, "ord-1")
			if dl.Status != "delivered" || dl.Region != "r1" || dl.Takeover || dl.Attempts != 1 || dl.EventID != id.String() {
				t.Fatalf("%s: got %+v, want delivered by r1 in one attempt", n.id, dl)
			}
			if got := n.records(t, "email.delivered", id); got != 1 {
				t.Fatalf("%s: %d email.delivered records, want 1", n.id, got)
			}
		}
		if ds, err := r1.box.Deliveries(context.Background(), "nomail-1"); err != nil || len(ds) != 0 {
			t.Fatalf("an email with nowhere to go: got %+v, %v, want none", ds, err)
		}
		if _, err := r1.box.Deliveries(context.Background(), "ord-unknown"); !errors.Is(err, outbox.ErrNotFound) {
			t.Fatalf("unknown group: got %v, want ErrNotFound", err)
		}
	})
}

// A delivery's receipt is kept in its record, the one entry written for
// it, found by the receipt's refs too; a receipt no record can hold makes
// the attempt a failure that says why, and nothing is recorded delivered.
func TestReceiptKeptInTheRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rl := newRelay()
		r1, _ := startNodes(t, rl)
		id := r1.issue(t, "kept-1")
		huge := r1.issue(t, "huge-1")
		garbled := r1.issue(t, "garbled-1")
		synctest.Wait()
		es, err := r1.store.EntriesByRef(context.Background(), "copy:kept-1")
		if err != nil || len(es) != 1 || es[0].Kind != "email.delivered" || es[0].Subject != id.String() {
			t.Fatalf("found by the receipt's ref: got %+v, %v, want the delivery's record", es, err)
		}
		var rec struct {
			Content struct{ Copy string } `json:"content"`
			Status  string                `json:"status"`
			Ref     string                `json:"ref"`
		}
		if err := json.Unmarshal(es[0].Data, &rec); err != nil || rec.Content.Copy != id.String() || rec.Status != "delivered" || rec.Ref != "kept-1" {
			t.Fatalf("record %s: got %+v, %v", es[0].Data, rec, err)
		}
		if dl := r1.delivery(t, "kept-1"); dl.Status != "delivered" || dl.Attempts != 1 {
			t.Fatalf("got %+v, want delivered in one attempt", dl)
		}
		if n := r1.records(t, "email.delivered", huge); n != 0 {
			t.Fatalf("a receipt too large: %d records, want none", n)
		}
		if dl := r1.delivery(t, "huge-1"); dl.Status == "delivered" || dl.Attempts != 1 || !strings.Contains(dl.LastError, "more than a record keeps") {
			t.Fatalf("a receipt too large: got %+v, want a failed attempt that says why", dl)
		}
		if n := r1.records(t, "email.delivered", garbled); n != 0 {
			t.Fatalf("a receipt that is not JSON: %d records, want none", n)
		}
		if dl := r1.delivery(t, "garbled-1"); dl.Status == "delivered" || dl.Attempts != 1 || !strings.Contains(dl.LastError, "not JSON") {
			t.Fatalf("a receipt that is not JSON: got %+v, want a failed attempt that says why", dl)
		}
	})
}

// A refused email is retried after jittered, doubling waits, counted per
// attempt, and recorded delivered once the relay takes it.
func TestEmailRetriedWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rl := newRelay()
		rl.set("r1", 3)
		r1, _ := startNodes(t, rl)
		id := r1.issue(t, "ord-2")
		for n := 1; n <= 3; n++ {
			synctest.Wait()
			if got := len(rl.of(id)); got != n {
				t.Fatalf("got %d attempts, want %d", got, n)
			}
			dl := r1.delivery(t, "ord-2")
			wait := time.Until(*dl.NextAttempt)
			hi := min(retryMin<<(n-1), retryMax)
			if dl.Status != "pending" || dl.Attempts != n || !strings.Contains(dl.LastError, "451") || wait < hi/2 || wait > hi {
				t.Fatalf("after attempt %d got %+v (next in %s), want pending, %d attempts, next in [%s, %s]", n, dl, wait, n, hi/2, hi)
			}
			// Nothing happens before the next attempt is due.
			time.Sleep(wait - time.Second)
			synctest.Wait()
			if got := len(rl.of(id)); got != n {
				t.Fatalf("attempt %d came %s early", n+1, time.Second)
			}
			time.Sleep(time.Second)
		}
		synctest.Wait()
		as := rl.of(id)
		if len(as) != 4 || !as[3].accepted || as[3].msg.Attempt != 4 || rl.accepted[id] != 1 {
			t.Fatalf("got attempts %+v, want the fourth accepted", as)
		}
		if dl := r1.delivery(t, "ord-2"); dl.Status != "delivered" || dl.Attempts != 4 || dl.NextAttempt != nil {
			t.Fatalf("got %+v, want delivered after 4 attempts", dl)
		}
		if got := r1.records(t, "email.delivered", id); got != 1 {
			t.Fatalf("%d email.delivered records, want 1", got)
		}
	})
}

// When the writing region cannot reach the relay, the other region sends
// the email once takeover_after has passed, and the writer stops trying as
// soon as it holds the record.
func TestEmailTakenOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rl := newRelay()
		rl.set("r1", -1)
		r1, r2 := startNodes(t, rl)
		created := time.Now()
		id := r1.issue(t, "ord-3")
		synctest.Wait()
		r1.copyTo(t, r2)
		synctest.Wait()
		if dl := r2.delivery(t, "ord-3"); dl.Status != "pending" || dl.Region != "" || dl.NextAttempt == nil || !dl.NextAttempt.Equal(created.Add(takeover)) {
			t.Fatalf("r2 before takeover_after: got %+v, want pending, waiting until %s", dl, created.Add(takeover))
		}
		time.Sleep(takeover - time.Since(created))
		synctest.Wait()
		var byR2 []attempt
		for _, a := range rl.of(id) {
			if a.region == "r2" {
				byR2 = append(byR2, a)
			} else if a.accepted {
				t.Fatalf("r1 got through: %+v", a)
			}
		}
		if len(byR2) != 1 || !byR2[0].accepted || !byR2[0].msg.Takeover || byR2[0].msg.Origin != "r1" {
			t.Fatalf("r2's attempts: %+v, want one accepted takeover", byR2)
		}
		before := len(rl.of(id))
		r2.copyTo(t, r1)
		time.Sleep(maxAge)
		synctest.Wait()
		if after := len(rl.of(id)); after != before {
			t.Fatalf("r1 kept trying after it held r2's record: %d attempts, then %d", before, after)
		}
		for _, n := range []*node{r1, r2} {
			dl := n.delivery(t, "ord-3")
			if dl.Status != "delivered" || dl.Region != "r2" || !dl.Takeover || dl.Origin != "r1" {
				t.Fatalf("%s: got %+v, want delivered by r2 taking over from r1", n.id, dl)
			}
			if got := n.records(t, "email.delivered", id) + n.records(t, "email.failed", id); got != 1 {
				t.Fatalf("%s: %d records of the email, want 1", n.id, got)
			}
		}
		if rl.accepted[id] != 1 {
			t.Fatalf("the relay accepted the email %d times, want once", rl.accepted[id])
		}
	})
}

// An email the relay never takes is given up at max_age and recorded
// failed; a resend sends it again under a request of its own.
func TestEmailGivenUpAndResent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rl := newRelay()
		rl.set("r1", -1)
		r1, _ := startNodes(t, rl)
		id := r1.issue(t, "ord-4")
		time.Sleep(maxAge)
		synctest.Wait()
		dl := r1.delivery(t, "ord-4")
		if dl.Status != "failed" || !strings.Contains(dl.LastError, "451") || dl.Attempts < 5 {
			t.Fatalf("got %+v, want failed with the relay's answer after several attempts", dl)
		}
		if got := r1.records(t, "email.failed", id); got != 1 {
			t.Fatalf("%d email.failed records, want 1", got)
		}
		rl.set("r1", 0)
		if err := r1.box.Resend(context.Background(), id.String()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		ds, err := r1.box.Deliveries(context.Background(), "ord-4")
		if err != nil || len(ds) != 2 || !ds[1].Resend || ds[1].Status != "delivered" || ds[1].EventID != id.String() || rl.accepted[id] != 1 {
			t.Fatalf("after the resend got %+v, %v, want the resend delivered", ds, err)
		}
		if err := r1.box.Resend(context.Background(), strings.Repeat("é", 100)); !errors.Is(err, outbox.ErrNotFound) || strings.Count(err.Error(), "é") > 80 {
			t.Fatalf("resend of garbage: got %v, want ErrNotFound with the id cut short", err)
		}
	})
}
