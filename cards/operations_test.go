package cards_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"kassa/cards"
	"kassa/clocktest"
)

// authorize charges amount SEK on card number under key with reference ref
// and returns the payment id.
func authorize(tb fataler, h http.Handler, key, number, ref string, amount int64) string {
	tb.Helper()
	body := fmt.Sprintf(`{"amount":%d,"currency":"SEK","number":%q,"exp_month":12,"exp_year":2030,"cvc":"123","reference":%q}`, amount, number, ref)
	w := post(h, key, body)
	if w.Code != http.StatusOK {
		tb.Fatalf("authorize: got %d %s, want 200", w.Code, w.Body)
	}
	return decode(tb, w).ID
}

// operate sends a raw POST /payments/{id}/{path} to h.
func operate(h http.Handler, path, id, key, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/payments/"+url.PathEscape(id)+"/"+path, strings.NewReader(body))
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

type opAnswer struct {
	ID          string    `json:"id"`
	Payment     string    `json:"payment"`
	Type        string    `json:"type"`
	Status      string    `json:"status"`
	RefusalCode string    `json:"refusal_code"`
	Amount      int64     `json:"amount"`
	Currency    string    `json:"currency"`
	Reference   string    `json:"reference"`
	Created     time.Time `json:"created"`
	Error       *struct {
		Code string `json:"code"`
	} `json:"error"`
}

func decodeOp(tb fataler, w *httptest.ResponseRecorder) opAnswer {
	tb.Helper()
	var a opAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		tb.Fatalf("decode %q: %v", w.Body.String(), err)
	}
	return a
}

type booksAnswer struct {
	Authorized, Captured, Refunded, Voided int64
	Currency                               string
	Payments                               []struct {
		ID                                     string
		Authorized, Captured, Refunded, Voided int64
		Currency, Status                       string
	}
}

// books returns the simulator's books for ref, or fails the test.
func books(tb fataler, h http.Handler, ref string) booksAnswer {
	tb.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/payments?reference="+url.QueryEscape(ref), nil))
	if w.Code != http.StatusOK {
		tb.Fatalf("books %s: got %d %s, want 200", ref, w.Code, w.Body)
	}
	var b booksAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		tb.Fatal(err)
	}
	return b
}

func opBody(amount int64, currency string) string {
	return fmt.Sprintf(`{"amount":%d,"currency":%q}`, amount, currency)
}

func TestSimulatorOperationRules(t *testing.T) {
	sim := cards.NewSimulator(func() time.Time { return now })
	h := sim.Handler()
	id := authorize(t, h, "auth", "4242424242424242", "ord_1", 10000)
	steps := []struct {
		path, body string
		want       string // refusal code, "" for succeeded
	}{
		{"captures", opBody(4000, "SEK"), ""},
		{"captures", opBody(7000, "SEK"), cards.RefusalAmountExceedsAuthorization},
		{"voids", opBody(6001, "SEK"), cards.RefusalAmountExceedsOpen},
		{"voids", opBody(1000, "SEK"), ""},
		{"captures", opBody(5001, "SEK"), cards.RefusalAmountExceedsAuthorization},
		{"captures", opBody(5000, "SEK"), ""},
		{"refunds", opBody(9001, "SEK"), cards.RefusalAmountExceedsCaptured},
		{"refunds", opBody(3000, "EUR"), cards.RefusalCurrencyMismatch},
		{"captures", opBody(1, "EUR"), cards.RefusalCurrencyMismatch},
		{"refunds", `{"amount":3000,"currency":"SEK","reference":"ord_2"}`, cards.RefusalReferenceMismatch},
		{"refunds", `{"amount":3000,"currency":"SEK","reference":"ord_1"}`, ""},
		{"refunds", opBody(6000, "SEK"), ""},
		{"refunds", opBody(1, "SEK"), cards.RefusalAmountExceedsCaptured},
		{"voids", opBody(1, "SEK"), cards.RefusalAmountExceedsOpen},
		{"captures", opBody(1, "SEK"), cards.RefusalAmountExceedsAuthorization},
	}
	for i, st := range steps {
		w := operate(h, st.path, id, fmt.Sprint("op-", i), st.body)
		if w.Code != http.StatusOK {
			t.Fatalf("step %d: got %d %s, want 200", i, w.Code, w.Body)
		}
		a := decodeOp(t, w)
		wantStatus := "succeeded"
		if st.want != "" {
			wantStatus = "refused"
		}
		if a.Status != wantStatus || a.RefusalCode != st.want || a.Payment != id || a.Reference != "ord_1" ||
			a.Type != strings.TrimSuffix(st.path, "s") || !strings.HasPrefix(a.ID, "op_") || !a.Created.Equal(now) {
			t.Errorf("step %d %s %s: got %+v, want %s %q", i, st.path, st.body, a, wantStatus, st.want)
		}
	}
	b := books(t, h, "ord_1")
	if b.Authorized != 10000 || b.Captured != 9000 || b.Refunded != 9000 || b.Voided != 1000 || b.Currency != "SEK" {
		t.Errorf("got books %+v, want 10000/9000/9000/1000 SEK", b)
	}
}

