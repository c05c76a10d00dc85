package hosted_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"kassa/browsertest"
	"kassa/region"
)

// TestHostedCheckoutInChromium walks the hosted checkout in a real browser
// for each method, with JavaScript on (at phone size) and off (at desktop
// size), through a validation error and a declined card, to the merchant's
// confirmation page. Screenshots of each step go to a temporary directory,
// and with -update one set goes to testdata/screenshots.
func TestHostedCheckoutInChromium(t *testing.T) {
	browsertest.Require(t)
	// The test card that stalls costs the acquirer timeout; keep it short.
	r1 := startRegion(t, func(c *region.Config) { c.Checkout.AcquirerTimeout = time.Second })
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "thanks")
	}))
	t.Cleanup(shop.Close)

	browser := browsertest.Start(t, 90*time.Second)

	shots := t.TempDir()
	t.Logf("screenshots: %s", shots)
	keep := filepath.Join("testdata", "screenshots")
	if *update {
		os.RemoveAll(keep)
		if err := os.MkdirAll(keep, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	n := 0
	for _, mode := range []struct {
		name          string
		js            bool
		width, height int64
	}{{"js-phone", true, 390, 844}, {"nojs-desktop", false, 1280, 900}} {
		t.Run(mode.name, func(t *testing.T) {
			open := func(t *testing.T) *tab {
				n++
				sessionURL := newSession(t, r1.url, fmt.Sprintf("browser-%d", n), func(b map[string]any) {
					b["urls"] = map[string]any{"confirmation": shop.URL + "/ok?ref=A-1", "cancel": shop.URL + "/cart"}
					b["lines"] = []map[string]any{
						{"name": "Running shoes", "quantity": 1, "unit_price": 21900, "total": 21900},
						{"name": "Socks", "quantity": 2, "unit_price": 2000, "total": 4000},
					}
				})
				tctx := browsertest.Tab(t, browser, mode.width, mode.height, mode.js)
				b := &tab{t: t, ctx: tctx, mode: mode.name, shots: shots, js: mode.js}
				b.load(sessionURL)
				return b
			}

			t.Run("pay later", func(t *testing.T) {
				b := open(t)
				b.details("ada@example.com")
				b.shot("form")
				b.confirmed(b.submit(), shop.URL)
			})

			t.Run("pay in 3", func(t *testing.T) {
				b := open(t)
				b.details("ada@example.com")
				b.click("method-instalments")
				b.confirmed(b.submit(), shop.URL)
			})

			t.Run("card, with a mistake and a decline", func(t *testing.T) {
				b := open(t)
				b.details("")
				b.click("method-card")
				b.card("4000 0000 0000 0002", "123")
				b.shot("card-form")
				if res := b.submit(); res.Status != http.StatusUnprocessableEntity {
					t.Fatalf("without an email: got %d, want 422", res.Status)
				}
				b.has(`.error-summary a[href="#email"]`)
				b.has(`#email[aria-invalid="true"]`)
				if v := b.value("card-number"); v != "" {
					t.Fatalf("the card number came back into the page: %q", v)
				}
				b.shot("errors")

				b.fill("email", "ada@example.com")
				b.card("4000 0000 0000 0002", "123")
				if res := b.submit(); res.Status != http.StatusPaymentRequired {
					t.Fatalf("declined card: got %d, want 402", res.Status)
				}
				b.has("#decision")
				b.has(`#method-card[checked]`)
				b.shot("declined")

				b.card("4242 4242 4242 4242", "123")
				b.confirmed(b.submit(), shop.URL)
			})

			t.Run("card outcome unknown", func(t *testing.T) {
				b := open(t)
				b.details("ada@example.com")
				b.click("method-card")
				b.card("4000 0000 0000 3220", "123") // the acquirer never answers
				if res := b.submit(); res.Status != http.StatusAccepted {
					t.Fatalf("got %d, want 202", res.Status)
				}
				b.shot("pending")
				res, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(`a.button`)))
				b.must(err)
				if res.Status != http.StatusOK || !strings.Contains(res.URL, "/checkout/ses_") {
					t.Fatalf("check again: got %d at %s", res.Status, res.URL)
				}
				b.has(`a.button[href^="/checkout/ses_"]`)
			})

			t.Run("unknown checkout", func(t *testing.T) {
				b := open(t)
				res, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(r1.url+"/checkout/ses_doesnotexist"))
				b.must(err)
				if res.Status != http.StatusNotFound {
					t.Fatalf("got %d, want 404", res.Status)
				}
				b.has("main h1")
				b.shot("not-found")
			})
		})
	}
	for _, name := range []string{"js-phone-form", "js-phone-card-form", "js-phone-errors", "js-phone-declined", "js-phone-pending",
		"nojs-desktop-form", "nojs-desktop-declined", "nojs-desktop-not-found"} {
		if !*update {
			break
		}
		b, err := os.ReadFile(filepath.Join(shots, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(keep, name+".png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tab is one browser tab walking a checkout.
type tab struct {
	t     *testing.T
	ctx   context.Context
	mode  string
	shots string
	js    bool
}

func (b *tab) must(err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
}

// load opens the checkout and checks that the page's script ran exactly
// when JavaScript is on: it is allowed by the page's CSP, and nothing else
// needs it.
func (b *tab) load(u string) {
	b.t.Helper()
	res, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(u))
	b.must(err)
	if res.Status != 200 {
		b.t.Fatalf("open %s: got %d", u, res.Status)
	}
	class, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("html"), "class"))
	b.must(err)
	if ran := strings.Contains(class.Value, "js"); ran != b.js {
		b.t.Fatalf("forms.js ran: %v, want %v", ran, b.js)
	}
}

func (b *tab) fill(id, value string) {
	b.t.Helper()
	b.must(chromedp.Do(b.ctx, chromedp.Clear(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), value)))
}

