package page_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"kassa/cards"
	"kassa/invoice"
	"kassa/invoice/page"
)

func TestPageStatuses(t *testing.T) {
	h := newHarness(t, nil, nil)
	open := openInvoice("tok-open", "en-GB")
	expired := openInvoice("tok-expired", "sv-SE")
	expired.LinkExpiresAt = now.Add(-time.Hour)
	paid := openInvoice("tok-paid", "de-DE")
	paid.Owed, paid.Paid, paid.Status = 0, 30000, invoice.Paid
	credited := openInvoice("tok-credited", "en-GB")
	credited.Owed, credited.Credited, credited.Status = 0, 30000, invoice.Credited
	for _, inv := range []invoice.Invoice{open, expired, paid, credited} {
		h.book.put(inv)
	}
	for _, tc := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/invoices/tok-open", 200, []string{`<html lang="en">`, "Invoice K-1001: SEK", "Payment schedule", "1234567897", "SE4550000000058398257466", "5050-1055", "Pay now by card", `name="card_number"`}},
		{"/invoices/nope", 404, []string{"Invoice not found"}},
		{"/invoices/" + strings.Repeat("x", 200), 404, []string{"Invoice not found"}},
		{"/invoices/tok-expired", 410, []string{`<html lang="sv">`, "Länken har slutat gälla"}},
		{"/invoices/tok-expired?lang=en", 410, []string{"This link has expired"}},
		{"/invoices/tok-paid", 200, []string{`<html lang="de">`, "Bezahlt, nichts offen", "K-1001"}},
		{"/invoices/tok-credited", 200, []string{"Paid, nothing owed"}},
	} {
		t.Run(tc.path[:min(len(tc.path), 30)], func(t *testing.T) {
			status, body, hdr := h.get(h.client(), tc.path)
			if status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "form-action 'self'") {
				t.Errorf("Content-Security-Policy %q, want the hosted pages' policy", csp)
			}
			if hdr.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", hdr.Get("Cache-Control"))
			}
			if strings.Contains(body, "card_number") != (tc.path == "/invoices/tok-open") {
				t.Errorf("card form shown: %v, want only on the open invoice", strings.Contains(body, "card_number"))
			}
		})
	}
}

func TestPageLocales(t *testing.T) {
	h := newHarness(t, nil, nil)
	for _, tc := range []struct{ locale, query, lang, heading, due string }{
		{"sv-SE", "", "sv", "Faktura K-1001", "10 december 2026"},
		{"de-DE", "", "de", "Rechnung K-1001", "10. Dezember 2026"},
		{"en-GB", "", "en", "Invoice K-1001", "10 December 2026"},
		{"fi-FI", "", "en", "Invoice K-1001", "10 December 2026"},
		{"sv-SE", "?lang=de", "de", "Rechnung K-1001", "10. Dezember 2026"},
		{"sv-SE", "?lang=xx", "sv", "Faktura K-1001", "10 december 2026"},
	} {
		inv := openInvoice("tok-"+tc.locale+tc.query, tc.locale)
		h.book.put(inv)
		status, body, _ := h.get(h.client(), "/invoices/"+url.PathEscape(inv.Token)+tc.query)
		if status != 200 {
			t.Fatalf("%s%s: status %d, want 200", tc.locale, tc.query, status)
		}
		for _, w := range []string{`<html lang="` + tc.lang + `">`, tc.heading, tc.due} {
			if !strings.Contains(body, w) {
				t.Errorf("%s%s: page lacks %q", tc.locale, tc.query, w)
			}
		}
	}
}

func TestTextsComplete(t *testing.T) {
	for lang, texts := range page.Texts() {
		for id, en := range page.Texts()["en"] {
			s, ok := texts[id]
			if !ok {
				t.Errorf("%s lacks %q", lang, id)
				continue
			}
			if strings.Count(s, "%") != strings.Count(en, "%") {
				t.Errorf("%s %q has other placeholders than English", lang, id)
			}
		}
	}
}

