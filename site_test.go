package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// sessionAnswer is what the site tests read of a session answer.
type sessionAnswer struct {
	ID          string `json:"id"`
	CheckoutURL string `json:"checkout_url"`
	Region      string `json:"region"`
}

// postSession creates a session for the demo merchant at base and returns
// the answer, failing the test on anything but 201.
func postSession(t *testing.T, base, key string) sessionAnswer {
	t.Helper()
	body := fmt.Sprintf(`{"amount":1000,"currency":"SEK","country":"SE","merchant_reference":%q,
		"lines":[{"name":"Socks","quantity":2,"unit_price":500,"total":1000}],
		"urls":{"confirmation":"https://shop.example/ok","cancel":"https://shop.example/cart"}}`, key)
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/sessions", strings.NewReader(body))
	req.SetBasicAuth("demo", "sk_test_demo")
	req.Header.Set("Idempotency-Key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var s sessionAnswer
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s/v1/sessions: got %d (%v), want 201", base, res.StatusCode, err)
	}
	return s
}

// TestSiteURLNamesCheckoutLinks: site_url, not the region's public_url,
// is the base of a session's checkout_url, and the region still answers
// on its own address.
func TestSiteURLNamesCheckoutLinks(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	base, stop := startServe(t, nil, "--data-dir", dir, "--site-url", "https://pay.example/")
	defer stop()
	s := postSession(t, base, "site-1")
	if want := "https://pay.example/checkout/" + s.ID; s.CheckoutURL != want {
		t.Fatalf("checkout_url: got %q, want %q", s.CheckoutURL, want)
	}
	code, body := get(t, base+"/checkout/"+s.ID)
	if code != http.StatusOK {
		t.Fatalf("the hosted page at the region's own address: got %d %.200s", code, body)
	}
}

// TestSiteURLDefaultsToPublicURL: without site_url the links name the
// region's public_url, as before site_url existed.
func TestSiteURLDefaultsToPublicURL(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	base, stop := startServe(t, nil, "--data-dir", dir, "--public-url", "http://r1.kassa.test:8080")
	defer stop()
	s := postSession(t, base, "site-2")
	if want := "http://r1.kassa.test:8080/checkout/" + s.ID; s.CheckoutURL != want {
		t.Fatalf("checkout_url: got %q, want %q", s.CheckoutURL, want)
	}
}
