package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"kassa/admin"
	"kassa/checkout"
	"kassa/ledger"
	"kassa/scoring"
)

const adaEmail = "ada@example.com"

// call sends body (none if empty) to path as user (whose password is
// user-pass; no credentials if user is empty) and returns the status and
// the response body.
func call(tb testing.TB, e *env, method, path, user, body string) (int, []byte) {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, user+"-pass")
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return res.StatusCode, b
}

func decode[T any](tb testing.TB, b []byte) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("decode %T from %s: %v", v, b, err)
	}
	return v
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// wantError checks that a response is the error status with code.
func wantError(tb testing.TB, what string, status int, body []byte, wantStatus int, wantCode string) {
	tb.Helper()
	if status != wantStatus {
		tb.Fatalf("%s: got %d %s, want %d", what, status, body, wantStatus)
	}
	if got := decode[apiError](tb, body).Error.Code; got != wantCode {
		tb.Fatalf("%s: got error code %q (%s), want %q", what, got, body, wantCode)
	}
}

// wantCount checks the ledger holds want entries.
func wantCount(tb testing.TB, what string, store *ledger.Store, want int64) {
	tb.Helper()
	if got := store.Count(); got != want {
		tb.Fatalf("%s: got %d ledger entries, want %d", what, got, want)
	}
}

func consumer(tb testing.TB, e *env, email string) admin.ConsumerView {
	tb.Helper()
	status, body := call(tb, e, "GET", "/admin/api/consumers?"+url.Values{"email": {email}}.Encode(), "viewer", "")
	if status != http.StatusOK {
		tb.Fatalf("consumer %s: got %d %s, want 200", email, status, body)
	}
	return decode[admin.ConsumerView](tb, body)
}

// capture captures all of an order, so its consumer owes it.
func capture(tb testing.TB, e *env, oid checkout.OrderID) {
	tb.Helper()
	o, _, err := e.svc.Capture(context.Background(), "demo", oid, "capture-"+string(oid), 0, "hash")
	if err != nil {
		tb.Fatal(err)
	}
	if o.Status != "captured" {
		tb.Fatalf("capture %s: got status %q, want captured", oid, o.Status)
	}
}

// authorize authorizes a pay_later order of amount SEK for email.
func authorize(tb testing.TB, e *env, ref, email string, amount int64) checkout.Order {
	tb.Helper()
	ctx := context.Background()
	sess, _, err := e.svc.CreateSession(ctx, "demo", "key-"+ref, checkout.SessionRequest{
		Amount: amount, Currency: "SEK", Country: "SE", MerchantReference: ref,
		Lines: []checkout.Line{{Name: "A", Quantity: 1, UnitPrice: amount, Total: amount}},
		URLs:  checkout.URLs{Confirmation: "https://shop.example/ok", Cancel: "https://shop.example/c"}}, "hash-"+ref)
	if err != nil {
		tb.Fatal(err)
	}
	o, _, err := e.svc.Authorize(ctx, "demo", sess.ID, checkout.AuthorizeRequest{Method: "pay_later", Consumer: checkout.Consumer{
		Email: email, GivenName: "Ada", FamilyName: "Lovelace", PostalCode: "11122", Country: "SE"}}, "auth-"+ref)
	if err != nil {
		tb.Fatal(err)
	}
	return o
}

// staffActions returns the data of the staff.action entries about subject.
func staffActions(tb testing.TB, store *ledger.Store, subject string) []map[string]any {
	tb.Helper()
	return entryData(tb, store, subject, "staff.action")
}

// entryData returns the data of the entries of kind about subject.
func entryData(tb testing.TB, store *ledger.Store, subject, kind string) []map[string]any {
	tb.Helper()
	es, err := store.EntriesBySubject(context.Background(), subject)
	if err != nil {
		tb.Fatal(err)
	}
	var out []map[string]any
	for _, en := range es {
		if en.Kind == kind {
			out = append(out, decode[map[string]any](tb, en.Data))
		}
	}
	return out
}

// wantActor fails unless data names staff in role acting for reason.
func wantActor(tb testing.TB, what string, data map[string]any, staff, role, reason string) {
	tb.Helper()
	if data["staff"] != staff || data["role"] != role || data["reason"] != reason {
		tb.Fatalf("%s: got staff %v role %v reason %v, want %s %s %q", what, data["staff"], data["role"], data["reason"], staff, role, reason)
	}
}

