package hosted_test

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"kassa/region"
)

var update = flag.Bool("update", false, "rewrite the golden pages in testdata (and the browser tests' screenshots)")

// shopper is a browser without JavaScript: it keeps cookies and does not
// follow redirects, so a test sees each answer.
type shopper struct {
	t      *testing.T
	client *http.Client
}

func newShopper(t *testing.T) *shopper {
	jar, _ := cookiejar.New(nil)
	return &shopper{t: t, client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (s *shopper) do(req *http.Request) page {
	s.t.Helper()
	res, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (s *shopper) get(u string) page {
	s.t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	return s.do(req)
}

func (s *shopper) post(u string, form url.Values) page {
	s.t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return s.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// open loads the checkout page and returns a form filled as Ada would,
// with the page's CSRF token.
func (s *shopper) open(u string) url.Values {
	s.t.Helper()
	p := s.get(u)
	m := csrfRe.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil {
		s.t.Fatalf("open %s: got %d without a form:\n%s", u, p.status, p.body)
	}
	return url.Values{"csrf_token": {m[1]}, "email": {"ada@example.com"}, "given_name": {"Ada"}, "family_name": {"Lovelace"},
		"postal_code": {"11122"}, "country": {"SE"}, "method": {"pay_later"}}
}

func withCard(f url.Values, number, cvc string) url.Values {
	f.Set("method", "card")
	f.Set("card_number", number)
	f.Set("card_exp_month", "12")
	f.Set("card_exp_year", fmt.Sprint(time.Now().Year()+3))
	f.Set("card_cvc", cvc)
	return f
}

// newSession creates a session as the demo merchant and returns its
// checkout URL.
func newSession(t *testing.T, base, key string, change func(map[string]any)) string {
	t.Helper()
	b := sessionBody(25900, "A-"+key)
	if change != nil {
		change(b)
	}
	s := call(t, "POST", base+"/v1/sessions", key, b)
	if s.status != 201 {
		t.Fatalf("create session: got %d %s", s.status, s.raw)
	}
	return s.str("checkout_url")
}

var normalise = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`ses_[a-z2-7]{24}`), "ses_SESSION"},
	{regexp.MustCompile(`ord_[a-z2-7]{24}`), "ord_ORDER"},
	{regexp.MustCompile(`(name="csrf_token" value=")[^"]+`), "${1}CSRF"},
	{regexp.MustCompile(`\?v=[0-9a-f]+`), "?v=VERSION"},
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},
	{regexp.MustCompile(`(class="reference">)[0-9a-f]+`), "${1}CORRELATION"},
	{regexp.MustCompile(`(name="card_exp_year" type="text" value=")\d{4}`), "${1}YEAR"},
}

// golden compares a rendered page with testdata/name.golden, after
// replacing ids, tokens and ports; -update rewrites the file.
func golden(t *testing.T, name, got string) {
	t.Helper()
	for _, n := range normalise {
		got = n.re.ReplaceAllString(got, n.with)
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./checkout/hosted -run %s -update to create it)", err, t.Name())
	}
	if got == string(want) {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Fatalf("%s differs at line %d:\ngot  %q\nwant %q\n(run with -update if the change is intended)", path, i+1, gl, wl)
		}
	}
}

func assertSecurityHeaders(t *testing.T, p page) {
	t.Helper()
	h := p.header
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("Content-Security-Policy allows inline code: %q", csp)
	}
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
		"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	if h.Get("Kassa-Correlation-Id") == "" {
		t.Error("no Kassa-Correlation-Id")
	}
	if strings.Contains(p.body, "%!") {
		t.Error("page has a formatting mistake (%!)")
	}
	if strings.Contains(p.body, "<script>") || strings.Contains(p.body, " style=") || strings.Contains(p.body, "<style") {
		t.Error("page has inline script or style, which the CSP blocks")
	}
}

var (
	inputRe = regexp.MustCompile(`<(input|select)\b[^>]*>`)
	idRe    = regexp.MustCompile(`\bid="([^"]+)"`)
)

