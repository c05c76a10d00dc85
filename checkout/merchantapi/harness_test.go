package merchantapi_test

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

// testRegion is one region serving on loopback.
type testRegion struct {
	url string
	r   *region.Region
}

// startRegion starts one region in this process on loopback, serving until
// the test ends.
func startRegion(t testing.TB, tune func(*region.Config)) *testRegion {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := regiontest.Config("r1", filepath.Join(t.TempDir(), "r1"), ln.Addr().String())
	cfg.Staff = nil
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(&cfg)
	}
	r, err := region.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
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
	tr := &testRegion{url: cfg.PublicURL, r: r}
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(tr.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return tr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("region at %s did not become ready", tr.url)
		}
		time.Sleep(10 * time.Millisecond) // polling readiness, not waiting for an event
	}
}

type response struct {
	status int
	header http.Header
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

// call sends an API request as the demo merchant.
func call(t testing.TB, method, url, key string, body any) response {
	t.Helper()
	return callAs(t, "demo", "sk_test_demo", method, url, key, body)
}

func callAs(t testing.TB, user, secret, method, url, key string, body any) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, url, rd)
	if user != "" {
		req.SetBasicAuth(user, secret)
	}
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
	out := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
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

func consumer(email string) map[string]any {
	return map[string]any{"email": email, "given_name": "Ada", "family_name": "Lovelace", "postal_code": "11122", "country": "SE"}
}

// authorized creates a session and authorizes it for pay later at base.
func authorized(t testing.TB, base, key string, amount int64) string {
	t.Helper()
	s := call(t, "POST", base+"/v1/sessions", key, sessionBody(amount, "ref-"+key))
	if s.status != 201 {
		t.Fatalf("create session: got %d %s", s.status, s.raw)
	}
	o := call(t, "POST", base+"/v1/sessions/"+s.str("id")+"/authorize", key+"-auth", map[string]any{"method": "pay_later", "consumer": consumer("ada+" + key + "@example.com")})
	if o.status != 201 || o.str("status") != "authorized" {
		t.Fatalf("authorize: got %d %s", o.status, o.raw)
	}
	return o.str("id")
}