func TestConsumerByEmail(t *testing.T) {
	e := newEnv(t)
	got := consumer(t, e, adaEmail)

	if !strings.HasPrefix(string(got.ID), "con_") || got.ID != e.svc.ConsumerID(adaEmail) {
		t.Errorf("got id %q, want %q", got.ID, e.svc.ConsumerID(adaEmail))
	}
	if got.Email != "a***@example.com" {
		t.Errorf("got email %q, want a***@example.com", got.Email)
	}
	if got.Home != "r1" || got.Mode != scoring.ModeNormal || got.Currency != "SEK" {
		t.Errorf("got home %q mode %q currency %q, want r1 normal SEK", got.Home, got.Mode, got.Currency)
	}
	if got.Limit != 100_000 || got.Exposure != 1000 || got.Unsecured != 0 || got.Available != 99_000 || got.Overdue != 0 {
		t.Errorf("got limit %d exposure %d unsecured %d available %d overdue %d, want 100000 1000 0 99000 0",
			got.Limit, got.Exposure, got.Unsecured, got.Available, got.Overdue)
	}
	if want := map[string]int64{"r1": 99_000}; !reflect.DeepEqual(got.Rights, want) {
		t.Errorf("got rights %v, want %v", got.Rights, want)
	}
	if len(got.Lines) != 1 {
		t.Fatalf("got %d lines, want 1: %+v", len(got.Lines), got.Lines)
	}
	l := got.Lines[0]
	if l.FirstSeen == nil || l.FirstSeen.IsZero() {
		t.Errorf("got first_seen %v, want the authorization's time", l.FirstSeen)
	}
	l.FirstSeen = nil
	want := scoring.LineView{Currency: "SEK", Limit: 100_000, Exposure: 1000, Secured: 1000, Unsecured: 0, Available: 99_000,
		Rights: map[string]int64{"r1": 99_000}, CreditOrders: 1, ShoppedIn: []string{"r1"}, LineGranted: true, DefaultLimit: 100_000,
		Orders: []checkout.OrderID{e.order}}
	if !reflect.DeepEqual(l, want) {
		t.Errorf("got line %+v, want %+v", l, want)
	}

	t.Run("normalised email", func(t *testing.T) {
		if got := consumer(t, e, "  ADA@Example.COM "); got.ID != e.svc.ConsumerID(adaEmail) || got.Exposure != 1000 {
			t.Errorf("got id %q exposure %d, want %q 1000", got.ID, got.Exposure, e.svc.ConsumerID(adaEmail))
		}
	})
	t.Run("currency in any case", func(t *testing.T) {
		status, body := call(t, e, "GET", "/admin/api/consumers?email=ada@example.com&currency=sek", "viewer", "")
		if status != http.StatusOK || decode[admin.ConsumerView](t, body).Currency != "SEK" {
			t.Errorf("got %d %s, want 200 for SEK", status, body)
		}
	})

	for _, tc := range []struct {
		name, query, user string
		status            int
		code              string
	}{
		{"no email", "", "viewer", 400, "invalid_request"},
		{"empty email", "email=", "viewer", 400, "invalid_request"},
		{"no at", "email=ada", "viewer", 400, "invalid_request"},
		{"no local part", "email=@example.com", "viewer", 400, "invalid_request"},
		{"no domain", "email=ada@", "viewer", 400, "invalid_request"},
		{"too long", "email=" + strings.Repeat("a", 250) + "@x.se", "viewer", 400, "invalid_request"},
		{"unknown consumer", "email=bob@example.com", "viewer", 404, "not_found"},
		{"no credit in currency", "email=ada@example.com&currency=EUR", "viewer", 404, "not_found"},
		{"no credentials", "email=ada@example.com", "", 401, "unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, e, "GET", "/admin/api/consumers?"+tc.query, tc.user, "")
			wantError(t, tc.query, status, body, tc.status, tc.code)
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		req, _ := http.NewRequest("GET", e.srv.URL+"/admin/api/consumers?email=ada@example.com", nil)
		req.SetBasicAuth("viewer", "agent-pass")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		// No Basic challenge: a browser would cache the credentials and
		// send them with other sites' forms.
		if res.StatusCode != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("got %d with WWW-Authenticate %q, want 401 without a challenge", res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
	})
}

func TestConsumerByID(t *testing.T) {
	e := newEnv(t)
	byEmail := consumer(t, e, adaEmail)
	status, body := call(t, e, "GET", "/admin/api/consumers/"+string(byEmail.ID), "viewer", "")
	if status != http.StatusOK {
		t.Fatalf("got %d %s, want 200", status, body)
	}
	got := decode[admin.ConsumerView](t, body)
	if got.Email != "" {
		t.Errorf("got email %q, want none (the id does not reveal it)", got.Email)
	}
	byEmail.Email = ""
	if !reflect.DeepEqual(got, byEmail) {
		t.Errorf("got %+v, want what the email lookup gives: %+v", got, byEmail)
	}

	for _, tc := range []struct {
		name, id, user string
		status         int
		code           string
	}{
		{"no prefix", "ada", "viewer", 400, "invalid_request"},
		{"other prefix", "ord_" + strings.TrimPrefix(string(byEmail.ID), "con_"), "viewer", 400, "invalid_request"},
		{"too long", "con_" + strings.Repeat("a", 61), "viewer", 400, "invalid_request"},
		{"unknown", "con_nobody", "viewer", 404, "not_found"},
		{"no credentials", string(byEmail.ID), "", 401, "unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, e, "GET", "/admin/api/consumers/"+tc.id, tc.user, "")
			wantError(t, tc.id, status, body, tc.status, tc.code)
		})
	}
	status, body = call(t, e, "GET", "/admin/api/consumers/"+string(byEmail.ID)+"?currency=EUR", "viewer", "")
	wantError(t, "EUR", status, body, 404, "not_found")
}

