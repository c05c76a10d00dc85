package invoice_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"kassa/clocktest"
	"kassa/invoice"
	"kassa/mail"
)

const day = 24 * time.Hour

// TestInvoiceWalk walks a pay-later and a pay-in-3 order through their
// lives with an injected clock: capture -> the invoice email with the
// amounts and reference -> a reminder before due -> at due -> overdue
// with the fee after grace -> payment by card on the invoice page the
// email links to -> settled, no more reminders, and the consumer's credit
// is back.
func TestInvoiceWalk(t *testing.T) {
	clock := clocktest.Wall()
	rs := startRegions(t, 1, clock, nil)
	r := rs[0].r
	ctx := context.Background()

	charges := 0
	for _, tc := range []struct {
		name, method, email, locale string
		amount                      int64
		subject                     string // of the invoice email
		owed                        string // as the email writes it
		instalments                 int
	}{
		{"pay-later", "pay_later", "ada@example.com", "sv-SE", 25900, "Din faktura", "259,00", 1},
		{"pay-in-3", "instalments", "grace@example.com", "de-DE", 30001, "Ihre Rechnung", "300,01", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := buy(t, r, tc.name, tc.method, tc.email, tc.locale, tc.amount)
			capture(t, r, o.ID, tc.name, 0)
			if err := r.Invoices().CatchUp(ctx); err != nil {
				t.Fatal(err)
			}
			invs := r.Invoices().ForOrder(o.ID)
			if len(invs) != 1 {
				t.Fatalf("got %d invoices, want 1", len(invs))
			}
			inv := invs[0]
			if inv.Amount != tc.amount || inv.Owed != tc.amount || len(inv.Instalments) != tc.instalments || inv.Email != tc.email {
				t.Fatalf("got invoice %+v, want %d owed in %d instalments to %s", inv, tc.amount, tc.instalments, tc.email)
			}
			if !invoice.ValidReference(inv.Reference) {
				t.Fatalf("reference %q does not validate", inv.Reference)
			}
			if got, ok := r.Invoices().ByToken(inv.Token); !ok || got.ID != inv.ID {
				t.Fatalf("ByToken: got %v %v", got.ID, ok)
			}
			if got, ok := r.Invoices().ByReference(inv.Reference); !ok || got.ID != inv.ID {
				t.Fatalf("ByReference: got %v %v", got.ID, ok)
			}
			var m mail.Received
			waitFor(t, "the invoice email", func() bool {
				ms := inbox(t, r, tc.email)
				if len(ms) > 0 {
					m = ms[0]
				}
				return len(ms) > 0
			})
			for _, want := range []string{inv.Reference, tc.owed, "/invoices/" + inv.Token, invoice.DefaultPayeeIBAN, inv.Number} {
				if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
					t.Errorf("invoice email lacks %q:\n%s", want, m.Text)
				}
			}
			if !strings.HasPrefix(m.Subject, tc.subject) {
				t.Errorf("subject: got %q, want it to start with %q", m.Subject, tc.subject)
			}

			first := inv.Instalments[0]
			steps := []struct {
				at   time.Time
				step string
			}{
				{first.DueAt.Add(-3*day + time.Hour), invoice.StepBefore},
				{first.DueAt.Add(time.Hour), invoice.StepDue},
				{first.DueAt.Add(5*day + time.Hour), invoice.StepOverdue},
			}
			for i, s := range steps {
				clock.Advance(s.at.Sub(clock.Now()))
				n, err := r.Reminders().Tick(ctx)
				if err != nil || n != 1 {
					t.Fatalf("%s: wrote %d reminders (%v), want 1", s.step, n, err)
				}
				if n, _ := r.Reminders().Tick(ctx); n != 0 {
					t.Fatalf("%s: a second tick wrote %d, want 0", s.step, n)
				}
				waitFor(t, s.step+" reminder", func() bool { return len(inbox(t, r, tc.email)) == i+2 })
			}
			fee := int64(6000)
			inv, _ = r.Invoices().ByID(o.ID, inv.ID)
			if inv.Fees != fee || inv.Owed != tc.amount+fee || inv.Status != invoice.Overdue {
				t.Fatalf("after the overdue reminder: got fees %d owed %d status %s, want %d, %d, overdue", inv.Fees, inv.Owed, inv.Status, fee, tc.amount+fee)
			}
			last := inbox(t, r, tc.email)[0]
			if !strings.Contains(last.Text, "60,00") {
				t.Errorf("overdue reminder does not name the fee:\n%s", last.Text)
			}
			debt, _, err := r.Checkout().Debt(ctx, o.ID)
			if err != nil || debt != tc.amount+fee {
				t.Fatalf("checkout's debt: got %d (%v), want %d", debt, err, tc.amount+fee)
			}

			// The shopper pays everything, fee included, by card on the
			// invoice page the last reminder links to.
			payByCard(t, linkIn(t, last.Text))
			if n := r.Simulator().Charges(); n != charges+1 {
				t.Fatalf("%d card charges after paying, want %d", n, charges+1)
			}
			charges++
			if err := r.Invoices().CatchUp(ctx); err != nil {
				t.Fatal(err)
			}
			inv, _ = r.Invoices().ByID(o.ID, inv.ID)
			if inv.Owed != 0 || inv.Paid != tc.amount+fee || inv.Status != invoice.Paid {
				t.Fatalf("after repayment: got owed %d paid %d status %s, want 0, %d, paid", inv.Owed, inv.Paid, inv.Status, tc.amount+fee)
			}
			// No further reminders, whatever the time.
			for _, d := range []time.Duration{day, 31 * day, 61 * day} {
				clock.Advance(d)
				if n, err := r.Reminders().Tick(ctx); err != nil || n != 0 {
					t.Fatalf("after payment: wrote %d reminders (%v), want 0", n, err)
				}
			}
			// The consumer's credit is back: the same shopper buys again.
			buy(t, r, tc.name+"-again", tc.method, tc.email, tc.locale, tc.amount)
		})
	}
}

// linkIn returns the invoice page's address an email's text gives.
func linkIn(t *testing.T, text string) string {
	t.Helper()
	i := strings.Index(text, "http")
	for i >= 0 && !strings.Contains(strings.Fields(text[i:])[0], "/invoices/") {
		j := strings.Index(text[i+4:], "http")
		if j < 0 {
			i = -1
			break
		}
		i += 4 + j
	}
	if i < 0 {
		t.Fatalf("no link to the invoice page in:\n%s", text)
	}
	return strings.Fields(text[i:])[0]
}

// payByCard pays what the invoice page at link asks for with an approved
// test card, as a shopper's browser without JavaScript would.
func payByCard(t *testing.T, link string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	_, rest, ok := strings.Cut(string(body), `name="csrf_token" value="`)
	if res.StatusCode != http.StatusOK || !ok {
		t.Fatalf("invoice page: %d without a pay form:\n%s", res.StatusCode, body)
	}
	csrf, _, _ := strings.Cut(rest, `"`)
	res, err = c.PostForm(link+"/pay", url.Values{"csrf_token": {csrf}, "card_number": {"4242 4242 4242 4242"},
		"card_exp_month": {"12"}, "card_exp_year": {"2035"}, "card_cvc": {"123"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "paid=") {
		t.Fatalf("pay: %d to %q, want 303 to the paid page", res.StatusCode, res.Header.Get("Location"))
	}
}
