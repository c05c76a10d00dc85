package router_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"kassa/router"
)

// backend is a region stand-in that counts the requests it got.
type backend struct {
	*httptest.Server
	name string
	hits atomic.Int64
}

// newBackend serves h (nil: answer 200 with the backend's name and the
// headers it got) and /readyz (200).
func newBackend(t *testing.T, name string, h http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{name: name}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			w.WriteHeader(http.StatusOK)
			return
		}
		b.hits.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"region": name, "header": r.Header, "body": string(body), "host": r.Host})
	}))
	t.Cleanup(b.Close)
	return b
}

// dead returns the URL of a region that refuses connections.
func dead(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u
}

func newRouter(t *testing.T, cfg router.Config) *httptest.Server {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	rt, err := router.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(rt)
	t.Cleanup(s.Close)
	return s
}

type answer struct {
	status int
	Region string      `json:"region"`
	Header http.Header `json:"header"`
	Body   string      `json:"body"`
	Host   string      `json:"host"`
	header http.Header
	raw    string
}

func send(t *testing.T, method, url, key, body string, h ...string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, header: res.Header, raw: string(b)}
	json.Unmarshal(b, &a)
	return a
}

func TestSpreadsRoundRobin(t *testing.T) {
	bs := []*backend{newBackend(t, "r1", nil), newBackend(t, "r2", nil), newBackend(t, "r3", nil)}
	rt := newRouter(t, router.Config{Regions: []string{bs[0].URL, bs[1].URL, bs[2].URL}})
	var got []string
	for range 6 {
		a := send(t, "GET", rt.URL+"/v1/orders/x", "", "")
		got = append(got, a.Region)
	}
	if want := "r1 r2 r3 r1 r2 r3"; strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
}

func TestPinnedPathsGoToTheFirstReadyRegion(t *testing.T) {
	bs := []*backend{newBackend(t, "r1", nil), newBackend(t, "r2", nil)}
	rt := newRouter(t, router.Config{Regions: []string{bs[0].URL, bs[1].URL}, Pinned: []string{"/admin/"}})
	var got []string
	// Only the unpinned move the rotation on.
	for _, path := range []string{"/v1/orders/o1", "/admin/", "/administrator", "/admin/api/orders/o1"} {
		got = append(got, send(t, "GET", rt.URL+path, "", "").Region)
	}
	if want := "r1 r1 r2 r1"; strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	bs[0].Close()
	if a := send(t, "GET", rt.URL+"/admin/", "", ""); a.Region != "r2" {
		t.Fatalf("with r1 down: got %q, want r2", a.Region)
	}
}

func TestFailsOverOnARegionThatIsDown(t *testing.T) {
	live := newBackend(t, "r2", nil)
	for _, tt := range []struct{ name, method, key string }{
		{"get", "GET", ""},
		{"post with a key", "POST", "k1"},
		// Nothing was sent when the connection was refused.
		{"post without a key, refused", "POST", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rt := newRouter(t, router.Config{Regions: []string{dead(t), live.URL}})
			for i := range 3 {
				if a := send(t, tt.method, rt.URL+"/v1/sessions", tt.key, `{"n":1}`); a.status != 200 || a.Region != "r2" || a.Body != `{"n":1}` {
					t.Fatalf("request %d: got %d from %q with body %q, want 200 from r2 with the body", i, a.status, a.Region, a.Body)
				}
			}
		})
	}
}

// hangUp is a region that reads the whole request and then drops the
// connection without an answer: it may have done what was asked.
func hangUp(w http.ResponseWriter, r *http.Request) {
	io.ReadAll(r.Body)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestDoesNotReplayAPostWithoutAKey(t *testing.T) {
	for _, tt := range []struct {
		name        string
		key         string
		status      int
		secondHits  int64
		firstRegion int64
	}{
		{"without a key", "", http.StatusBadGateway, 0, 1},
		{"with a key", "k-2", http.StatusOK, 1, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			first := newBackend(t, "r1", hangUp)
			second := newBackend(t, "r2", nil)
			rt := newRouter(t, router.Config{Regions: []string{first.URL, second.URL}})
			a := send(t, "POST", rt.URL+"/v1/orders/o/captures", tt.key, `{"amount":100}`)
			if a.status != tt.status || first.hits.Load() != tt.firstRegion || second.hits.Load() != tt.secondHits {
				t.Fatalf("got %d (%s), r1 %d hits, r2 %d; want %d, r1 %d, r2 %d", a.status, a.raw, first.hits.Load(), second.hits.Load(), tt.status, tt.firstRegion, tt.secondHits)
			}
			if tt.status == http.StatusBadGateway && !strings.Contains(a.raw, `"code":"bad_gateway"`) {
				t.Fatalf("got %s, want kassa's error shape", a.raw)
			}
		})
	}
}

