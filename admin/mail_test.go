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
	"kassa/mail"
	"kassa/static"
)

var mailDay = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// newMailEnv is newEnv with a development mailbox holding three messages
// to ada@example.com (the first delivered twice) and one to bo@example.com,
// an hour apart from mailDay on; without a mailbox (off) the region sends
// with SMTP.
func newMailEnv(t *testing.T, off bool) *env {
	t.Helper()
	e := newEnv(t)
	clk := clocktest.At(mailDay)
	box := mail.NewMailbox(e.store, clk.Now)
	for _, m := range []mail.Message{
		{ID: "aaa111", To: "ada@example.com", Subject: "Invoice 1001", Text: "Pay 100 SEK by 1 April.", HTML: `<p>Pay <b>100 SEK</b></p>`, Locale: "en"},
		{ID: "bbb222", To: "Ada@Example.com", Subject: "Reminder: invoice 1001", Text: "Still owed.", Locale: "en"},
		{ID: "ccc333", To: "bo@example.com", Subject: "Invoice 1002", Text: "Bo's invoice."},
		{ID: "aaa111", To: "ada@example.com", Subject: "Invoice 1001", Text: "Pay 100 SEK by 1 April.", HTML: `<p>Pay <b>100 SEK</b></p><script>parent.document.title="pwned"</script>`, Locale: "en"},
	} {
		// What the outbox writes when the mailbox accepts m: the record
		// of the delivery, carrying the mailbox's receipt.
		r, err := box.Send(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(map[string]any{"event": m.ID, "status": "delivered", "refs": r.Refs, "content": r.Content})
		if _, err := e.store.Append(context.Background(), ledger.Draft{Kind: mail.KindDelivered, Subject: m.ID, Data: data}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
	}
	r := mux.NewRouter()
	assets := static.New("/static/")
	r.PathPrefix("/static/").Handler(assets)
	api := admin.New(e.store, e.svc, e.wh, staff, slog.New(slog.NewTextHandler(io.Discard, nil))).
		WithUI(admin.UI{Merchants: []string{"demo"}, Asset: assets.Path, Now: e.clock.Now})
	if !off {
		api.WithMailbox(box)
	}
	api.Routes(r)
	e.srv = httptest.NewServer(r)
	t.Cleanup(e.srv.Close)
	e.handler = r
	return e
}

// TestMailAdminAPI: GET /admin/api/mail?to= for any role, newest first,
// every delivery; a missing or malformed address is a 400 naming "to"; a
// region without a mailbox answers 404 mailbox_off.
func TestMailAdminAPI(t *testing.T) {
	e := newMailEnv(t, false)
	code, body := do(t, "GET", e.srv.URL+"/admin/api/mail?to=%20ADA@example.com", "viewer", "viewer-pass")
	msgs, _ := body["messages"].([]any)
	if code != 200 || len(msgs) != 3 {
		t.Fatalf("got %d %v, want 200 and three messages", code, body)
	}
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.(map[string]any)["id"].(string))
	}
	if strings.Join(ids, ",") != "aaa111,bbb222,aaa111" {
		t.Fatalf("got ids %v, want newest first with both deliveries of aaa111", ids)
	}
	second := msgs[1].(map[string]any)
	for k, want := range map[string]any{"to": "ada@example.com", "subject": "Reminder: invoice 1001", "text": "Still owed.", "html": "",
		"sent_at": mailDay.Add(time.Hour).Format(time.RFC3339), "region": "r1"} {
		if second[k] != want {
			t.Errorf("%s: got %v, want %v", k, second[k], want)
		}
	}
	code, body = do(t, "GET", e.srv.URL+"/admin/api/mail?to=nobody@example.com", "viewer", "viewer-pass")
	if msgs, ok := body["messages"].([]any); code != 200 || !ok || len(msgs) != 0 {
		t.Fatalf("an address without mail: got %d %v, want 200 and an empty list", code, body)
	}
	for _, q := range []string{"", "?to=", "?to=ada", "?to=Ada%20%3Cada@example.com%3E", "?to=" + strings.Repeat("a", 250) + "@example.com"} {
		code, body := do(t, "GET", e.srv.URL+"/admin/api/mail"+q, "viewer", "viewer-pass")
		if er, _ := body["error"].(map[string]any); code != 400 || er["code"] != "invalid_request" || er["field"] != "to" {
			t.Errorf("%q: got %d %v, want 400 naming to", q, code, body)
		}
	}
	if code, _ := do(t, "GET", e.srv.URL+"/admin/api/mail?to=ada@example.com", "", ""); code != 401 {
		t.Errorf("without credentials: got %d, want 401", code)
	}
	if code, _ := do(t, "GET", e.srv.URL+"/admin/api/mail?to=ada@example.com", "viewer", "wrong"); code != 401 {
		t.Errorf("a wrong password: got %d, want 401", code)
	}
	if code, _ := do(t, "POST", e.srv.URL+"/admin/api/mail?to=ada@example.com", "boss", "boss-pass"); code != 405 && code != 404 {
		t.Errorf("POST: got %d, want it refused", code)
	}
	off := newMailEnv(t, true)
	code, body = do(t, "GET", off.srv.URL+"/admin/api/mail?to=ada@example.com", "viewer", "viewer-pass")
	if er, _ := body["error"].(map[string]any); code != 404 || er["code"] != "mailbox_off" {
		t.Errorf("a region that sends with SMTP: got %d %v, want 404 mailbox_off", code, body)
	}
}