func TestSimulatorOperationTestCardsAndDeclines(t *testing.T) {
	sim := cards.NewSimulator(func() time.Time { return now })
	h := sim.Handler()
	declined := authorize(t, h, "a1", "4000000000000002", "ord_d", 5000)
	noCapture := authorize(t, h, "a2", "4000 0000 0000 0341", "ord_c", 5000)
	noRefund := authorize(t, h, "a3", "4000 0000 0000 5506", "ord_r", 5000)
	tests := []struct {
		path, id string
		want     string
	}{
		{"captures", declined, cards.RefusalPaymentNotApproved},
		{"voids", declined, cards.RefusalPaymentNotApproved},
		{"refunds", declined, cards.RefusalPaymentNotApproved},
		{"captures", noCapture, cards.RefusalCaptureRefused},
		{"voids", noCapture, ""},
		{"captures", noRefund, ""},
		{"refunds", noRefund, cards.RefusalRefundRefused},
	}
	for i, tt := range tests {
		a := decodeOp(t, operate(h, tt.path, tt.id, fmt.Sprint("op-", i), opBody(1000, "SEK")))
		if a.RefusalCode != tt.want || (a.Status == "succeeded") != (tt.want == "") {
			t.Errorf("%s on %s: got %s %q, want %q", tt.path, tt.id, a.Status, a.RefusalCode, tt.want)
		}
	}
	if b := books(t, h, "ord_d"); b.Authorized != 0 || b.Captured != 0 || b.Voided != 0 || len(b.Payments) != 1 || b.Payments[0].Status != "declined" {
		t.Errorf("declined: got %+v, want zero books and one declined payment", b)
	}
	if b := books(t, h, "ord_c"); b.Captured != 0 || b.Voided != 1000 {
		t.Errorf("capture refused: got %+v, want captured 0, voided 1000", b)
	}
	if b := books(t, h, "ord_r"); b.Captured != 1000 || b.Refunded != 0 {
		t.Errorf("refund refused: got %+v, want captured 1000, refunded 0", b)
	}
}