func TestPayCSRF(t *testing.T) {
	h := newHarness(t, nil, nil)
	a, b := openInvoice("tok-a", "en-GB"), openInvoice("tok-b", "en-GB")
	b.Order = "ord_other"
	h.book.put(a)
	h.book.put(b)
	c := h.client()
	tokenA := h.csrf(c, "tok-a")
	// One character changed: "x", unless the token starts with one.
	wrong := "x" + tokenA[1:]
	if tokenA[0] == 'x' {
		wrong = "y" + tokenA[1:]
	}
	for name, form := range map[string]url.Values{
		"no token":        cardForm("", "4242 4242 4242 4242", "12", "2030", "123"),
		"wrong token":     cardForm(wrong, "4242 4242 4242 4242", "12", "2030", "123"),
		"another invoice": cardForm(tokenA, "4242 4242 4242 4242", "12", "2030", "123"),
	} {
		path := "/invoices/tok-a/pay"
		if name == "another invoice" {
			path = "/invoices/tok-b/pay"
		}
		status, body, _ := h.post(c, path, form)
		if status != http.StatusForbidden || !strings.Contains(body, "This form has expired") {
			t.Errorf("%s: status %d, want 403 and the form-expired page", name, status)
		}
	}
	// Without the cookie the right token is refused too.
	status, _, _ := h.post(h.client(), "/invoices/tok-a/pay", cardForm(tokenA, "4242 4242 4242 4242", "12", "2030", "123"))
	if status != http.StatusForbidden {
		t.Errorf("no cookie: status %d, want 403", status)
	}
	if n := h.debts.repayments(); n != 0 {
		t.Errorf("%d repayments after refused posts, want 0", n)
	}
}

func TestPayBadCard(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.book.put(openInvoice("tok", "en-GB"))
	c := h.client()
	csrf := h.csrf(c, "tok")
	for _, tc := range []struct {
		name, number, month, year, cvc string
		field, message                 string
	}{
		{"luhn", "4242 4242 4242 4241", "12", "2030", "123", "card-number", "Enter a valid card number"},
		{"missing number", "", "12", "2030", "123", "card-number", "Enter your card number"},
		{"month", "4242 4242 4242 4242", "13", "2030", "123", "card-exp-month", "Expiry month must be a number from 1 to 12"},
		{"expired", "4242 4242 4242 4242", "1", "2020", "123", "card-exp-year", "This card has expired"},
		{"cvc", "4242 4242 4242 4242", "12", "2030", "12", "card-cvc", "Enter the security code: 3 digits"},
	} {
		status, body, _ := h.post(c, "/invoices/tok/pay", cardForm(csrf, tc.number, tc.month, tc.year, tc.cvc))
		if status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", tc.name, status)
		}
		if !strings.Contains(body, `id="`+tc.field+`-error"`) || !strings.Contains(body, tc.message) || !strings.Contains(body, `href="#`+tc.field+`"`) {
			t.Errorf("%s: page lacks the error %q tied to #%s", tc.name, tc.message, tc.field)
		}
		if tc.number != "" && strings.Contains(body, strings.ReplaceAll(tc.number, " ", "")[4:]) {
			t.Errorf("%s: the page writes the card number back", tc.name)
		}
	}
	if n := h.debts.repayments(); n != 0 {
		t.Errorf("%d repayments after bad cards, want 0", n)
	}
	es, _ := h.ledger.EntriesByKind(context.Background(), page.KindCardRequested)
	if len(es) != 0 {
		t.Errorf("%d payment requests written for bad cards, want 0", len(es))
	}
}

func TestPayApproved(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.book.put(openInvoice("tok", "sv-SE"))
	c := h.client()
	csrf := h.csrf(c, "tok")
	status, _, hdr := h.post(c, "/invoices/tok/pay", cardForm(csrf, "4242 4242 4242 4242", "12", "30", "123"))
	if status != http.StatusSeeOther {
		t.Fatalf("status %d, want 303", status)
	}
	loc := hdr.Get("Location")
	if !strings.HasPrefix(loc, "/invoices/tok?paid=") {
		t.Fatalf("Location %q, want the invoice page with the payment", loc)
	}
	status, body, _ := h.get(c, loc)
	if status != 200 || !strings.Contains(body, "Betalt, tack") || !strings.Contains(body, "4242") || !strings.Contains(body, "K-1001") {
		t.Fatalf("after paying: status %d, want 200 and the thank-you page with the last four", status)
	}
	if inv, _ := h.book.ByToken("tok"); inv.Owed != 0 {
		t.Errorf("owed %d after paying, want 0", inv.Owed)
	}
	if got := h.debts.repaid; len(got) != 1 {
		t.Fatalf("repayments %v, want one", got)
	}
	for ref, applied := range h.debts.repaid {
		if !strings.HasPrefix(ref, "card:") || applied != 30000 {
			t.Errorf("repayment %q of %d, want card:<payment> of 30000", ref, applied)
		}
	}
	// The page now says nothing is owed, and another post charges nothing.
	if _, body, _ := h.get(c, "/invoices/tok"); !strings.Contains(body, "Betald, inget att betala") {
		t.Errorf("the invoice page does not say it is paid")
	}
	status, _, _ = h.post(c, "/invoices/tok/pay", cardForm(csrf, "4242 4242 4242 4242", "12", "30", "123"))
	if status != http.StatusSeeOther || h.sim.Charges() != 1 {
		t.Errorf("paying a paid invoice: status %d, %d payments at the acquirer; want 303 and 1", status, h.sim.Charges())
	}
	// The entries hold the brand and last four, never the number or CVC.
	for _, kind := range []string{page.KindCardRequested, page.KindCardPaid} {
		es, _ := h.ledger.EntriesByKind(context.Background(), kind)
		if len(es) != 1 {
			t.Fatalf("%d %s entries, want 1", len(es), kind)
		}
		if d := string(es[0].Data); strings.Contains(d, "42424242") || strings.Contains(d, `"123"`) || !strings.Contains(d, `"last4":"4242"`) {
			t.Errorf("%s data %s: want last four only", kind, d)
		}
	}
}

