package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"kassa/admin"
	"kassa/clocktest"
	"kassa/ledger"
	"kassa/settlement"
	"kassa/static"
)

// settleDay is the settlement tests' today: the page's default range (the
// last seven days) ends here.
var settleDay = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// newSettleEnv is newEnv with settlement reports (25 % VAT on fees), the
// UI's clock at settleDay, and captures and refunds of demo and shop2 as
// checkout records them.
func newSettleEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	for _, op := range []struct {
		kind, order, merchant, day, method, currency string
		amount                                       int64
	}{
		{"order.captured", "ord_s1", "demo", "2026-03-01", "card", "SEK", 10000},
		{"order.captured", "ord_s2", "demo", "2026-03-01", "pay_later", "SEK", 33333},
		{"order.captured", "ord_s3", "demo", "2026-03-01", "card", "EUR", 2500},
		{"order.refunded", "ord_s1", "demo", "2026-03-03", "card", "SEK", 4000},
		{"order.captured", "ord_s4", "shop2", "2026-03-02", "instalments", "SEK", 20000},
	} {
		appendSettlement(t, e.store, op.kind, op.order, op.merchant, op.day, op.method, op.currency, op.amount)
	}
	s := settlement.DefaultSettings()
	s.VATBPS = 2500
	r := mux.NewRouter()
	assets := static.New("/static/")
	r.PathPrefix("/static/").Handler(assets)
	e.clock = clocktest.At(settleDay)
	admin.New(e.store, e.svc, e.wh, staff, slog.New(slog.NewTextHandler(io.Discard, nil))).
		WithUI(admin.UI{Merchants: []string{"demo"}, Asset: assets.Path, Now: e.clock.Now}).
		WithSettlements(settlement.New(e.store, s)).Routes(r)
	e.srv = httptest.NewServer(r)
	t.Cleanup(e.srv.Close)
	e.handler = r
	return e
}

func appendSettlement(t *testing.T, store *ledger.Store, kind, order, merchant, day, method, currency string, amount int64) {
	t.Helper()
	data, _ := json.Marshal(map[string]any{"id": "op_" + order + "_" + kind, "amount": amount, "currency": currency,
		"merchant": merchant, "method": method, "day": day, "refs": []string{settlement.Ref(merchant, day)}})
	sign := ledger.Amount(amount)
	if kind == "order.refunded" {
		sign = -sign
	}
	if _, err := store.Append(context.Background(), ledger.Draft{Kind: kind, Subject: order, Data: data, Postings: []ledger.Posting{
		{Account: "merchant:" + merchant + ":payable", Amount: -sign, Currency: currency},
		{Account: "acquirer:sim:clearing", Amount: sign, Currency: currency},
	}}); err != nil {
		t.Fatal(err)
	}
}

