package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kassa/browsertest"
	"kassa/clocktest"
	"kassa/region"
	"kassa/region/regiontest"
)

// clusterRegion is one region of a peered cluster running in this process.
type clusterRegion struct {
	id, url string
	logs    *regiontest.LogBuffer
}

// startCluster starts n peered regions r1..rn on loopback, each with the
// test configuration of regiontest and its checkout service on clk.
func startCluster(t *testing.T, n int, clk *clocktest.Clock) []*clusterRegion {
	t.Helper()
	lns := make([]net.Listener, n)
	cfgs := make([]region.Config, n)
	keys := make([]string, n)
	for i := range n {
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
	}
	rs := make([]*clusterRegion, n)
	for i := range n {
		for j := range n {
			if i != j {
				cfgs[i].Peers = append(cfgs[i].Peers, region.Peer{ID: cfgs[j].Region, URL: cfgs[j].PublicURL, PublicKey: keys[j]})
			}
		}
		logs := &regiontest.LogBuffer{}
		r, err := region.New(context.Background(), cfgs[i], slog.New(slog.NewTextHandler(logs, nil)), region.WithClock(clk.Now))
		if err != nil {
			t.Fatal(err)
		}
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
		rs[i] = &clusterRegion{id: cfgs[i].Region, url: cfgs[i].PublicURL, logs: logs}
	}
	for _, r := range rs {
		within(t, 20*time.Second, r.id+" ready", func() bool {
			res, err := http.Get(r.url + "/readyz")
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == http.StatusOK
		})
	}
	return rs
}

// within polls cond until it holds, failing t after d: replication between
// the regions has no event a test could wait on.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in %s", what, d)
		}
		time.Sleep(20 * time.Millisecond) // polling observable state
	}
}

