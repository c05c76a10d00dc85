package merchantapi_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"kassa/checkout"
	"kassa/checkout/merchantapi"
	"kassa/clocktest"
	"kassa/ledger"
	"kassa/scoring"
)

// TestExtendStopsAt180Days: each extend adds auth_ttl, but an
// authorization never lives beyond 180 days after it was authorized: the
// extend that would go further stops there, and the next one is 409
// invalid_state naming the date.
func TestExtendStopsAt180Days(t *testing.T) {
	ctx := context.Background()
	authorizedAt := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	clock := clocktest.At(authorizedAt)
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := ledger.Open(ctx, ledger.Options{Path: filepath.Join(t.TempDir(), "r1.db"), Region: "r1", Key: key,
		Keys: ledger.Keys{"r1": key.Public().(ed25519.PublicKey)}, Logger: quiet, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	credit := scoring.New(store, scoring.Config{Region: "r1", Logger: quiet, Now: clock.Now, Policy: scoring.Policy{MaxPayLater: 1_000_000,
		CreditLimit: map[string]int64{"SEK": 1_000_000}, GraceDays: 5}})
	const ttl = 28 * 24 * time.Hour
	svc := checkout.New(store, credit, nil, nil, checkout.Config{Region: "r1", PublicURL: "https://r1.kassa.example", Logger: quiet,
		Now: clock.Now, AuthTTL: ttl, Merchants: []checkout.MerchantConfig{{ID: "demo", APISecret: "sk_test_demo"}}})
	r := mux.NewRouter()
	merchantapi.New(svc, nil, nil, quiet).Routes(r)
	type answer struct {
		status  int
		replay  bool
		expires time.Time
		code    string
		message string
		id      string
	}
	post := func(path, idempotencyKey, body string) answer {
		t.Helper()
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.SetBasicAuth("demo", "sk_test_demo")
		req.Header.Set("Idempotency-Key", idempotencyKey)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		var v struct {
			ID        string    `json:"id"`
			ExpiresAt time.Time `json:"expires_at"`
			Error     struct{ Code, Message string }
		}
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Fatalf("%s: %v in %s", path, err, w.Body)
		}
		return answer{w.Code, w.Header().Get("Idempotent-Replayed") == "true", v.ExpiresAt, v.Error.Code, v.Error.Message, v.ID}
	}

	s := post("/v1/sessions", "order-1", `{"amount": 25900, "currency": "SEK", "country": "SE", "merchant_reference": "A-1",
		"lines": [{"name": "Shoes", "quantity": 1, "unit_price": 25900, "total": 25900}],
		"urls": {"confirmation": "https://shop.example/ok", "cancel": "https://shop.example/cart"}}`)
	o := post("/v1/sessions/"+s.id+"/authorize", "order-1-auth", `{"method": "pay_later",
		"consumer": {"email": "ada@example.com", "given_name": "Ada", "family_name": "Lovelace", "postal_code": "11122", "country": "SE"}}`)
	if o.status != 201 || !o.expires.Equal(authorizedAt.Add(ttl)) {
		t.Fatalf("authorize: got %d expiring %s, want 201 expiring %s", o.status, o.expires, authorizedAt.Add(ttl))
	}
	limit := authorizedAt.Add(180 * 24 * time.Hour)
	extend := "/v1/orders/" + o.id + "/extend"

	// Extended every 27 days, each time by 28 days from the expiry, until
	// the sixth would end past day 180 (28 + 6*28 = 196 days) and stops
	// there.
	want := authorizedAt.Add(ttl)
	for i := 1; i <= 6; i++ {
		clock.Advance(27 * 24 * time.Hour)
		want = want.Add(ttl)
		if want.After(limit) {
			want = limit
		}
		e := post(extend, fmt.Sprintf("ext-%d", i), "{}")
		if e.status != 200 || !e.expires.Equal(want) {
			t.Fatalf("extend %d: got %d %s expiring %s, want 200 expiring %s", i, e.status, e.message, e.expires, want)
		}
	}
	if !want.Equal(limit) {
		t.Fatalf("the test never reached the limit: expires %s, limit %s", want, limit)
	}

	// At the limit: refused, saying until when it lasts; nothing written.
	before := store.Digest()
	e := post(extend, "ext-7", "{}")
	if e.status != 409 || e.code != "invalid_state" || !strings.Contains(e.message, "180 days") ||
		!strings.Contains(e.message, limit.Format(time.RFC3339)) || !strings.Contains(e.message, authorizedAt.Format(time.RFC3339)) {
		t.Fatalf("extend at the limit: got %d %s %q, want 409 invalid_state naming 180 days, %s and %s", e.status, e.code, e.message, authorizedAt.Format(time.RFC3339), limit.Format(time.RFC3339))
	}
	if store.Digest() != before {
		t.Fatal("a refused extend changed the ledger")
	}
	// A retry of the extend that reached the limit still replays it.
	if e := post(extend, "ext-6", "{}"); e.status != 200 || !e.replay || !e.expires.Equal(limit) {
		t.Fatalf("replay of the capped extend: got %d (replayed %v) expiring %s, want 200 replayed expiring %s", e.status, e.replay, e.expires, limit)
	}
}
