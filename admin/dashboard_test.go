package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"kassa/admin"
	"kassa/checkout"
)

func TestDashboardAPI(t *testing.T) {
	e := newEnv(t) // one order authorized
	authorize(t, e, "R-2", "bea@example.com", 2000)
	authorize(t, e, "R-3", "cid@example.com", 3000)
	// A session that is never paid is a checkout but no authorization.
	if _, _, err := e.svc.CreateSession(context.Background(), "demo", "k-open", checkout.SessionRequest{Amount: 500, Currency: "SEK", Country: "SE",
		MerchantReference: "R-4", Lines: []checkout.Line{{Name: "A", Quantity: 1, UnitPrice: 500, Total: 500}},
		URLs: checkout.URLs{Confirmation: "https://shop.example/ok", Cancel: "https://shop.example/c"}}, "h-open"); err != nil {
		t.Fatal(err)
	}

	status, body := call(t, e, "GET", "/admin/api/dashboard", "viewer", "")
	if status != http.StatusOK {
		t.Fatalf("got %d %s, want 200", status, body)
	}
	for _, field := range []string{`"region":"r1"`, `"ready":null`, `"backup":null`, `"peers":[]`, `"forks":{}`, `"mode":"normal"`,
		`"unsecured":[]`, `"last_hour":`, `"minutes":[`, `"approvals_by_reason":`, `"declines_by_reason":`, `"lag_max_ms":`} {
		if !strings.Contains(string(body), field) {
			t.Errorf("dashboard JSON lacks %s:\n%s", field, body)
		}
	}
	d := decode[admin.Dashboard](t, body)
	h := d.LastHour
	if h.Checkouts != 4 || h.Authorizations != 3 || h.Declines != 0 || !h.Complete {
		t.Errorf("last hour: got checkouts %d, authorizations %d, declines %d, complete %v; want 4, 3, 0, true",
			h.Checkouts, h.Authorizations, h.Declines, h.Complete)
	}
	if len(h.Minutes) != 60 {
		t.Fatalf("got %d minutes, want 60", len(h.Minutes))
	}
	var inMinutes int64
	for _, m := range h.Minutes {
		inMinutes += m.Authorizations
	}
	if inMinutes != 3 {
		t.Errorf("per-minute authorizations add up to %d, want 3", inMinutes)
	}
	var approvals int64
	for _, n := range h.ApprovalsByReason {
		approvals += n
	}
	if approvals < 3 {
		t.Errorf("approvals by reason: got %v, want at least 3 counted", h.ApprovalsByReason)
	}
	if d.Entries != e.store.Count() {
		t.Errorf("entries: got %d, want %d", d.Entries, e.store.Count())
	}

	if status, body := call(t, e, "GET", "/admin/api/dashboard", "", ""); status != http.StatusUnauthorized {
		t.Errorf("without credentials: got %d %s, want 401", status, body)
	}
}

func TestDashboardPage(t *testing.T) {
	e := newEnv(t)
	authorize(t, e, "R-2", "bea@example.com", 2000)
	b := signIn(t, e, "viewer")
	p := b.get("/admin/")
	wantText(t, "dashboard", p, http.StatusOK, "Region r1", "Health", "Peers", "The last hour", "Approvals and declines by reason")
	for _, want := range []string{
		`<svg class="chart" viewBox="0 0 640 200" role="img" aria-labelledby="chart-throughput-title chart-throughput-desc"`,
		`<title id="chart-throughput-title">Checkouts and authorizations per minute</title>`,
		`<title id="chart-lag-title">`, `<title id="chart-rights-title">`, `<title id="chart-decisions-title">`,
		`<polyline class="series-a"`, `<table class="data" id="minutes">`, `<table class="data" id="reasons">`,
		`<dd id="hour-authorizations">2</dd>`, `<dd id="hour-checkouts">2</dd>`,
		`<a href="/admin/" aria-current="page">Dashboard</a>`, `<a href="/admin/audit">Audit trail</a>`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("dashboard page lacks %s", want)
		}
	}
	if strings.Contains(p.body, "<script>") || strings.Contains(p.body, " style=") {
		t.Error("dashboard page has inline script or style")
	}
	// The minute table has a row per minute.
	if n := len(regexp.MustCompile(`<tr><th scope="row"><time`).FindAllString(p.body, -1)); n != 60 {
		t.Errorf("minute table: got %d rows, want 60", n)
	}
	if p := b.get("/admin"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/" {
		t.Errorf("/admin: got %d to %q, want 303 to /admin/", p.status, p.header.Get("Location"))
	}
}