// v1 calls a region's merchant API with HTTP Basic credentials and an
// idempotency key (for posts).
func v1(t *testing.T, user, secret, method, url, key string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.SetBasicAuth(user, secret)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// TestAdminAcrossRegionsInChromium is the admin issue's end-to-end test on
// three peered regions: in Chromium an admin signs in at r1, reads the
// dashboard and creates a merchant; the merchant's secret works in r2's
// API once the entry has replicated, and r2 authorizes its order; a
// rotation in r1 with a grace period keeps the old secret working in every
// region until the grace ends (on an injected clock) and nowhere after;
// the admin finds the order in r1 by the shopper's email, captures and
// refunds part of it, and r3's audit page shows all of it with the staff
// member. Last, a staff member disabled in r1 cannot sign in at r3.
// Screenshots go to a temporary directory, and with -update to
// testdata/screenshots.
func TestAdminAcrossRegionsInChromium(t *testing.T) {
	browser := browsertest.Start(t, 3*time.Minute)
	shots := t.TempDir()
	t.Logf("screenshots: %s", shots)
	clk := clocktest.Wall()
	rs := startCluster(t, 3, clk)
	r1, r2, r3 := rs[0], rs[1], rs[2]
	// Each region gets its own browser context: the regions share the host
	// 127.0.0.1, and cookies do not tell ports apart.
	open := func(r *clusterRegion) *tab {
		bctx := browsertest.Tab(t, browser, 1280, 900, true)
		b := &tab{t: t, ctx: bctx, mode: "cluster-" + r.id, shots: shots, js: true, base: r.url, width: 1280}
		b.load("/admin/", "/admin/login")
		b.fill("username", "admin")
		b.fill("password", "admin-demo")
		if res := b.submit(`form[action="/admin/login"] button[type="submit"]`); res.Status != http.StatusOK {
			t.Fatalf("sign in at %s: got %d", r.id, res.Status)
		}
		return b
	}
	authenticated := func(r *clusterRegion, id, secret string) bool {
		status, _ := v1(t, id, secret, "GET", r.url+"/v1/sessions/ses_unknown", "", nil)
		return status == http.StatusNotFound // 401 to anyone but the merchant
	}

	// 1. r1's dashboard, and a merchant created through its form.
	b1 := open(r1)
	within(t, 10*time.Second, "r1's dashboard shows both peers reachable", func() bool {
		b1.load("/admin/", "/admin/")
		n, err := chromedp.Run(b1.ctx, chromedp.Evaluate[int]("document.querySelectorAll('#peers tbody tr').length"))
		b1.must(err)
		body, err := chromedp.Run(b1.ctx, chromedp.Text(chromedp.ID("peers")))
		b1.must(err)
		return n == 2 && strings.Count(body, "Yes") == 2
	})
	b1.says("Region r1", "Health", "Peers", "r2", "r3", "The last hour")
	b1.shot("dashboard")

	b1.follow(`nav a[href="/admin/merchants"]`)
	b1.fill("merchant-id", "acme")
	b1.fill("merchant-name", "Acme AB")
	b1.write("merchant-reason", "Signed contract 2024-117")
	if res := b1.submit(`form[action="/admin/merchants"] button[type="submit"]`); res.Status != http.StatusCreated {
		t.Fatalf("create acme: got %d, want 201", res.Status)
	}
	b1.says("Merchant acme created", "shown only this once")
	secret := b1.text("secret-api")
	if !strings.HasPrefix(secret, "sk_") || !strings.HasPrefix(b1.text("secret-webhook"), "whsec_") {
		t.Fatalf("secrets shown: api %q, webhook %q", secret, b1.text("secret-webhook"))
	}
	b1.shot("merchant-secrets")

	// 2. The secret in r2's API, and an order there.
	within(t, 15*time.Second, "r2 accepts acme's secret", func() bool { return authenticated(r2, "acme", secret) })
	status, s := v1(t, "acme", secret, "POST", r2.url+"/v1/sessions", "acme-s1", map[string]any{
		"amount": 25900, "currency": "SEK", "country": "SE", "merchant_reference": "ACME-1",
		"lines": []map[string]any{{"name": "Shoes", "quantity": 1, "unit_price": 25900, "total": 25900}},
		"urls":  map[string]any{"confirmation": "https://acme.example/ok", "cancel": "https://acme.example/cart"}})
	if status != http.StatusCreated {
		t.Fatalf("acme's session in r2: got %d %v", status, s)
	}
	const email = "grace.hopper@example.com"
	status, o := v1(t, "acme", secret, "POST", r2.url+"/v1/sessions/"+s["id"].(string)+"/authorize", "acme-a1", map[string]any{
		"method": "pay_later", "consumer": map[string]any{"email": email, "given_name": "Grace", "family_name": "Hopper",
			"postal_code": "11122", "country": "SE"}})
	if status != http.StatusCreated || o["status"] != "authorized" {
		t.Fatalf("acme's order in r2: got %d %v, want 201 authorized", status, o)
	}
	oid := o["id"].(string)

	// 3. Rotation in r1 with a grace of an hour: the old secret works in
	// every region until the (injected) clock passes the grace, then in
	// none; the new one works everywhere.
	b1.load("/admin/merchants", "/admin/merchants")
	b1.click("rotate-acme-api")
	b1.fill("rotate-acme-grace", "1h")
	b1.write("rotate-acme-reason", "Secret pasted in a ticket")
	if res := b1.submit(`form[action="/admin/merchants/acme/rotate"] button[type="submit"]`); res.Status != http.StatusOK {
		t.Fatalf("rotate: got %d, want 200", res.Status)
	}
	b1.says("New secrets for acme", "The old API secret works until")
	rotated := b1.text("secret-api")
	if rotated == "" || rotated == secret {
		t.Fatalf("rotated secret %q, old %q", rotated, secret)
	}
	for _, r := range rs {
		within(t, 15*time.Second, r.id+" accepts the rotated secret", func() bool { return authenticated(r, "acme", rotated) })
		if !authenticated(r, "acme", secret) {
			t.Fatalf("%s refuses the old secret within its grace", r.id)
		}
	}
	clk.Advance(time.Hour + time.Minute)
	for _, r := range rs {
		within(t, 15*time.Second, r.id+" refuses the old secret after the grace", func() bool { return !authenticated(r, "acme", secret) })
		if !authenticated(r, "acme", rotated) {
			t.Fatalf("%s refuses the rotated secret", r.id)
		}
	}

	// 4. The order, found in r1 by the shopper's email once it has
	// arrived, captured in part and refunded in part.
	within(t, 15*time.Second, "r1 finds the order by email", func() bool {
		b1.load("/admin/search?q="+url.QueryEscape(email), "/admin/search")
		n, err := chromedp.Run(b1.ctx, chromedp.Evaluate[int](`document.querySelectorAll('a[href="/admin/orders/`+oid+`"]').length`))
		b1.must(err)
		return n == 1
	})
	b1.follow(`a[href="/admin/orders/` + oid + `"]`)
	b1.says("Order "+oid, "acme", "Capture", "259.00 SEK")
	b1.fill("capture-amount", "200")
	b1.write("capture-reason", "First parcel shipped")
	if res := b1.submit(`#capture-form button[type="submit"]`); res.Status != http.StatusOK {
		t.Fatalf("capture: got %d, want the order page", res.Status)
	}
	b1.says("Captured 200.00 SEK.")
	b1.fill("refund-amount", "45.50")
	b1.write("refund-reason", "One shoe missing")
	if res := b1.submit(`#refund-form button[type="submit"]`); res.Status != http.StatusOK {
		t.Fatalf("refund: got %d, want the order page", res.Status)
	}
	b1.says("Refunded 45.50 SEK.")
	b1.shot("order-refunded")
	status, got := v1(t, "acme", rotated, "GET", r2.url+"/v1/orders/"+oid, "", nil)
	if status != http.StatusOK || got["captured"] != float64(20000) || got["refunded"] != float64(4550) {
		t.Fatalf("acme reads its order in r2: got %d %v, want captured 20000 and refunded 4550", status, got)
	}

	// 5. r3's audit trail, once the entries have arrived.
	b3 := open(r3)
	rows := func() string {
		body, err := chromedp.Run(b3.ctx, chromedp.Evaluate[string](`(document.querySelector('#audit tbody') || {innerText: ''}).innerText`))
		b3.must(err)
		return strings.Join(strings.Fields(strings.ReplaceAll(body, "\u00a0", " ")), " ")
	}
	want := []string{"refund", "45.50 SEK", "One shoe missing", "capture", "200.00 SEK", "First parcel shipped",
		"merchant secrets rotated", "Secret pasted in a ticket", "merchant created", "Signed contract 2024-117"}
	byAdminInR1 := func() (int, error) {
		return chromedp.Run(b3.ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('#audit tbody tr')].filter(tr =>
		tr.cells[1].innerText.trim() == 'admin' && tr.cells[2].innerText.trim() == 'admin' && tr.cells[5].innerText.trim() == 'r1').length`))
	}
	n := 0
	within(t, 15*time.Second, "r3's audit trail shows r1's actions", func() bool {
		b3.load("/admin/audit", "/admin/audit")
		text := rows()
		for _, w := range want {
			if !strings.Contains(text, w) {
				return false
			}
		}
		// Counted on the same page load; a page replaced while it is
		// read (the browser's own timing) is read again.
		var err error
		n, err = byAdminInR1()
		return err == nil
	})
	b3.says("4 action(s)")
	if n != 4 {
		t.Fatalf("r3's audit trail: %d rows by admin (admin) recorded in r1, want 4:\n%s", n, rows())
	}
	b3.has(`#audit a[href="/admin/orders/` + oid + `"]`)
	b3.shot("audit")

	// A staff member disabled in r1 cannot sign in at r3 once the disable
	// has arrived.
	const carol = "carol"
	const carolPassword = "carol-long-enough-secret"
	if code, body := callJSON(t, "POST", r1.url+"/admin/api/staff", "admin", "admin-demo",
		map[string]string{"username": carol, "role": "support", "password": carolPassword}); code != http.StatusCreated {
		t.Fatalf("add carol at r1: got %d %v", code, body)
	}
	signIn := func(r *clusterRegion) int {
		b := newBrowser(t, &env{srv: &httptest.Server{URL: r.url}})
		login := b.get("/admin/login")
		p := b.post("/admin/login", url.Values{"csrf_token": {field(t, csrfRe, login.body)}, "username": {carol}, "password": {carolPassword}})
		return p.status
	}
	// Polled through the admin API, not by signing in: failed sign-ins
	// would trip the sign-in throttle.
	staffStatus := func(r *clusterRegion) any {
		_, body := callJSON(t, "GET", r.url+"/admin/api/staff/"+carol, "admin", "admin-demo", nil)
		return body["status"]
	}
	within(t, 15*time.Second, "carol known at r3", func() bool { return staffStatus(r3) == "active" })
	if got := signIn(r3); got != http.StatusSeeOther {
		t.Fatalf("carol signs in at r3: got %d, want 303", got)
	}
	if code, body := callJSON(t, "POST", r1.url+"/admin/api/staff/carol/disable", "admin", "admin-demo", nil); code != http.StatusOK {
		t.Fatalf("disable carol at r1: got %d %v", code, body)
	}
	for _, r := range rs {
		within(t, 15*time.Second, "carol disabled at "+r.id, func() bool { return staffStatus(r) == "disabled" })
		if got := signIn(r); got != http.StatusUnauthorized {
			t.Fatalf("carol signs in at %s after the disable: got %d, want 401", r.id, got)
		}
	}

	if *update {
		keepScreenshots(t, shots, "cluster-")
	}
}

// text is the visible text of the element with id.
func (b *tab) text(id string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID(id)))
	b.must(err)
	return strings.TrimSpace(s)
}
