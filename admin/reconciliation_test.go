package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"kassa/admin"
	"kassa/ledger"
	"kassa/reconcile"
	"kassa/static"
)

// settlementFile is the acquirer's file of one day, as a reconcile.Source.
type settlementFile struct {
	day   string
	lines []reconcile.Line
}

func (f *settlementFile) Settlement(_ context.Context, day string) ([]reconcile.Line, error) {
	if day != f.day {
		return nil, nil
	}
	return f.lines, nil
}

// reconEnv is newEnv's admin with reconciliation, over a day (yesterday,
// UTC) with two card captures in the ledger and a file whose second line
// says 1 SEK more than the ledger.
func reconEnv(t *testing.T) (*env, string) {
	t.Helper()
	e := newEnv(t)
	day := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	file := &settlementFile{day: day}
	for i, amount := range []int64{12500, 4000} {
		key := fmt.Sprintf("capture-key-%d", i+1)
		data, _ := json.Marshal(map[string]any{"id": key, "amount": amount, "currency": "SEK", "merchant": "demo", "method": "card", "day": day,
			"acquirer": map[string]any{"key": key, "payment": fmt.Sprintf("pay_%d", i+1), "operation": fmt.Sprintf("op_%08d", i+1)},
			"refs":     []string{"settle:demo:" + day, "acquirer-day:" + day}})
		if _, err := e.store.Append(context.Background(), ledger.Draft{Kind: "order.captured", Subject: fmt.Sprintf("ord_card%d", i+1), Data: data}); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			amount += 100
		}
		raw := fmt.Sprintf("%s,capture,op_%08d,pay_%d,ord_card%d,%s,%d,SEK,%sT10:00:00Z", day, i+1, i+1, i+1, key, amount, day)
		file.lines = append(file.lines, reconcile.Line{Line: i + 2, Raw: raw, Type: "capture", OperationID: fmt.Sprintf("op_%08d", i+1),
			IdempotencyKey: key, Amount: amount, Currency: "SEK"})
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := reconcile.New(e.store, file, reconcile.Config{Region: "r1", Settings: reconcile.DefaultSettings(), Now: e.clock.Now, Logger: log})
	r := mux.NewRouter()
	assets := static.New("/static/")
	r.PathPrefix("/static/").Handler(assets)
	admin.New(e.store, e.svc, e.wh, staff, log).WithCredit(e.credit).WithReconciliation(rec).
		WithUI(admin.UI{Merchants: []string{"demo"}, Asset: assets.Path, Now: e.clock.Now}).Routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	e.srv, e.handler = srv, r
	return e, day
}