func TestAuditTrail(t *testing.T) {
	e := newEnv(t)
	capture(t, e, e.order)
	other := authorize(t, e, "R-2", "bea@example.com", 2000)
	capture(t, e, other.ID)
	agent := signIn(t, e, "agent")
	csrf, nonce := agent.orderForm(e.order)
	if p := agent.post("/admin/orders/"+string(e.order)+"/refund", url.Values{"csrf_token": {csrf}, "nonce": {nonce},
		"amount": {"2.50"}, "amount_unit": {"major"}, "reason": {"parcel damaged"}}); p.status != http.StatusSeeOther {
		t.Fatalf("refund: got %d:\n%s", p.status, text(p.body))
	}
	if status, body := call(t, e, "POST", "/admin/api/mode", "boss", `{"mode": "card_only", "reason": "incident 42"}`); status != http.StatusOK {
		t.Fatalf("mode switch: got %d %s", status, body)
	}
	// A merchant's own refund is no staff action.
	if _, _, err := e.svc.Refund(context.Background(), "demo", other.ID, "merchant-refund", 100, "h-r"); err != nil {
		t.Fatal(err)
	}

	list := func(query string) admin.AuditList {
		t.Helper()
		status, body := call(t, e, "GET", "/admin/api/audit"+query, "viewer", "")
		if status != http.StatusOK {
			t.Fatalf("audit%s: got %d %s", query, status, body)
		}
		return decode[admin.AuditList](t, body)
	}
	all := list("")
	if len(all.Actions) != 2 || all.Total != 2 {
		t.Fatalf("got %d actions (total %d), want 2: %+v", len(all.Actions), all.Total, all.Actions)
	}
	mode, refund := all.Actions[0], all.Actions[1] // newest first
	if mode.Staff != "boss" || mode.Role != "admin" || mode.Action != "mode switch" || mode.Reason != "incident 42" ||
		mode.Region != "r1" || mode.Summary != "to card_only" || mode.At.IsZero() {
		t.Errorf("mode switch: got %+v", mode)
	}
	ada := orderNow(t, e, e.order).Consumer.ID
	if refund.Staff != "agent" || refund.Role != "support" || refund.Action != "refund" || refund.Reason != "parcel damaged" ||
		refund.Order != string(e.order) || refund.Consumer != string(ada) || refund.Summary != "2.50\u00a0SEK" || refund.Region != "r1" {
		t.Errorf("refund: got %+v", refund)
	}
	for _, tc := range []struct {
		query string
		want  []string // actions
	}{
		{"?staff=agent", []string{"refund"}},
		{"?staff=boss", []string{"mode switch"}},
		{"?staff=nobody", nil},
		{"?order=" + string(e.order), []string{"refund"}},
		{"?order=" + string(other.ID), nil},
		{"?consumer=" + string(ada), []string{"refund"}},
		{"?staff=boss&order=" + string(e.order), nil},
	} {
		got := list(tc.query)
		var acts []string
		for _, a := range got.Actions {
			acts = append(acts, a.Action)
		}
		if strings.Join(acts, ",") != strings.Join(tc.want, ",") || got.Total != len(tc.want) {
			t.Errorf("audit%s: got %v (total %d), want %v", tc.query, acts, got.Total, tc.want)
		}
	}
	for _, q := range []string{"?order=R-1", "?consumer=ada@example.com", "?page=0", "?page=x", "?staff=" + strings.Repeat("a", 65)} {
		status, body := call(t, e, "GET", "/admin/api/audit"+q, "viewer", "")
		wantError(t, "audit"+q, status, body, http.StatusBadRequest, "invalid_request")
	}

	v := signIn(t, e, "viewer")
	p := v.get("/admin/audit")
	wantText(t, "audit page", p, http.StatusOK, "Audit trail", "boss", "admin", "mode switch", "incident 42",
		"agent", "support", "refund", "parcel damaged")
	if !strings.Contains(p.body, `<a class="mono" href="/admin/orders/`+string(e.order)+`">`) {
		t.Error("audit page does not link the refunded order")
	}
	p = v.get("/admin/audit?staff=agent")
	wantText(t, "audit page by staff", p, http.StatusOK, "parcel damaged")
	if strings.Contains(p.body, "incident 42") {
		t.Error("audit page filtered by agent shows the mode switch")
	}
	p = v.get("/admin/audit?order=nope")
	wantText(t, "audit page with a bad filter", p, http.StatusBadRequest, "an order id starts with ord_")

	// The order and consumer pages link to their audit trail.
	if p := v.get("/admin/orders/" + string(e.order)); !strings.Contains(p.body, `href="/admin/audit?order=`+string(e.order)+`"`) {
		t.Error("order page has no audit trail link")
	}
	if p := v.get("/admin/consumers/" + string(ada)); !strings.Contains(p.body, `href="/admin/audit?consumer=`+string(ada)+`"`) {
		t.Error("consumer page has no audit trail link")
	}
}