func TestSimulatorOperationRefuses(t *testing.T) {
	tests := []struct {
		name, path, id, key, body string
		want                      int
		code                      string
	}{
		{"no key", "captures", "", "", opBody(1, "SEK"), 400, "invalid_idempotency_key"},
		{"key with space", "captures", "", "a b", opBody(1, "SEK"), 400, "invalid_idempotency_key"},
		{"empty body", "refunds", "", "k", "", 400, "malformed"},
		{"not json", "voids", "", "k", "amount=1", 400, "malformed"},
		{"unknown field", "captures", "", "k", `{"amount":1,"currency":"SEK","number":"4242424242424242"}`, 400, "malformed"},
		{"string amount", "captures", "", "k", `{"amount":"1","currency":"SEK"}`, 400, "malformed"},
		{"no amount", "captures", "", "k", `{"currency":"SEK"}`, 400, "invalid_amount"},
		{"zero amount", "captures", "", "k", opBody(0, "SEK"), 400, "invalid_amount"},
		{"negative amount", "refunds", "", "k", opBody(-5, "SEK"), 400, "invalid_amount"},
		{"no currency", "voids", "", "k", `{"amount":1}`, 400, "invalid_currency"},
		{"bad currency", "voids", "", "k", opBody(1, "kr"), 400, "invalid_currency"},
		{"control in reference", "captures", "", "k", `{"amount":1,"currency":"SEK","reference":"a\nb"}`, 400, "invalid_reference"},
		{"trailing data", "captures", "", "k", opBody(1, "SEK") + "{}", 400, "malformed"},
		{"huge body", "captures", "", "k", `{"reference":"` + strings.Repeat("r", 20000) + `"}`, 413, "body_too_large"},
		{"unknown payment", "captures", "pay_99999999", "k", opBody(1, "SEK"), 404, cards.RefusalPaymentNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := cards.NewSimulator(func() time.Time { return now })
			h := sim.Handler()
			id := authorize(t, h, "auth", "4242424242424242", "ord_1", 1000)
			if tt.id != "" {
				id = tt.id
			}
			w := operate(h, tt.path, id, tt.key, tt.body)
			if w.Code != tt.want {
				t.Fatalf("got %d %s, want %d", w.Code, w.Body, tt.want)
			}
			if a := decodeOp(t, w); a.Error == nil || a.Error.Code != tt.code {
				t.Errorf("got %s, want code %s", w.Body, tt.code)
			}
			if strings.Contains(w.Body.String(), "4242424242") {
				t.Errorf("got the body quoted in %s", w.Body)
			}
			if b := books(t, h, "ord_1"); b.Captured != 0 || b.Refunded != 0 || b.Voided != 0 {
				t.Errorf("got books %+v, want nothing moved", b)
			}
			// Nothing was recorded: the key is still free.
			if tt.key != "" && !strings.Contains(tt.key, " ") {
				if a := decodeOp(t, operate(h, "captures", authorize(t, h, "auth", "4242424242424242", "ord_1", 1000), tt.key, opBody(1, "SEK"))); a.Status != "succeeded" {
					t.Errorf("key after refusal: got %+v, want a fresh capture", a)
				}
			}
		})
	}
}

func TestSimulatorOperationReplayAndConflict(t *testing.T) {
	sim := cards.NewSimulator(func() time.Time { return now })
	h := sim.Handler()
	id := authorize(t, h, "auth", "4242424242424242", "ord_1", 10000)
	other := authorize(t, h, "auth2", "4242424242424242", "ord_2", 10000)
	first := operate(h, "captures", id, "cap-1", opBody(2500, "SEK"))
	again := operate(h, "captures", id, "cap-1", opBody(2500, "SEK"))
	if again.Code != 200 || !bytes.Equal(again.Body.Bytes(), first.Body.Bytes()) || again.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: got %d %s (replayed %q), want %s replayed", again.Code, again.Body, again.Header().Get("Idempotent-Replayed"), first.Body)
	}
	if first.Header().Get("Idempotent-Replayed") != "" {
		t.Errorf("first: got Idempotent-Replayed, want none")
	}
	// A refused operation replays as refused, even once the books would allow it.
	refused := operate(h, "refunds", id, "ref-1", opBody(5000, "SEK"))
	operate(h, "captures", id, "cap-2", opBody(5000, "SEK"))
	if again := operate(h, "refunds", id, "ref-1", opBody(5000, "SEK")); !bytes.Equal(again.Body.Bytes(), refused.Body.Bytes()) {
		t.Errorf("refused replay: got %s, want %s", again.Body, refused.Body)
	}
	conflicts := []struct{ path, id, key, body string }{
		{"captures", id, "cap-1", opBody(2501, "SEK")},
		{"captures", id, "cap-1", opBody(2500, "EUR")},
		{"captures", id, "cap-1", `{"amount":2500,"currency":"SEK","reference":"ord_1"}`},
		{"captures", other, "cap-1", opBody(2500, "SEK")},
		{"refunds", id, "cap-1", opBody(2500, "SEK")},
		{"voids", id, "cap-1", opBody(2500, "SEK")},
		{"captures", id, "auth", opBody(2500, "SEK")}, // an authorization's key
		{"captures", "pay_99999999", "cap-1", opBody(2500, "SEK")},
	}
	for _, c := range conflicts {
		w := operate(h, c.path, c.id, c.key, c.body)
		if w.Code != http.StatusConflict || decodeOp(t, w).Error.Code != "idempotency_conflict" {
			t.Errorf("%s %s %s %s: got %d %s, want 409 idempotency_conflict", c.path, c.id, c.key, c.body, w.Code, w.Body)
		}
	}
	// An operation's key is taken for authorizations too, and is not a payment.
	if w := post(h, "cap-1", body4242); w.Code != http.StatusConflict {
		t.Errorf("authorization under an operation's key: got %d, want 409", w.Code)
	}
	if w := get(h, "cap-1"); w.Code != http.StatusNotFound {
		t.Errorf("payment lookup of an operation's key: got %d, want 404", w.Code)
	}
	if b := books(t, h, "ord_1"); b.Captured != 7500 || b.Refunded != 0 {
		t.Errorf("got %+v, want captured 7500 refunded 0", b)
	}
}

