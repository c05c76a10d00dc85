package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"kassa/netguard/netguardtest"
	"kassa/region/regiontest"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kassa/checkout"
	"kassa/checkout/webhook"
	"kassa/clocktest"
	"kassa/ledger"
	"kassa/outbox"
	"kassa/region"
)

// receiver is a merchant's webhook endpoint. It verifies every signature
// (refusing bad ones with 400), can fail the first attempts of each event
// or be down altogether, and processes each event id once.
type receiver struct {
	srv    *httptest.Server
	secret string

	mu        sync.Mutex
	failFirst int  // answer 500 to the first n attempts of each event
	down      bool // answer 503 to everything
	attempts  map[string]int
	accepted  map[string]int
	processed []received // the first acceptance of each id, in arrival order
	badSig    int
	problems  []string // anything a merchant would reject besides the signature
}

type received struct {
	ID, Type, Region string
	Created          int64
	Order            checkout.Order
}

func newReceiver(t *testing.T, secret string) *receiver {
	t.Helper()
	rc := &receiver{secret: secret, attempts: map[string]int{}, accepted: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.URL.Query().Get("token") != "abc" {
		rc.problems = append(rc.problems, fmt.Sprintf("%s %s %q: %v", r.Method, r.URL.Path, r.Header.Get("Content-Type"), err))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if !verify(rc.secret, r.Header.Get("Kassa-Signature"), body) {
		rc.badSig++
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	var ev received
	var raw struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Created int64  `json:"created"`
		Region  string `json:"region"`
		Data    struct {
			Order checkout.Order `json:"order"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || raw.ID == "" || raw.ID != r.Header.Get("Kassa-Event-Id") {
		rc.problems = append(rc.problems, fmt.Sprintf("undecodable event (%v): id %q, header %q", err, raw.ID, r.Header.Get("Kassa-Event-Id")))
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	ev = received{ID: raw.ID, Type: raw.Type, Region: raw.Region, Created: raw.Created, Order: raw.Data.Order}
	rc.attempts[ev.ID]++
	if rc.down || rc.attempts[ev.ID] <= rc.failFirst {
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	rc.accepted[ev.ID]++
	if rc.accepted[ev.ID] == 1 { // de-duplicate by the stable id
		rc.processed = append(rc.processed, ev)
	}
	w.WriteHeader(http.StatusNoContent)
}

// verify checks a Kassa-Signature header the way a merchant would.
func verify(secret, header string, body []byte) bool {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil || sig == "" {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(body)))
	want, err := hex.DecodeString(sig)
	return err == nil && hmac.Equal(m.Sum(nil), want)
}

func (rc *receiver) set(f func(rc *receiver)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	f(rc)
}

func (rc *receiver) snapshot() (processed []received, attempts, accepted map[string]int, badSig int, problems []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.processed), clone(rc.attempts), clone(rc.accepted), rc.badSig, slices.Clone(rc.problems)
}

func clone(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (rc *receiver) hookURL() string { return rc.srv.URL + "/hooks/kassa?token=abc" }

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling observable state
	}
}

// hookedOrder creates a session whose notification URL is hook and
// authorizes it for pay later at base.
func hookedOrder(t *testing.T, base, key, hook string, amount int64) string {
	t.Helper()
	body := sessionBody(amount, "ref-"+key)
	if hook != "" {
		body["urls"].(map[string]any)["notification"] = hook
	}
	s := call(t, "POST", base+"/v1/sessions", key, body)
	if s.status != 201 {
		t.Fatalf("create session: got %d %s", s.status, s.raw)
	}
	o := call(t, "POST", base+"/v1/sessions/"+s.str("id")+"/authorize", key+"-auth", map[string]any{"method": "pay_later", "consumer": consumer("ada+" + key + "@example.com")})
	if o.status != 201 || o.str("status") != "authorized" {
		t.Fatalf("authorize: got %d %s", o.status, o.raw)
	}
	return o.str("id")
}

// events returns the ids and kinds of an order's webhook events as the
// ledger holds them, in the order every region folds them.
func events(t *testing.T, l *ledger.Store, order string) (ids, kinds []string) {
	t.Helper()
	es, err := l.EntriesBySubject(context.Background(), order)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		switch e.Kind {
		case checkout.KindOrderAuthorized, checkout.KindOrderCaptured, checkout.KindOrderRefunded, checkout.KindOrderCancelled,
			checkout.KindOrderReleased, checkout.KindOrderVoided, checkout.KindOrderDeclined:
			ids = append(ids, e.ID().String())
			kinds = append(kinds, e.Kind)
		}
	}
	return ids, kinds
}

func deliveries(t *testing.T, d *webhook.Dispatcher, order string) []outbox.Delivery {
	t.Helper()
	ds, err := d.Deliveries(context.Background(), checkout.OrderID(order))
	if err != nil {
		t.Fatalf("deliveries of %s: %v", order, err)
	}
	return ds
}

func allStatus(ds []outbox.Delivery, status string) bool {
	for _, d := range ds {
		if d.Status != status {
			return false
		}
	}
	return len(ds) > 0
}

func fastRetries(c *region.Config) {
	c.Webhooks.RetryMin, c.Webhooks.RetryMax = 10*time.Millisecond, 50*time.Millisecond
	c.Webhooks.Timeout = 2 * time.Second
}

func TestWebhooksDelivered(t *testing.T) {
	rc := newReceiver(t, "whsec_test_demo")
	rc.set(func(rc *receiver) { rc.failFirst = 2 })
	r1 := startRegions(t, 1, fastRetries)[0]

	quiet := hookedOrder(t, r1.url, "wh-quiet", "", 1000) // no notification URL: no webhooks
	oid := hookedOrder(t, r1.url, "wh-1", rc.hookURL(), 30000)
	o := r1.url + "/v1/orders/" + oid
	if res := call(t, "POST", o+"/captures", "wh-cap", nil); res.status != 201 {
		t.Fatalf("capture: got %d %s", res.status, res.raw)
	}
	if res := call(t, "POST", o+"/refunds", "wh-ref", map[string]any{"amount": 10000}); res.status != 201 {
		t.Fatalf("refund: got %d %s", res.status, res.raw)
	}
	ids, kinds := events(t, r1.r.Ledger(), oid)
	if want := []string{"order.authorized", "order.captured", "order.refunded"}; !slices.Equal(kinds, want) {
		t.Fatalf("got events %v, want %v", kinds, want)
	}

	waitFor(t, "every event processed", 20*time.Second, func() bool {
		p, _, _, _, _ := rc.snapshot()
		return len(p) == len(ids)
	})
	d := r1.r.Webhooks()
	waitFor(t, "every delivery recorded", 10*time.Second, func() bool { return allStatus(deliveries(t, d, oid), "delivered") })

	processed, attempts, accepted, badSig, problems := rc.snapshot()
	if badSig != 0 || len(problems) != 0 {
		t.Fatalf("got %d bad signatures and problems %q, want none", badSig, problems)
	}
	var gotIDs, gotTypes []string
	for _, ev := range processed {
		gotIDs, gotTypes = append(gotIDs, ev.ID), append(gotTypes, ev.Type)
	}
	if !slices.Equal(gotIDs, ids) || !slices.Equal(gotTypes, kinds) {
		t.Fatalf("processed %v %v, want %v %v in that order", gotTypes, gotIDs, kinds, ids)
	}
	for _, id := range ids {
		if attempts[id] != 3 || accepted[id] != 1 {
			t.Errorf("event %s: got %d attempts and %d acceptances, want 3 and 1", id[:12], attempts[id], accepted[id])
		}
	}
	// Each event shows the order as it was right after the change.
	for i, want := range []struct {
		status             string
		captured, refunded int64
	}{{"authorized", 0, 0}, {"captured", 30000, 0}, {"captured", 30000, 10000}} {
		ev := processed[i]
		if ev.Region != "r1" || ev.Order.ID != checkout.OrderID(oid) || ev.Order.Status != want.status ||
			ev.Order.Captured != want.captured || ev.Order.Refunded != want.refunded || ev.Created == 0 {
			t.Errorf("event %d (%s): got region %q order %s %s captured %d refunded %d created %d, want r1 %s %s %d %d",
				i, ev.Type, ev.Region, ev.Order.ID, ev.Order.Status, ev.Order.Captured, ev.Order.Refunded, ev.Created, oid, want.status, want.captured, want.refunded)
		}
	}
	for _, dl := range deliveries(t, d, oid) {
		if dl.Attempts != 3 || dl.Region != "r1" || dl.Takeover || dl.NextAttempt != nil || dl.SettledAt == nil {
			t.Errorf("delivery %+v: want 3 attempts, delivered by r1, nothing next", dl)
		}
	}
	if ds := deliveries(t, d, quiet); len(ds) != 0 {
		t.Fatalf("order without a notification URL: got deliveries %+v, want none", ds)
	}
	if _, err := d.Deliveries(context.Background(), "ord_nope"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("unknown order: got %v, want ErrNotFound", err)
	}
	if logs := r1.logs.String(); strings.Contains(logs, "whsec_test_demo") || strings.Contains(logs, "token=abc") {
		t.Fatal("the logs show the webhook secret or the notification URL's query")
	}

	// A resend delivers the same event (same id) once more, from its own
	// request, and is recorded like any delivery.
	if err := d.Resend(context.Background(), ids[1]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the resend delivered", 10*time.Second, func() bool {
		_, _, acc, _, _ := rc.snapshot()
		ds := deliveries(t, d, oid)
		return acc[ids[1]] == 2 && len(ds) == 4 && allStatus(ds, "delivered")
	})
	ds := deliveries(t, d, oid)
	if !ds[2].Resend || ds[2].EventID != ids[1] || ds[2].Request == ids[1] || ds[1].EventID != ids[1] {
		t.Fatalf("got deliveries %+v, want the resend of %s listed after its original", ds, ids[1][:12])
	}
	if err := d.Resend(context.Background(), strings.Repeat("0", 64)); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("resend of an unknown event: got %v, want ErrNotFound", err)
	}
	qids, _ := events(t, r1.r.Ledger(), quiet)
	if err := d.Resend(context.Background(), qids[0]); !errors.Is(err, webhook.ErrNoNotificationURL) {
		t.Fatalf("resend without a notification URL: got %v, want ErrNoNotificationURL", err)
	}
}

// single is one region started with options that startRegions does not
// pass (a clock, a resolver).
type single struct {
	r   *region.Region
	url string
}

func startSingle(t *testing.T, tune func(*region.Config), opts ...region.Option) *single {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig("r1", t.TempDir(), ln.Addr().String())
	if tune != nil {
		tune(&cfg)
	}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(&regiontest.LogBuffer{}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := region.New(context.Background(), cfg, log, opts...)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		r.Close()
	})
	waitReady(t, cfg.PublicURL)
	return &single{r: r, url: cfg.PublicURL}
}

func TestWebhookGivesUpAfterMaxAge(t *testing.T) {
	rc := newReceiver(t, "whsec_test_demo")
	clock := clocktest.Wall()
	s := startSingle(t, func(c *region.Config) {
		c.Merchants[0].WebhookSecret = "whsec_not_what_the_merchant_has"
		c.Webhooks.MaxAge, c.Webhooks.RetryMin, c.Webhooks.RetryMax = 24*time.Hour, time.Minute, time.Hour
	}, region.WithWebhooks(func(c *webhook.Config) {
		c.Now, c.Poll, c.Rand = clock.Now, 5*time.Millisecond, rand.New(rand.NewPCG(1, 2))
	}))
	oid := hookedOrder(t, s.url, "wh-bad", rc.hookURL(), 5000)
	d := s.r.Webhooks()
	attempts := func() (outbox.Delivery, int) {
		ds := deliveries(t, d, oid)
		if len(ds) != 1 {
			t.Fatalf("got %d deliveries, want 1", len(ds))
		}
		return ds[0], ds[0].Attempts
	}
	waitFor(t, "the first attempt", 10*time.Second, func() bool { _, n := attempts(); return n == 1 })
	first, _ := attempts()
	if first.Status != "pending" || !strings.Contains(first.LastError, "HTTP 400") || first.NextAttempt == nil {
		t.Fatalf("after one refused attempt got %+v, want pending with HTTP 400 and a next attempt", first)
	}
	// The outbox retries with growing waits, on the injected clock only.
	prev := clock.Now()
	for n := 2; n <= 5; n++ {
		dl, _ := attempts()
		wait := dl.NextAttempt.Sub(prev)
		if lo, hi := time.Minute<<(n-2)/2, time.Minute<<(n-2); wait < lo-time.Second || wait > hi+time.Second {
			t.Fatalf("before attempt %d the wait is %s, want between %s and %s", n, wait, lo, hi)
		}
		clock.Advance(dl.NextAttempt.Sub(clock.Now()) + time.Millisecond)
		prev = clock.Now()
		waitFor(t, fmt.Sprintf("attempt %d", n), 10*time.Second, func() bool { _, got := attempts(); return got == n })
	}
	// A day after the event the last attempt is made and the delivery is
	// given up, visibly.
	clock.Advance(24 * time.Hour)
	waitFor(t, "the give-up", 10*time.Second, func() bool { dl, _ := attempts(); return dl.Status == "failed" })
	dl, _ := attempts()
	if dl.Attempts != 6 || !strings.Contains(dl.LastError, "HTTP 400") || dl.NextAttempt != nil || dl.Region != "r1" {
		t.Fatalf("got %+v, want failed after 6 attempts with HTTP 400", dl)
	}
	_, att, acc, badSig, _ := rc.snapshot()
	if len(acc) != 0 || badSig != 6 || len(att) != 0 {
		t.Fatalf("receiver: got %d acceptances and %d bad signatures, want 0 and 6", len(acc), badSig)
	}
	es, err := s.r.Ledger().EntriesByKind(context.Background(), webhook.KindFailed)
	if err != nil || len(es) != 1 {
		t.Fatalf("got %d webhook.failed entries (%v), want 1", len(es), err)
	}
}

func TestWebhooksSurviveRestart(t *testing.T) {
	rc := newReceiver(t, "whsec_test_demo")
	r1 := startRegions(t, 1, fastRetries)[0]
	oid := hookedOrder(t, r1.url, "wh-restart", rc.hookURL(), 8000)
	waitFor(t, "the authorization's webhook", 10*time.Second, func() bool {
		return allStatus(deliveries(t, r1.r.Webhooks(), oid), "delivered")
	})
	rc.set(func(rc *receiver) { rc.down = true })
	if res := call(t, "POST", r1.url+"/v1/orders/"+oid+"/captures", "wh-restart-cap", nil); res.status != 201 {
		t.Fatalf("capture: got %d %s", res.status, res.raw)
	}
	ids, _ := events(t, r1.r.Ledger(), oid)
	waitFor(t, "failed attempts at the capture's webhook", 10*time.Second, func() bool {
		ds := deliveries(t, r1.r.Webhooks(), oid)
		return len(ds) == 2 && ds[1].Status == "pending" && ds[1].Attempts >= 2
	})
	r1.stop()
	// Lose the webhook cursor, as a database restored from an older replica
	// would: the restart rescans the whole ledger.
	db, err := sql.Open("sqlite", r1.cfg.DBPath())
	if err != nil {
		t.Fatal(err)
	}
	if res, err := db.Exec(`DELETE FROM meta WHERE key = 'mark:webhooks.cursor'`); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("deleted %d cursors, want 1", n)
	}
	db.Close()

	// The merchant is back; the region restarts from the same data dir and
	// finds the pending delivery again, and only that one.
	rc.set(func(rc *receiver) { rc.down = false })
	r1.start(t, nil)
	waitReady(t, r1.url)
	waitFor(t, "the capture's webhook after the restart", 20*time.Second, func() bool {
		return allStatus(deliveries(t, r1.r.Webhooks(), oid), "delivered")
	})
	processed, _, accepted, _, _ := rc.snapshot()
	if len(processed) != 2 || processed[0].ID != ids[0] || processed[1].ID != ids[1] {
		t.Fatalf("processed %+v, want %v", processed, ids)
	}
	if accepted[ids[0]] != 1 || accepted[ids[1]] != 1 {
		t.Fatalf("got acceptances %v, want each event once (the one delivered before the restart is not sent again)", accepted)
	}
}

func TestWebhookTakeover(t *testing.T) {
	rc := newReceiver(t, "whsec_test_demo")
	rs := startRegions(t, 2, func(c *region.Config) {
		fastRetries(c)
		c.Webhooks.TakeoverAfter = 300 * time.Millisecond
	})
	r1 := rs[0]
	// r1 cannot reach the merchant; it can still reach r2.
	r1.net.mu.Lock()
	r1.net.cut[strings.TrimPrefix(rc.srv.URL, "http://")] = true
	r1.net.mu.Unlock()

	oid := hookedOrder(t, r1.url, "wh-takeover", rc.hookURL(), 7000)
	ids, _ := events(t, r1.r.Ledger(), oid)
	waitFor(t, "r2 to take the webhook over and r1 to learn of it", 20*time.Second, func() bool {
		return allStatus(deliveries(t, r1.r.Webhooks(), oid), "delivered")
	})
	for _, r := range rs {
		ds := deliveries(t, r.r.Webhooks(), oid)
		if len(ds) != 1 || ds[0].Region != "r2" || !ds[0].Takeover || ds[0].Origin != "r1" || ds[0].NextAttempt != nil {
			t.Fatalf("%s: got %+v, want one delivery by r2 taking over from r1", r.id, ds)
		}
	}
	processed, _, accepted, badSig, _ := rc.snapshot()
	if len(processed) != 1 || processed[0].ID != ids[0] || processed[0].Region != "r1" || accepted[ids[0]] != 1 || badSig != 0 {
		t.Fatalf("receiver got %+v (accepted %d, bad signatures %d), want the event of r1 once", processed, accepted[ids[0]], badSig)
	}
	if !strings.Contains(r1.logs.String(), "test partition") {
		t.Fatal("r1 never tried (and failed) to deliver the event itself")
	}
}

// rtLog records the hosts a transport was asked to reach, and reaches none.
type rtLog struct{ netguardtest.DialLog }

func (l *rtLog) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	_, err := l.Dial(r.Context(), "tcp", r.URL.Host)
	return nil, err
}

func TestWebhooksRefuseInternalTargetsInProduction(t *testing.T) {
	production := func(c *region.Config) {
		c.Mode = "production"
		c.Checkout.IDKey, c.Checkout.IdentityKey, c.Checkout.FingerprintKey, c.Checkout.SecretKey = "prod-id-key-0123456789", "prod-identity-key-0123456789", "prod-fingerprint-key-0123456789", "prod-secret-key-0123456789"
		c.Checkout.AcquirerURL = "https://acquirer.invalid"
		c.SiteURL = "https://pay.shop.example"
		c.HTTP.MetricsToken = "metrics-token-0123456789abcdef0123456789"
		c.Mail.Transport, c.Mail.SMTP.Host, c.Mail.From = "smtp", "smtp.invalid", "invoices@shop.example"
		c.Invoice.Payee.IBAN = "DE89370400440532013000" // the shop's own account, not the demo payee
		c.Merchants = []region.Merchant{{ID: "shop", Name: "Shop", APISecret: "sk_live_shop_0123", WebhookSecret: "whsec_live_shop_0123"}}
		c.Staff = []region.Staff{{Username: "ops", Password: "ops-password-0123", Role: "admin"}}
		fastRetries(c)
	}
	own, injected := &netguardtest.DialLog{}, &rtLog{}
	for _, tt := range []struct {
		name   string
		opts   []region.Option
		log    *netguardtest.DialLog
		public string // what reaching shop.example looks like to log
	}{
		// The dispatcher's own transport dials the address it checked.
		{"own transport", []region.Option{region.WithWebhooks(func(c *webhook.Config) { c.Resolver, c.Dial = netguardtest.Hostile, own.Dial })}, own, "93.184.216.34:443"},
		// An injected transport gets only requests whose host was checked.
		{"injected transport", []region.Option{region.WithTransport(injected), region.WithWebhooks(func(c *webhook.Config) { c.Resolver = netguardtest.Hostile })}, &injected.DialLog, "shop.example"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startSingle(t, production, tt.opts...)
			// Literal internal addresses are refused when the session is created.
			for _, hook := range []string{"https://127.0.0.1/h", "https://10.0.0.1/h", "https://169.254.169.254/latest", "https://localhost/h", "http://shop.example/h"} {
				body := sessionBody(1000, "ssrf")
				body["urls"].(map[string]any)["notification"] = hook
				if res := callAs(t, "shop", "sk_live_shop_0123", "POST", s.url+"/v1/sessions", "ssrf-"+hook, body); res.status != 400 || res.str("error", "field") != "urls.notification" {
					t.Fatalf("%s: got %d %s, want 400 on urls.notification", hook, res.status, res.raw)
				}
			}
			// Names that resolve to them are refused when the webhook is
			// sent; a public one is reached.
			orders := map[string]string{}
			for _, host := range []string{"loop.example", "private.example", "metadata.example", "mixed.example", "shop.example"} {
				body := sessionBody(1000, "ssrf-"+host)
				body["urls"].(map[string]any)["notification"] = "https://" + host + "/hooks?token=abc"
				sres := callAs(t, "shop", "sk_live_shop_0123", "POST", s.url+"/v1/sessions", "s-"+host, body)
				if sres.status != 201 {
					t.Fatalf("create session: got %d %s", sres.status, sres.raw)
				}
				o := callAs(t, "shop", "sk_live_shop_0123", "POST", s.url+"/v1/sessions/"+sres.str("id")+"/authorize", "a-"+host,
					map[string]any{"method": "pay_later", "consumer": consumer("eve+" + host + "@example.com")})
				if o.status != 201 {
					t.Fatalf("authorize: got %d %s", o.status, o.raw)
				}
				orders[host] = o.str("id")
			}
			for host, oid := range orders {
				waitFor(t, "failed attempts", 10*time.Second, func() bool {
					ds := deliveries(t, s.r.Webhooks(), oid)
					return len(ds) == 1 && ds[0].Attempts >= 2
				})
				ds := deliveries(t, s.r.Webhooks(), oid)
				refused := strings.Contains(ds[0].LastError, "loopback, private or link-local")
				if ds[0].Status != "pending" || refused != (host != "shop.example") || strings.Contains(ds[0].LastError, "token") {
					t.Fatalf("%s: got %+v, want pending, refused as internal unless public, without the URL's query", host, ds[0])
				}
			}
			for _, got := range tt.log.Dialed() {
				if got != tt.public {
					t.Fatalf("reached %s, want only %s", got, tt.public)
				}
			}
			if len(tt.log.Dialed()) == 0 {
				t.Fatalf("never reached the public %s", tt.public)
			}
		})
	}
}
