package page_test

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"kassa/cards"
	"kassa/checkout"
	"kassa/invoice"
	"kassa/invoice/page"
	"kassa/ledger"
)

// now is the tests' fixed time.
var now = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// mustOpenLedger opens a one-region ledger in a temp dir.
func mustOpenLedger(tb testing.TB) *ledger.Store {
	tb.Helper()
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "invoice-page-test")
	key := ed25519.NewKeyFromSeed(seed)
	s, err := ledger.Open(context.Background(), ledger.Options{
		Path: filepath.Join(tb.TempDir(), "kassa.db"), Region: "r1", Key: key,
		Keys: ledger.Keys{"r1": key.Public().(ed25519.PublicKey)}, Logger: quiet(),
		Now: func() time.Time { return now },
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// book is an in-memory invoice book.
type book struct {
	mu   sync.Mutex
	byTo map[string]invoice.Invoice
}

func (b *book) ByToken(token string) (invoice.Invoice, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	inv, ok := b.byTo[token]
	return inv, ok
}

func (b *book) put(inv invoice.Invoice) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.byTo[inv.Token] = inv
}

// debts records repayments as checkout would, against the book: a
// repayment lowers what the invoice owes.
type debts struct {
	mu       sync.Mutex
	book     *book
	repaid   map[string]int64 // reference -> applied
	calls    int
	balances []checkout.Overpayment
	fail     error // Repay answers this when set
}

func (d *debts) Repay(_ context.Context, oid checkout.OrderID, p checkout.Repayment) (checkout.Order, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.fail != nil {
		return checkout.Order{}, false, d.fail
	}
	if _, ok := d.repaid[p.Reference]; ok {
		return checkout.Order{}, true, nil
	}
	for tok, inv := range d.book.byTo {
		if inv.Order != oid {
			continue
		}
		if inv.Owed <= 0 {
			return checkout.Order{}, false, checkout.ErrNothingOwed
		}
		applied := min(p.Amount, inv.Owed)
		inv.Paid += applied
		inv.Owed -= applied
		if inv.Owed == 0 {
			inv.Status = invoice.Paid
		}
		d.book.byTo[tok] = inv
		d.repaid[p.Reference] = applied
		return checkout.Order{}, false, nil
	}
	return checkout.Order{}, false, checkout.ErrNotFound
}

func (d *debts) Repaid(_ context.Context, _ checkout.OrderID, ref string) (int64, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.repaid[ref]
	return n, ok, nil
}

func (d *debts) CreditBalance(_ context.Context, p checkout.Overpayment) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.balances = append(d.balances, p)
	return false, nil
}

func (d *debts) repayments() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.repaid)
}

// openInvoice is a pay-in-3 invoice with its first instalment due.
func openInvoice(token, locale string) invoice.Invoice {
	issued := now.AddDate(0, 0, -10)
	return invoice.Invoice{
		ID: "inv_" + token, Number: "K-1001", Order: checkout.OrderID("ord_" + token), Merchant: "m1", MerchantName: "Demo Shop",
		Consumer: "con_abc", Email: "ada@example.com", GivenName: "Ada", Locale: locale, Method: "instalments", Currency: "SEK",
		IssuedAt: issued,
		Instalments: []invoice.Instalment{
			{Number: 1, DueAt: issued.AddDate(0, 0, 30), Amount: 10000},
			{Number: 2, DueAt: issued.AddDate(0, 0, 60), Amount: 10000},
			{Number: 3, DueAt: issued.AddDate(0, 0, 90), Amount: 10000},
		},
		Amount: 30000, Owed: 30000, Reference: "1234567897", Token: token,
		LinkExpiresAt: now.AddDate(0, 0, 100), Status: invoice.Open,
		Payee: invoice.Payee{Name: "kassa AB", IBAN: "SE4550000000058398257466", BIC: "ESSESESS", Bankgiro: "5050-1055"},
	}
}

type harness struct {
	t        *testing.T
	srv      *httptest.Server
	book     *book
	debts    *debts
	ledger   *ledger.Store
	payments *page.Payments
	sim      *cards.Simulator
}

// limiter allows n posts in all.
type limiter struct {
	mu sync.Mutex
	n  int
}

func (l *limiter) AllowClient(string) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n <= 0 {
		return 7, false
	}
	l.n--
	return 0, true
}

// newHarness serves the invoice pages over a fake book, the simulated
// acquirer (or acq, if not nil) and a real ledger.
func newHarness(t *testing.T, acq page.Acquirer, lim page.Limiter) *harness {
	t.Helper()
	h := &harness{t: t, book: &book{byTo: map[string]invoice.Invoice{}}, ledger: mustOpenLedger(t)}
	h.debts = &debts{book: h.book, repaid: map[string]int64{}}
	if acq == nil {
		h.sim = cards.NewSimulator(func() time.Time { return now })
		simSrv := httptest.NewServer(h.sim.Handler())
		t.Cleanup(simSrv.Close)
		acq = cards.NewClient(simSrv.URL, nil, 5*time.Second, 0)
	}
	h.payments = page.NewPayments(page.PaymentsConfig{Region: "r1", Ledger: h.ledger, Acquirer: acq, Debts: h.debts,
		Now: func() time.Time { return now }, Logger: quiet()})
	pages := page.New(h.book, h.payments, page.Config{Limiter: lim, Now: func() time.Time { return now }, Logger: quiet()})
	r := mux.NewRouter()
	pages.Routes(r)
	h.srv = httptest.NewServer(r)
	t.Cleanup(h.srv.Close)
	return h
}

// client is a browser without JavaScript: cookies, no redirects followed.
func (h *harness) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (h *harness) get(c *http.Client, path string) (int, string, http.Header) {
	h.t.Helper()
	res, err := c.Get(h.srv.URL + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func (h *harness) post(c *http.Client, path string, form url.Values) (int, string, http.Header) {
	h.t.Helper()
	res, err := c.PostForm(h.srv.URL+path, form)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

// csrf opens the page with c and returns its form's token.
func (h *harness) csrf(c *http.Client, token string) string {
	h.t.Helper()
	status, body, _ := h.get(c, "/invoices/"+token)
	if status != http.StatusOK {
		h.t.Fatalf("GET invoice: status %d, want 200", status)
	}
	_, rest, ok := strings.Cut(body, `name="csrf_token" value="`)
	if !ok {
		h.t.Fatalf("no csrf_token in the page")
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func cardForm(csrf, number, month, year, cvc string) url.Values {
	return url.Values{"csrf_token": {csrf}, "card_number": {number}, "card_exp_month": {month}, "card_exp_year": {year}, "card_cvc": {cvc}}
}