func TestSimulatorOperationKeysExpireBooksStay(t *testing.T) {
	clk := clocktest.At(now)
	sim := cards.NewSimulator(clk.Now)
	h := sim.Handler()
	id := authorize(t, h, "auth", "4242424242424242", "ord_1", 10000)
	operate(h, "captures", id, "cap", opBody(1000, "SEK"))
	clk.Advance(cards.DefaultRetention + time.Second)
	// The key is forgotten, so the same request is a new capture; the books remain.
	w := operate(h, "captures", id, "cap", opBody(1000, "SEK"))
	if w.Header().Get("Idempotent-Replayed") != "" || decodeOp(t, w).Status != "succeeded" {
		t.Errorf("after the retention: got %s replayed %q, want a new capture", w.Body, w.Header().Get("Idempotent-Replayed"))
	}
	if b := books(t, h, "ord_1"); b.Captured != 2000 {
		t.Errorf("got captured %d, want 2000", b.Captured)
	}
}

func TestSimulatorConcurrentCaptures(t *testing.T) {
	sim, srv := MustSimulator(t)
	id := authorize(t, sim.Handler(), "auth", "4242424242424242", "ord_1", 10000)
	const n = 20
	bodies := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/payments/"+id+"/captures", strings.NewReader(opBody(3000, "SEK")))
			req.Header.Set("Idempotency-Key", "same")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			bodies[i] = b.String()
		}()
	}
	close(start)
	wg.Wait()
	for i, b := range bodies {
		if b != bodies[0] || !strings.Contains(b, `"succeeded"`) {
			t.Errorf("request %d: got %s, want %s", i, b, bodies[0])
		}
	}
	if b := books(t, sim.Handler(), "ord_1"); b.Captured != 3000 {
		t.Errorf("got captured %d, want 3000", b.Captured)
	}
}

func TestSimulatorBooks(t *testing.T) {
	sim := cards.NewSimulator(func() time.Time { return now })
	h := sim.Handler()
	get := func(q string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/payments?"+q, nil))
		return w
	}
	for _, tt := range []struct {
		q    string
		want int
		code string
	}{
		{"reference=never", 404, "not_found"},
		{"reference=", 400, "invalid_reference"},
		{"reference=" + strings.Repeat("r", 256), 400, "invalid_reference"},
		{"reference=a%00b", 400, "invalid_reference"},
		{"reference=a&idempotency_key=k", 400, "malformed"},
	} {
		w := get(tt.q)
		if w.Code != tt.want || decodeOp(t, w).Error.Code != tt.code {
			t.Errorf("%s: got %d %s, want %d %s", tt.q, w.Code, w.Body, tt.want, tt.code)
		}
	}
	a := authorize(t, h, "a1", "4000000000000002", "ord_1", 1000) // declined
	b := authorize(t, h, "a2", "4242424242424242", "ord_1", 2000)
	c := authorize(t, h, "a3", "5555555555554444", "ord_1", 3000)
	authorize(t, h, "a4", "4242424242424242", "ord_2", 9999)
	operate(h, "captures", b, "c1", opBody(2000, "SEK"))
	operate(h, "refunds", b, "r1", opBody(500, "SEK"))
	operate(h, "voids", c, "v1", opBody(3000, "SEK"))
	got := books(t, h, "ord_1")
	if got.Authorized != 5000 || got.Captured != 2000 || got.Refunded != 500 || got.Voided != 3000 || got.Currency != "SEK" {
		t.Errorf("got %+v, want 5000/2000/500/3000 SEK over the approved payments", got)
	}
	if len(got.Payments) != 3 || got.Payments[0].ID != a || got.Payments[0].Status != "declined" ||
		got.Payments[1].ID != b || got.Payments[1].Captured != 2000 || got.Payments[2].ID != c || got.Payments[2].Voided != 3000 {
		t.Errorf("got payments %+v, want a declined, b captured, c voided", got.Payments)
	}
}
