package admin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kassa/browsertest"
)

// TestSettlementsInChromium walks the settlements page in a real browser,
// with JavaScript on (at phone size) and off (at desktop size): a viewer
// opens Settlements from the navigation (the last seven days of every
// merchant), picks a merchant and a range, gets the error summary for a
// range that ends before it starts, and finds the CSV link of the report.
func TestSettlementsInChromium(t *testing.T) {
	browser := browsertest.Start(t, 90*time.Second)
	shots := t.TempDir()
	t.Logf("screenshots: %s", shots)
	for _, mode := range []struct {
		name          string
		js            bool
		width, height int64
	}{{"js-phone", true, 390, 844}, {"nojs-desktop", false, 1280, 900}} {
		t.Run(mode.name, func(t *testing.T) {
			e := newSettleEnv(t)
			bctx := browsertest.Tab(t, browser, mode.width, mode.height, mode.js)
			b := &tab{t: t, ctx: bctx, mode: mode.name, shots: shots, js: mode.js, base: e.srv.URL, width: mode.width}
			b.load("/admin/settlements", "/admin/login")
			b.fill("username", "viewer")
			b.fill("password", "viewer-pass")
			if res := b.submit(`form[action="/admin/login"] button[type="submit"]`); res.Status != http.StatusOK {
				t.Fatalf("sign in: got %d", res.Status)
			}
			b.has(`nav a[href="/admin/settlements"][aria-current="page"]`)
			b.says("Settlements", "All merchants, 2026-02-26 to 2026-03-04", "Refunds do not return fees", "shop2", "433.33", "Totals per currency")
			b.scripted()
			b.shot("settlements")

			b.must(chromedp.Do(bctx, chromedp.SetValue(chromedp.ID("settlements-merchant"), "demo")))
			b.fill("settlements-from", "2026-03-01")
			b.fill("settlements-to", "2026-03-31")
			if res := b.submit(`#settlements-form button[type="submit"]`); res.Status != http.StatusOK {
				t.Fatalf("show demo: got %d", res.Status)
			}
			b.says("demo, 2026-03-01 to 2026-03-31", "433.33", "13.17", "-40.00")
			body, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("settlements")))
			b.must(err)
			if strings.Contains(body, "shop2") {
				t.Fatalf("demo's table shows shop2:\n%s", body)
			}
			link, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.ID("settlements-csv"), "href"))
			b.must(err)
			if link.Value != "/admin/settlements.csv?from=2026-03-01&merchant=demo&to=2026-03-31" {
				t.Fatalf("CSV link: got %q", link.Value)
			}
			b.shot("settlements-demo")

			b.fill("settlements-from", "2026-03-31")
			b.fill("settlements-to", "2026-03-01")
			if res := b.submit(`#settlements-form button[type="submit"]`); res.Status != http.StatusBadRequest {
				t.Fatalf("to before from: got %d, want 400", res.Status)
			}
			b.has(`.error-summary a[href="#settlements-to"]`)
			b.has(`#settlements-to[aria-invalid="true"]`)
			b.says("To must not be before from.")
			b.shot("settlements-error")
		})
	}
}
