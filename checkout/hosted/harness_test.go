package hosted_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"kassa/region"
	"kassa/region/regiontest"
)

// The pages are tested as a shopper meets them: a whole region over HTTP,
// driven through the merchant API to make sessions.

type testRegion struct {
	url  string
	r    *region.Region
	logs *regiontest.LogBuffer
}

func testConfig(dir, listen string) region.Config {
	return regiontest.Config("r1", dir, listen)
}

// startRegion starts a region with no peers on loopback, its config
// changed by tune (may be nil), and stops it when the test ends.
func startRegion(t testing.TB, tune func(*region.Config)) *testRegion {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(filepath.Join(t.TempDir(), "r1"), ln.Addr().String())
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := region.EnsureKey(cfg.KeyFile); err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(&cfg)
	}
	tr := &testRegion{url: cfg.PublicURL, logs: &regiontest.LogBuffer{}}
	log := slog.New(slog.NewTextHandler(tr.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := region.New(context.Background(), cfg, log)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	tr.r = r
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		r.Close()
	})
	waitReady(t, tr.url)
	return tr
}

func waitReady(t testing.TB, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(10 * time.Millisecond) // polling readiness, not standing in for an event
	}
	t.Fatalf("%s never became ready", base)
}

type response struct {
	status int
	body   map[string]any
	raw    string
}

func (r response) str(path ...string) string {
	var v any = r.body
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

// call sends a merchant API request as the demo merchant.
func call(t testing.TB, method, url, key string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.SetBasicAuth("demo", "sk_test_demo")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, raw: string(raw)}
	json.Unmarshal(raw, &out.body)
	return out
}

func sessionBody(amount int64, ref string) map[string]any {
	return map[string]any{
		"amount": amount, "currency": "SEK", "country": "SE", "merchant_reference": ref,
		"lines": []map[string]any{{"name": "Shoes", "quantity": 1, "unit_price": amount, "total": amount}},
		"urls":  map[string]any{"confirmation": "https://shop.example/ok", "cancel": "https://shop.example/cart"},
	}
}