func postJSON(t *testing.T, url, user, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(user, user+"-pass")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func errorField(body map[string]any) (code, field string) {
	e, _ := body["error"].(map[string]any)
	code, _ = e["code"].(string)
	field, _ = e["field"].(string)
	return code, field
}

func TestReconciliationAPI(t *testing.T) {
	e, day := reconEnv(t)
	api := e.srv.URL + "/admin/api/reconciliation"
	if code, body := do(t, "GET", api, "viewer", "viewer-pass"); code != 200 || len(body["days"].([]any)) != 0 {
		t.Fatalf("no runs: got %d %v", code, body)
	}
	if code, _ := postJSON(t, api+"/runs", "viewer", `{"day":"`+day+`"}`); code != 403 {
		t.Fatalf("viewer runs: got %d, want 403", code)
	}
	for _, bad := range []string{`{"day":"yesterday"}`, `{"day":"2999-01-01"}`, `{}`} {
		code, body := postJSON(t, api+"/runs", "agent", bad)
		if c, f := errorField(body); code != 400 || c != "invalid_request" || f != "day" {
			t.Fatalf("%s: got %d %v, want 400 on day", bad, code, body)
		}
	}
	if code, body := postJSON(t, api+"/runs", "agent", `{"day":"`+day+`","extra":1}`); code != 400 {
		t.Fatalf("unknown field: got %d %v", code, body)
	}
	code, body := postJSON(t, api+"/runs", "agent", `{"day":"`+day+`"}`)
	if code != 200 || body["status"] != "open" || body["open"].(float64) != 1 {
		t.Fatalf("run: got %d %v", code, body)
	}
	code, body = do(t, "GET", api+"?day="+day, "viewer", "viewer-pass")
	diffs, _ := body["differences"].([]any)
	if code != 200 || len(diffs) != 1 {
		t.Fatalf("day: got %d %v", code, body)
	}
	diff := diffs[0].(map[string]any)
	if diff["kind"] != "amount_mismatch" || diff["line"].(float64) != 3 || diff["expected"] != "4000" || diff["actual"] != "4100" ||
		!strings.Contains(diff["raw"].(string), "capture-key-2,4100,SEK") {
		t.Fatalf("got difference %v", diff)
	}
	if code, body := do(t, "GET", api+"?day=14-03-2026", "viewer", "viewer-pass"); code != 400 {
		t.Fatalf("bad day: got %d %v", code, body)
	}
	resolve := api + "/" + day + "/differences/" + diff["id"].(string) + "/resolve"
	if code, body := postJSON(t, resolve, "agent", `{"note":"  "}`); code != 400 {
		t.Fatalf("no note: got %d %v", code, body)
	} else if _, f := errorField(body); f != "note" {
		t.Fatalf("no note: got %v, want the note named", body)
	}
	if code, _ := postJSON(t, resolve, "viewer", `{"note":"x"}`); code != 403 {
		t.Fatalf("viewer resolves: got %d", code)
	}
	if code, _ := postJSON(t, api+"/"+day+"/differences/rd_nope/resolve", "agent", `{"note":"x"}`); code != 404 {
		t.Fatalf("unknown difference: got %d", code)
	}
	code, body = postJSON(t, resolve, "agent", `{"note":"Acquirer fee booked as capture; ticket 12"}`)
	if res, _ := body["resolution"].(map[string]any); code != 200 || res["staff"] != "agent" || res["role"] != "support" {
		t.Fatalf("resolve: got %d %v", code, body)
	}
	if code, body := postJSON(t, resolve, "boss", `{"note":"again"}`); code != 409 {
		t.Fatalf("resolve twice: got %d %v", code, body)
	}
	code, body = do(t, "GET", api, "viewer", "viewer-pass")
	days, _ := body["days"].([]any)
	if code != 200 || len(days) != 1 || days[0].(map[string]any)["status"] != "resolved" {
		t.Fatalf("days: got %d %v", code, body)
	}
}

func TestReconciliationPages(t *testing.T) {
	e, day := reconEnv(t)
	viewer := signIn(t, e, "viewer")
	p := viewer.get("/admin/reconciliation")
	wantText(t, "viewer's list", p, 200, "Reconciliation", "No day has been reconciled yet", "can see reconciliations but not run them")
	if strings.Contains(p.body, `action="/admin/reconciliation/run"`) {
		t.Fatal("a viewer is shown the run form")
	}
	p = viewer.post("/admin/reconciliation/run", url.Values{"csrf_token": {field(t, csrfRe, p.body)}, "day": {day}})
	wantText(t, "viewer runs", p, http.StatusForbidden, "Not allowed")

	b := signIn(t, e, "agent")
	p = b.get("/admin/reconciliation")
	csrf := field(t, csrfRe, p.body)
	p = b.post("/admin/reconciliation/run", url.Values{"csrf_token": {csrf}, "day": {"14/03"}})
	wantText(t, "bad day", p, http.StatusUnprocessableEntity, "Enter a date as YYYY-MM-DD")
	p = b.post("/admin/reconciliation/run", url.Values{"csrf_token": {"forged"}, "day": {day}})
	wantText(t, "no CSRF", p, http.StatusForbidden, "This form has expired")
	if n := countKind(t, e, reconcile.Subject(day), reconcile.KindRun); n != 0 {
		t.Fatalf("refused runs wrote %d runs", n)
	}
	p = b.follow(b.post("/admin/reconciliation/run", url.Values{"csrf_token": {csrf}, "day": {day}}))
	wantText(t, "day", p, 200, "Reconciled "+day+": 1 open difference.", "Line 3: amount mismatch", "capture-key-2,4100,SEK",
		"Expected 40.00 SEK", "Actual 41.00 SEK", "open")
	id := regexpFind(t, `id="difference-(rd_[0-9a-f]+)"`, p.body)
	action := "/admin/reconciliation/" + day + "/differences/" + id + "/resolve"
	p = b.post(action, url.Values{"csrf_token": {csrf}, "note": {""}})
	wantText(t, "no note", p, http.StatusUnprocessableEntity, "There is a problem", "Enter a note")
	p = b.follow(b.post(action, url.Values{"csrf_token": {csrf}, "note": {"Checked with the acquirer"}}))
	wantText(t, "resolved", p, 200, "Difference resolved.", "resolved by agent (support)", "Checked with the acquirer")
	p = b.get("/admin/reconciliation")
	wantText(t, "list", p, 200, day, "resolved")
	if n := countKind(t, e, reconcile.Subject(day), reconcile.KindResolved); n != 1 {
		t.Fatalf("got %d resolutions, want 1", n)
	}
}

func regexpFind(t *testing.T, pattern, body string) string {
	t.Helper()
	return field(t, regexp.MustCompile(pattern), body)
}
