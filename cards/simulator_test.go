package cards_test

import (
	"bytes"
	"encoding/json"
	"io"
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

const body4242 = `{"amount":25900,"currency":"SEK","number":"4242 4242 4242 4242","exp_month":12,"exp_year":2030,"cvc":"123","reference":"A-1001"}`

// post sends a raw POST /payments to h and returns the recorded answer.
func post(h http.Handler, key, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/payments", strings.NewReader(body))
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func get(h http.Handler, key string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/payments?idempotency_key="+url.QueryEscape(key), nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

type answer struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	DeclineCode string `json:"decline_code"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Last4       string `json:"last4"`
	Brand       string `json:"brand"`
	Error       *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decode(tb fataler, w *httptest.ResponseRecorder) answer {
	tb.Helper()
	var a answer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		tb.Fatalf("decode %q: %v", w.Body.String(), err)
	}
	return a
}

func TestSimulatorReplay(t *testing.T) {
	sim := cards.NewSimulator(func() time.Time { return now })
	h := sim.Handler()

	first := post(h, "k1", body4242)
	if first.Code != http.StatusOK {
		t.Fatalf("first: got %d %s, want 200", first.Code, first.Body)
	}
	a := decode(t, first)
	if a.Status != "approved" || a.ID == "" || a.Amount != 25900 || a.Currency != "SEK" || a.Last4 != "4242" || a.Brand != "visa" {
		t.Errorf("first: got %+v, want an approved visa 4242 of 25900 SEK", a)
	}
	if first.Header().Get("Idempotent-Replayed") != "" {
		t.Errorf("first: got Idempotent-Replayed %q, want none", first.Header().Get("Idempotent-Replayed"))
	}
	// The same payment with the number formatted differently is the same payment.
	same := strings.Replace(body4242, "4242 4242 4242 4242", "4242-4242-4242-4242", 1)
	for i, b := range []string{body4242, same} {
		again := post(h, "k1", b)
		if again.Code != first.Code || !bytes.Equal(again.Body.Bytes(), first.Body.Bytes()) {
			t.Errorf("replay %d: got %d %s, want %d %s", i, again.Code, again.Body, first.Code, first.Body)
		}
		if got := again.Header().Get("Idempotent-Replayed"); got != "true" {
			t.Errorf("replay %d: got Idempotent-Replayed %q, want true", i, got)
		}
	}
	if got := sim.Charges(); got != 1 {
		t.Errorf("got %d charges, want 1", got)
	}
	if got := get(h, "k1"); got.Code != http.StatusOK || !bytes.Equal(got.Body.Bytes(), first.Body.Bytes()) {
		t.Errorf("lookup: got %d %s, want 200 %s", got.Code, got.Body, first.Body)
	}
	for _, leak := range []string{first.Body.String(), get(h, "k1").Body.String()} {
		if l := leaks(leak, "4242424242424242"); l != "" {
			t.Errorf("got %q in answer %s", l, leak)
		}
	}

	// A second key is a second payment.
	if b := decode(t, post(h, "k2", body4242)); b.ID == a.ID {
		t.Errorf("second key: got id %s again, want a new payment", b.ID)
	}
	if got := sim.Charges(); got != 2 {
		t.Errorf("got %d charges, want 2", got)
	}
}

func TestSimulatorConflict(t *testing.T) {
	sim := cards.NewSimulator(func() time.Time { return now })
	h := sim.Handler()
	if w := post(h, "k1", body4242); w.Code != http.StatusOK {
		t.Fatalf("got %d, want 200", w.Code)
	}
	for _, change := range [][2]string{
		{"25900", "25901"}, {"SEK", "EUR"}, {"4242 4242 4242 4242", "5555555555554444"},
		{`"exp_month":12`, `"exp_month":11`}, {"2030", "2031"}, {`"123"`, `"124"`}, {"A-1001", "A-1002"},
	} {
		w := post(h, "k1", strings.Replace(body4242, change[0], change[1], 1))
		if w.Code != http.StatusConflict {
			t.Errorf("%s -> %s: got %d, want 409", change[0], change[1], w.Code)
			continue
		}
		if a := decode(t, w); a.Error == nil || a.Error.Code != "idempotency_conflict" {
			t.Errorf("%s -> %s: got %s, want code idempotency_conflict", change[0], change[1], w.Body)
		}
	}
	if got := sim.Charges(); got != 1 {
		t.Errorf("got %d charges, want 1", got)
	}
}

func TestSimulatorConcurrentSameKey(t *testing.T) {
	sim, srv := MustSimulator(t)
	const n = 20
	ids := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/payments", strings.NewReader(body4242))
			req.Header.Set("Idempotency-Key", "same")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var a answer
			json.NewDecoder(resp.Body).Decode(&a)
			ids[i] = a.ID
		}()
	}
	close(start)
	wg.Wait()
	if got := sim.Charges(); got != 1 {
		t.Errorf("got %d charges, want 1", got)
	}
	for i, id := range ids {
		if id == "" || id != ids[0] {
			t.Errorf("request %d: got id %q, want %q", i, id, ids[0])
		}
	}
}

func TestSimulatorRefuses(t *testing.T) {
	tests := []struct {
		name, key, body string
		want            int
		code            string
	}{
		{"no key", "", body4242, 400, "invalid_idempotency_key"},
		{"key with space", "a b", body4242, 400, "invalid_idempotency_key"},
		{"key too long", strings.Repeat("k", 256), body4242, 400, "invalid_idempotency_key"},
		{"empty body", "k", "", 400, "malformed"},
		{"not json", "k", "amount=1", 400, "malformed"},
		{"array", "k", "[]", 400, "malformed"},
		{"null", "k", "null", 400, "invalid_amount"},
		{"unknown field", "k", strings.Replace(body4242, `"reference"`, `"pin":"1234","reference"`, 1), 400, "malformed"},
		{"number as json number", "k", strings.Replace(body4242, `"4242 4242 4242 4242"`, `4242424242424242`, 1), 400, "malformed"},
		{"float amount", "k", strings.Replace(body4242, "25900", "259.5", 1), 400, "malformed"},
		{"zero amount", "k", strings.Replace(body4242, "25900", "0", 1), 400, "invalid_amount"},
		{"negative amount", "k", strings.Replace(body4242, "25900", "-1", 1), 400, "invalid_amount"},
		{"lowercase currency", "k", strings.Replace(body4242, "SEK", "sek", 1), 400, "invalid_currency"},
		{"no number", "k", strings.Replace(body4242, "4242 4242 4242 4242", "", 1), 400, "missing_number"},
		{"long reference", "k", strings.Replace(body4242, "A-1001", strings.Repeat("r", 256), 1), 400, "invalid_reference"},
		{"trailing data", "k", body4242 + "{}", 400, "malformed"},
		{"huge body", "k", `{"reference":"` + strings.Repeat("r", 20000) + `"}`, 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := cards.NewSimulator(func() time.Time { return now })
			w := post(sim.Handler(), tt.key, tt.body)
			if w.Code != tt.want {
				t.Fatalf("got %d %s, want %d", w.Code, w.Body, tt.want)
			}
			a := decode(t, w)
			if a.Error == nil || a.Error.Code != tt.code {
				t.Errorf("got %s, want code %s", w.Body, tt.code)
			}
			if l := leaks(w.Body.String(), "4242424242424242"); l != "" {
				t.Errorf("got %q in the refusal %s", l, w.Body)
			}
			if sim.Charges() != 0 {
				t.Errorf("got %d charges, want 0", sim.Charges())
			}
			// A refused request is not recorded: the key is still free.
			if tt.code != "invalid_idempotency_key" {
				if g := get(sim.Handler(), tt.key); g.Code != http.StatusNotFound {
					t.Errorf("lookup after refusal: got %d, want 404", g.Code)
				}
			}
		})
	}
}

func TestSimulatorLookup(t *testing.T) {
	clk := clocktest.At(now)
	sim := cards.NewSimulator(clk.Now)
	h := sim.Handler()
	w := get(h, "never-sent")
	if w.Code != http.StatusNotFound {
		t.Fatalf("got %d, want 404", w.Code)
	}
	if a := decode(t, w); a.Error == nil || a.Error.Code != "not_found" {
		t.Errorf("got %s, want code not_found", w.Body)
	}
	if w := get(h, ""); w.Code != http.StatusBadRequest {
		t.Errorf("no key: got %d, want 400", w.Code)
	}
	decline := strings.Replace(body4242, "4242 4242 4242 4242", "4000000000000002", 1)
	post(h, "declined", decline)
	if a := decode(t, get(h, "declined")); a.Status != "declined" || a.DeclineCode != "card_declined" {
		t.Errorf("got %+v, want declined card_declined", a)
	}

	// Records expire after the retention, by the injected clock.
	post(h, "old", body4242)
	clk.Advance(cards.DefaultRetention)
	if w := get(h, "old"); w.Code != http.StatusOK {
		t.Errorf("at the retention: got %d, want 200", w.Code)
	}
	clk.Advance(time.Second)
	if w := get(h, "old"); w.Code != http.StatusNotFound {
		t.Errorf("after the retention: got %d, want 404", w.Code)
	}
}

func TestSimulatorExpiryByClock(t *testing.T) {
	clk := clocktest.At(now)
	sim := cards.NewSimulator(clk.Now)
	body := strings.Replace(body4242, "2030", "2026", 1) // expires end of December 2026
	if a := decode(t, post(sim.Handler(), "k1", body)); a.Status != "approved" {
		t.Errorf("before expiry: got %+v, want approved", a)
	}
	clk.Advance(365 * 24 * time.Hour)
	if a := decode(t, post(sim.Handler(), "k2", body)); a.Status != "declined" || a.DeclineCode != cards.CodeExpiredCard {
		t.Errorf("after expiry: got %+v, want declined expired_card", a)
	}
}

func TestSimulatorStallEndsWithCaller(t *testing.T) {
	sim := cards.NewSimulator(func() time.Time { return now })
	sim.Stall = 20 * time.Millisecond
	body := strings.Replace(body4242, "4242 4242 4242 4242", "4000000000003220", 1)
	start := time.Now()
	w := post(sim.Handler(), "k1", body)
	if w.Code != http.StatusOK || decode(t, w).Status != "approved" {
		t.Errorf("got %d %s, want 200 approved after the stall", w.Code, w.Body)
	}
	if d := time.Since(start); d < sim.Stall {
		t.Errorf("answered after %v, want at least the stall %v", d, sim.Stall)
	}
	if got := sim.Charges(); got != 1 {
		t.Errorf("got %d charges, want 1", got)
	}
	io.Copy(io.Discard, w.Body)
}