func TestPayDeclined(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.book.put(openInvoice("tok", "en-GB"))
	c := h.client()
	csrf := h.csrf(c, "tok")
	status, body, _ := h.post(c, "/invoices/tok/pay", cardForm(csrf, "4000 0000 0000 9995", "12", "2030", "123"))
	if status != http.StatusPaymentRequired || !strings.Contains(body, "not enough funds") || !strings.Contains(body, "Your card was not charged") {
		t.Fatalf("status %d, want 402 and the decline reason", status)
	}
	if !strings.Contains(body, `value="12"`) || strings.Contains(body, "9995") {
		t.Errorf("the form should keep the expiry and drop the card number")
	}
	if n := h.debts.repayments(); n != 0 {
		t.Errorf("%d repayments after a decline, want 0", n)
	}
	if inv, _ := h.book.ByToken("tok"); inv.Owed != 30000 {
		t.Errorf("owed %d after a decline, want 30000", inv.Owed)
	}
	// Another card after a decline is another attempt, and pays.
	status, _, _ = h.post(c, "/invoices/tok/pay", cardForm(csrf, "5555 5555 5555 4444", "12", "2030", "123"))
	if status != http.StatusSeeOther || h.debts.repayments() != 1 {
		t.Errorf("second card: status %d, %d repayments; want 303 and 1", status, h.debts.repayments())
	}
}

func TestPayRateLimited(t *testing.T) {
	h := newHarness(t, nil, &limiter{n: 1})
	h.book.put(openInvoice("tok", "en-GB"))
	c := h.client()
	csrf := h.csrf(c, "tok")
	if status, _, _ := h.post(c, "/invoices/tok/pay", cardForm(csrf, "1", "12", "2030", "123")); status != http.StatusUnprocessableEntity {
		t.Fatalf("first post: status %d, want 422", status)
	}
	status, _, hdr := h.post(c, "/invoices/tok/pay", cardForm(csrf, "4242 4242 4242 4242", "12", "2030", "123"))
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") != "7" {
		t.Fatalf("second post: status %d, Retry-After %q; want 429 and 7", status, hdr.Get("Retry-After"))
	}
	if h.sim.Charges() != 0 {
		t.Errorf("a limited post reached the acquirer")
	}
}

// scripted is an acquirer whose first authorization charges the card and
// then loses the answer (a timeout after the acquirer committed).
type scripted struct {
	mu        sync.Mutex
	charged   map[string]cards.Result // by idempotency key
	authCalls int
	captures  map[string]bool
	lose      bool
}

func (s *scripted) Authorize(_ context.Context, p cards.Payment) (cards.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authCalls++
	r, ok := s.charged[p.IdempotencyKey]
	if !ok {
		r = cards.Result{ID: "pay_" + p.IdempotencyKey, Approved: true, Amount: p.Amount, Currency: p.Currency}
		s.charged[p.IdempotencyKey] = r
	}
	if s.lose {
		return cards.Result{}, cards.ErrUnknownOutcome
	}
	return r, nil
}

func (s *scripted) Lookup(_ context.Context, key string) (cards.Result, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.charged[key]
	return r, ok, nil
}

func (s *scripted) Capture(_ context.Context, op cards.Operation) (cards.OperationResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.captures[op.IdempotencyKey] = true
	return cards.OperationResult{ID: "cap_" + op.IdempotencyKey, Payment: op.Payment, Succeeded: true, Amount: op.Amount, Currency: op.Currency}, nil
}

func (s *scripted) Void(context.Context, cards.Operation) (cards.OperationResult, error) {
	return cards.OperationResult{Succeeded: true}, nil
}

