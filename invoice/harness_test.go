package invoice_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"kassa/checkout"
	"kassa/clocktest"
	"kassa/mail"
	"kassa/outbox"
	"kassa/region"
	"kassa/region/regiontest"
)

// cutTransport lets a test cut a region off from its peers.
type cutTransport struct {
	mu   sync.Mutex
	cut  bool
	from map[string]bool // hosts cut off
	next http.RoundTripper
}

func (c *cutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	cut := c.cut || c.from[r.URL.Host]
	c.mu.Unlock()
	if cut {
		return nil, fmt.Errorf("test partition: %s unreachable", r.URL.Host)
	}
	return c.next.RoundTrip(r)
}

func (c *cutTransport) set(cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = cut
}

func (c *cutTransport) cutFrom(host string, cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.from == nil {
		c.from = map[string]bool{}
	}
	c.from[host] = cut
}

// failingMail fails every send while on.
type failingMail struct {
	mu   sync.Mutex
	on   bool
	next mail.Transport
}

func (f *failingMail) Send(ctx context.Context, m mail.Message) (*outbox.Receipt, error) {
	f.mu.Lock()
	on := f.on
	f.mu.Unlock()
	if on {
		return nil, fmt.Errorf("test: the mail server is down")
	}
	return f.next.Send(ctx, m)
}

func (f *failingMail) set(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on = on
}

type testRegion struct {
	id   string
	host string
	r    *region.Region
	net  *cutTransport
	mail *failingMail
	logs *regiontest.LogBuffer
}

// startRegions starts n peered regions on loopback, all reading clock for
// checkout, invoices and reminders.
func startRegions(t *testing.T, n int, clock *clocktest.Clock, tune func(*region.Config)) []*testRegion {
	t.Helper()
	lns := make([]net.Listener, n)
	cfgs := make([]region.Config, n)
	keys := make([]string, n)
	rs := make([]*testRegion, n)
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
		rs[i] = &testRegion{id: id, host: ln.Addr().String(), net: &cutTransport{next: http.DefaultTransport}, logs: &regiontest.LogBuffer{}}
	}
	for i := range rs {
		for j := range rs {
			if i != j {
				cfgs[i].Peers = append(cfgs[i].Peers, region.Peer{ID: rs[j].id, URL: cfgs[j].PublicURL, PublicKey: keys[j]})
			}
		}
		if i > 0 {
			cfgs[i].Checkout.AcquirerURL = cfgs[0].PublicURL + region.SimulatorPath
		}
		cfgs[i].Invoice.Interval = time.Hour // the tests tick the schedule themselves
		cfgs[i].Mail.TakeoverAfter = 500 * time.Millisecond
		cfgs[i].Mail.RetryMin, cfgs[i].Mail.RetryMax = 50*time.Millisecond, 200*time.Millisecond
		if tune != nil {
			tune(&cfgs[i])
		}
		tr := rs[i]
		log := slog.New(slog.NewTextHandler(tr.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		r, err := region.New(context.Background(), cfgs[i], log, region.WithTransport(tr.net), region.WithClock(clock.Now),
			region.WithMailTransport(func(next mail.Transport) mail.Transport {
				tr.mail = &failingMail{next: next}
				return tr.mail
			}),
			region.WithMailOutbox(func(c *outbox.Config) { c.Poll = 20 * time.Millisecond }))
		if err != nil {
			t.Fatal(err)
		}
		tr.r = r
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		ln := lns[i]
		go func() {
			defer close(done)
			r.Serve(ctx, ln)
		}()
		t.Cleanup(func() {
			cancel()
			<-done
			r.Close()
		})
	}
	for i := range rs {
		waitFor(t, "ready", func() bool {
			res, err := http.Get(cfgs[i].PublicURL + "/readyz")
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == 200
		})
	}
	return rs
}

// waitFor polls cond until it holds, or fails the test after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling something asynchronous, with a deadline
	}
}

// buy creates a session and authorizes it with method for email in r,
// and returns the order.
func buy(t *testing.T, r *region.Region, key, method, email, locale string, amount int64) checkout.Order {
	t.Helper()
	ctx := context.Background()
	s := r.Checkout()
	req := checkout.SessionRequest{Amount: amount, Currency: "SEK", Country: "SE", Locale: locale, MerchantReference: key,
		Lines: []checkout.Line{{Name: "Shoes", Quantity: 1, UnitPrice: amount, Total: amount}},
		URLs:  checkout.URLs{Confirmation: "https://shop.example/ok", Cancel: "https://shop.example/cart"}}
	sess, _, err := s.CreateSession(ctx, "demo", "s-"+key, req, checkout.RequestHash([]byte(key)))
	if err != nil {
		t.Fatal(err)
	}
	a := checkout.AuthorizeRequest{Method: method, Consumer: checkout.Consumer{Email: email, GivenName: "Ada", FamilyName: "Lovelace", PostalCode: "11122", Country: "SE"}}
	o, _, err := s.AuthorizeWithKey(ctx, "demo", sess.ID, "a-"+key, a, s.AuthorizeHash(a))
	if err != nil {
		t.Fatal(err)
	}
	if o.Decision.Outcome != "approved" {
		t.Fatalf("authorize %s: got %s %v, want approved", key, o.Decision.Outcome, o.Decision.Reasons)
	}
	return o
}

func capture(t *testing.T, r *region.Region, oid checkout.OrderID, key string, amount int64) {
	t.Helper()
	if _, _, err := r.Checkout().Capture(context.Background(), "demo", oid, "c-"+key, amount, checkout.RequestHash([]byte("c"+key))); err != nil {
		t.Fatal(err)
	}
}

// inbox returns the development mailbox's messages to addr in r.
func inbox(t *testing.T, r *region.Region, addr string) []mail.Received {
	t.Helper()
	ms, err := r.Mailbox().Messages(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}
