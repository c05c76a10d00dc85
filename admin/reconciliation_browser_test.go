package admin_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kassa/browsertest"
)

// TestReconciliationInChromium walks the reconciliation pages in a real
// browser, with JavaScript on (at phone size) and off (at desktop size): a
// support agent opens Reconciliation from the navigation, runs yesterday,
// sees its one difference with its line, resolves it (once without a
// note) and sees it resolved.
func TestReconciliationInChromium(t *testing.T) {
	browser := browsertest.Start(t, 90*time.Second)
	shots := t.TempDir()
	t.Logf("screenshots: %s", shots)
	for _, mode := range []struct {
		name          string
		js            bool
		width, height int64
	}{{"js-phone", true, 390, 844}, {"nojs-desktop", false, 1280, 900}} {
		t.Run(mode.name, func(t *testing.T) {
			e, day := reconEnv(t)
			bctx := browsertest.Tab(t, browser, mode.width, mode.height, mode.js)
			b := &tab{t: t, ctx: bctx, mode: mode.name, shots: shots, js: mode.js, base: e.srv.URL, width: mode.width}
			b.load("/admin/search", "/admin/login")
			b.fill("username", "agent")
			b.fill("password", "agent-pass")
			if res := b.submit(`form[action="/admin/login"] button[type="submit"]`); res.Status != http.StatusOK {
				t.Fatalf("sign in: got %d", res.Status)
			}

			b.follow(`nav a[href="/admin/reconciliation"]`)
			b.has(`nav a[href="/admin/reconciliation"][aria-current="page"]`)
			b.says("No day has been reconciled yet", "Run now")
			b.fill("run-day", day)
			if res := b.submit(`form[action="/admin/reconciliation/run"] button[type="submit"]`); res.Status != http.StatusOK {
				t.Fatalf("run: got %d", res.Status)
			}
			b.says("Reconciled "+day+": 1 open difference.", "Line 3: amount mismatch", "capture-key-2,4100,SEK", "Expected 40.00 SEK", "Actual 41.00 SEK")
			b.shot("reconciliation-day")

			if res := b.submit(`form[action$="/resolve"] button[type="submit"]`); res.Status != http.StatusUnprocessableEntity {
				t.Fatalf("resolve without a note: got %d, want 422", res.Status)
			}
			b.has(`.error-summary a[href^="#resolve-rd_"]`)
			b.has(`textarea[aria-invalid="true"]`)
			b.shot("reconciliation-note-missing")
			b.writeSelector(`form[action$="/resolve"] textarea`, "Acquirer corrected the amount; ticket 12")
			if res := b.submit(`form[action$="/resolve"] button[type="submit"]`); res.Status != http.StatusOK {
				t.Fatalf("resolve: got %d", res.Status)
			}
			b.says("Difference resolved.", "resolved by agent (support)", "Acquirer corrected the amount; ticket 12")
			b.shot("reconciliation-resolved")

			b.follow(`a[href="/admin/reconciliation"]:not(nav a)`)
			b.has(`#day-` + day)
			b.says(day, "resolved")
			b.shot("reconciliation-days")
		})
	}
}

// writeSelector types value into the empty field selector names.
func (b *tab) writeSelector(selector, value string) {
	b.t.Helper()
	b.must(chromedp.Do(b.ctx, chromedp.SendKeys(chromedp.CSS(selector), value)))
}
