package region_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kassa/invoice"
	"kassa/region"
	"kassa/region/regiontest"
)

// invoiceBook is a one-invoice book for the region's invoice pages; the
// test fills in the invoice once the order is captured.
type invoiceBook struct {
	mu  sync.Mutex
	inv invoice.Invoice
}

func (b *invoiceBook) ByToken(token string) (invoice.Invoice, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inv, b.inv.Token != "" && b.inv.Token == token
}

// TestInvoicePaidByCardReleasesCredit pays a captured pay-later order's
// invoice by card on a real region: the acquirer charges once, checkout
// records the repayment, and the consumer's exposure goes back to zero.
func TestInvoicePaidByCardReleasesCredit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := regiontest.Config("r1", filepath.Join(t.TempDir(), "r1"), ln.Addr().String())
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	book := &invoiceBook{}
	r, err := region.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), region.WithInvoiceBook(book))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		r.Close()
	})
	base := cfg.PublicURL
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the region never became ready")
		}
		time.Sleep(10 * time.Millisecond) // polling readiness, not standing in for an event
	}

	status, _ := payLater(t, base, "inv-1", "ada@example.com")
	if status != http.StatusCreated && status != http.StatusOK {
		t.Fatalf("authorize: %d", status)
	}
	os, _, err := r.Checkout().OrdersWithReference(context.Background(), "ref-inv-1", 1)
	if err != nil || len(os) != 1 {
		t.Fatalf("the order of ref-inv-1: %v %v", os, err)
	}
	oid := os[0].ID
	if st, o := api(t, "POST", base+"/v1/orders/"+string(oid)+"/captures", "inv-1-cap", map[string]any{}); st != http.StatusCreated {
		t.Fatalf("capture: %d %v", st, o)
	}
	cid := r.Checkout().ConsumerID("ada@example.com")
	book.mu.Lock()
	book.inv = invoice.Invoice{ID: "inv_region_test", Number: "K-1", Order: oid, Consumer: cid, Locale: "en-GB", Currency: "SEK",
		Amount: 5000, Owed: 5000, Token: "tok-region", Status: invoice.Open, MerchantName: "Demo", IssuedAt: time.Now(),
		Instalments: []invoice.Instalment{{Number: 1, DueAt: time.Now().AddDate(0, 0, 30), Amount: 5000}}, Reference: "1234567897"}
	book.mu.Unlock()

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/invoices/tok-region")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	_, rest, _ := strings.Cut(string(body), `name="csrf_token" value="`)
	csrf, _, _ := strings.Cut(rest, `"`)
	res, err = c.PostForm(base+"/invoices/tok-region/pay", url.Values{"csrf_token": {csrf}, "card_number": {"4242 4242 4242 4242"},
		"card_exp_month": {"12"}, "card_exp_year": {"2035"}, "card_cvc": {"123"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "paid=") {
		t.Fatalf("pay: %d to %q, want 303 to the paid page", res.StatusCode, res.Header.Get("Location"))
	}
	if owed, _, err := r.Checkout().Debt(context.Background(), oid); err != nil || owed != 0 {
		t.Errorf("owed %d (%v) after paying the invoice, want 0", owed, err)
	}
	v, err := r.Credit().Consumer(context.Background(), cid)
	if err != nil || len(v.Lines) == 0 || v.Lines[0].Exposure != 0 {
		t.Errorf("consumer %+v (%v): want exposure 0 after paying", v.Lines, err)
	}
	if n := r.Simulator().Charges(); n != 1 {
		t.Errorf("%d card charges, want 1", n)
	}
}