// assertLabelled checks that every visible form control has a label.
func assertLabelled(t *testing.T, body string) {
	t.Helper()
	for _, tag := range inputRe.FindAllString(body, -1) {
		if strings.Contains(tag, `type="hidden"`) {
			continue
		}
		id := idRe.FindStringSubmatch(tag)
		if id == nil || !strings.Contains(body, `<label for="`+id[1]+`"`) {
			t.Errorf("control without a label: %s", tag)
		}
	}
}

func TestCheckoutPageRenders(t *testing.T) {
	r1 := startRegion(t, nil)
	u := newSession(t, r1.url, "render", func(b map[string]any) {
		b["amount"] = 123456789 + 2*4950
		b["lines"] = []map[string]any{
			{"name": "Espresso machine <Pro>", "quantity": 1, "unit_price": 123456789, "total": 123456789},
			{"name": "Descaler", "quantity": 2, "unit_price": 4950, "total": 9900},
		}
	})
	p := newShopper(t).get(u)
	if p.status != 200 {
		t.Fatalf("got %d, want 200:\n%s", p.status, p.body)
	}
	assertSecurityHeaders(t, p)
	assertLabelled(t, p.body)
	for _, want := range []string{
		`<html lang="sv-SE">`, `Demo Shop`, `1` + nbsp + `234` + nbsp + `666,89` + nbsp + `kr`, `2 × 49,50` + nbsp + `kr`,
		`Espresso machine &lt;Pro&gt;`, `<legend>Hur vill du betala?</legend>`,
		`autocomplete="cc-number"`, `autocomplete="cc-exp-month"`, `autocomplete="cc-exp-year"`, `autocomplete="cc-csc"`,
		`href="https://shop.example/cart"`, `value="pay_later" aria-describedby="method-pay_later-hint" checked`,
		`form-action 'self' https://shop.example`,
	} {
		if !strings.Contains(p.body+p.header.Get("Content-Security-Policy"), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if c := p.header.Get("Set-Cookie"); !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") || !strings.Contains(c, "Path=/checkout/") {
		t.Errorf("CSRF cookie %q is not HttpOnly, SameSite=Lax and scoped to /checkout/", c)
	}
	golden(t, "form_sv", p.body)
}

const nbsp = "\u00a0"

// TestCheckoutShowsConfiguredInvoiceDays checks that the page promises the
// terms the region will write (scoring.invoice_days), not a fixed 30, and
// promises no receipt email, which kassa does not send.
func TestCheckoutShowsConfiguredInvoiceDays(t *testing.T) {
	r1 := startRegion(t, func(c *region.Config) { c.Scoring.InvoiceDays = 14 })
	for _, tc := range []struct {
		locale string
		amount int64
		want   []string
	}{
		{"sv-SE", 30000, []string{"betala fakturan inom 14 dagar", "3 räntefria betalningar på 100,00" + nbsp + "kr, med 14 dagars mellanrum."}},
		{"en-GB", 30001, []string{"pay the invoice within 14 days", "3 interest-free payments, one every 14 days: SEK" + nbsp + "100.01, then 2 × SEK" + nbsp + "100.00."}},
		{"de-DE", 30000, []string{"innerhalb von 14 Tagen bezahlen", "alle 14 Tage eine."}},
	} {
		t.Run(tc.locale, func(t *testing.T) {
			u := newSession(t, r1.url, "days-"+tc.locale, func(b map[string]any) {
				b["amount"], b["locale"] = tc.amount, tc.locale
				b["lines"] = []map[string]any{{"name": "Thing", "quantity": 1, "unit_price": tc.amount, "total": tc.amount}}
			})
			p := newShopper(t).get(u)
			for _, want := range tc.want {
				if !strings.Contains(p.body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			for _, never := range []string{"30 days", "30 dagar", "30 Tage", "receipt", "kvitto", "Beleg"} {
				if strings.Contains(p.body, never) {
					t.Errorf("page says %q", never)
				}
			}
		})
	}
}

func TestCheckoutAmountsFollowTheLocale(t *testing.T) {
	r1 := startRegion(t, nil)
	tests := []struct {
		currency, country, locale string
		amount                    int64
		want, lang                string
	}{
		{"SEK", "SE", "", 25900, "259,00" + nbsp + "kr", "sv-SE"},
		{"EUR", "DE", "", 25900, "259,00" + nbsp + "€", "de-DE"},
		{"EUR", "AT", "", 25900, "€" + nbsp + "259,00", "de-AT"},
		{"GBP", "GB", "", 25900, "£259.00", "en-GB"},
		{"USD", "US", "", 25900, "$259.00", "en-US"},
		{"NOK", "NO", "", 25900, "259,00" + nbsp + "kr", "en"},
		{"DKK", "DK", "", 123456, "1.234,56" + nbsp + "kr.", "en"},
		{"EUR", "FI", "", 100000005, "1" + nbsp + "000" + nbsp + "000,05" + nbsp + "€", "en"},
		{"EUR", "NL", "", 25900, "€" + nbsp + "259,00", "en"},
		{"SEK", "SE", "en-US", 1234500, "SEK" + nbsp + "12,345.00", "en-US"},
		{"EUR", "SE", "", 5, "0,05" + nbsp + "€", "sv-SE"},
		{"JPY", "US", "", 2590, "JPY" + nbsp + "2,590", "en-US"},
	}
	for i, tt := range tests {
		t.Run(tt.currency+"-"+tt.country+tt.locale, func(t *testing.T) {
			u := newSession(t, r1.url, fmt.Sprintf("loc-%d", i), func(b map[string]any) {
				b["amount"], b["currency"], b["country"] = tt.amount, tt.currency, tt.country
				b["lines"] = []map[string]any{{"name": "Thing", "quantity": 1, "unit_price": tt.amount, "total": tt.amount}}
				if tt.locale != "" {
					b["locale"] = tt.locale
				}
			})
			p := newShopper(t).get(u)
			if !strings.Contains(p.body, `<td class="num">`+tt.want+`</td>`) {
				t.Errorf("total: want %q in\n%s", tt.want, p.body)
			}
			if !strings.Contains(p.body, `<html lang="`+tt.lang+`">`) {
				t.Errorf("want lang %q", tt.lang)
			}
		})
	}
}

func TestCheckoutPay(t *testing.T) {
	r1 := startRegion(t, nil)
	confirmed := func(t *testing.T, p page, u string) string {
		t.Helper()
		if p.status != http.StatusSeeOther {
			t.Fatalf("got %d, want 303:\n%s", p.status, p.body)
		}
		loc, err := url.Parse(p.header.Get("Location"))
		if err != nil || loc.Host != "shop.example" || loc.Path != "/ok" || !strings.HasPrefix(loc.Query().Get("order_id"), "ord_") ||
			!strings.HasSuffix(u, "/"+loc.Query().Get("session_id")) {
			t.Fatalf("redirect to %q, want https://shop.example/ok?order_id=...&session_id=...", p.header.Get("Location"))
		}
		return loc.Query().Get("order_id")
	}

	t.Run("pay later", func(t *testing.T) {
		u := newSession(t, r1.url, "pay-later", nil)
		s := newShopper(t)
		oid := confirmed(t, s.post(u, s.open(u)), u)
		o := call(t, "GET", r1.url+"/v1/orders/"+oid, "", nil)
		if o.status != 200 || o.str("status") != "authorized" || o.str("method") != "pay_later" {
			t.Fatalf("order: got %d %s", o.status, o.raw)
		}
		// Going back to the page shows it is paid, with the way on.
		p := s.get(u)
		if p.status != 200 || !strings.Contains(p.body, "redan betald") || !strings.Contains(p.body, "order_id="+oid) {
			t.Fatalf("paid page: got %d\n%s", p.status, p.body)
		}
	})

	t.Run("pay in 3", func(t *testing.T) {
		u := newSession(t, r1.url, "instalments", nil)
		s := newShopper(t)
		f := s.open(u)
		f.Set("method", "instalments")
		oid := confirmed(t, s.post(u, f), u)
		if o := call(t, "GET", r1.url+"/v1/orders/"+oid, "", nil); o.str("method") != "instalments" {
			t.Fatalf("order: got %s", o.raw)
		}
	})

	t.Run("card approved", func(t *testing.T) {
		u := newSession(t, r1.url, "card-ok", nil)
		s := newShopper(t)
		oid := confirmed(t, s.post(u, withCard(s.open(u), "4242 4242 4242 4242", "123")), u)
		o := call(t, "GET", r1.url+"/v1/orders/"+oid, "", nil)
		if o.str("status") != "authorized" || o.str("card", "last4") != "4242" {
			t.Fatalf("order: got %s", o.raw)
		}
	})

	t.Run("pay twice", func(t *testing.T) {
		u := newSession(t, r1.url, "twice", nil)
		s := newShopper(t)
		f := withCard(s.open(u), "5555 5555 5555 4444", "123")
		first := confirmed(t, s.post(u, f), u)
		if again := confirmed(t, s.post(u, f), u); again != first {
			t.Fatalf("second press of Pay: order %s, want %s", again, first)
		}
		// A different request on a paid session is not a second payment.
		f.Set("method", "pay_later")
		if p := s.post(u, f); p.status != http.StatusSeeOther || !strings.HasSuffix(p.header.Get("Location"), "/checkout/"+filepath.Base(u)) {
			t.Fatalf("another method after paying: got %d %s", p.status, p.header.Get("Location"))
		}
	})

	t.Run("card declined, then pay later", func(t *testing.T) {
		u := newSession(t, r1.url, "card-declined", func(b map[string]any) { b["country"] = "DE"; b["currency"] = "EUR" })
		s := newShopper(t)
		f := withCard(s.open(u), "4000 0000 0000 0002", "321")
		f.Set("country", "DE")
		p := s.post(u, f)
		if p.status != http.StatusPaymentRequired {
			t.Fatalf("got %d, want 402:\n%s", p.status, p.body)
		}
		assertSecurityHeaders(t, p)
		for _, want := range []string{"Ihre Karte wurde abgelehnt", "Ihre Bank hat die Zahlung abgelehnt", `value="card" aria-describedby="method-card-hint" checked`, `value="ada@example.com"`} {
			if !strings.Contains(p.body, want) {
				t.Errorf("decline page lacks %q", want)
			}
		}
		assertNoCard(t, p.body, "4000000000000002", "321")
		golden(t, "decline_card_de", p.body)

		f.Set("csrf_token", csrfRe.FindStringSubmatch(p.body)[1])
		f.Set("method", "pay_later")
		confirmed(t, s.post(u, f), u)
	})

	t.Run("pay later over the limit is card only", func(t *testing.T) {
		u := newSession(t, r1.url, "big", func(b map[string]any) {
			b["amount"] = 6_000_000
			b["lines"] = []map[string]any{{"name": "Sofa", "quantity": 1, "unit_price": 6_000_000, "total": 6_000_000}}
		})
		s := newShopper(t)
		p := s.post(u, s.open(u))
		if p.status != http.StatusPaymentRequired || !strings.Contains(p.body, "kort är valt nedan") ||
			!strings.Contains(p.body, `<div class="method recommended">`+"\n"+`<input type="radio" id="method-card" name="method" value="card" aria-describedby="method-card-hint" checked>`) {
			t.Fatalf("got %d, want 402 with card chosen and highlighted:\n%s", p.status, p.body)
		}
	})
}

// assertNoCard fails if a page holds a card number (in any spacing) or CVC.
func assertNoCard(t *testing.T, body, number, cvc string) {
	t.Helper()
	spaced := number[:4] + " " + number[4:8] + " " + number[8:12] + " " + number[12:]
	for _, needle := range []string{number, spaced, number[:12], `value="` + cvc + `"`} {
		if strings.Contains(body, needle) {
			t.Errorf("the page shows card data %q", needle)
		}
	}
}

func TestCheckoutFormErrors(t *testing.T) {
	r1 := startRegion(t, nil)

	t.Run("bad card number", func(t *testing.T) {
		u := newSession(t, r1.url, "luhn", nil)
		s := newShopper(t)
		p := s.post(u, withCard(s.open(u), "4242 4242 4242 4241", "737"))
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("got %d, want 422:\n%s", p.status, p.body)
		}
		for _, want := range []string{
			`<a href="#card-number">Ange ett giltigt kortnummer`,
			`id="card-number-error"`,
			`id="card-number" name="card_number" type="text" value=""`,
			`aria-describedby="card-number-error" aria-invalid="true"`,
			`<title>Fel: Kassa – Demo Shop</title>`,
		} {
			if !strings.Contains(p.body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		assertNoCard(t, p.body, "4242424242424241", "737")
		if strings.Contains(p.body, `id="card-cvc-error"`) {
			t.Error("a good CVC is reported as wrong")
		}
	})

	t.Run("missing email and more", func(t *testing.T) {
		u := newSession(t, r1.url, "missing", func(b map[string]any) { b["currency"], b["country"] = "GBP", "GB" })
		s := newShopper(t)
		f := withCard(s.open(u), "4242 4242 4242 4242", "12")
		f.Set("email", "")
		f.Set("family_name", "")
		f.Set("card_exp_month", "13")
		f.Set("country", "GB")
		p := s.post(u, f)
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("got %d, want 422:\n%s", p.status, p.body)
		}
		// Every problem at once, in page order, each linked to its field.
		want := []string{`href="#email">Enter your email address`, `href="#family-name">Enter your last name`,
			`href="#card-exp-month">Expiry month must be a number from 1 to 12`, `href="#card-cvc">Enter the security code: 3 digits`}
		last := -1
		for _, w := range want {
			i := strings.Index(p.body, w)
			if i < 0 || i < last {
				t.Errorf("error summary lacks %q or has it out of order", w)
			}
			last = i
		}
		for _, w := range []string{`id="email" name="email" type="email" value="" autocomplete="email" maxlength="254" spellcheck="false" required aria-describedby="email-hint email-error" aria-invalid="true"`,
			`value="Ada"`, `value="13"`, `<option value="GB" selected>`} {
			if !strings.Contains(p.body, w) {
				t.Errorf("page lacks %q", w)
			}
		}
		assertNoCard(t, p.body, "4242424242424242", "12")
		golden(t, "form_errors_en", p.body)
	})

	t.Run("no method", func(t *testing.T) {
		u := newSession(t, r1.url, "nomethod", nil)
		s := newShopper(t)
		f := s.open(u)
		f.Del("method")
		p := s.post(u, f)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `<a href="#method-pay_later">Välj hur du vill betala</a>`) ||
			!strings.Contains(p.body, `aria-describedby="method-error"`) {
			t.Fatalf("got %d:\n%s", p.status, p.body)
		}
	})

	t.Run("expired card", func(t *testing.T) {
		u := newSession(t, r1.url, "expcard", nil)
		s := newShopper(t)
		f := withCard(s.open(u), "4242 4242 4242 4242", "123")
		f.Set("card_exp_year", fmt.Sprint(time.Now().Year()-1))
		p := s.post(u, f)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "Kortet har gått ut") {
			t.Fatalf("got %d:\n%s", p.status, p.body)
		}
	})
}

func TestCheckoutRefusesForgedForms(t *testing.T) {
	r1 := startRegion(t, nil)
	u := newSession(t, r1.url, "csrf", nil)
	other := newSession(t, r1.url, "csrf-other", nil)
	s := newShopper(t)
	f := s.open(u)
	before := r1.r.Ledger().Digest()

	bad := url.Values{}
	for k, v := range f {
		bad[k] = v
	}
	bad.Set("csrf_token", "forged")
	p := s.post(u, bad)
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "Ladda om betalsidan") || !strings.Contains(p.body, `href="/checkout/`) {
		t.Fatalf("wrong token: got %d, want 403:\n%s", p.status, p.body)
	}
	assertSecurityHeaders(t, p)

	// A page on another site can post the right field names but has no
	// cookie of ours.
	p = newShopper(t).post(u, f)
	if p.status != http.StatusForbidden {
		t.Fatalf("no cookie: got %d, want 403", p.status)
	}
	// The token is bound to its session.
	if p = s.post(other, f); p.status != http.StatusForbidden {
		t.Fatalf("token of another session: got %d, want 403", p.status)
	}
	if r1.r.Ledger().Digest() != before {
		t.Fatal("a refused form changed the ledger")
	}
	if p = s.post(u, f); p.status != http.StatusSeeOther {
		t.Fatalf("the real form: got %d, want 303", p.status)
	}
}