func (b *tab) click(id string) {
	b.t.Helper()
	b.must(chromedp.Do(b.ctx, chromedp.Click(chromedp.ID(id))))
}

// details types the shopper's details; an empty email is left out.
func (b *tab) details(email string) {
	b.t.Helper()
	if email != "" {
		b.fill("email", email)
	}
	b.fill("given-name", "Ada")
	b.fill("family-name", "Lovelace")
	b.fill("postal-code", "111 22")
}

func (b *tab) card(number, cvc string) {
	b.t.Helper()
	b.fill("card-number", number)
	b.fill("card-exp-month", "12")
	b.fill("card-exp-year", fmt.Sprint(time.Now().Year()+3))
	b.fill("card-cvc", cvc)
}

// submit presses Pay and waits for the page the form leads to.
func (b *tab) submit() *network.Response {
	b.t.Helper()
	res, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(`form.pay button[type="submit"]`)))
	b.must(err)
	return res
}

func (b *tab) has(selector string) {
	b.t.Helper()
	nodes, err := chromedp.Run(b.ctx, chromedp.Nodes(chromedp.CSS(selector), chromedp.AtLeast(0)))
	b.must(err)
	if len(nodes) == 0 {
		b.t.Fatalf("the page has no %s", selector)
	}
}

func (b *tab) value(id string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID(id)))
	b.must(err)
	return v
}

// confirmed checks that the shopper landed on the merchant's confirmation
// page with the order id.
func (b *tab) confirmed(res *network.Response, shop string) {
	b.t.Helper()
	u, err := url.Parse(res.URL)
	if err != nil || res.Status != 200 || !strings.HasPrefix(res.URL, shop+"/ok?") || u.Query().Get("ref") != "A-1" ||
		!strings.HasPrefix(u.Query().Get("order_id"), "ord_") || !strings.HasPrefix(u.Query().Get("session_id"), "ses_") {
		b.t.Fatalf("ended at %s (%d), want %s/ok?ref=A-1 with order_id and session_id", res.URL, res.Status, shop)
	}
	text, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("body")))
	b.must(err)
	if !strings.Contains(text, "thanks") {
		b.t.Fatalf("confirmation page says %q", text)
	}
}

func (b *tab) shot(name string) {
	b.t.Helper()
	img, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	b.must(err)
	path := filepath.Join(b.shots, b.mode+"-"+name+".png")
	b.must(os.WriteFile(path, img, 0o644))
	b.t.Logf("screenshot %s", path)
}