func TestPayUnknownOutcomeSettledOnce(t *testing.T) {
	acq := &scripted{charged: map[string]cards.Result{}, captures: map[string]bool{}, lose: true}
	h := newHarness(t, acq, nil)
	h.book.put(openInvoice("tok", "en-GB"))
	c := h.client()
	csrf := h.csrf(c, "tok")
	status, _, hdr := h.post(c, "/invoices/tok/pay", cardForm(csrf, "4242 4242 4242 4242", "12", "2030", "123"))
	if status != http.StatusSeeOther {
		t.Fatalf("status %d, want 303 to the pending page", status)
	}
	if _, body, _ := h.get(c, hdr.Get("Location")); !strings.Contains(body, "We are confirming your payment") {
		t.Fatalf("the page after an unknown outcome does not say the payment is being confirmed")
	}
	// Pressing Pay again settles the first attempt instead of charging a
	// second time.
	acq.lose = false
	status, _, hdr = h.post(c, "/invoices/tok/pay", cardForm(csrf, "4242 4242 4242 4242", "12", "2030", "123"))
	if status != http.StatusSeeOther || acq.authCalls != 1 {
		t.Fatalf("second post: status %d, %d authorizations; want 303 and 1", status, acq.authCalls)
	}
	if _, body, _ := h.get(c, hdr.Get("Location")); !strings.Contains(body, "Paid, thank you") {
		t.Fatalf("the second post's page is not the thank-you page")
	}
	// The reconciler then finds nothing to do.
	n, err := h.payments.Settle(context.Background())
	if err != nil || n != 0 {
		t.Fatalf("Settle: %d, %v; want 0, nil", n, err)
	}
	if len(acq.charged) != 1 || len(acq.captures) != 1 || h.debts.repayments() != 1 {
		t.Errorf("%d charges, %d captures, %d repayments; want 1 each", len(acq.charged), len(acq.captures), h.debts.repayments())
	}
}

func TestSettleAfterRestart(t *testing.T) {
	acq := &scripted{charged: map[string]cards.Result{}, captures: map[string]bool{}, lose: true}
	h := newHarness(t, acq, nil)
	h.book.put(openInvoice("tok", "en-GB"))
	inv, _ := h.book.ByToken("tok")
	card := cards.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2030, CVC: "123"}
	a, err := h.payments.Pay(context.Background(), inv, card)
	if err != nil || a.Status != page.AttemptPending {
		t.Fatalf("Pay: %+v, %v; want pending", a, err)
	}
	// A new process over the same ledger (a restart) finds the attempt.
	acq.lose = false
	fresh := page.NewPayments(page.PaymentsConfig{Region: "r1", Ledger: h.ledger, Acquirer: acq, Debts: h.debts, Now: func() time.Time { return now }, Logger: quiet()})
	for i, want := range []int{1, 0} {
		n, err := fresh.Settle(context.Background())
		if err != nil || n != want {
			t.Fatalf("Settle run %d: %d, %v; want %d, nil", i+1, n, err, want)
		}
	}
	got, _, _ := fresh.Attempt(context.Background(), inv.ID, a.Key)
	if got.Status != page.AttemptPaid || len(acq.charged) != 1 || len(acq.captures) != 1 || h.debts.repayments() != 1 {
		t.Errorf("attempt %s; %d charges, %d captures, %d repayments; want paid and 1 each", got.Status, len(acq.charged), len(acq.captures), h.debts.repayments())
	}
}

// TestPayWithoutTheConsumer: an invoice whose order's authorization has
// not reached this region yet (no consumer known) is not charged: any
// part of a payment beyond the debt could not be kept as the consumer's
// balance. The shopper is asked to try again in a moment.
func TestPayWithoutTheConsumer(t *testing.T) {
	h := newHarness(t, nil, nil)
	inv := openInvoice("tok", "en-GB")
	inv.Consumer = ""
	h.book.put(inv)
	c := h.client()
	csrf := h.csrf(c, "tok")
	status, body, hdr := h.post(c, "/invoices/tok/pay", cardForm(csrf, "4242 4242 4242 4242", "12", "30", "123"))
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(body, "Nothing was charged") {
		t.Fatalf("status %d (Retry-After %q), want 503 saying nothing was charged", status, hdr.Get("Retry-After"))
	}
	if n := h.sim.Charges(); n != 0 {
		t.Errorf("%d charges at the acquirer, want none", n)
	}
	if es, _ := h.ledger.EntriesByKind(context.Background(), page.KindCardRequested); len(es) != 0 {
		t.Errorf("%d payment requests written, want none", len(es))
	}
}