func TestCheckoutPagesForSessionsThatCannotBePaid(t *testing.T) {
	r1 := startRegion(t, func(c *region.Config) { c.Checkout.SessionTTL = time.Millisecond })
	u := newSession(t, r1.url, "expired", nil)
	time.Sleep(5 * time.Millisecond) // let the 1 ms session lifetime pass

	s := newShopper(t)
	p := s.get(u)
	if p.status != http.StatusGone || !strings.Contains(p.body, "Betalningen har gått ut") || !strings.Contains(p.body, `href="https://shop.example/cart"`) {
		t.Fatalf("expired: got %d, want 410:\n%s", p.status, p.body)
	}
	assertSecurityHeaders(t, p)
	golden(t, "expired", p.body)

	for _, path := range []string{"/checkout/ses_aaaaaaaaaaaaaaaaaaaaaaaa", "/checkout/nonsense", "/checkout/" + strings.Repeat("x", 300)} {
		req, _ := http.NewRequest("GET", r1.url+path, nil)
		req.Header.Set("Accept-Language", "fr-FR, de;q=0.8, en;q=0.5")
		p = s.do(req)
		if p.status != http.StatusNotFound || !strings.Contains(p.body, "Wir finden diesen Bezahlvorgang nicht") {
			t.Fatalf("%s: got %d, want 404 in German:\n%s", path, p.status, p.body)
		}
		assertSecurityHeaders(t, p)
	}
	golden(t, "not_found", p.body)
	if p = s.post(r1.url+"/checkout/ses_aaaaaaaaaaaaaaaaaaaaaaaa", url.Values{"csrf_token": {"x"}}); p.status != http.StatusNotFound {
		t.Fatalf("post to an unknown session: got %d, want 404", p.status)
	}
}