// repayResponse is POST /admin/api/orders/{id}/repayments.
type repayResponse struct {
	Order  map[string]any        `json:"order"`
	Repaid int64                 `json:"repaid"`
	Result admin.RepaymentResult `json:"result"`
}

func TestRepayOrder(t *testing.T) {
	e := newEnv(t)
	path := "/admin/api/orders/" + string(e.order) + "/repayments"

	// Before capture nothing is owed.
	n := e.store.Count()
	status, body := call(t, e, "POST", path, "agent", `{"amount": 400, "reference": "BANK-0"}`)
	wantError(t, "uncaptured", status, body, 422, "repayment_rejected")
	wantCount(t, "uncaptured", e.store, n)

	capture(t, e, e.order)
	if c := consumer(t, e, adaEmail); c.Exposure != 1000 || c.Rights["r1"] != 99_000 {
		t.Fatalf("after capture: got exposure %d rights %v, want 1000 and r1 99000", c.Exposure, c.Rights)
	}

	n = e.store.Count()
	for _, tc := range []struct {
		name, user, body string
		status           int
		code             string
	}{
		{"viewer", "viewer", `{"amount": 400, "reference": "BANK-1"}`, 403, "forbidden"},
		{"no credentials", "", `{"amount": 400, "reference": "BANK-1"}`, 401, "unauthorized"},
		{"malformed", "agent", `{"amount": 400, "reference": "BANK-1"`, 400, "invalid_request"},
		{"unknown field", "agent", `{"amount": 400, "reference": "BANK-1", "currency": "SEK"}`, 400, "invalid_request"},
		{"trailing data", "agent", `{"amount": 400, "reference": "BANK-1"} {}`, 400, "invalid_request"},
		{"string amount", "agent", `{"amount": "400", "reference": "BANK-1"}`, 400, "invalid_request"},
		{"fractional amount", "agent", `{"amount": 4.5, "reference": "BANK-1"}`, 400, "invalid_request"},
		{"zero amount", "agent", `{"amount": 0, "reference": "BANK-1"}`, 400, "invalid_request"},
		{"negative amount", "agent", `{"amount": -400, "reference": "BANK-1"}`, 400, "invalid_request"},
		{"no reference", "agent", `{"amount": 400}`, 400, "invalid_request"},
		{"reference with newline", "agent", `{"amount": 400, "reference": "BANK\n1"}`, 400, "invalid_request"},
		{"bad paid_at", "agent", `{"amount": 400, "reference": "BANK-1", "paid_at": "2025-01-02"}`, 400, "invalid_request"},
		{"future paid_at", "agent", `{"amount": 400, "reference": "BANK-1", "paid_at": "2999-01-01T00:00:00Z"}`, 400, "invalid_request"},
		{"empty body", "agent", ``, 400, "invalid_request"},
		{"over what is owed", "agent", `{"amount": 1001, "reference": "BANK-1"}`, 422, "amount_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, e, "POST", path, tc.user, tc.body)
			wantError(t, tc.name, status, body, tc.status, tc.code)
			wantCount(t, tc.name, e.store, n)
		})
	}
	status, body = call(t, e, "POST", "/admin/api/orders/ord_nope/repayments", "agent", `{"amount": 400, "reference": "BANK-1"}`)
	wantError(t, "unknown order", status, body, 404, "repayment_rejected")
	wantCount(t, "unknown order", e.store, n)

	// A repayment writes the repayment entry only, and it names who
	// recorded it and why.
	status, body = call(t, e, "POST", path, "agent", `{"amount": 400, "reference": "BANK-1", "note": "phoned in"}`)
	if status != http.StatusCreated {
		t.Fatalf("repay: got %d %s, want 201", status, body)
	}
	res := decode[repayResponse](t, body)
	want := admin.RepaymentResult{Reference: "BANK-1", OrderID: string(e.order), Status: "recorded", Applied: 400}
	if res.Result != want || res.Repaid != 400 || res.Order["id"] != string(e.order) {
		t.Fatalf("repay: got result %+v repaid %d order %v, want %+v repaid 400", res.Result, res.Repaid, res.Order["id"], want)
	}
	wantCount(t, "repay", e.store, n+1)
	c := consumer(t, e, adaEmail)
	if c.Exposure != 600 || !reflect.DeepEqual(c.Rights, map[string]int64{"r1": 99_400}) || c.Available != 99_400 || c.Lines[0].Repaid != 400 {
		t.Fatalf("after repaying 400: got exposure %d rights %v available %d repaid %d, want 600, r1 99400, 99400, 400",
			c.Exposure, c.Rights, c.Available, c.Lines[0].Repaid)
	}
	if audits := staffActions(t, e.store, string(e.order)); len(audits) != 0 {
		t.Fatalf("got staff.action entries %v, want none: the repayment entry names the staff member", audits)
	}
	repaid := entryData(t, e.store, string(e.order), checkout.KindOrderRepaid)
	if len(repaid) != 1 || repaid[0]["reference"] != "BANK-1" || repaid[0]["amount"] != float64(400) {
		t.Fatalf("got repayment entries %v, want one of 400 under BANK-1", repaid)
	}
	wantActor(t, "repayment entry", repaid[0], "agent", "support", "phoned in")
	var fact checkout.CreditFact
	es, _ := e.store.EntriesBySubject(context.Background(), string(e.order))
	for i := range es {
		if es[i].Kind == "order.repaid" {
			fact, _ = checkout.CreditFactOf(&es[i])
		}
	}
	if fact.Kind != "repayment" || fact.Amount != 400 || fact.Consumer != c.ID || fact.Currency != "SEK" {
		t.Fatalf("got repayment fact %+v, want 400 SEK repaid by %s", fact, c.ID)
	}

	n = e.store.Count()
	status, body = call(t, e, "POST", path, "agent", `{"amount": 400, "reference": "BANK-1", "note": "phoned in"}`)
	if status != http.StatusOK {
		t.Fatalf("replay: got %d %s, want 200", status, body)
	}
	if got := decode[repayResponse](t, body); got.Result.Status != "replayed" || got.Result.Applied != 400 || got.Repaid != 400 {
		t.Fatalf("replay: got %+v, want replayed with 400 applied and 400 repaid in all", got)
	}
	wantCount(t, "replay", e.store, n)

	status, body = call(t, e, "POST", path, "agent", `{"amount": 300, "reference": "BANK-1"}`)
	wantError(t, "same reference, other amount", status, body, 422, "repayment_rejected")
	status, body = call(t, e, "POST", path, "agent", `{"amount": 601, "reference": "BANK-2"}`)
	wantError(t, "over the 600 still owed", status, body, 422, "amount_too_large")
	wantCount(t, "refused", e.store, n)

	// Repaying the rest gives the whole line back; both repayments still
	// replay once nothing is owed.
	status, body = call(t, e, "POST", path, "agent", `{"amount": 600, "reference": "BANK-2", "paid_at": "2025-03-04T05:06:07Z"}`)
	if status != http.StatusCreated {
		t.Fatalf("repay the rest: got %d %s, want 201", status, body)
	}
	if c := consumer(t, e, adaEmail); c.Exposure != 0 || c.Rights["r1"] != 100_000 || c.Lines[0].Repaid != 1000 {
		t.Fatalf("after repaying all: got exposure %d rights %v repaid %d, want 0, r1 100000, 1000", c.Exposure, c.Rights, c.Lines[0].Repaid)
	}
	n = e.store.Count()
	for _, body := range []string{`{"amount": 400, "reference": "BANK-1"}`, `{"amount": 600, "reference": "BANK-2"}`} {
		status, resp := call(t, e, "POST", path, "agent", body)
		if status != http.StatusOK || decode[repayResponse](t, resp).Result.Status != "replayed" {
			t.Errorf("replay %s once repaid: got %d %s, want 200 replayed", body, status, resp)
		}
	}
	status, body = call(t, e, "POST", path, "agent", `{"amount": 1, "reference": "BANK-3"}`)
	wantError(t, "nothing owed", status, body, 422, "repayment_rejected")
	wantCount(t, "replays once repaid", e.store, n)

	// Another order, authorized but not captured, owes nothing yet.
	second := authorize(t, e, "R-2", adaEmail, 500)
	n = e.store.Count()
	status, body = call(t, e, "POST", "/admin/api/orders/"+string(second.ID)+"/repayments", "agent", `{"amount": 400, "reference": "BANK-4"}`)
	wantError(t, "uncaptured second order", status, body, 422, "repayment_rejected")
	wantCount(t, "uncaptured second order", e.store, n)
}

