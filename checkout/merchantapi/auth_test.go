package merchantapi_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"kassa/region/regiontest"
	"log/slog"
	"net/http"
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
	"kassa/ratelimit"
)

// authEnv is the merchant API in process over a one-region ledger, with
// its throttle on a test clock and its log in a buffer.
type authEnv struct {
	handler http.Handler
	clock   *clocktest.Clock
	logs    *regiontest.LogBuffer
}

func newAuthEnv(t *testing.T) *authEnv {
	t.Helper()
	return newAuthEnvReady(t, nil)
}

// newAuthEnvReady is newAuthEnv with the API's readiness check.
func newAuthEnvReady(t *testing.T, ready func() bool) *authEnv {
	t.Helper()
	logs := &regiontest.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	store, err := ledger.Open(context.Background(), ledger.Options{
		Path: filepath.Join(t.TempDir(), "r1.db"), Region: "r1",
		Key: key, Keys: ledger.Keys{"r1": key.Public().(ed25519.PublicKey)}, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc := checkout.New(store, nil, nil, nil, checkout.Config{
		Region: "r1", PublicURL: "https://r1.kassa.example", Logger: log,
		Merchants: []checkout.MerchantConfig{{ID: "demo", APISecret: "sk_test_demo"}, {ID: "other", APISecret: "sk_test_other"}},
	})
	clk := clocktest.At(time.Unix(1_700_000_000, 0))
	r := mux.NewRouter()
	merchantapi.New(svc, nil, ready, log).WithThrottle(ratelimit.NewThrottle(clk.Now)).Routes(r)
	return &authEnv{handler: r, clock: clk, logs: logs}
}

// get lists orders as merchant id with secret from addr.
func (e *authEnv) get(addr, id, secret string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "/v1/orders?merchant_reference=x", nil)
	req.RemoteAddr = addr + ":50000"
	req.SetBasicAuth(id, secret)
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, req)
	return w
}