func TestFailsOverWhenARegionDoesNotAnswerInTime(t *testing.T) {
	release := make(chan struct{})
	slow := newBackend(t, "r1", func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	fast := newBackend(t, "r2", nil)
	rt := newRouter(t, router.Config{Regions: []string{slow.URL, fast.URL}, ResponseTimeout: 100 * time.Millisecond})
	if a := send(t, "GET", rt.URL+"/v1/orders/x", "", ""); a.status != 200 || a.Region != "r2" {
		t.Fatalf("got %d from %q, want 200 from r2", a.status, a.Region)
	}
}

func TestSkipsARegionThatIsNotReady(t *testing.T) {
	var ready atomic.Bool
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" && !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"region":"r1"}`))
	}))
	defer notReady.Close()
	live := newBackend(t, "r2", nil)
	rt, err := router.New(router.Config{Regions: []string{notReady.URL, live.URL}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(rt)
	defer s.Close()
	rt.Check(context.Background())
	if up := rt.Up(); up[notReady.URL] || !up[live.URL] {
		t.Fatalf("got %v, want r1 down and r2 up", up)
	}
	for i := range 4 {
		if a := send(t, "GET", s.URL+"/v1/orders/x", "", ""); a.Region != "r2" {
			t.Fatalf("request %d: got %q, want r2 while r1 is not ready", i, a.Region)
		}
	}
	ready.Store(true)
	rt.Check(context.Background())
	regions := map[string]bool{}
	for range 4 {
		regions[send(t, "GET", s.URL+"/v1/orders/x", "", "").Region] = true
	}
	if !regions["r1"] || !regions["r2"] {
		t.Fatalf("got answers from %v, want both once r1 is ready", regions)
	}
}

func TestHeaders(t *testing.T) {
	b := newBackend(t, "r1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Proxy-Authenticate", "Basic")
		w.Header().Set("Kassa-Correlation-Id", "c-1")
		json.NewEncoder(w).Encode(map[string]any{"header": r.Header, "host": r.Host})
	})
	rt := newRouter(t, router.Config{Regions: []string{b.URL}})
	a := send(t, "POST", rt.URL+"/v1/sessions", "k-3", "{}",
		"Connection", "X-Secret", "X-Secret", "1", "Keep-Alive", "timeout=5", "Proxy-Authorization", "Basic eA==",
		"Te", "gzip", "X-Forwarded-For", "6.6.6.6", "X-Forwarded-Proto", "https", "Authorization", "Basic ZGVtbzp4")
	for _, h := range []string{"X-Secret", "Keep-Alive", "Proxy-Authorization", "Te"} {
		if v := a.Header.Get(h); v != "" {
			t.Errorf("hop-by-hop %s reached the region: %q", h, v)
		}
	}
	if got := a.Header.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For: got %q, want the connecting address 127.0.0.1, not the client's claim", got)
	}
	if got := a.Header.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("X-Forwarded-Proto: got %q, want http", got)
	}
	if got := a.Header.Get("X-Forwarded-Host"); got != strings.TrimPrefix(rt.URL, "http://") {
		t.Errorf("X-Forwarded-Host: got %q, want %s", got, rt.URL)
	}
	if a.Header.Get("Authorization") == "" || a.Header.Get("Idempotency-Key") != "k-3" {
		t.Errorf("end-to-end headers lost: %v", a.Header)
	}
	if a.header.Get("Proxy-Authenticate") != "" || a.header.Get("Kassa-Correlation-Id") != "c-1" {
		t.Errorf("response headers: got %v, want Proxy-Authenticate stripped and the rest kept", a.header)
	}
}

func TestBodyLimit(t *testing.T) {
	b := newBackend(t, "r1", nil)
	rt := newRouter(t, router.Config{Regions: []string{b.URL}, MaxBodyBytes: 1024})
	if a := send(t, "POST", rt.URL+"/v1/sessions", "k", strings.Repeat("x", 1024)); a.status != 200 {
		t.Fatalf("a body at the limit: got %d, want 200", a.status)
	}
	// Announced in Content-Length, and sent chunked without one.
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(strings.Repeat("x", 1025))
		if chunked {
			body = io.MultiReader(body)
		}
		req, _ := http.NewRequest("POST", rt.URL+"/v1/sessions", body)
		req.Header.Set("Idempotency-Key", "k")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(raw), "body_too_large") {
			t.Fatalf("chunked %v: got %d %s, want 413 body_too_large", chunked, res.StatusCode, raw)
		}
	}
	if n := b.hits.Load(); n != 1 {
		t.Fatalf("the region got %d requests, want only the one within the limit", n)
	}
}

func TestNewRefusesBadRegions(t *testing.T) {
	for _, regions := range [][]string{nil, {"127.0.0.1:8081"}, {"http://127.0.0.1:8081/x"}, {"http://u:p@127.0.0.1:8081"}, {"http://a:1", "http://a:1/"}} {
		if _, err := router.New(router.Config{Regions: regions}); err == nil {
			t.Errorf("New(%v): got nil, want an error", regions)
		}
	}
}