// importResponse is POST /admin/api/repayments.
type importResponse struct {
	Results  []admin.RepaymentResult `json:"results"`
	Recorded int                     `json:"recorded"`
	Retry    int                     `json:"retry"`
	Rejected int                     `json:"rejected"`
}

func importBody(tb testing.TB, lines ...admin.RepaymentLine) string {
	tb.Helper()
	b, err := json.Marshal(map[string]any{"repayments": lines})
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestRepaymentImport(t *testing.T) {
	e := newEnv(t)
	capture(t, e, e.order)
	oid := string(e.order)
	file := importBody(t,
		admin.RepaymentLine{OrderID: oid, Amount: 300, Currency: "SEK", PaidAt: "2025-01-02T10:00:00Z", Reference: "BANK-A"},
		admin.RepaymentLine{OrderID: oid, Amount: 900, Reference: "BANK-B"}, // 700 is still owed
		admin.RepaymentLine{OrderID: "ord_nope", Amount: 100, Reference: "BANK-C"},
		admin.RepaymentLine{OrderID: oid, Amount: 100},
		admin.RepaymentLine{OrderID: oid, Amount: 100, PaidAt: "yesterday", Reference: "BANK-E"},
		admin.RepaymentLine{OrderID: oid, Amount: 100, Currency: "EUR", Reference: "BANK-F"},
		admin.RepaymentLine{OrderID: oid, Amount: 100, Currency: "sek", Reference: "BANK-G"},
	)
	want := []admin.RepaymentResult{
		{Reference: "BANK-A", OrderID: oid, Status: "recorded", Applied: 300},
		{Reference: "BANK-B", OrderID: oid, Status: "recorded", Applied: 700, Balance: 200}, // the rest is the consumer's
		{Reference: "BANK-C", OrderID: "ord_nope", Status: "rejected", Unapplied: 100, Error: "no such order"},
		{OrderID: oid, Status: "rejected", Unapplied: 100, Error: "reference is required (the bank's reference, at most 128 characters)"},
		{Reference: "BANK-E", OrderID: oid, Status: "rejected", Unapplied: 100, Error: "paid_at must be an RFC 3339 time"},
		{Reference: "BANK-F", OrderID: oid, Status: "rejected", Unapplied: 100, Error: "the order is in SEK, not EUR"},
		{Reference: "BANK-G", OrderID: oid, Status: "rejected", Unapplied: 100, Error: "currency must be a three-letter ISO code"},
	}

	n := e.store.Count()
	status, body := call(t, e, "POST", "/admin/api/repayments", "agent", file)
	if status != http.StatusOK {
		t.Fatalf("import: got %d %s, want 200", status, body)
	}
	got := decode[importResponse](t, body)
	if !reflect.DeepEqual(got.Results, want) {
		t.Errorf("import: got results\n%+v\nwant\n%+v", got.Results, want)
	}
	if got.Recorded != 2 || got.Retry != 0 || got.Rejected != 5 {
		t.Errorf("import: got recorded %d retry %d rejected %d, want 2 0 5", got.Recorded, got.Retry, got.Rejected)
	}
	wantCount(t, "import", e.store, n+3) // the two repayments, each naming who imported them, and the credit balance
	c := consumer(t, e, adaEmail)
	if c.Balance != 200 {
		t.Errorf("after import: got balance %d, want the 200 overpaid", c.Balance)
	}
	if c.Exposure != 0 || c.Rights["r1"] != 100_000 || c.Lines[0].Repaid != 1000 {
		t.Errorf("after import: got exposure %d rights %v repaid %d, want 0, r1 100000, 1000", c.Exposure, c.Rights, c.Lines[0].Repaid)
	}
	es, _ := e.store.EntriesBySubject(context.Background(), oid)
	var paid []time.Time
	for i := range es {
		if f, ok := checkout.CreditFactOf(&es[i]); ok && f.Kind == "repayment" {
			paid = append(paid, f.PaidAt)
		}
	}
	if len(paid) != 2 || !paid[0].Equal(time.Date(2025, 1, 2, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("got repayments paid at %v, want two, the first paid at 2025-01-02T10:00:00Z", paid)
	}
	for _, d := range entryData(t, e.store, oid, checkout.KindOrderRepaid) {
		wantActor(t, "imported repayment", d, "agent", "support", "repayments import")
	}
	if audits := staffActions(t, e.store, "repayments"); len(audits) != 0 {
		t.Errorf("got import audits %v, want none: each repayment entry names who imported it", audits)
	}

	// The same file again: what it recorded comes back replayed, with the
	// same split, and nothing is written.
	n = e.store.Count()
	status, body = call(t, e, "POST", "/admin/api/repayments", "agent", file)
	if status != http.StatusOK {
		t.Fatalf("re-import: got %d %s, want 200", status, body)
	}
	got = decode[importResponse](t, body)
	want[0].Status, want[1].Status = "replayed", "replayed"
	if !reflect.DeepEqual(got.Results, want) {
		t.Errorf("re-import: got results\n%+v\nwant\n%+v", got.Results, want)
	}
	if got.Recorded != 2 || got.Retry != 0 || got.Rejected != 5 {
		t.Errorf("re-import: got recorded %d retry %d rejected %d, want 2 0 5", got.Recorded, got.Retry, got.Rejected)
	}
	wantCount(t, "re-import", e.store, n)
}

func TestRepaymentImportConflicts(t *testing.T) {
	e := newEnv(t)
	capture(t, e, e.order)
	oid := string(e.order)
	status, body := call(t, e, "POST", "/admin/api/repayments", "agent", importBody(t,
		admin.RepaymentLine{OrderID: oid, Amount: 300, Reference: "BANK-A"}))
	if status != http.StatusOK || decode[importResponse](t, body).Recorded != 1 {
		t.Fatalf("import: got %d %s, want one line recorded", status, body)
	}
	n := e.store.Count()
	status, body = call(t, e, "POST", "/admin/api/repayments", "agent", importBody(t,
		admin.RepaymentLine{OrderID: oid, Amount: 200, Reference: "BANK-A"}, // less than recorded
		admin.RepaymentLine{OrderID: oid, Amount: 400, Reference: "BANK-A"}, // more, while 700 is owed
	))
	if status != http.StatusOK {
		t.Fatalf("conflicting import: got %d %s, want 200", status, body)
	}
	got := decode[importResponse](t, body)
	for i, r := range got.Results {
		if r.Status != "rejected" || r.Applied != 0 || r.Error != "this reference was recorded before with another amount" {
			t.Errorf("line %d: got %+v, want rejected as a conflict", i, r)
		}
	}
	if got.Recorded != 0 || got.Rejected != 2 {
		t.Errorf("got recorded %d rejected %d, want 0 2", got.Recorded, got.Rejected)
	}
	wantCount(t, "conflicting import", e.store, n) // nothing recorded, nothing written
	if c := consumer(t, e, adaEmail); c.Exposure != 700 {
		t.Errorf("got exposure %d, want 700", c.Exposure)
	}
}

func TestRepaymentImportRefused(t *testing.T) {
	e := newEnv(t)
	capture(t, e, e.order)
	line := admin.RepaymentLine{OrderID: string(e.order), Amount: 1, Reference: "BANK-1"}
	many := make([]admin.RepaymentLine, 1001)
	for i := range many {
		many[i] = line
	}
	n := e.store.Count()
	for _, tc := range []struct {
		name, user, body string
		status           int
		code             string
	}{
		{"viewer", "viewer", importBody(t, line), 403, "forbidden"},
		{"no credentials", "", importBody(t, line), 401, "unauthorized"},
		{"empty list", "agent", `{"repayments": []}`, 400, "invalid_request"},
		{"no list", "agent", `{}`, 400, "invalid_request"},
		{"null list", "agent", `{"repayments": null}`, 400, "invalid_request"},
		{"over 1000 lines", "agent", importBody(t, many...), 400, "invalid_request"},
		{"malformed", "agent", `{"repayments": [`, 400, "invalid_request"},
		{"not an object", "agent", `[]`, 400, "invalid_request"},
		{"unknown field", "agent", `{"repayments": [{"order_id": "x", "amount": 1, "reference": "r", "iban": "SE00"}]}`, 400, "invalid_request"},
		{"trailing data", "agent", importBody(t, line) + `{}`, 400, "invalid_request"},
		{"over 1 MiB", "agent", `{"repayments": [` + strings.Repeat(" ", 1<<20) + `]}`, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, e, "POST", "/admin/api/repayments", tc.user, tc.body)
			wantError(t, tc.name, status, body, tc.status, tc.code)
			wantCount(t, tc.name, e.store, n)
		})
	}

	// 1000 lines is the most an import takes.
	status, body := call(t, e, "POST", "/admin/api/repayments", "agent", importBody(t, many[:1000]...))
	if status != http.StatusOK {
		t.Fatalf("1000 lines: got %d %.200s, want 200", status, body)
	}
	if got := decode[importResponse](t, body); len(got.Results) != 1000 || got.Recorded != 1000 {
		t.Fatalf("1000 lines: got %d results, %d recorded, want 1000 (the first recorded, the rest replayed)", len(got.Results), got.Recorded)
	}
	wantCount(t, "1000 lines", e.store, n+1)
}

