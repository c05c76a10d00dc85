package admin_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"kassa/admin"
	"kassa/checkout"
	"kassa/clocktest"
	"kassa/ledger"
	"kassa/outbox"
	"kassa/scoring"
	"kassa/static"
)

type fakeWebhooks struct{ resent []string }

func (f *fakeWebhooks) Deliveries(context.Context, checkout.OrderID) ([]outbox.Delivery, error) {
	return []outbox.Delivery{{EventID: "e1", Type: "order.authorized", Status: "delivered"}}, nil
}

func (f *fakeWebhooks) Resend(_ context.Context, id string) error {
	if id != "e1" {
		return checkout.ErrNotFound
	}
	f.resent = append(f.resent, id)
	return nil
}

// env is the admin API over a one-region ledger, with the parts a test
// needs to reach behind it.
type env struct {
	srv     *httptest.Server
	handler http.Handler
	store   *ledger.Store
	svc     *checkout.Service
	credit  *scoring.Engine
	config  scoring.Config // what credit was built from, for a restart
	order   checkout.OrderID
	wh      *fakeWebhooks
	clock   *clocktest.Clock // the admin UI's: sessions and sign-in throttling
}

func setup(t *testing.T) (*httptest.Server, *ledger.Store, checkout.OrderID, *fakeWebhooks) {
	t.Helper()
	e := newEnv(t)
	return e.srv, e.store, e.order, e.wh
}