func TestCheckoutExpiredSessionRefusesPayment(t *testing.T) {
	r1 := startRegion(t, func(c *region.Config) { c.Checkout.SessionTTL = 300 * time.Millisecond })
	u := newSession(t, r1.url, "expires-while-open", nil)
	s := newShopper(t)
	f := s.open(u)
	time.Sleep(350 * time.Millisecond) // the shopper takes longer than the session lives
	if p := s.post(u, f); p.status != http.StatusGone {
		t.Fatalf("got %d, want 410:\n%s", p.status, p.body)
	}
}

func TestCheckoutCardOutcomeUnknown(t *testing.T) {
	r1 := startRegion(t, func(c *region.Config) { c.Checkout.AcquirerTimeout = 500 * time.Millisecond })
	u := newSession(t, r1.url, "stall", nil)
	s := newShopper(t)
	f := withCard(s.open(u), "4000 0000 0000 3220", "123")
	p := s.post(u, f)
	if p.status != http.StatusAccepted || !strings.Contains(p.body, "Vi bekräftar din betalning") || !strings.Contains(p.body, `href="/checkout/`) {
		t.Fatalf("got %d, want 202 with a way to check again:\n%s", p.status, p.body)
	}
	golden(t, "pending", p.body)
	if p = s.get(u); p.status != 200 || !strings.Contains(p.body, "Vi bekräftar din betalning") {
		t.Fatalf("reload: got %d:\n%s", p.status, p.body)
	}
	// Paying again while the outcome is unknown charges nothing more.
	f.Set("card_number", "4242 4242 4242 4242")
	if p = s.post(u, f); p.status != http.StatusAccepted {
		t.Fatalf("pay again: got %d, want 202", p.status)
	}
}

