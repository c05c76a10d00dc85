package ratelimit_test

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"kassa/clocktest"
	"kassa/ratelimit"
)

func TestLimiter(t *testing.T) {
	c := clocktest.At(time.Unix(1_700_000_000, 0))
	l := ratelimit.New(1, 0, c.Now) // 1/s per merchant: a burst of 2
	for i := range 2 {
		if _, ok := l.Allow("m", "10.0.0.1"); !ok {
			t.Fatalf("request %d of the burst: refused", i+1)
		}
	}
	if wait, ok := l.Allow("m", "10.0.0.2"); ok || wait != 1 {
		t.Fatalf("after the burst: got %d, %v, want 1, false", wait, ok)
	}
	if _, ok := l.Allow("other", "10.0.0.1"); !ok {
		t.Fatal("another merchant: refused, want its own bucket")
	}
	c.Advance(time.Second)
	if _, ok := l.Allow("m", "10.0.0.1"); !ok {
		t.Fatal("a second later: refused, want a new token")
	}
}

// TestSlowRate: a rate below one a second still lets a request through
// now and then (the burst is at least one request).
func TestSlowRate(t *testing.T) {
	c := clocktest.At(time.Unix(1_700_000_000, 0))
	l := ratelimit.New(0.2, 0, c.Now) // one request every five seconds
	if _, ok := l.Allow("m", "10.0.0.1"); !ok {
		t.Fatal("first request: refused, want it through")
	}
	if wait, ok := l.Allow("m", "10.0.0.1"); ok || wait != 5 {
		t.Fatalf("second request: got %d, %v, want 5, false", wait, ok)
	}
	c.Advance(5 * time.Second)
	if _, ok := l.Allow("m", "10.0.0.1"); !ok {
		t.Fatal("five seconds later: refused, want it through")
	}
}

func TestLimiterRefusalTakesNoToken(t *testing.T) {
	c := clocktest.At(time.Unix(1_700_000_000, 0))
	l := ratelimit.New(100, 1, c.Now) // the client's limit is the tight one
	l.Allow("m", "a")
	l.Allow("m", "a")
	for range 10 {
		if _, ok := l.Allow("m", "a"); ok {
			t.Fatal("client over its limit: allowed")
		}
	}
	// The refusals took nothing from the merchant's bucket of 200: the
	// two allowed requests did, so 198 are left.
	for i := range 198 {
		if _, ok := l.Allow("m", fmt.Sprint("b", i)); !ok {
			t.Fatalf("merchant request %d: refused", i)
		}
	}
	if _, ok := l.Allow("m", "c"); ok {
		t.Fatal("merchant over its limit: allowed")
	}
}

func TestAllowClientTakesNothingFromMerchants(t *testing.T) {
	c := clocktest.At(time.Unix(1_700_000_000, 0))
	l := ratelimit.New(1, 1, c.Now)
	l.AllowClient("a")
	l.AllowClient("a")
	if _, ok := l.AllowClient("a"); ok {
		t.Fatal("client over its limit: allowed")
	}
	if _, ok := l.Allow("m", "b"); !ok {
		t.Fatal("the merchant's first request: refused, want its bucket untouched")
	}
}

func TestClientKey(t *testing.T) {
	for addr, want := range map[string]string{"10.0.0.1:5555": "10.0.0.1", "[::1]:80": "[::1]", "pipe": "pipe"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		r.Header.Set("X-Forwarded-For", "1.2.3.4")
		if got := ratelimit.ClientKey(r); got != want {
			t.Errorf("ClientKey(%q): got %q, want %q", addr, got, want)
		}
	}
}

func ExampleLimiter_Allow() {
	l := ratelimit.New(1, 10, nil) // 1 request/s per merchant, 10/s per client address
	for range 3 {
		wait, ok := l.Allow("demo", "203.0.113.7")
		fmt.Println(ok, wait)
	}
	// Output:
	// true 1
	// true 1
	// false 1
}
