package page_test

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/mux"

	"kassa/browsertest"
	"kassa/invoice"
	"kassa/invoice/page"
	"kassa/static"
)

var update = flag.Bool("update", false, "keep the browser test's screenshots in testdata/screenshots")

// TestInvoicePageInChromium pays invoices in a real browser, with
// JavaScript on (at phone size) and off (at desktop size): an approved
// card, a declined card and then another, and a paid invoice. Every page
// on the way must be axe-clean. Screenshots of each step go to a
// temporary directory, and with -update to testdata/screenshots.
func TestInvoicePageInChromium(t *testing.T) {
	browsertest.Require(t)
	h := newHarness(t, nil, nil)
	// The browser needs the stylesheet and script the pages link to.
	assets := static.New("/static/")
	r := mux.NewRouter()
	r.PathPrefix("/static/").Handler(assets)
	page.New(h.book, h.payments, page.Config{Asset: assets.Path, Now: func() time.Time { return now }, Logger: quiet()}).Routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	browser := browsertest.Start(t, 120*time.Second)
	shots := t.TempDir()
	if *update {
		shots = filepath.Join("testdata", "screenshots")
		os.RemoveAll(shots)
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots: %s", shots)

	for _, mode := range []struct {
		name          string
		js            bool
		width, height int64
		locale        string
	}{{"js-phone", true, 390, 844, "sv-SE"}, {"nojs-desktop", false, 1280, 900, "en-GB"}} {
		t.Run(mode.name, func(t *testing.T) {
			tab := browsertest.Tab(t, browser, mode.width, mode.height, mode.js)
			shot := func(name string) {
				t.Helper()
				img, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(shots, mode.name+"-"+name+".png"), img, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			open := func(token string, want int) {
				t.Helper()
				res, err := chromedp.Run(tab, chromedp.NavigateResponse(srv.URL+"/invoices/"+token))
				if err != nil {
					t.Fatal(err)
				}
				if int(res.Status) != want {
					t.Fatalf("open %s: status %d, want %d", token, res.Status, want)
				}
				class, err := chromedp.Run(tab, chromedp.AttributeValue(chromedp.CSS("html"), "class"))
				if err != nil {
					t.Fatal(err)
				}
				if ran := strings.Contains(class.Value, "js"); ran != mode.js {
					t.Fatalf("forms.js ran: %v, want %v", ran, mode.js)
				}
			}
			pay := func(number string) int {
				t.Helper()
				for id, v := range map[string]string{"card-number": number, "card-exp-month": "12", "card-exp-year": fmt.Sprint(now.Year() + 3), "card-cvc": "123"} {
					if err := chromedp.Do(tab, chromedp.Clear(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), v)); err != nil {
						t.Fatal(err)
					}
				}
				res, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.CSS(`form.pay button[type="submit"]`)))
				if err != nil {
					t.Fatal(err)
				}
				return int(res.Status)
			}
			text := func() string {
				t.Helper()
				s, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("main")))
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			lang := strings.SplitN(mode.locale, "-", 2)[0]
			want := func(en, sv string) string { return map[string]string{"en": en, "sv": sv}[lang] }

			t.Run("pay by card", func(t *testing.T) {
				inv := openInvoice(mode.name+"-approved", mode.locale)
				h.book.put(inv)
				open(inv.Token, http.StatusOK)
				shot("invoice")
				browsertest.Axe(t, tab)
				if status := pay("4242 4242 4242 4242"); status != http.StatusOK {
					t.Fatalf("after paying: status %d, want 200 (the thank-you page after the redirect)", status)
				}
				if s := text(); !strings.Contains(s, want("Paid, thank you", "Betalt, tack")) || !strings.Contains(s, "4242") {
					t.Fatalf("after paying the page says %q", s)
				}
				shot("paid-thanks")
				browsertest.Axe(t, tab)
				if got, _ := h.book.ByToken(inv.Token); got.Owed != 0 {
					t.Errorf("owed %d after paying, want 0", got.Owed)
				}
			})

			t.Run("declined card", func(t *testing.T) {
				inv := openInvoice(mode.name+"-declined", mode.locale)
				h.book.put(inv)
				open(inv.Token, http.StatusOK)
				if status := pay("4000 0000 0000 0002"); status != http.StatusPaymentRequired {
					t.Fatalf("declined: status %d, want 402", status)
				}
				if s := text(); !strings.Contains(s, want("Your card was not charged", "Ditt kort debiterades inte")) {
					t.Fatalf("after a decline the page says %q", s)
				}
				if v, _ := chromedp.Run(tab, chromedp.Value(chromedp.ID("card-number"))); v != "" {
					t.Errorf("the card number is written back: %q", v)
				}
				shot("declined")
				browsertest.Axe(t, tab)
				if got, _ := h.book.ByToken(inv.Token); got.Owed != inv.Owed {
					t.Errorf("owed %d after a decline, want %d", got.Owed, inv.Owed)
				}
				// Another card from the same page pays.
				if status := pay("5555 5555 5555 4444"); status != http.StatusOK {
					t.Fatalf("second card: status %d, want 200", status)
				}
			})

			t.Run("paid invoice", func(t *testing.T) {
				inv := openInvoice(mode.name+"-paid", mode.locale)
				inv.Owed, inv.Paid, inv.Status = 0, inv.Amount, invoice.Paid
				h.book.put(inv)
				open(inv.Token, http.StatusOK)
				if s := text(); !strings.Contains(s, want("Paid, nothing owed", "Betald, inget att betala")) {
					t.Fatalf("a paid invoice's page says %q", s)
				}
				shot("paid-invoice")
				browsertest.Axe(t, tab)
			})
		})
	}
	if n := h.sim.Charges(); n != 4 {
		t.Errorf("%d charges at the acquirer, want 4 (two paid invoices, each mode)", n)
	}
}