func TestCheckoutInternalErrorPage(t *testing.T) {
	r1 := startRegion(t, nil)
	u := newSession(t, r1.url, "broken", nil)
	r1.r.Ledger().Close() // the database goes away under the page
	p := newShopper(t).get(u)
	if p.status != http.StatusInternalServerError {
		t.Fatalf("got %d, want 500:\n%s", p.status, p.body)
	}
	cid := p.header.Get("Kassa-Correlation-Id")
	if cid == "" || !strings.Contains(p.body, `<span class="reference">`+cid+`</span>`) {
		t.Fatalf("the page does not show the correlation id %q:\n%s", cid, p.body)
	}
	for _, leak := range []string{"sql", "closed", "goroutine", ".go:"} {
		if strings.Contains(strings.ToLower(p.body), leak) {
			t.Errorf("the page leaks %q", leak)
		}
	}
	if !strings.Contains(r1.logs.String(), cid) {
		t.Error("the error is not logged with the correlation id")
	}
	assertSecurityHeaders(t, p)
}

func TestCheckoutRateLimit(t *testing.T) {
	r1 := startRegion(t, func(c *region.Config) { c.Checkout.RatePerPageClient = 1 })
	u := newSession(t, r1.url, "limited", nil)
	s := newShopper(t)
	f := s.open(u)
	f.Set("email", "") // each post is a validation error: cheap, and repeatable
	var p page
	for range 5 {
		if p = s.post(u, f); p.status == http.StatusTooManyRequests {
			break
		}
	}
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" || !strings.Contains(p.body, "Försök igen om en stund") {
		t.Fatalf("got %d (Retry-After %q), want 429 with a page", p.status, p.header.Get("Retry-After"))
	}
}

