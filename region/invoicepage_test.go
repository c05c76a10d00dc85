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
	"testing"
	"time"

	"kassa/reconcile"
	"kassa/region"
	"kassa/region/regiontest"
)

// TestInvoicePaidByCardReleasesCredit pays a captured pay-later order's
// invoice by card on a real region, at the link its email gives: the
// acquirer charges once, checkout records the repayment, the consumer's
// exposure goes back to zero, and the day's settlement file reconciles
// clean (the invoice's capture is matched like an order's).
func TestInvoicePaidByCardReleasesCredit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := regiontest.Config("r1", filepath.Join(t.TempDir(), "r1"), ln.Addr().String())
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	r, err := region.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
	// The invoice email's link, from the development mailbox.
	var link string
	for deadline := time.Now().Add(20 * time.Second); link == "" && time.Now().Before(deadline); {
		ms, err := r.Mailbox().Messages(context.Background(), "ada@example.com")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if i := strings.Index(m.Text, "/invoices/"); i >= 0 {
				link = strings.Fields(m.Text[i:])[0]
			}
		}
		time.Sleep(10 * time.Millisecond) // polling the mailbox the outbox delivers to
	}
	if link == "" {
		t.Fatal("no invoice email with a link to the invoice page")
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	_, rest, _ := strings.Cut(string(body), `name="csrf_token" value="`)
	csrf, _, _ := strings.Cut(rest, `"`)
	res, err = c.PostForm(base+link+"/pay", url.Values{"csrf_token": {csrf}, "card_number": {"4242 4242 4242 4242"},
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
	day, err := r.Reconciler().Run(context.Background(), time.Now().UTC().Format(time.DateOnly), reconcile.Actor{Name: "test"})
	if err != nil || day.Latest == nil || day.Latest.Differences != 0 || day.Latest.Lines != 1 || day.Latest.Matched != 1 {
		t.Errorf("reconciliation of today: %+v (%v); want the invoice payment's capture matched, no difference", day.Latest, err)
	}
}
