package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"kassa/client"
)

// fakeKassa stands in for a kassa region's merchant API: sessions and
// their authorization, answered once per Idempotency-Key.
func fakeKassa() http.Handler {
	var mu sync.Mutex
	done := map[string]string{} // Idempotency-Key -> answer
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		key := r.Header.Get("Idempotency-Key")
		if _, _, ok := r.BasicAuth(); !ok || key == "" {
			http.Error(w, `{"error":{"code":"invalid_request","message":"no key"}}`, http.StatusBadRequest)
			return
		}
		if _, ok := done[key]; !ok {
			switch {
			case r.URL.Path == "/v1/sessions":
				done[key] = `{"id":"ses_1","status":"open"}`
			case strings.HasSuffix(r.URL.Path, "/authorize"):
				done[key] = `{"id":"ord_1","status":"authorized"}`
			default:
				http.NotFound(w, r)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, done[key])
	})
}

// A merchant lists two regions. The first is down (its listener is
// closed), so both the session and its authorization are answered by the
// second, each under one Idempotency-Key that would be reused if it had to
// be retried anywhere else; the authorization goes straight to the second
// region, which answered last.
func ExampleClient_Do() {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	up := httptest.NewServer(fakeKassa())
	defer up.Close()

	c, err := client.New(client.Config{
		Regions:  []string{down.URL, up.URL},
		Merchant: "demo",
		Secret:   "sk_test_demo",
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	res, err := c.CreateSession(ctx, client.NewKey(), map[string]any{
		"amount": 1000, "currency": "SEK", "country": "SE", "merchant_reference": "order-1001",
		"lines": []map[string]any{{"name": "Mug", "quantity": 1, "unit_price": 1000, "total": 1000}},
		"urls":  map[string]string{"confirmation": "https://shop.example/ok", "cancel": "https://shop.example/cart"},
	})
	if err != nil {
		log.Fatal(err)
	}
	var session struct{ ID string }
	if err := res.Decode(&session); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("session %s: %d after %d attempts, second region: %v\n", session.ID, res.Status, res.Attempts, res.Region == up.URL)

	res, err = c.Authorize(ctx, client.NewKey(), session.ID, json.RawMessage(`{"method":"pay_later","consumer":{"email":"shopper@example.com"}}`))
	if err != nil {
		log.Fatal(err)
	}
	var order struct{ ID, Status string }
	if err := res.Decode(&order); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("order %s %s: %d after %d attempt, second region: %v\n", order.ID, order.Status, res.Status, res.Attempts, res.Region == up.URL)
	// Output:
	// session ses_1: 201 after 2 attempts, second region: true
	// order ord_1 authorized: 201 after 1 attempt, second region: true
}