func TestMode(t *testing.T) {
	e := newEnv(t)
	status, body := call(t, e, "GET", "/admin/api/mode", "viewer", "")
	if status != http.StatusOK {
		t.Fatalf("get mode: got %d %s, want 200", status, body)
	}
	type modeView struct {
		Mode  string   `json:"mode"`
		Modes []string `json:"modes"`
	}
	if got, want := decode[modeView](t, body), (modeView{"normal", []string{"normal", "conservative", "card_only", "pay_later_off"}}); !reflect.DeepEqual(got, want) {
		t.Fatalf("get mode: got %+v, want %+v", got, want)
	}
	status, body = call(t, e, "GET", "/admin/api/mode", "", "")
	wantError(t, "get mode without credentials", status, body, 401, "unauthorized")

	n := e.store.Count()
	for _, tc := range []struct {
		name, user, body string
		status           int
		code             string
	}{
		{"viewer", "viewer", `{"mode": "card_only", "reason": "incident 42"}`, 403, "forbidden"},
		{"support", "agent", `{"mode": "card_only", "reason": "incident 42"}`, 403, "forbidden"},
		{"no credentials", "", `{"mode": "card_only", "reason": "incident 42"}`, 401, "unauthorized"},
		{"no reason", "boss", `{"mode": "card_only"}`, 400, "invalid_request"},
		{"blank reason", "boss", `{"mode": "card_only", "reason": " \t "}`, 400, "invalid_request"},
		{"long reason", "boss", `{"mode": "card_only", "reason": "` + strings.Repeat("x", 501) + `"}`, 400, "invalid_request"},
		{"no mode", "boss", `{"reason": "incident 42"}`, 400, "invalid_request"},
		{"unknown mode", "boss", `{"mode": "off", "reason": "incident 42"}`, 400, "invalid_request"},
		{"mode in capitals", "boss", `{"mode": "CARD_ONLY", "reason": "incident 42"}`, 400, "invalid_request"},
		{"unknown field", "boss", `{"mode": "card_only", "reason": "incident 42", "region": "r2"}`, 400, "invalid_request"},
		{"malformed", "boss", `{"mode": "card_only"`, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, e, "POST", "/admin/api/mode", tc.user, tc.body)
			wantError(t, tc.name, status, body, tc.status, tc.code)
			wantCount(t, tc.name, e.store, n)
		})
	}
	if m := e.credit.Policy().Mode; m != scoring.ModeNormal {
		t.Fatalf("after refused requests: got mode %q, want normal", m)
	}

	status, body = call(t, e, "POST", "/admin/api/mode", "boss", `{"mode": "card_only", "reason": "incident 42"}`)
	if status != http.StatusOK || decode[modeView](t, body).Mode != "card_only" {
		t.Fatalf("set mode: got %d %s, want 200 card_only", status, body)
	}
	wantCount(t, "set mode", e.store, n+1)
	status, body = call(t, e, "GET", "/admin/api/mode", "viewer", "")
	if status != http.StatusOK || decode[modeView](t, body).Mode != "card_only" {
		t.Fatalf("get mode after set: got %d %s, want card_only", status, body)
	}
	if c := consumer(t, e, adaEmail); c.Mode != scoring.ModeCardOnly {
		t.Errorf("consumer view: got mode %q, want card_only", c.Mode)
	}

	o := authorize(t, e, "R-2", "grace@example.com", 500)
	if o.Status != "declined" || o.Decision.Outcome != scoring.CardOnly || !reflect.DeepEqual(o.Decision.Reasons, []string{scoring.ReasonCardOnlyMode}) {
		t.Errorf("pay_later in card_only mode: got status %q decision %+v, want declined card_only [card_only_mode]", o.Status, o.Decision)
	}

	es, err := e.store.EntriesBySubject(context.Background(), "mode:r1")
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Kind != scoring.KindModeSet || string(es[0].Origin) != "r1" {
		t.Fatalf("got %d mode entries %v, want one scoring.mode from r1", len(es), es)
	}
	if got, want := decode[map[string]any](t, es[0].Data), map[string]any{"mode": "card_only", "staff": "boss", "role": "admin", "reason": "incident 42"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got mode entry data %v, want %v", got, want)
	}

	// The mode survives a restart, and the last one set wins.
	restart := func() scoring.Mode {
		t.Helper()
		fresh := scoring.New(e.store, e.config)
		if m := fresh.Policy().Mode; m != scoring.ModeNormal {
			t.Fatalf("before Start: got mode %q, want the config's (normal)", m)
		}
		if err := fresh.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return fresh.Policy().Mode
	}
	if m := restart(); m != scoring.ModeCardOnly {
		t.Errorf("after restart: got mode %q, want card_only", m)
	}
	for _, m := range []scoring.Mode{scoring.ModePayLaterOff, scoring.ModeNormal} {
		status, body := call(t, e, "POST", "/admin/api/mode", "boss", fmt.Sprintf(`{"mode": %q, "reason": "step %s"}`, m, m))
		if status != http.StatusOK {
			t.Fatalf("set %s: got %d %s", m, status, body)
		}
	}
	if m := restart(); m != scoring.ModeNormal {
		t.Errorf("after restart: got mode %q, want normal (set last)", m)
	}
}