// TestFailedAuthenticationIsThrottledAndLogged: wrong secrets are
// throttled per client address and merchant id with 429 and Retry-After,
// each failure and refusal is logged with the address and the merchant id
// (never the secret), and the right secret from another address still
// works, also while the merchant id is under attack from many addresses.
func TestFailedAuthenticationIsThrottledAndLogged(t *testing.T) {
	e := newAuthEnv(t)
	const wrong = "sk_wrong_guess_7f3a"
	for i := range ratelimit.MaxPairFailures {
		if w := e.get("10.0.0.1", "demo", wrong); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong secret %d: got %d, want 401", i, w.Code)
		}
	}
	w := e.get("10.0.0.1", "demo", "sk_test_demo")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "900" ||
		!strings.Contains(w.Body.String(), `"too_many_attempts"`) || !strings.Contains(w.Body.String(), "for this merchant id from your address") {
		t.Fatalf("after %d wrong secrets: got %d (Retry-After %q) %s, want 429 too_many_attempts, Retry-After 900",
			ratelimit.MaxPairFailures, w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if w := e.get("10.0.0.2", "demo", "sk_test_demo"); w.Code != http.StatusOK {
		t.Fatalf("the right secret from another address: got %d, want 200: %s", w.Code, w.Body)
	}
	if w := e.get("10.0.0.1", "other", "sk_test_other"); w.Code != http.StatusOK {
		t.Fatalf("another merchant from the same address: got %d, want 200: %s", w.Code, w.Body)
	}

	logs := e.logs.String()
	failures := strings.Count(logs, `msg="merchantapi: failed authentication" client=10.0.0.1 merchant=demo`)
	throttled := strings.Count(logs, `msg="merchantapi: authentication throttled" client=10.0.0.1 merchant=demo scope="merchant from address" retry_after=900`)
	if failures != ratelimit.MaxPairFailures || throttled != 1 {
		t.Errorf("log: got %d failures and %d refusals logged, want %d and 1:\n%s", failures, throttled, ratelimit.MaxPairFailures, logs)
	}

	// A secret sent as the id, or an id that would forge a log line, is
	// not logged as sent.
	e.get("10.0.0.3", "sk_test_demo", "demo")
	e.get("10.0.0.3", "demo\nlevel=ERROR msg=forged", "x")
	e.get("10.0.0.3", strings.Repeat("d", 45<<10), "x")
	logs = e.logs.String()
	for _, leak := range []string{wrong, "sk_test_demo", "forged", "ddddd"} {
		if strings.Contains(logs, leak) {
			t.Errorf("the log contains %q:\n%s", leak, logs)
		}
	}
	for _, want := range []string{`merchant="(not a merchant id, 12 bytes)"`, `merchant="(not a merchant id, 46080 bytes)" reason="merchant id too long"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log does not say %s:\n%s", want, logs)
		}
	}

	// 300 wrong secrets from 100 addresses: each address gets a few, and
	// the merchant's own server, elsewhere, is never refused.
	refused := 0
	for i := range 300 {
		if w := e.get(fmt.Sprintf("10.1.0.%d", i/3), "demo", wrong); w.Code == http.StatusTooManyRequests {
			refused++
		}
	}
	if w := e.get("192.0.2.1", "demo", "sk_test_demo"); w.Code != http.StatusOK {
		t.Fatalf("the right secret from a fresh address after 300 wrong ones elsewhere: got %d, want 200: %s", w.Code, w.Body)
	}
	if refused != 0 {
		t.Errorf("three guesses per address: %d refused, want none", refused)
	}
	for range ratelimit.MaxTargetedPairFailures {
		e.get("10.2.0.1", "demo", wrong)
	}
	if w := e.get("10.2.0.1", "demo", wrong); w.Code != http.StatusTooManyRequests {
		t.Errorf("a fourth guess from one address at a targeted merchant id: got %d, want 429", w.Code)
	}

	e.clock.Advance(ratelimit.FailWindow)
	if w := e.get("10.0.0.1", "demo", "sk_test_demo"); w.Code != http.StatusOK {
		t.Fatalf("after the window: got %d, want 200: %s", w.Code, w.Body)
	}
}

// TestAbandonedRequestIsNotAnError: a request whose client went away
// before it was answered (its context cancelled) fails, but that is the
// client's doing: it is logged as abandoned, not as an ERROR.
func TestAbandonedRequestIsNotAnError(t *testing.T) {
	e := newAuthEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/v1/orders?merchant_reference=x", nil).WithContext(ctx)
	req.SetBasicAuth("demo", "sk_test_demo")
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, req)
	logs := e.logs.String()
	if w.Code < 500 || !strings.Contains(logs, "abandoned by the client") || strings.Contains(logs, "level=ERROR") {
		t.Fatalf("got %d and logs:\n%s\nwant a 5xx logged as abandoned, no ERROR", w.Code, logs)
	}
}

// TestRefusalForNowIsNotAnError: a 503 with Retry-After (here the region
// is not ready yet; in a partition, object_unavailable or
// rights_unavailable) is logged as a warning with its code, not as a
// failed request at ERROR: during a partition every request that needs
// the other side gets one.
func TestRefusalForNowIsNotAnError(t *testing.T) {
	e := newAuthEnvReady(t, func() bool { return false })
	req := httptest.NewRequest("POST", "/v1/sessions", strings.NewReader(`{}`))
	req.SetBasicAuth("demo", "sk_test_demo")
	req.Header.Set("Idempotency-Key", "k1")
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, req)
	got := e.logs.String()
	if w.Code != 503 || !strings.Contains(got, "level=WARN") || !strings.Contains(got, "code=not_ready") || strings.Contains(got, "level=ERROR") {
		t.Fatalf("got %d and logs:\n%s\nwant a 503 logged as a warning with its code, no ERROR", w.Code, got)
	}
}
