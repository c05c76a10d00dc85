package merchantapi_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/gorilla/mux"

	"kassa/checkout"
	"kassa/checkout/merchantapi"
	"kassa/ledger"
)

// The merchant API is mounted on a region's router over its checkout
// service. The OpenAPI document is public; everything else needs the
// merchant's id and secret, and every POST an Idempotency-Key, under which
// a retry gets the same session back.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "merchantapi-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	store, err := ledger.Open(ctx, ledger.Options{
		Path: filepath.Join(dir, "eu-north.db"), Region: "eu-north",
		Key: key, Keys: ledger.Keys{"eu-north": key.Public().(ed25519.PublicKey)}, Logger: quiet,
	})
	if err != nil {
		panic(err)
	}
	defer store.Close()

	// Creating a session needs no scorer, acquirer or peers.
	svc := checkout.New(store, nil, nil, nil, checkout.Config{
		Region: "eu-north", PublicURL: "https://eu-north.kassa.example",
		Merchants: []checkout.MerchantConfig{{ID: "demo", Name: "Demo Shop", APISecret: "sk_test_demo"}},
		Logger:    quiet,
	})
	r := mux.NewRouter()
	merchantapi.New(svc, nil, nil, quiet).Routes(r)

	do := func(method, path, idempotencyKey, secret, body string) *http.Response {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if secret != "" {
			req.SetBasicAuth("demo", secret)
		}
		if idempotencyKey != "" {
			req.Header.Set("Idempotency-Key", idempotencyKey)
		}
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w.Result()
	}

	var doc struct {
		OpenAPI string `json:"openapi"`
	}
	res := do("GET", "/v1/openapi.json", "", "", "")
	json.NewDecoder(res.Body).Decode(&doc)
	fmt.Println("openapi.json:", res.StatusCode, "OpenAPI", doc.OpenAPI)

	session := `{"amount": 129900, "currency": "SEK", "country": "SE", "merchant_reference": "cart-1842",
		"lines": [{"name": "Running shoes", "quantity": 1, "unit_price": 129900, "total": 129900}],
		"urls": {"confirmation": "https://shop.example/ok", "cancel": "https://shop.example/cart"}}`
	refused := func(what string, res *http.Response) {
		var e struct {
			Error struct{ Code, Field string }
		}
		json.NewDecoder(res.Body).Decode(&e)
		line := fmt.Sprint(what+": ", res.StatusCode, " ", e.Error.Code)
		if e.Error.Field != "" {
			line += " (field " + e.Error.Field + ")"
		}
		fmt.Println(line)
	}
	refused("wrong secret", do("POST", "/v1/sessions", "cart-1842", "wrong", session))
	refused("no key", do("POST", "/v1/sessions", "", "sk_test_demo", session))

	for _, what := range []string{"created", "retried"} {
		var s checkout.Session
		res := do("POST", "/v1/sessions", "cart-1842", "sk_test_demo", session)
		json.NewDecoder(res.Body).Decode(&s)
		fmt.Println(what+":", res.StatusCode, s.ID, s.Status, "replayed:", res.Header.Get("Idempotent-Replayed") == "true")
	}
	// The id is derived from the merchant and the key under the id key
	// every region shares (here the development default), in any region.
	fmt.Println(checkout.SessionIDs{Key: []byte(checkout.DemoIDKey)}.ID("demo", "cart-1842"))
	// Output:
	// openapi.json: 200 OpenAPI 3.0.3
	// wrong secret: 401 unauthorized
	// no key: 400 invalid_request (field Idempotency-Key)
	// created: 201 ses_xnrg7umjmox3minoq4ssgknz open replayed: false
	// retried: 201 ses_xnrg7umjmox3minoq4ssgknz open replayed: true
	// ses_xnrg7umjmox3minoq4ssgknz
}
