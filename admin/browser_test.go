package admin_test

import (
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"kassa/browsertest"
	"kassa/scoring"
)

var update = flag.Bool("update", false, "rewrite testdata/screenshots with the browser test's screenshots")

// TestAdminInChromium walks the support pages in a real browser, with
// JavaScript on (at phone size) and off (at desktop size): sign in (once
// wrongly), search a shopper's email, open the consumer, open the order,
// refund part of it (once with a mistake), and switch the region's mode.
// Screenshots of each step go to a temporary directory, and with -update
// to testdata/screenshots.
func TestAdminInChromium(t *testing.T) {
	browser := browsertest.Start(t, 90*time.Second)

	shots := t.TempDir()
	t.Logf("screenshots: %s", shots)

	for _, mode := range []struct {
		name          string
		js            bool
		width, height int64
	}{{"js-phone", true, 390, 844}, {"nojs-desktop", false, 1280, 900}} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t)
			capture(t, e, e.order)
			// Each browser context has its own cookies, so the two
			// modes sign in separately.
			bctx := browsertest.Tab(t, browser, mode.width, mode.height, mode.js)
			b := &tab{t: t, ctx: bctx, mode: mode.name, shots: shots, js: mode.js, base: e.srv.URL, width: mode.width}

			b.load("/admin/search", "/admin/login")
			b.fill("username", "boss")
			b.fill("password", "not-the-password")
			if res := b.submit(`form[action="/admin/login"] button[type="submit"]`); res.Status != http.StatusUnauthorized {
				t.Fatalf("wrong password: got %d, want 401", res.Status)
			}
			b.says("The username or password is incorrect.")
			b.shot("login-error")
			b.fill("password", "boss-pass")
			if res := b.submit(`form[action="/admin/login"] button[type="submit"]`); res.Status != http.StatusOK || !strings.HasSuffix(res.URL, "/admin/search") {
				t.Fatalf("sign in: ended at %s (%d), want the search page", res.URL, res.Status)
			}
			b.scripted()
			b.shot("search")

			b.fill("q", adaEmail)
			b.submit(`form[role="search"] button[type="submit"]`)
			b.says("a***@example.com")
			b.shot("search-results")
			b.follow(`a[href^="/admin/consumers/con_"]`)
			b.says("Credit in SEK", "Available 990.00 SEK")
			b.shot("consumer")

			b.follow(`a[href="/admin/orders/` + string(e.order) + `"]`)
			b.says("Order "+string(e.order), "order.captured", "Refund")
			b.shot("order")

			b.fill("refund-amount", "25")
			b.write("refund-reason", "Item arrived damaged")
			if res := b.submit(`#refund-form button[type="submit"]`); res.Status != http.StatusUnprocessableEntity {
				t.Fatalf("refund of more than captured: got %d, want 422", res.Status)
			}
			b.has(`.error-summary a[href="#refund-amount"]`)
			b.has(`#refund-amount[aria-invalid="true"]`)
			b.shot("refund-error")
			b.fill("refund-amount", "2.50")
			if res := b.submit(`#refund-form button[type="submit"]`); res.Status != http.StatusOK {
				t.Fatalf("refund: got %d, want the order page", res.Status)
			}
			b.says("Refunded 2.50 SEK.", "Refunded 2.50 SEK") // the message, and the summary
			b.shot("refunded")
			if o := orderNow(t, e, e.order); o.Refunded != 250 {
				t.Fatalf("got refunded %d, want 250", o.Refunded)
			}

			b.follow(`nav a[href="/admin/mode"]`)
			b.has(`nav a[href="/admin/mode"][aria-current="page"]`)
			b.click("mode-card_only")
			b.write("mode-reason", "Incident 42: scoring latency")
			if res := b.submit(`form[action="/admin/mode"] button[type="submit"]`); res.Status != http.StatusOK {
				t.Fatalf("switch mode: got %d", res.Status)
			}
			b.says("This region is now in card only mode.", "Incident 42: scoring latency")
			b.shot("mode")
			if m := e.credit.Policy().Mode; m != scoring.ModeCardOnly {
				t.Fatalf("got mode %q, want card_only", m)
			}

			b.submit(`form[action="/admin/logout"] button[type="submit"]`)
			b.says("Sign in")
		})
	}

	if *update {
		keepScreenshots(t, shots, "js-phone-", "nojs-desktop-")
	}
}