func TestCreditRoutesNeedAnEngine(t *testing.T) {
	e := newEnv(t)
	r := mux.NewRouter()
	admin.New(e.store, e.svc, nil, []admin.Staff{{Username: "boss", Password: "boss-pass", Role: "admin"}},
		slog.New(slog.NewTextHandler(io.Discard, nil))).Routes(r)
	for _, path := range []string{"/admin/api/mode", "/admin/api/consumers?email=ada@example.com"} {
		req := httptest.NewRequest("GET", path, nil)
		req.SetBasicAuth("boss", "boss-pass")
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s without a credit engine: got %d, want 404", path, rec.Code)
		}
	}
}

func TestAdjustLimitAPI(t *testing.T) {
	e := newEnv(t)
	id := string(e.svc.ConsumerID(adaEmail))
	path := "/admin/api/consumers/" + id + "/limit"
	n := e.store.Count()
	for _, tc := range []struct {
		name, user, body string
		status           int
		code             string
	}{
		{"support may not", "agent", `{"currency": "SEK", "limit": 5000, "reason": "x"}`, 403, "forbidden"},
		{"no reason", "boss", `{"currency": "SEK", "limit": 5000}`, 400, "invalid_request"},
		{"zero", "boss", `{"currency": "SEK", "limit": 0, "reason": "x"}`, 400, "invalid_request"},
		{"bad currency", "boss", `{"currency": "sek", "limit": 5000, "reason": "x"}`, 400, "invalid_request"},
		{"unknown field", "boss", `{"currency": "SEK", "limit": 5000, "reason": "x", "x": 1}`, 400, "invalid_request"},
		{"no line", "boss", `{"currency": "EUR", "limit": 5000, "reason": "x"}`, 404, "not_found"},
		{"lent out", "boss", `{"currency": "SEK", "limit": 500, "reason": "x"}`, 409, "limit_in_use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, b := call(t, e, "POST", path, tc.user, tc.body)
			got := decode[map[string]map[string]string](t, b)
			if status != tc.status || got["error"]["code"] != tc.code {
				t.Fatalf("got %d %s, want %d %s", status, b, tc.status, tc.code)
			}
		})
	}
	if got := e.store.Count(); got != n {
		t.Fatalf("refused changes wrote %d entries", got-n)
	}
	// The consumer has 1,000 exposure of 100,000: lower the limit to 20,000.
	status, b := call(t, e, "POST", path, "boss", `{"currency": "SEK", "limit": 20000, "reason": "risk review"}`)
	v := decode[ConsumerViewJSON](t, b)
	if status != 200 || v.Limit != 20_000 || v.Exposure != 1_000 || v.Rights["r1"] != 19_000 {
		t.Fatalf("got %d %s", status, b)
	}
	if actions := staffActions(t, e.store, "credit:"+id+":SEK"); len(actions) != 0 {
		t.Fatalf("got staff.action entries %v, want none: the adjustment names the staff member", actions)
	}
	adjusted := entryData(t, e.store, "credit:"+id+":SEK", scoring.KindCreditAdjusted)
	if len(adjusted) != 1 || adjusted[0]["to"] != float64(20_000) {
		t.Fatalf("got adjustments %v, want one to 20000", adjusted)
	}
	wantActor(t, "limit adjustment", adjusted[0], "boss", "admin", "risk review")
}

