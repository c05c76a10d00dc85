package region_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kassa/checkout"
	"kassa/ledger"
	"kassa/mail"
	"kassa/outbox"
	"kassa/region"
	"kassa/region/regiontest"
)

// welcomeComposer stands in for the invoice emails: every merchant.created
// entry asks for a welcome email to ops@<merchant id>.example.
type welcomeComposer struct{}

func (welcomeComposer) Carries(kind string) bool { return kind == checkout.KindMerchantCreated }

func (welcomeComposer) Compose(_ context.Context, e *ledger.Entry) (mail.Message, error) {
	var d struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return mail.Message{}, err
	}
	return mail.Message{To: "ops@" + d.ID + ".example", Subject: "Welcome, " + d.Name, Text: "Your merchant account is open.", Locale: "en"}, nil
}

// breakable is a transport that fails while broken is set.
type breakable struct {
	next   mail.Transport
	broken atomic.Bool
	fails  atomic.Int64
}

func (b *breakable) Send(ctx context.Context, m mail.Message) (*outbox.Receipt, error) {
	if b.broken.Load() {
		b.fails.Add(1)
		return nil, errors.New("smtp relay.test:587 refused the delivery: temporary failure 421 test outage")
	}
	return b.next.Send(ctx, m)
}

// cutNet is a region's outbound transport that can cut it off from hosts.
type cutNet struct {
	mu   sync.Mutex
	cut  map[string]bool
	next http.RoundTripper
}

func (c *cutNet) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	cut := c.cut[r.URL.Host]
	c.mu.Unlock()
	if cut {
		return nil, fmt.Errorf("test partition: %s unreachable", r.URL.Host)
	}
	return c.next.RoundTrip(r)
}

func (c *cutNet) set(host string, cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut[host] = cut
}

type mailRegion struct {
	id, url, host string
	r             *region.Region
	net           *cutNet
	transport     *breakable
	logs          *regiontest.LogBuffer
}

// startMailRegions starts n peered regions r1..rn on loopback with the
// development mailbox (unless tune says otherwise) behind a breakable
// transport, the welcome composer and fast mail timings.
func startMailRegions(t *testing.T, n int, tune func(*region.Config)) []*mailRegion {
	t.Helper()
	rs := make([]*mailRegion, n)
	lns := make([]net.Listener, n)
	cfgs := make([]region.Config, n)
	keys := make([]string, n)
	for i := range rs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
		id := fmt.Sprintf("r%d", i+1)
		cfgs[i] = regiontest.Config(id, filepath.Join(t.TempDir(), id), ln.Addr().String())
		if err := cfgs[i].Normalize(); err != nil {
			t.Fatal(err)
		}
		key, _, err := region.EnsureKey(cfgs[i].KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = region.PublicKeyString(key)
		rs[i] = &mailRegion{id: id, url: cfgs[i].PublicURL, host: ln.Addr().String(), logs: &regiontest.LogBuffer{},
			net: &cutNet{cut: map[string]bool{}, next: http.DefaultTransport}}
	}
	for i, mr := range rs {
		c := cfgs[i]
		for j := range rs {
			if i != j {
				c.Peers = append(c.Peers, region.Peer{ID: rs[j].id, URL: rs[j].url, PublicKey: keys[j]})
			}
		}
		if i > 0 {
			c.Checkout.AcquirerURL = rs[0].url + region.SimulatorPath
		}
		// The second region in line waits twice as long: time enough for
		// the first one's record to reach it, even on a loaded machine.
		c.Mail.TakeoverAfter = 2 * time.Second
		c.Mail.RetryMin, c.Mail.RetryMax = 50*time.Millisecond, 200*time.Millisecond
		if tune != nil {
			tune(&c)
		}
		log := slog.New(slog.NewTextHandler(mr.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		r, err := region.New(context.Background(), c, log, region.WithTransport(mr.net),
			region.WithMailComposers(welcomeComposer{}),
			region.WithMailTransport(func(t mail.Transport) mail.Transport {
				mr.transport = &breakable{next: t}
				return mr.transport
			}),
			region.WithMailOutbox(func(c *outbox.Config) { c.Poll = 50 * time.Millisecond }))
		if err != nil {
			t.Fatal(err)
		}
		mr.r = r
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.Serve(ctx, lns[i])
		}()
		t.Cleanup(func() {
			cancel()
			<-done
			r.Close()
		})
	}
	for _, mr := range rs {
		waitFor(t, mr.id+" to be ready", 20*time.Second, func() bool {
			res, err := http.Get(mr.url + "/readyz")
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == 200
		})
	}
	return rs
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling an asynchronous outcome
	}
}

// isolate cuts r off from every other region, both ways, or heals it.
func isolate(rs []*mailRegion, r *mailRegion, cut bool) {
	for _, o := range rs {
		if o != r {
			r.net.set(o.host, cut)
			o.net.set(r.host, cut)
		}
	}
}