// TestCheckoutPostsDoNotSpendTheMerchantsLimit: form posts on the hosted
// page count in the pages' own buckets, so junk posts never make the
// merchant's own API calls 429, even at a tight rate_per_merchant.
func TestCheckoutPostsDoNotSpendTheMerchantsLimit(t *testing.T) {
	r1 := startRegion(t, func(c *region.Config) {
		c.Checkout.RatePerMerchant = 5 // a burst of 10
		c.Checkout.RatePerPageClient = 0
	})
	u := newSession(t, r1.url, "junk", nil)
	s := newShopper(t)
	f := s.open(u)
	f.Set("email", "") // a validation error: nothing reaches the ledger
	refused := 0
	for range 40 {
		if p := s.post(u, f); p.status != http.StatusUnprocessableEntity {
			refused++
		}
	}
	if res := call(t, "GET", r1.url+"/v1/sessions/"+path.Base(u), "", nil); res.status != http.StatusOK {
		t.Fatalf("the merchant's API call after 40 junk posts: got %d %s, want 200", res.status, res.raw)
	}
	if refused != 0 {
		t.Errorf("%d of 40 junk posts not answered 422, want none (the pages' limit is off)", refused)
	}
}

func TestStaticFiles(t *testing.T) {
	r1 := startRegion(t, nil)
	body := newShopper(t).get(newSession(t, r1.url, "static", nil)).body
	for _, m := range regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(body, -1) {
		res, err := http.Get(r1.url + m[1])
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: got %d, Cache-Control %q", m[1], res.StatusCode, res.Header.Get("Cache-Control"))
		}
	}
	for path, want := range map[string]int{"/static/checkout.css": 200, "/static/": 404, "/static/nope.css": 404, "/static/../go.mod": 404} {
		res, err := http.Get(r1.url + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("%s: got %d, want %d", path, res.StatusCode, want)
		}
		if want == 200 && res.Header.Get("Cache-Control") != "public, max-age=300" {
			t.Errorf("%s without a version: Cache-Control %q", path, res.Header.Get("Cache-Control"))
		}
	}
}

func TestCheckoutCardAcquirerUnreachable(t *testing.T) {
	r1 := startRegion(t, func(c *region.Config) { c.Checkout.AcquirerURL = "http://127.0.0.1:1" })
	u := newSession(t, r1.url, "no-acquirer", nil)
	s := newShopper(t)
	f := withCard(s.open(u), "4242 4242 4242 4242", "123")
	p := s.post(u, f)
	if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" ||
		!strings.Contains(p.body, "Kortbetalning fungerar inte just nu") || !strings.Contains(p.body, `name="csrf_token"`) {
		t.Fatalf("got %d, want 503 with the form to try again:\n%s", p.status, p.body)
	}
	assertNoCard(t, p.body, "4242424242424242", "123")
	// Nothing was charged, so another method simply works.
	f.Set("method", "pay_later")
	if p = s.post(u, f); p.status != http.StatusSeeOther {
		t.Fatalf("pay later after: got %d", p.status)
	}
}