// TestSettlementsAdminAPI: GET /admin/api/settlements for any role, one
// merchant or all, with totals per currency; bad queries are 400 naming
// the field.
func TestSettlementsAdminAPI(t *testing.T) {
	e := newSettleEnv(t)
	api := e.srv.URL + "/admin/api/settlements?from=2026-03-01&to=2026-03-31"
	code, body := do(t, "GET", api+"&merchant=demo", "viewer", "viewer-pass")
	if code != 200 {
		t.Fatalf("got %d %v", code, body)
	}
	rows, _ := body["settlements"].([]any)
	if len(rows) != 3 || body["merchant"] != "demo" || body["from"] != "2026-03-01" {
		t.Fatalf("demo: got %v", body)
	}
	if first := rows[0].(map[string]any); first["currency"] != "EUR" || first["fees"] != 35.0 || first["fee_vat"] != 9.0 || first["net"] != 2456.0 {
		t.Fatalf("first row: got %v", first)
	}
	for _, r := range rows {
		if r.(map[string]any)["merchant"] != "demo" {
			t.Fatalf("demo's report has %v", r)
		}
	}
	code, body = do(t, "GET", api, "viewer", "viewer-pass")
	rows, _ = body["settlements"].([]any)
	totals, _ := body["totals"].([]any)
	if code != 200 || len(rows) != 4 || len(totals) != 2 {
		t.Fatalf("all merchants: got %d %v", code, body)
	}
	// SEK: 43333 + 20000 captured, 4000 refunded; fees 1317 + 778 (598 +
	// 180), VAT 329 + 195 (194.5 half up).
	if sek := totals[1].(map[string]any); sek["currency"] != "SEK" || sek["captured"] != 63333.0 || sek["fees"] != 2095.0 ||
		sek["fee_vat"] != 524.0 || sek["net"] != 63333.0-4000-2095-524 {
		t.Fatalf("SEK totals: got %v", sek)
	}
	for _, c := range []struct{ query, field string }{
		{"?from=2026-03-01", "to"}, {"?to=2026-03-01", "from"}, {"?from=2026-3-1&to=2026-03-01", "from"},
		{"?from=2026-03-02&to=2026-03-01", "to"}, {"?from=2026-01-01&to=2026-06-01", "to"},
		{"?from=2026-03-01&to=2026-03-02&merchant=nobody", "merchant"},
	} {
		code, body := do(t, "GET", e.srv.URL+"/admin/api/settlements"+c.query, "viewer", "viewer-pass")
		if er, _ := body["error"].(map[string]any); code != 400 || er["code"] != "invalid_request" || er["field"] != c.field {
			t.Errorf("%s: got %d %v, want 400 naming %s", c.query, code, body, c.field)
		}
	}
	if code, _ := do(t, "GET", api, "", ""); code != 401 {
		t.Errorf("without credentials: got %d, want 401", code)
	}
	// Without reports the route says so.
	if code, _ := do(t, "GET", newEnv(t).srv.URL+"/admin/api/settlements?from=2026-03-01&to=2026-03-02", "viewer", "viewer-pass"); code != 404 {
		t.Errorf("a region without reports: got %d, want 404", code)
	}
}

// TestSettlementsPage: the page shows the last seven days by default, a
// chosen merchant and range, an error summary for a bad range, and the
// CSV download; a viewer may see it.
func TestSettlementsPage(t *testing.T) {
	e := newSettleEnv(t)
	b := signIn(t, e, "viewer")
	p := b.get("/admin/settlements")
	wantText(t, "default range", p, 200, "All merchants, 2026-02-26 to 2026-03-04", "Download CSV", "433.33", "13.17", "-40.00", "shop2")
	p = b.get("/admin/settlements?merchant=shop2&from=2026-03-01&to=2026-03-31")
	wantText(t, "shop2", p, 200, "shop2, 2026-03-01 to 2026-03-31", "200.00", "7.78")
	if strings.Contains(text(p.body), "433.33") {
		t.Fatal("shop2's page shows demo's capture")
	}
	p = b.get("/admin/settlements?from=2026-03-05&to=2026-03-01")
	wantText(t, "to before from", p, 400, "There is a problem", "To must not be before from.")
	if !strings.Contains(p.body, `href="#settlements-to"`) || !strings.Contains(p.body, `id="settlements-to" name="to" type="text" value="2026-03-01"`) {
		t.Fatalf("the error does not link to the field:\n%s", p.body)
	}
	p = b.get("/admin/settlements?from=2026-04-01&to=2026-04-30")
	wantText(t, "empty", p, 200, "No captures or refunds with a settlement day in this range.")

	csv := b.get("/admin/settlements.csv?merchant=demo&from=2026-03-01&to=2026-03-31")
	want := "merchant,date,currency,captured,refunded,captures,refunds,fees,fee_vat,net\n" +
		"demo,2026-03-01,EUR,2500,0,1,0,35,9,2456\n" +
		"demo,2026-03-01,SEK,43333,0,2,0,1317,329,41687\n" +
		"demo,2026-03-03,SEK,0,4000,0,1,0,0,-4000\n"
	if csv.status != 200 || csv.body != want || csv.header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		csv.header.Get("Content-Disposition") != `attachment; filename="settlements-demo-2026-03-01-2026-03-31.csv"` {
		t.Fatalf("CSV: got %d %v\n%s", csv.status, csv.header, csv.body)
	}
	if bad := b.get("/admin/settlements.csv?from=x&to=2026-03-01"); bad.status != 400 {
		t.Fatalf("CSV of a bad range: got %d", bad.status)
	}
	if anon := newBrowser(t, e).get("/admin/settlements"); anon.status != http.StatusSeeOther {
		t.Fatalf("not signed in: got %d, want a redirect to sign in", anon.status)
	}
}