// keepScreenshots replaces the screenshots in testdata/screenshots whose
// names start with one of prefixes by those of the same prefixes in shots.
func keepScreenshots(t *testing.T, shots string, prefixes ...string) {
	t.Helper()
	keep := filepath.Join("testdata", "screenshots")
	if err := os.MkdirAll(keep, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range prefixes {
		old, err := filepath.Glob(filepath.Join(keep, p+"*.png"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range old {
			if err := os.Remove(name); err != nil {
				t.Fatal(err)
			}
		}
		names, err := filepath.Glob(filepath.Join(shots, p+"*.png"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(keep, filepath.Base(name)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// tab is one browser tab of a staff member.
type tab struct {
	t           *testing.T
	ctx         context.Context
	mode, shots string
	js          bool
	base        string
	width       int64
}

func (b *tab) must(err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
}

// load opens path and checks that it ended at want (after redirects).
func (b *tab) load(path, want string) {
	b.t.Helper()
	res, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(b.base+path))
	b.must(err)
	if res.Status != http.StatusOK || !strings.HasPrefix(strings.TrimPrefix(res.URL, b.base), want) {
		b.t.Fatalf("open %s: ended at %s (%d), want %s", path, res.URL, res.Status, want)
	}
}

// scripted checks that forms.js ran exactly when JavaScript is on: the
// page's CSP allows it, and nothing else needs it.
func (b *tab) scripted() {
	b.t.Helper()
	class, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("html"), "class"))
	b.must(err)
	if ran := strings.Contains(class.Value, "js"); ran != b.js {
		b.t.Fatalf("forms.js ran: %v, want %v", ran, b.js)
	}
}

// fill types value into an input, replacing what is there.
func (b *tab) fill(id, value string) {
	b.t.Helper()
	b.must(chromedp.Do(b.ctx, chromedp.Clear(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), value)))
}

// write types value into an empty textarea.
func (b *tab) write(id, value string) {
	b.t.Helper()
	b.must(chromedp.Do(b.ctx, chromedp.SendKeys(chromedp.ID(id), value)))
}

func (b *tab) click(id string) {
	b.t.Helper()
	b.must(chromedp.Do(b.ctx, chromedp.Click(chromedp.ID(id))))
}

// submit presses a form's button and waits for the page it leads to.
func (b *tab) submit(selector string) *network.Response {
	b.t.Helper()
	res, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(selector)))
	b.must(err)
	return res
}

// follow clicks a link and checks the page it opens.
func (b *tab) follow(selector string) {
	b.t.Helper()
	res, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(selector)))
	b.must(err)
	if res.Status != http.StatusOK {
		b.t.Fatalf("follow %s: got %d at %s", selector, res.Status, res.URL)
	}
}

func (b *tab) has(selector string) {
	b.t.Helper()
	nodes, err := chromedp.Run(b.ctx, chromedp.Nodes(chromedp.CSS(selector), chromedp.AtLeast(0)))
	b.must(err)
	if len(nodes) == 0 {
		b.t.Fatalf("the page has no %s", selector)
	}
}

// says checks the page's visible text.
func (b *tab) says(words ...string) {
	b.t.Helper()
	body, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("body")))
	b.must(err)
	body = strings.Join(strings.Fields(strings.ReplaceAll(body, "\u00a0", " ")), " ")
	for _, w := range words {
		if !strings.Contains(body, w) {
			b.t.Fatalf("the page does not say %q:\n%s", w, body)
		}
	}
}

// shot saves a screenshot, after checking that nothing makes the page
// wider than the screen (wide tables scroll in their own box).
func (b *tab) shot(name string) {
	b.t.Helper()
	w, err := chromedp.Run(b.ctx, chromedp.Evaluate[int64]("document.documentElement.scrollWidth"))
	b.must(err)
	if w > b.width {
		b.t.Errorf("%s: the page is %d pixels wide on a %d pixel screen", name, w, b.width)
	}
	img, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	b.must(err)
	path := filepath.Join(b.shots, b.mode+"-"+name+".png")
	b.must(os.WriteFile(path, img, 0o644))
}