// TestMailPage: the page lists a recipient's mail newest first, opens one
// message with its text and its HTML in a sandboxed frame, says when a
// message was delivered twice, refuses a bad address with an error
// summary, and says when the mailbox is off.
func TestMailPage(t *testing.T) {
	e := newMailEnv(t, false)
	b := signIn(t, e, "viewer")
	p := b.get("/admin/mail")
	wantText(t, "empty", p, 200, "The development mailbox", "Recipient's email address")
	if !strings.Contains(p.body, `href="/admin/mail" aria-current="page"`) {
		t.Fatal("the navigation does not mark Mail as the current page")
	}
	p = b.get("/admin/mail?to=ada@example.com")
	wantText(t, "list", p, 200, "Mail to ada@example.com", "Reminder: invoice 1001", "Invoice 1001", "2026-03-04 13:00:00 UTC")
	if i, j := strings.Index(p.body, "Reminder: invoice 1001"), strings.Index(p.body, "2026-03-04 12:00:00 UTC"); i < 0 || j < i {
		t.Fatal("the list is not newest first")
	}
	if strings.Contains(p.body, "Invoice 1002") {
		t.Fatal("the list shows another recipient's mail")
	}
	p = b.get("/admin/mail?to=ada@example.com&id=aaa111")
	wantText(t, "open", p, 200, "Pay 100 SEK by 1 April.", "delivered 2 times", "Shown without scripts")
	if !strings.Contains(p.body, `title="The HTML of the message" sandbox=""`) || !strings.Contains(p.body, `srcdoc="&lt;p&gt;Pay &lt;b&gt;100 SEK&lt;/b&gt;&lt;/p&gt;`) {
		t.Fatalf("the HTML is not in a sandboxed srcdoc frame:\n%s", p.body)
	}
	if strings.Contains(p.body, "<script>parent") {
		t.Fatal("the message's script reached the page")
	}
	p = b.get("/admin/mail?to=ada@example.com&id=zzz999")
	wantText(t, "unknown id", p, 404, "No message with that id was sent to this address.")
	p = b.get("/admin/mail?to=not-an-address")
	wantText(t, "bad address", p, 400, "There is a problem", "Email address must be an email address")
	if !strings.Contains(p.body, `href="#mail-to"`) || !strings.Contains(p.body, `aria-invalid="true"`) {
		t.Fatalf("the error does not point at the field:\n%s", p.body)
	}
	off := newMailEnv(t, true)
	p = signIn(t, off, "viewer").get("/admin/mail?to=ada@example.com")
	wantText(t, "off", p, 200, "The mailbox is off in this region.")
	if anon := newBrowser(t, e).get("/admin/mail"); anon.status != http.StatusSeeOther {
		t.Fatalf("not signed in: got %d, want a redirect to sign in", anon.status)
	}
}