// createMerchant creates a merchant through r's admin API and returns the
// id of its merchant.created entry: the welcome email's message id.
func createMerchant(t *testing.T, r *mailRegion, id string) ledger.Hash {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"id": id, "name": "Shop " + id})
	req, _ := http.NewRequest(http.MethodPost, r.url+"/admin/api/merchants", bytes.NewReader(body))
	req.SetBasicAuth("admin", "admin-demo")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create merchant %s: got %d", id, res.StatusCode)
	}
	es, err := r.r.Ledger().EntriesBySubject(context.Background(), checkout.MerchantSubject(id))
	if err != nil || len(es) != 1 {
		t.Fatalf("merchant %s: got entries %v, %v", id, es, err)
	}
	return es[0].ID()
}

// count returns the entries of kind about message id in r's ledger.
func count(t *testing.T, r *mailRegion, kind string, id ledger.Hash) []ledger.Entry {
	t.Helper()
	es, err := r.r.Ledger().EntriesBySubject(context.Background(), id.String())
	if err != nil {
		t.Fatal(err)
	}
	var out []ledger.Entry
	for _, e := range es {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func holdsEntry(r *mailRegion, id ledger.Hash) bool {
	_, err := r.r.Ledger().Entry(context.Background(), id)
	return err == nil
}

// TestMailTakenOverWhenTheWritingRegionIsCutOff: the region that wrote a
// message is cut off from its peers and cannot send either; another region
// delivers it, once; after the heal the writing region learns of the
// delivery and never sends it again, and every region's mailbox holds the
// message once.
func TestMailTakenOverWhenTheWritingRegionIsCutOff(t *testing.T) {
	rs := startMailRegions(t, 3, nil)
	r1 := rs[0]
	r1.transport.broken.Store(true)
	msg := createMerchant(t, r1, "north")
	waitFor(t, "the message to reach r2 and r3", 10*time.Second, func() bool { return holdsEntry(rs[1], msg) && holdsEntry(rs[2], msg) })
	isolate(rs, r1, true)

	var by *mailRegion
	waitFor(t, "another region to take the message over", 20*time.Second, func() bool {
		// The region that wrote the record delivered it (the others may
		// hold it by now, replicated).
		for _, r := range rs[1:] {
			for _, e := range count(t, r, mail.KindDelivered, msg) {
				for _, o := range rs[1:] {
					if string(e.Origin) == o.id {
						by = o
						return true
					}
				}
			}
		}
		return false
	})
	if r1.transport.fails.Load() == 0 {
		t.Fatal("r1 never tried to send the message itself")
	}
	if n := len(count(t, r1, mail.KindDelivered, msg)); n != 0 {
		t.Fatalf("r1's mailbox got the message %d times while its transport failed", n)
	}

	// Heal; once r1 knows of the delivery its transport works again, and
	// a new message shows that its outbox is running.
	isolate(rs, r1, false)
	group := checkout.MerchantSubject("north")
	waitFor(t, "r1 to learn of the delivery", 20*time.Second, func() bool {
		ds, err := r1.r.MailOutbox().Deliveries(context.Background(), group)
		return err == nil && len(ds) == 1 && ds[0].Status == "delivered" && ds[0].NextAttempt == nil
	})
	ds, _ := r1.r.MailOutbox().Deliveries(context.Background(), group)
	if ds[0].Region != by.id || !ds[0].Takeover || ds[0].Origin != "r1" {
		t.Fatalf("got %+v, want the delivery by %s on behalf of r1", ds[0], by.id)
	}
	r1.transport.broken.Store(false)
	next := createMerchant(t, r1, "south")
	for _, r := range rs {
		waitFor(t, r.id+" to hold both deliveries", 20*time.Second, func() bool {
			return len(count(t, r, mail.KindDelivered, msg)) > 0 && len(count(t, r, mail.KindDelivered, next)) > 0
		})
	}
	for _, r := range rs {
		for _, id := range []ledger.Hash{msg, next} {
			// One entry per delivery: its record, which holds the
			// mailbox's copy.
			if got := count(t, r, mail.KindReceived, id); len(got) != 0 {
				t.Fatalf("%s: message %s has %d mail.received entries, want none", r.id, id.Short(), len(got))
			}
			if got := count(t, r, mail.KindDelivered, id); len(got) != 1 {
				t.Fatalf("%s: message %s was recorded delivered %d times, want once", r.id, id.Short(), len(got))
			}
		}
		got, err := r.r.Mailbox().Messages(context.Background(), "ops@north.example")
		if err != nil || len(got) != 1 || got[0].ID != msg.String() || got[0].Region != by.id || got[0].Subject != "Welcome, Shop north" {
			t.Fatalf("%s: mailbox of ops@north.example: got %+v, %v; want the message once, received by %s", r.id, got, err, by.id)
		}
	}
	if got := count(t, r1, mail.KindDelivered, next); string(got[0].Origin) != "r1" {
		t.Fatalf("the second message was received by %s, want r1 (its writer)", got[0].Origin)
	}
	if !strings.Contains(r1.logs.String(), "test outage") {
		t.Fatal("r1's log never shows its failed attempts")
	}
}
