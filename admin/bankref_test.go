package admin_test

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"kassa/admin"
	"kassa/checkout"
	"kassa/invoice"
)

// testReference is the payment reference of the test env's order's
// invoice: 123456789 and its Luhn check digit.
const testReference = "1234567897"

// refBook finds invoices by payment reference.
type refBook map[string]checkout.OrderID

func (b refBook) ByReference(ref string) (invoice.Invoice, bool) {
	oid, ok := b[ref]
	if !ok {
		return invoice.Invoice{}, false
	}
	return invoice.Invoice{ID: "inv_test", Order: oid, Currency: "SEK", Reference: ref}, true
}

// validReference checks a reference's Luhn check digit, standing in for
// invoice.ValidReference.
func validReference(ref string) bool {
	if len(ref) < 2 {
		return false
	}
	sum := 0
	for i := 0; i < len(ref); i++ {
		c := ref[len(ref)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func TestRepaymentImportByReference(t *testing.T) {
	e := newEnv(t)
	capture(t, e, e.order) // 1000 owed
	oid := string(e.order)
	file := importBody(t,
		admin.RepaymentLine{PaymentReference: testReference, TransactionID: "TX-1", Amount: 400, Currency: "SEK", PaidAt: "2025-01-02T10:00:00Z"},
		admin.RepaymentLine{PaymentReference: "9999999999", TransactionID: "TX-2", Amount: 100},  // no such invoice, check digit fine
		admin.RepaymentLine{PaymentReference: "1234567890", TransactionID: "TX-3", Amount: 100},  // a mistyped digit
		admin.RepaymentLine{PaymentReference: testReference, TransactionID: "TX-4", Amount: 900}, // 600 owed: 300 over
		admin.RepaymentLine{PaymentReference: testReference, TransactionID: "TX-5", Amount: 50},  // nothing owed: all of it over
		admin.RepaymentLine{PaymentReference: testReference, TransactionID: "TX-1", Amount: 400}, // the first line again
	)
	want := []admin.RepaymentResult{
		{TransactionID: "TX-1", PaymentReference: testReference, OrderID: oid, Status: "recorded", Applied: 400},
		{TransactionID: "TX-2", PaymentReference: "9999999999", Status: "unmatched", Unapplied: 100, Error: "unmatched: unknown reference"},
		{TransactionID: "TX-3", PaymentReference: "1234567890", Status: "unmatched", Unapplied: 100, Error: "unmatched: check digit"},
		{TransactionID: "TX-4", PaymentReference: testReference, OrderID: oid, Status: "recorded", Applied: 600, Balance: 300},
		{TransactionID: "TX-5", PaymentReference: testReference, OrderID: oid, Status: "recorded", Balance: 50},
		{TransactionID: "TX-1", PaymentReference: testReference, OrderID: oid, Status: "replayed", Applied: 400},
	}
	n := e.store.Count()
	status, body := call(t, e, "POST", "/admin/api/repayments", "agent", file)
	if status != http.StatusOK {
		t.Fatalf("import: got %d %s, want 200", status, body)
	}
	got := decode[struct {
		Results   []admin.RepaymentResult `json:"results"`
		Recorded  int                     `json:"recorded"`
		Replayed  int                     `json:"replayed"`
		Unmatched int                     `json:"unmatched"`
		Rejected  int                     `json:"rejected"`
	}](t, body)
	if !reflect.DeepEqual(got.Results, want) {
		t.Errorf("import: got results\n%+v\nwant\n%+v", got.Results, want)
	}
	if got.Recorded != 4 || got.Replayed != 1 || got.Unmatched != 2 || got.Rejected != 0 {
		t.Errorf("import: got recorded %d replayed %d unmatched %d rejected %d, want 4 1 2 0", got.Recorded, got.Replayed, got.Unmatched, got.Rejected)
	}
	wantCount(t, "import", e.store, n+4) // two repayments, two credit balances
	c := consumer(t, e, adaEmail)
	if c.Balance != 350 || c.Exposure != 0 || c.Lines[0].Repaid != 1000 {
		t.Errorf("after import: got balance %d exposure %d repaid %d, want 350, 0, 1000", c.Balance, c.Exposure, c.Lines[0].Repaid)
	}

	// The whole file again changes nothing and says so line by line.
	n = e.store.Count()
	status, body = call(t, e, "POST", "/admin/api/repayments", "agent", file)
	if status != http.StatusOK {
		t.Fatalf("replay: got %d %s, want 200", status, body)
	}
	for i, r := range decode[importResponse](t, body).Results {
		if wantStatus := map[bool]string{true: "unmatched", false: "replayed"}[i == 1 || i == 2]; r.Status != wantStatus {
			t.Errorf("replay line %d: got %s, want %s", i, r.Status, wantStatus)
		}
	}
	wantCount(t, "replay", e.store, n)
	if c := consumer(t, e, adaEmail); c.Balance != 350 {
		t.Errorf("after replay: got balance %d, want 350", c.Balance)
	}
}

func TestRepaymentImportByReferenceErrors(t *testing.T) {
	e := newEnv(t)
	capture(t, e, e.order)
	for _, tc := range []struct {
		line admin.RepaymentLine
		want string
	}{
		{admin.RepaymentLine{PaymentReference: testReference, Amount: 100}, "transaction_id is required with payment_reference"},
		{admin.RepaymentLine{PaymentReference: testReference, OrderID: string(e.order), TransactionID: "T", Amount: 100}, "name either order_id or payment_reference"},
		{admin.RepaymentLine{TransactionID: "T", Amount: 100}, "name either order_id or payment_reference"},
		{admin.RepaymentLine{PaymentReference: testReference, TransactionID: "T\nX", Amount: 100}, "at most 128 characters on one line"},
		{admin.RepaymentLine{PaymentReference: testReference, TransactionID: "T", Amount: 0}, "amount must be a positive number"},
		{admin.RepaymentLine{PaymentReference: testReference, TransactionID: "T", Amount: 100, Currency: "EUR"}, "the order is in SEK, not EUR"},
	} {
		n := e.store.Count()
		status, body := call(t, e, "POST", "/admin/api/repayments", "agent", importBody(t, tc.line))
		if status != http.StatusOK {
			t.Fatalf("%+v: got %d %s, want 200 with the line rejected", tc.line, status, body)
		}
		r := decode[importResponse](t, body).Results[0]
		if r.Status != "rejected" || !strings.Contains(r.Error, tc.want) {
			t.Errorf("%+v: got %s %q, want rejected with %q", tc.line, r.Status, r.Error, tc.want)
		}
		wantCount(t, "rejected line", e.store, n)
	}
	// A viewer may not import, and a body that is no import is a 400.
	if status, _ := call(t, e, "POST", "/admin/api/repayments", "viewer", importBody(t, admin.RepaymentLine{PaymentReference: testReference, TransactionID: "T", Amount: 1})); status != http.StatusForbidden {
		t.Errorf("viewer import: got %d, want 403", status)
	}
	if status, _ := call(t, e, "POST", "/admin/api/repayments", "agent", `{"repayments": [{"payment_ref": "1"}]}`); status != http.StatusBadRequest {
		t.Errorf("unknown field: got %d, want 400", status)
	}
}

func TestRepaymentImportPage(t *testing.T) {
	e := newEnv(t)
	capture(t, e, e.order)
	b := signIn(t, e, "agent")
	form := b.get("/admin/repayments")
	wantText(t, "import page", form, http.StatusOK, "Import repayments", "Bank file (JSON)")
	csrf := field(t, csrfRe, form.body)
	post := func(file string) page {
		return b.post("/admin/repayments", url.Values{"csrf_token": {csrf}, "file": {file}})
	}
	n := e.store.Count()
	wantText(t, "empty", post(""), http.StatusUnprocessableEntity, "Paste the bank file")
	wantText(t, "not JSON", post("order,amount"), http.StatusUnprocessableEntity, "not valid JSON for an import")
	wantText(t, "unknown field", post(`[{"ref": "1"}]`), http.StatusUnprocessableEntity, "not valid JSON for an import")
	wantCount(t, "refused files", e.store, n)

	file := `[{"payment_reference": "` + testReference + `", "transaction_id": "TX-1", "amount": 1200},
		{"payment_reference": "1234567890", "transaction_id": "TX-2", "amount": 500}]`
	p := post(file)
	wantText(t, "import", p, http.StatusOK, "1 recorded, 1 unmatched", "Unmatched: find where this money belongs", "TX-2", "unmatched: check digit")
	if !strings.Contains(p.body, `href="/admin/orders/`+string(e.order)+`"`) {
		t.Errorf("the matched line does not link its order")
	}
	if c := consumer(t, e, adaEmail); c.Balance != 200 {
		t.Errorf("after import: got balance %d, want 200", c.Balance)
	}
	wantText(t, "the same file again", post(file), http.StatusOK, "1 replayed, 1 unmatched")
	wantText(t, "consumer page", b.get("/admin/consumers/"+string(e.svc.ConsumerID(adaEmail))), http.StatusOK, "Credit balance", "2.00 SEK")

	v := signIn(t, e, "viewer")
	wantText(t, "viewer", v.get("/admin/repayments"), http.StatusForbidden, "Not allowed")
}

// TestRepaymentImportReferenceWithSpaces: a bank file that groups the
// payment reference with spaces still matches the invoice.
func TestRepaymentImportReferenceWithSpaces(t *testing.T) {
	e := newEnv(t)
	capture(t, e, e.order)
	var spaced string
	for i, c := range testReference {
		if i > 0 && i%4 == 0 {
			spaced += " "
		}
		spaced += string(c)
	}
	status, body := call(t, e, "POST", "/admin/api/repayments", "agent",
		importBody(t, admin.RepaymentLine{PaymentReference: spaced, TransactionID: "TX-S", Amount: 400, Currency: "SEK"}))
	if status != http.StatusOK {
		t.Fatalf("import: got %d %s, want 200", status, body)
	}
	if rs := decode[importResponse](t, body).Results; len(rs) != 1 || rs[0].Status != "recorded" || rs[0].OrderID != string(e.order) {
		t.Errorf("a reference %q: got %+v, want it recorded on the order", spaced, rs)
	}
}
