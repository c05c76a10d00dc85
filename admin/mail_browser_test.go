package admin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kassa/browsertest"
)

// TestMailInChromium walks the mail page in a real browser, with
// JavaScript on (at phone size) and off (at desktop size): a viewer opens
// Mail from the navigation, gets the error summary for a bad address,
// lists a shopper's mail newest first and opens a message whose HTML
// carries a script, which must not run.
func TestMailInChromium(t *testing.T) {
	browser := browsertest.Start(t, 90*time.Second)
	shots := t.TempDir()
	t.Logf("screenshots: %s", shots)
	for _, mode := range []struct {
		name          string
		js            bool
		width, height int64
	}{{"js-phone", true, 390, 844}, {"nojs-desktop", false, 1280, 900}} {
		t.Run(mode.name, func(t *testing.T) {
			e := newMailEnv(t, false)
			bctx := browsertest.Tab(t, browser, mode.width, mode.height, mode.js)
			b := &tab{t: t, ctx: bctx, mode: mode.name, shots: shots, js: mode.js, base: e.srv.URL, width: mode.width}
			b.load("/admin/search", "/admin/login")
			b.fill("username", "viewer")
			b.fill("password", "viewer-pass")
			if res := b.submit(`form[action="/admin/login"] button[type="submit"]`); res.Status != http.StatusOK {
				t.Fatalf("sign in: got %d", res.Status)
			}
			b.follow(`nav a[href="/admin/mail"]`)
			b.has(`nav a[href="/admin/mail"][aria-current="page"]`)
			b.says("Mail", "The development mailbox")
			b.scripted()

			// type="email" would stop a malformed address in the browser;
			// the server's answer is what this checks.
			b.must(chromedp.Do(bctx, chromedp.SetAttributeValue(chromedp.ID("mail-to"), "type", "text")))
			b.fill("mail-to", "ada at example")
			if res := b.submit(`#mail-form button[type="submit"]`); res.Status != http.StatusBadRequest {
				t.Fatalf("a bad address: got %d, want 400", res.Status)
			}
			b.has(`.error-summary a[href="#mail-to"]`)
			b.has(`#mail-to[aria-invalid="true"]`)
			b.says("Email address must be an email address")
			b.shot("mail-error")

			b.fill("mail-to", "Ada@Example.com")
			if res := b.submit(`#mail-form button[type="submit"]`); res.Status != http.StatusOK {
				t.Fatalf("search: got %d", res.Status)
			}
			b.says("Mail to ada@example.com", "Reminder: invoice 1001")
			list, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("mail-list")))
			b.must(err)
			if i, j := strings.Index(list, "Reminder"), strings.Index(list, "2026-03-04 12:00:00"); i < 0 || j < i || strings.Contains(list, "Invoice 1002") {
				t.Fatalf("the list is not ada's mail newest first:\n%s", list)
			}
			b.shot("mail-list")

			b.follow(`#mail-list tbody tr:first-child a`)
			b.says("Pay 100 SEK by 1 April.", "delivered 2 times", "Shown without scripts")
			b.has(`iframe#message-html[sandbox=""]`)
			title, err := chromedp.Run(bctx, chromedp.Evaluate[string]("document.title"))
			b.must(err)
			if title != "Mail – kassa admin" {
				t.Fatalf("the page's title is %q: the message's script ran", title)
			}
			b.shot("mail-message")
		})
	}
}
