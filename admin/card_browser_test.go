package admin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kassa/browsertest"
	"kassa/clocktest"
	"kassa/region"
)

// TestCardRefundInChromium is support's part of card payments moving real
// money, on a real development region and its simulated acquirer: the
// merchant authorizes and captures two card orders of one shopper through
// its API; in Chromium an admin finds both by the shopper's email, refunds
// part of the first and sees the refund done, and the acquirer's books
// show it. The second order's card has every refund refused: the order
// page says the acquirer refused it and why, and neither kassa's books
// nor the acquirer's change. Screenshots go to a temporary directory, and
// with -update to testdata/screenshots.
func TestCardRefundInChromium(t *testing.T) {
	browser := browsertest.Start(t, 2*time.Minute)
	shots := t.TempDir()
	t.Logf("screenshots: %s", shots)
	r := startCluster(t, 1, clocktest.Wall())[0]
	const email = "card.shopper@example.com"

	// cardOrder authorizes a card order of amount for the shopper and
	// captures all of it, through the merchant API.
	cardOrder := func(ref, number string, amount int64) string {
		t.Helper()
		status, s := v1(t, "demo", "sk_test_demo", "POST", r.url+"/v1/sessions", ref+"-s", map[string]any{
			"amount": amount, "currency": "SEK", "country": "SE", "merchant_reference": ref,
			"lines": []map[string]any{{"name": "Jacket", "quantity": 1, "unit_price": amount, "total": amount}},
			"urls":  map[string]any{"confirmation": "https://demo.example/ok", "cancel": "https://demo.example/cart"}})
		if status != http.StatusCreated {
			t.Fatalf("session %s: got %d %v", ref, status, s)
		}
		status, o := v1(t, "demo", "sk_test_demo", "POST", r.url+"/v1/sessions/"+s["id"].(string)+"/authorize", ref+"-a", map[string]any{
			"method": "card", "card": map[string]any{"number": number, "exp_month": 12, "exp_year": time.Now().Year() + 3, "cvc": "123"},
			"consumer": map[string]any{"email": email, "given_name": "Card", "family_name": "Shopper", "postal_code": "11122", "country": "SE"}})
		if status != http.StatusCreated || o["status"] != "authorized" {
			t.Fatalf("authorize %s: got %d %v, want 201 authorized", ref, status, o)
		}
		oid := o["id"].(string)
		status, o = v1(t, "demo", "sk_test_demo", "POST", r.url+"/v1/orders/"+oid+"/captures", ref+"-c", map[string]any{"amount": amount})
		if status != http.StatusCreated || o["captured"] != float64(amount) {
			t.Fatalf("capture %s: got %d %v, want 201 and captured %d", ref, status, o, amount)
		}
		return oid
	}
	// acquirerBooks reads the simulated acquirer's books of an order.
	acquirerBooks := func(oid string) map[string]any {
		t.Helper()
		res, err := http.Get(r.url + region.SimulatorPath + "/payments?reference=" + oid)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var books map[string]any
		if err := json.NewDecoder(res.Body).Decode(&books); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("the acquirer's books of %s: got %d %v (%v)", oid, res.StatusCode, books, err)
		}
		return books
	}
	refunded := cardOrder("CARD-1", "4242 4242 4242 4242", 49900)
	refused := cardOrder("CARD-2", "4000 0000 0000 5506", 12000)

	bctx := browsertest.Tab(t, browser, 1280, 900, true)
	b := &tab{t: t, ctx: bctx, mode: "card", shots: shots, js: true, base: r.url, width: 1280}
	b.load("/admin/search", "/admin/login")
	b.fill("username", "admin")
	b.fill("password", "admin-demo")
	if res := b.submit(`form[action="/admin/login"] button[type="submit"]`); res.Status != http.StatusOK {
		t.Fatalf("sign in: got %d", res.Status)
	}

	// 1. Both card orders found by the shopper's email.
	search := func() {
		t.Helper()
		b.fill("q", email)
		if res := b.submit(`form[role="search"] button[type="submit"]`); res.Status != http.StatusOK {
			t.Fatalf("search: got %d", res.Status)
		}
		for _, oid := range []string{refunded, refused} {
			b.has(`a[href="/admin/orders/` + oid + `"]`)
		}
	}
	search()
	b.says("Results for “" + email + "”")
	found := rows(b, `table:has(#orders-caption)`)
	for _, want := range []string{refunded + " | demo | CARD-1 | captured | card | 499.00 SEK", refused + " | demo | CARD-2 | captured | card | 120.00 SEK"} {
		if !strings.Contains(found, want) {
			t.Fatalf("the orders found do not have %q:\n%s", want, found)
		}
	}
	b.shot("search")

	// 2. Part of the first refunded: done in kassa and at the acquirer.
	b.follow(`a[href="/admin/orders/` + refunded + `"]`)
	b.says("Order "+refunded, "card: visa ending 4242", "Captured 499.00 SEK")
	b.fill("refund-amount", "120.50")
	b.write("refund-reason", "Sleeve torn on arrival")
	if res := b.submit(`#refund-form button[type="submit"]`); res.Status != http.StatusOK {
		t.Fatalf("refund: got %d, want the order page", res.Status)
	}
	b.says("Refunded 120.50 SEK.", "Refunded 120.50 SEK", "order.refund_requested", "order.refunded")
	if got := rows(b, `section[aria-labelledby="movements-title"] table`); !strings.Contains(got, "Refund | 120.50 SEK | Done") {
		t.Fatalf("the captures and refunds table shows no done refund of 120.50 SEK:\n%s", got)
	}
	b.shot("refunded")
	books := acquirerBooks(refunded)
	if books["refunded"] != float64(12050) || books["captured"] != float64(49900) || books["authorized"] != float64(49900) {
		t.Fatalf("the acquirer's books of %s: %v, want authorized and captured 49900, refunded 12050", refunded, books)
	}

	// 3. A refund of the second refused by the acquirer: said on the page,
	// nothing changed.
	b.load("/admin/search", "/admin/search")
	search()
	b.follow(`a[href="/admin/orders/` + refused + `"]`)
	b.says("Order "+refused, "card: visa ending 5506", "Captured 120.00 SEK")
	b.fill("refund-amount", "50")
	b.write("refund-reason", "Returned unopened")
	if res := b.submit(`#refund-form button[type="submit"]`); res.Status != http.StatusPaymentRequired {
		t.Fatalf("refund refused by the acquirer: got %d, want 402", res.Status)
	}
	const why = "The card acquirer refused the refund (refund_refused), so nothing was changed."
	b.says(why)
	b.has(`.error-summary a[href="#refund-form"]`)
	b.has(`#refund-form .form-error`)
	// The page shows the order as it is after the refusal, and as it is
	// when opened again: still nothing refunded, the refused refund in
	// the table with its code.
	refusedShown := func() {
		t.Helper()
		b.says("Refunded 0.00 SEK", "order.refund_requested", "order.operation_failed")
		if got := rows(b, `section[aria-labelledby="movements-title"] table`); !strings.Contains(got, "Refund | 50.00 SEK | Refused by the acquirer: refund_refused") {
			t.Fatalf("the captures and refunds table shows no refused refund of 50.00 SEK:\n%s", got)
		}
	}
	refusedShown()
	b.shot("refund-refused")
	b.load("/admin/orders/"+refused, "/admin/orders/"+refused)
	refusedShown()
	b.shot("refused-order")
	status, o := v1(t, "demo", "sk_test_demo", "GET", r.url+"/v1/orders/"+refused, "", nil)
	if status != http.StatusOK || o["refunded"] != float64(0) || o["captured"] != float64(12000) {
		t.Fatalf("the merchant reads %s: got %d %v, want captured 12000 and refunded 0", refused, status, o)
	}
	books = acquirerBooks(refused)
	if books["refunded"] != float64(0) || books["captured"] != float64(12000) {
		t.Fatalf("the acquirer's books of %s: %v, want captured 12000, refunded 0", refused, books)
	}

	if *update {
		keepScreenshots(t, shots, "card-")
	}
}

// rows is the body of the page's table that selector names, a row a line,
// its cells joined by " | ".
func rows(b *tab, selector string) string {
	b.t.Helper()
	sel, _ := json.Marshal(selector + " tbody tr")
	text, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`[...document.querySelectorAll(`+string(sel)+`)]
		.map(tr => [...tr.cells].map(td => td.innerText.trim().replace(/\s+/g, ' ')).join(' | ')).join('\n')`))
	b.must(err)
	return text
}