// ConsumerViewJSON is the consumer view as a client decodes it.
type ConsumerViewJSON struct {
	Limit    int64            `json:"limit"`
	Exposure int64            `json:"exposure"`
	Rights   map[string]int64 `json:"rights"`
}

// TestAPIRefusesCrossSiteRequests: a form on another site can make a
// browser post text/plain (whose body can spell JSON) with cached
// credentials; the API takes only JSON and no cross-site request, and
// Basic guesses count against the sign-in throttle.
func TestAPIRefusesCrossSiteRequests(t *testing.T) {
	e := newEnv(t)
	n := e.store.Count()
	post := func(ct, site, body string) int {
		req, _ := http.NewRequest("POST", e.srv.URL+"/admin/api/mode", strings.NewReader(body))
		req.SetBasicAuth("boss", "boss-pass")
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	body := `{"mode":"card_only","reason":"x="}`
	if got := post("text/plain", "", body); got != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain: got %d, want 415", got)
	}
	if got := post("application/json", "cross-site", body); got != http.StatusForbidden {
		t.Fatalf("cross-site: got %d, want 403", got)
	}
	if e.store.Count() != n {
		t.Fatal("a refused request changed the mode")
	}
	if got := post("application/json", "same-origin", body); got != http.StatusOK {
		t.Fatalf("same origin JSON: got %d, want 200", got)
	}
	// Guessing a password over Basic is throttled like the sign-in form.
	status := 0
	for i := 0; i < 12; i++ {
		status, _ = call(t, e, "GET", "/admin/api/mode", "viewer-wrong", "")
	}
	if status != http.StatusTooManyRequests {
		t.Fatalf("after 12 wrong passwords: got %d, want 429", status)
	}
}