// newEnv builds the admin API with staff viewer, agent (support) and boss
// (admin), and authorizes one pay_later order of 1000 SEK for
// ada@example.com.
func newEnv(tb testing.TB) *env {
	tb.Helper()
	seed := make([]byte, ed25519.SeedSize)
	key := ed25519.NewKeyFromSeed(seed)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := ledger.Open(context.Background(), ledger.Options{Path: filepath.Join(tb.TempDir(), "kassa.db"), Region: "r1", Key: key,
		Keys: ledger.Keys{"r1": key.Public().(ed25519.PublicKey)}, Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	cfg := scoring.Config{Region: "r1", Logger: log, Policy: scoring.Policy{MaxPayLater: 1_000_000,
		CreditLimit: map[string]int64{"SEK": 100_000}, GraceDays: 5}}
	credit := scoring.New(store, cfg)
	svc := checkout.New(store, credit, approveCards{}, nil, checkout.Config{
		Region: "r1", PublicURL: "http://kassa.test", AllowLoopback: true, Logger: log,
		Merchants: []checkout.MerchantConfig{{ID: "demo", APISecret: "sk_test_demo", WebhookSecret: "whsec_test_demo"},
			{ID: "shop2", Name: "Nordic Bikes", APISecret: "sk_test_shop2"}},
		Consumers: checkout.Consumers{Key: []byte("identity-key-for-tests")}, FingerprintKey: []byte("fingerprint-key-for-tests"),
	})
	ctx := context.Background()
	req := checkout.SessionRequest{Amount: 1000, Currency: "SEK", Country: "SE", MerchantReference: "R-1",
		Lines: []checkout.Line{{Name: "A", Quantity: 1, UnitPrice: 1000, Total: 1000}},
		URLs:  checkout.URLs{Confirmation: "https://shop.example/ok", Cancel: "https://shop.example/c"}}
	sess, _, err := svc.CreateSession(ctx, "demo", "k1", req, "h1")
	if err != nil {
		tb.Fatal(err)
	}
	o, _, err := svc.Authorize(ctx, "demo", sess.ID, checkout.AuthorizeRequest{Method: "pay_later", Consumer: checkout.Consumer{
		Email: "ada@example.com", GivenName: "Ada", FamilyName: "Lovelace", PostalCode: "11122", Country: "SE"}}, "h2")
	if err != nil {
		tb.Fatal(err)
	}
	if o.Status != "authorized" {
		tb.Fatalf("setup: got order status %q with decision %+v, want authorized", o.Status, o.Decision)
	}
	wh := &fakeWebhooks{}
	r := mux.NewRouter()
	clk := clocktest.Wall()
	assets := static.New("/static/")
	r.PathPrefix("/static/").Handler(assets)
	admin.New(store, svc, wh, staff, log).WithCredit(credit).WithInvoices(refBook{testReference: o.ID}, validReference).
		WithUI(admin.UI{Merchants: []string{"demo"}, Asset: assets.Path, Now: clk.Now}).Routes(r)
	srv := httptest.NewServer(r)
	tb.Cleanup(srv.Close)
	return &env{srv: srv, handler: r, store: store, svc: svc, credit: credit, config: cfg, order: o.ID, wh: wh, clock: clk}
}

// staff are the admin users of every test.
var staff = []admin.Staff{
	{Username: "viewer", Password: "viewer-pass", Role: "viewer"},
	{Username: "agent", Password: "agent-pass", Role: "support"},
	{Username: "boss", Password: "boss-pass", Role: "admin"},
}

func do(t *testing.T, method, url, user, pass string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

func TestOrderTimeline(t *testing.T) {
	srv, _, oid, _ := setup(t)
	code, body := do(t, "GET", srv.URL+"/admin/api/orders/"+string(oid), "viewer", "viewer-pass")
	if code != 200 {
		t.Fatalf("got %d %v", code, body)
	}
	entries, _ := body["entries"].([]any)
	if len(entries) != 1 || entries[0].(map[string]any)["region"] != "r1" || entries[0].(map[string]any)["kind"] != "order.authorized" {
		t.Fatalf("got entries %v, want the authorization written by r1", entries)
	}
	if o, _ := body["order"].(map[string]any); o["status"] != "authorized" {
		t.Fatalf("got order %v", o)
	}
	if wh, _ := body["webhooks"].([]any); len(wh) != 1 {
		t.Fatalf("got webhooks %v", wh)
	}
	for _, tc := range []struct{ user, pass string }{{"", ""}, {"viewer", "wrong"}, {"nobody", "viewer-pass"}} {
		if code, _ := do(t, "GET", srv.URL+"/admin/api/orders/"+string(oid), tc.user, tc.pass); code != 401 {
			t.Errorf("%q/%q: got %d, want 401", tc.user, tc.pass, code)
		}
	}
	if code, _ := do(t, "GET", srv.URL+"/admin/api/orders/ord_nope", "viewer", "viewer-pass"); code != 404 {
		t.Fatalf("unknown order: got %d", code)
	}
}

func TestResendNeedsSupportAndIsAudited(t *testing.T) {
	srv, store, oid, wh := setup(t)
	url := srv.URL + "/admin/api/orders/" + string(oid) + "/webhooks/e1/resend"
	if code, _ := do(t, "POST", url, "viewer", "viewer-pass"); code != 403 {
		t.Fatalf("viewer: got %d, want 403", code)
	}
	if code, body := do(t, "POST", url, "agent", "agent-pass"); code != 202 {
		t.Fatalf("agent: got %d %v", code, body)
	}
	if len(wh.resent) != 1 {
		t.Fatalf("got %d resends, want 1", len(wh.resent))
	}
	if code, _ := do(t, "POST", srv.URL+"/admin/api/orders/"+string(oid)+"/webhooks/nope/resend", "agent", "agent-pass"); code != 404 {
		t.Fatalf("unknown event: got %d", code)
	}
	es, _ := store.EntriesBySubject(context.Background(), string(oid))
	var audit string
	for _, e := range es {
		if e.Kind == "staff.action" {
			audit = string(e.Data)
		}
	}
	if !strings.Contains(audit, `"staff":"agent"`) || !strings.Contains(audit, "webhook.resend") {
		t.Fatalf("got audit %q, want the agent's resend recorded", audit)
	}
}

// apiFrom sends GET path to the admin API with HTTP Basic from addr.
func apiFrom(e *env, addr, path, user, pass string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	req.RemoteAddr = addr + ":40000"
	req.SetBasicAuth(user, pass)
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, req)
	return w
}

// TestBasicAuthThrottle: guesses over HTTP Basic are throttled per address
// and (address, user) like the sign-in form, and a user under attack from
// many addresses still gets in from another.
func TestBasicAuthThrottle(t *testing.T) {
	e := newEnv(t)
	for a := range 20 {
		for range 5 {
			apiFrom(e, fmt.Sprintf("10.4.0.%d", a+1), "/admin/api/mode", "boss", "wrong")
		}
	}
	if w := apiFrom(e, "192.0.2.20", "/admin/api/mode", "boss", "boss-pass"); w.Code != http.StatusOK {
		t.Fatalf("the right password from a fresh address after 100 guesses elsewhere: got %d, want 200: %s", w.Code, w.Body)
	}
	w := apiFrom(e, "10.4.0.20", "/admin/api/mode", "boss", "boss-pass")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" ||
		!strings.Contains(w.Body.String(), "for this username from your address") {
		t.Fatalf("a guessing address: got %d (Retry-After %q) %s, want 429 naming the username and address", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
}

// TestBasicAuthLongNamesKeepTheThrottleSmall: names too long to be a staff
// member's are refused before they are counted, so failures with huge
// names keep the throttle small.
func TestBasicAuthLongNamesKeepTheThrottleSmall(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("n", 45<<10)
	before := liveHeap()
	for i := range 1000 {
		w := apiFrom(e, fmt.Sprintf("10.5.%d.%d", i/250, i%250), "/admin/api/mode", fmt.Sprint(i, long), "wrong")
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("a 45 KB name: got %d, want 401", w.Code)
		}
	}
	grew := liveHeap() - before
	t.Logf("1,000 failures with 45 KB names: live heap grew by %d KB", grew>>10)
	if grew > 4<<20 {
		t.Errorf("live heap grew by %d KB, want under 4 MB", grew>>10)
	}
	runtime.KeepAlive(e)
}

func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
