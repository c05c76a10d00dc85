package admin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kassa/browsertest"
)

// TestMerchantsInChromium walks the merchant pages in a real browser, with
// JavaScript on (at phone size) and off (at desktop size): an admin opens
// Merchants from the navigation, creates a merchant (once with a bad id),
// reads its secrets, rotates them and disables the merchant. Screenshots
// go to a temporary directory.
func TestMerchantsInChromium(t *testing.T) {
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
			bctx := browsertest.Tab(t, browser, mode.width, mode.height, mode.js)
			b := &tab{t: t, ctx: bctx, mode: mode.name, shots: shots, js: mode.js, base: e.srv.URL, width: mode.width}
			b.load("/admin/search", "/admin/login")
			b.fill("username", "boss")
			b.fill("password", "boss-pass")
			if res := b.submit(`form[action="/admin/login"] button[type="submit"]`); res.Status != http.StatusOK {
				t.Fatalf("sign in: got %d", res.Status)
			}

			b.follow(`nav a[href="/admin/merchants"]`)
			b.has(`nav a[href="/admin/merchants"][aria-current="page"]`)
			b.says("Merchants", "demo", "Create a merchant")
			b.shot("merchants")

			b.fill("merchant-id", "Acme Shop")
			b.fill("merchant-name", "Acme AB")
			if res := b.submit(`form[action="/admin/merchants"] button[type="submit"]`); res.Status != http.StatusUnprocessableEntity {
				t.Fatalf("bad id: got %d, want 422", res.Status)
			}
			b.has(`.error-summary a[href="#merchant-id"]`)
			b.shot("merchant-create-error")
			b.fill("merchant-id", "acme")
			if res := b.submit(`form[action="/admin/merchants"] button[type="submit"]`); res.Status != http.StatusCreated {
				t.Fatalf("create: got %d, want 201", res.Status)
			}
			b.says("Merchant acme created", "shown only this once")
			secret, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("secret-api")))
			b.must(err)
			if id, err := e.svc.Authenticate("acme", strings.TrimSpace(secret)); err != nil || id != "acme" {
				t.Fatalf("the shown secret: got %q, %v, want it to authenticate acme", id, err)
			}
			b.shot("merchant-secrets")

			b.follow(`a[href="/admin/merchants"]:not(nav a)`)
			b.says("Manage acme")
			b.click("rotate-acme-both")
			b.write("rotate-acme-reason", "Secret pasted in a ticket")
			if res := b.submit(`form[action="/admin/merchants/acme/rotate"] button[type="submit"]`); res.Status != http.StatusOK {
				t.Fatalf("rotate: got %d, want 200", res.Status)
			}
			b.says("New secrets for acme", "The old API secret works until")
			b.shot("merchant-rotated")

			b.follow(`a[href="/admin/merchants"]:not(nav a)`)
			b.write("disable-acme-reason", "Contract ended")
			if res := b.submit(`form[action="/admin/merchants/acme/disable"] button[type="submit"]`); res.Status != http.StatusOK {
				t.Fatalf("disable: got %d", res.Status)
			}
			b.says("Merchant acme is disabled")
			b.shot("merchant-disabled")
			if _, err := e.svc.Authenticate("acme", strings.TrimSpace(secret)); err == nil {
				t.Fatal("a disabled merchant authenticates")
			}
		})
	}
}
