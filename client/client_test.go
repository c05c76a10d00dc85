package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kassa/client"
)

// seen is one request a fake region got.
type seen struct {
	Method, Path, Key, Body string
	At                      time.Time
}

// region is a fake kassa region: answer decides each request's answer from
// its number (0-based) at this region. It records every request.
type region struct {
	*httptest.Server
	mu     sync.Mutex
	got    []seen
	answer func(n int, w http.ResponseWriter, r *http.Request)
}

func newRegion(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *region {
	t.Helper()
	rg := &region{answer: answer}
	rg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rg.mu.Lock()
		n := len(rg.got)
		rg.got = append(rg.got, seen{r.Method, r.URL.Path, r.Header.Get("Idempotency-Key"), string(b), time.Now()})
		rg.mu.Unlock()
		if u, p, ok := r.BasicAuth(); !ok || u != "demo" || p != "sk_test_demo" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		rg.answer(n, w, r)
	}))
	t.Cleanup(rg.Close)
	return rg
}

func (rg *region) requests() []seen {
	rg.mu.Lock()
	defer rg.mu.Unlock()
	return append([]seen(nil), rg.got...)
}

// status answers every request with code and, if retryAfter is not empty,
// a Retry-After header.
func status(code int, retryAfter string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":{"code":"c%d","message":"status %d","correlation_id":"x"}}`, code, code)
	}
}

func ok(_ int, w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, `{"id":"ord_1","status":"authorized"}`)
}

// blocking answers nothing until release is closed or the client hangs up.
func blocking(release <-chan struct{}) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

// closedURL is the URL of a listener that has been closed: connecting to it
// is refused.
func closedURL(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u
}

func mustNew(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	cfg.Merchant, cfg.Secret = "demo", "sk_test_demo"
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func post(t *testing.T, c *client.Client, key string) (*client.Response, error) {
	t.Helper()
	return c.Do(context.Background(), http.MethodPost, "/v1/sessions/s1/authorize", key, map[string]string{"method": "pay_later"})
}

func TestFailover(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	for _, tc := range []struct {
		name string
		down func(t *testing.T) string
	}{
		{"refused connection", closedURL},
		{"attempt timeout", func(t *testing.T) string { return newRegion(t, blocking(release)).URL }},
		{"503 with Retry-After", func(t *testing.T) string { return newRegion(t, status(503, "1")).URL }},
		{"503 without Retry-After", func(t *testing.T) string { return newRegion(t, status(503, "")).URL }},
		{"429", func(t *testing.T) string { return newRegion(t, status(429, "1")).URL }},
		{"502", func(t *testing.T) string { return newRegion(t, status(502, "")).URL }},
		{"504", func(t *testing.T) string { return newRegion(t, status(504, "")).URL }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			down := tc.down(t)
			good := newRegion(t, ok)
			c := mustNew(t, client.Config{Regions: []string{down, good.URL}, Attempt: 200 * time.Millisecond, Deadline: 5 * time.Second})
			res, err := post(t, c, "key-1")
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != http.StatusCreated || res.Region != good.URL || res.Attempts != 2 {
				t.Fatalf("got %d from %s after %d attempts, want 201 from %s after 2", res.Status, res.Region, res.Attempts, good.URL)
			}
			var o struct{ ID string }
			if err := res.Decode(&o); err != nil || o.ID != "ord_1" {
				t.Fatalf("Decode: got %q, %v, want ord_1", o.ID, err)
			}
		})
	}
}

func TestSameKeyInEveryRegion(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	regions := []*region{newRegion(t, status(503, "1")), newRegion(t, blocking(release)), newRegion(t, status(429, "")), newRegion(t, ok)}
	var urls []string
	for _, r := range regions {
		urls = append(urls, r.URL)
	}
	c := mustNew(t, client.Config{Regions: urls, Attempt: 200 * time.Millisecond})
	res, err := post(t, c, "order-42-authorize")
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 4 {
		t.Fatalf("got %d attempts, want 4", res.Attempts)
	}
	for i, r := range regions {
		got := r.requests()
		if len(got) != 1 {
			t.Fatalf("region %d: got %d requests, want 1", i, len(got))
		}
		if got[0].Key != "order-42-authorize" || got[0].Body != `{"method":"pay_later"}` {
			t.Errorf("region %d: got key %q body %s, want order-42-authorize and the same body", i, got[0].Key, got[0].Body)
		}
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	// One region that is not ready, then is: the second attempt must wait
	// for the Retry-After it was given.
	rg := newRegion(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			status(503, "1")(n, w, r)
			return
		}
		ok(n, w, r)
	})
	c := mustNew(t, client.Config{Regions: []string{rg.URL}, Deadline: 5 * time.Second})
	res, err := post(t, c, "k")
	if err != nil {
		t.Fatal(err)
	}
	got := rg.requests()
	if res.Status != 201 || res.Attempts != 2 || len(got) != 2 {
		t.Fatalf("got %d after %d attempts (%d requests), want 201 after 2", res.Status, res.Attempts, len(got))
	}
	if d := got[1].At.Sub(got[0].At); d < time.Second {
		t.Errorf("second attempt %v after the first, want at least the Retry-After of 1s", d)
	}
}

func TestPrefersRegionThatAnsweredLast(t *testing.T) {
	var mu sync.Mutex
	aDown, bDown := true, false
	flaky := func(down *bool) func(int, http.ResponseWriter, *http.Request) {
		return func(n int, w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			d := *down
			mu.Unlock()
			if d {
				status(503, "")(n, w, r)
				return
			}
			ok(n, w, r)
		}
	}
	a, b := newRegion(t, flaky(&aDown)), newRegion(t, flaky(&bDown))
	c := mustNew(t, client.Config{Regions: []string{a.URL, b.URL}})

	if res, err := post(t, c, "k1"); err != nil || res.Region != b.URL {
		t.Fatalf("first operation: got %v, %v, want an answer from b", res, err)
	}
	// a is back, but b answered last: b is asked first.
	mu.Lock()
	aDown = false
	mu.Unlock()
	for i := range 3 {
		res, err := post(t, c, fmt.Sprint("k2-", i))
		if err != nil || res.Region != b.URL || res.Attempts != 1 {
			t.Fatalf("operation %d: got %+v, %v, want b at the first attempt", i, res, err)
		}
	}
	if n := len(a.requests()); n != 1 {
		t.Fatalf("a got %d requests, want 1 (the first operation's)", n)
	}
	// b goes down: the answer comes from a, which is then preferred.
	mu.Lock()
	bDown = true
	mu.Unlock()
	if res, err := post(t, c, "k3"); err != nil || res.Region != a.URL || res.Attempts != 2 {
		t.Fatalf("got %+v, %v, want a after 2 attempts", res, err)
	}
	if res, err := post(t, c, "k4"); err != nil || res.Region != a.URL || res.Attempts != 1 {
		t.Fatalf("got %+v, %v, want a at the first attempt", res, err)
	}
}

func TestFinalAnswersNotRetried(t *testing.T) {
	for _, code := range []int{200, 201, 202, 400, 401, 402, 404, 409, 410, 413, 422, 500, 501} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			first, second := newRegion(t, status(code, "1")), newRegion(t, ok)
			c := mustNew(t, client.Config{Regions: []string{first.URL, second.URL}})
			res, err := post(t, c, "k")
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != code || res.Attempts != 1 || res.Region != first.URL {
				t.Fatalf("got %d from %s after %d attempts, want %d from the first region after 1", res.Status, res.Region, res.Attempts, code)
			}
			if n := len(second.requests()); n != 0 {
				t.Fatalf("second region got %d requests, want 0", n)
			}
			if code >= 300 {
				var e *client.Error
				if err := res.Decode(&struct{}{}); !errors.As(err, &e) || e.Status != code || e.Code != fmt.Sprint("c", code) {
					t.Fatalf("Decode: got %v, want *client.Error with status %d and code c%d", err, code, code)
				}
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	t.Run("Retry-After beyond the deadline", func(t *testing.T) {
		// Both regions ask to be left alone for longer than the deadline:
		// the client gives up at once with the last answer.
		a, b := newRegion(t, status(503, "30")), newRegion(t, status(429, "30"))
		c := mustNew(t, client.Config{Regions: []string{a.URL, b.URL}, Deadline: 5 * time.Second})
		start := time.Now()
		res, err := post(t, c, "k")
		if !errors.Is(err, client.ErrDeadline) {
			t.Fatalf("got %v, want ErrDeadline", err)
		}
		if res == nil || res.Status != 429 || res.Region != b.URL || res.Attempts != 2 {
			t.Fatalf("got %+v, want the last answer (429 from b) after 2 attempts", res)
		}
		if d := time.Since(start); d >= 5*time.Second {
			t.Fatalf("took %v, want less than the deadline", d)
		}
	})
	t.Run("regions that do not answer", func(t *testing.T) {
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		// a answers 503 with no Retry-After (so it may be asked again
		// soon); b never answers. The deadline cuts the operation short.
		a, b := newRegion(t, status(503, "")), newRegion(t, blocking(release))
		const deadline = 300 * time.Millisecond
		c := mustNew(t, client.Config{Regions: []string{a.URL, b.URL}, Attempt: time.Minute, Deadline: deadline})
		start := time.Now()
		res, err := post(t, c, "k")
		took := time.Since(start)
		if !errors.Is(err, client.ErrDeadline) {
			t.Fatalf("got %v, want ErrDeadline", err)
		}
		if res == nil || res.Status != 503 || res.Region != a.URL || res.Attempts != 2 {
			t.Fatalf("got %+v, want the last answer (503 from a) after 2 attempts", res)
		}
		if took < deadline || took > deadline+2*time.Second {
			t.Fatalf("took %v, want about the deadline of %v", took, deadline)
		}
	})
	t.Run("the caller's deadline", func(t *testing.T) {
		// The caller's deadline is sooner than the client's: giving up
		// says so at once, before ctx's own timer fires.
		a := newRegion(t, status(503, "30"))
		c := mustNew(t, client.Config{Regions: []string{a.URL}, Deadline: time.Minute})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := c.Do(ctx, http.MethodPost, "/v1/sessions", "k", nil)
		if !errors.Is(err, client.ErrDeadline) || !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			t.Fatalf("got %v (ctx %v), want ErrDeadline and context.DeadlineExceeded before ctx ended", err, ctx.Err())
		}
		if res == nil || res.Status != 503 {
			t.Fatalf("got %+v, want the 503", res)
		}
	})
	t.Run("the client's deadline", func(t *testing.T) {
		a := newRegion(t, status(503, "30"))
		c := mustNew(t, client.Config{Regions: []string{a.URL}, Deadline: 5 * time.Second})
		_, err := c.Do(context.Background(), http.MethodPost, "/v1/sessions", "k", nil)
		if !errors.Is(err, client.ErrDeadline) || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want ErrDeadline alone", err)
		}
	})
	t.Run("no answer at all", func(t *testing.T) {
		c := mustNew(t, client.Config{Regions: []string{closedURL(t)}, Deadline: 300 * time.Millisecond})
		res, err := post(t, c, "k")
		if !errors.Is(err, client.ErrDeadline) || res != nil {
			t.Fatalf("got %+v, %v, want no response and ErrDeadline", res, err)
		}
	})
	t.Run("cancelled by the caller", func(t *testing.T) {
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		a := newRegion(t, func(n int, w http.ResponseWriter, r *http.Request) { blocking(release)(n, w, r) })
		c := mustNew(t, client.Config{Regions: []string{a.URL}, Attempt: time.Minute, Deadline: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := c.Do(ctx, http.MethodGet, "/v1/orders/o1", "", nil)
			done <- err
		}()
		for len(a.requests()) == 0 {
			time.Sleep(time.Millisecond) // polling for the request to arrive
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) || errors.Is(err, client.ErrDeadline) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})
}

func TestPostWithoutKeyRefused(t *testing.T) {
	rg := newRegion(t, ok)
	c := mustNew(t, client.Config{Regions: []string{rg.URL}})
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		if res, err := c.Do(context.Background(), m, "/v1/sessions", "", map[string]int{"amount": 1}); !errors.Is(err, client.ErrNoKey) || res != nil {
			t.Fatalf("%s: got %v, %v, want ErrNoKey", m, res, err)
		}
	}
	if n := len(rg.requests()); n != 0 {
		t.Fatalf("region got %d requests, want 0", n)
	}
	res, err := c.Order(context.Background(), "ord_1")
	if err != nil || res.Status != 201 {
		t.Fatalf("GET without key: got %+v, %v", res, err)
	}
	if got := rg.requests(); len(got) != 1 || got[0].Method != "GET" || got[0].Key != "" || got[0].Path != "/v1/orders/ord_1" {
		t.Fatalf("got %+v, want one GET /v1/orders/ord_1 without a key", got)
	}
}

func TestConvenienceRequests(t *testing.T) {
	rg := newRegion(t, ok)
	c := mustNew(t, client.Config{Regions: []string{rg.URL + "/"}})
	ctx := context.Background()
	calls := []func() (*client.Response, error){
		func() (*client.Response, error) { return c.CreateSession(ctx, "k1", map[string]int{"amount": 100}) },
		func() (*client.Response, error) {
			return c.Authorize(ctx, "k2", "ses_1", map[string]string{"method": "card"})
		},
		func() (*client.Response, error) { return c.Capture(ctx, "k3", "ord_1", 0) },
		func() (*client.Response, error) { return c.Capture(ctx, "k4", "ord_1", 50) },
		func() (*client.Response, error) { return c.Refund(ctx, "k5", "ord_1", 20) },
		func() (*client.Response, error) { return c.Cancel(ctx, "k6", "ord_1") },
		func() (*client.Response, error) { return c.Release(ctx, "k7", "ord_1") },
		func() (*client.Response, error) { return c.Order(ctx, "ord_1") },
	}
	for _, call := range calls {
		if _, err := call(); err != nil {
			t.Fatal(err)
		}
	}
	want := []seen{
		{"POST", "/v1/sessions", "k1", `{"amount":100}`, time.Time{}},
		{"POST", "/v1/sessions/ses_1/authorize", "k2", `{"method":"card"}`, time.Time{}},
		{"POST", "/v1/orders/ord_1/captures", "k3", ``, time.Time{}},
		{"POST", "/v1/orders/ord_1/captures", "k4", `{"amount":50}`, time.Time{}},
		{"POST", "/v1/orders/ord_1/refunds", "k5", `{"amount":20}`, time.Time{}},
		{"POST", "/v1/orders/ord_1/cancel", "k6", ``, time.Time{}},
		{"POST", "/v1/orders/ord_1/release", "k7", ``, time.Time{}},
		{"GET", "/v1/orders/ord_1", "", ``, time.Time{}},
	}
	got := rg.requests()
	for i := range want {
		got[i].At = time.Time{}
		if got[i] != want[i] {
			t.Errorf("request %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := client.Config{Regions: []string{"http://127.0.0.1:1"}, Merchant: "demo", Secret: "s"}
	for name, mod := range map[string]func(*client.Config){
		"no regions":   func(c *client.Config) { c.Regions = nil },
		"relative URL": func(c *client.Config) { c.Regions = []string{"127.0.0.1:8080"} },
		"ftp":          func(c *client.Config) { c.Regions = []string{"ftp://x"} },
		"twice":        func(c *client.Config) { c.Regions = []string{"http://a", "http://a/"} },
		"no merchant":  func(c *client.Config) { c.Merchant = "" },
		"no secret":    func(c *client.Config) { c.Secret = "" },
		"negative":     func(c *client.Config) { c.Attempt = -1 },
	} {
		cfg := good
		mod(&cfg)
		if _, err := client.New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
	if _, err := client.New(good); err != nil {
		t.Fatal(err)
	}
}

func TestNewKey(t *testing.T) {
	a, b := client.NewKey(), client.NewKey()
	if a == b || len(a) < 20 || len(a) > 255 || strings.ContainsAny(a, " \n") {
		t.Fatalf("got %q and %q, want two different keys of 20-255 characters", a, b)
	}
}

func TestConcurrentUse(t *testing.T) {
	// a answers every other request with 503, b always: operations race to
	// move the preference while every one of them gets its answer.
	a := newRegion(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n%2 == 0 {
			status(503, "")(n, w, r)
			return
		}
		ok(n, w, r)
	})
	b := newRegion(t, ok)
	c := mustNew(t, client.Config{Regions: []string{a.URL, b.URL}})
	const workers, ops = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*ops)
	for w := range workers {
		wg.Go(func() {
			for i := range ops {
				res, err := post(t, c, fmt.Sprintf("w%d-%d", w, i))
				if err != nil {
					errs <- err
				} else if res.Status != 201 {
					errs <- fmt.Errorf("got %d, want 201", res.Status)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Every key reached a region, and each region saw it at most once.
	keys := map[string]int{}
	for _, rg := range []*region{a, b} {
		per := map[string]bool{}
		for _, s := range rg.requests() {
			if per[s.Key] {
				t.Errorf("%s got key %s twice", rg.URL, s.Key)
			}
			per[s.Key] = true
			keys[s.Key]++
		}
	}
	if len(keys) != workers*ops {
		t.Fatalf("got %d keys, want %d", len(keys), workers*ops)
	}
}

// TestSharedHealthSkipsAFrozenRegion: a region that let an attempt time
// out is asked last by every client sharing the Health, so a second client
// (which would start with it) gets its answer at the first attempt; a
// client with its own Health still starts there.
func TestSharedHealthSkipsAFrozenRegion(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	frozen, b, c3 := newRegion(t, blocking(release)), newRegion(t, ok), newRegion(t, ok)
	regions := []string{frozen.URL, b.URL, c3.URL}
	health := client.NewHealth()
	first := mustNew(t, client.Config{Regions: regions, Attempt: 100 * time.Millisecond, Health: health})
	if res, err := post(t, first, "k1"); err != nil || res.Region != b.URL || res.Attempts != 2 {
		t.Fatalf("first client: got %+v, %v; want b after the frozen region's timeout", res, err)
	}
	if !health.Suspect(frozen.URL) || health.Suspect(b.URL) {
		t.Fatalf("suspect: frozen %v, b %v; want only the frozen region", health.Suspect(frozen.URL), health.Suspect(b.URL))
	}
	// Starting at the frozen region, then b failing with 503: c3 is
	// asked before the frozen region is tried again.
	second := mustNew(t, client.Config{Regions: regions, Attempt: 100 * time.Millisecond, Health: health})
	if res, err := post(t, second, "k2"); err != nil || res.Region != b.URL || res.Attempts != 1 {
		t.Fatalf("second client: got %+v, %v; want b at the first attempt", res, err)
	}
	if n := len(frozen.requests()); n != 1 {
		t.Fatalf("the frozen region got %d requests, want 1 (the first client's)", n)
	}
	own := mustNew(t, client.Config{Regions: regions, Attempt: 100 * time.Millisecond})
	if res, err := post(t, own, "k3"); err != nil || res.Attempts != 2 {
		t.Fatalf("a client with its own Health: got %+v, %v; want 2 attempts (it has not seen the region freeze)", res, err)
	}
}

// TestSuspectAskedLastInRotation: with the preferred region failing, the
// next region in rotation order is skipped if it is suspect.
func TestSuspectAskedLastInRotation(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	a, frozen, c3 := newRegion(t, status(503, "")), newRegion(t, blocking(release)), newRegion(t, ok)
	health := client.NewHealth()
	probe := mustNew(t, client.Config{Regions: []string{frozen.URL, c3.URL}, Attempt: 100 * time.Millisecond, Health: health})
	if _, err := post(t, probe, "k0"); err != nil || !health.Suspect(frozen.URL) {
		t.Fatalf("probe: %v, suspect %v", err, health.Suspect(frozen.URL))
	}
	c := mustNew(t, client.Config{Regions: []string{a.URL, frozen.URL, c3.URL}, Attempt: 100 * time.Millisecond, Health: health})
	res, err := post(t, c, "k1")
	if err != nil || res.Region != c3.URL || res.Attempts != 2 {
		t.Fatalf("got %+v, %v; want c3 at the second attempt, the frozen region skipped", res, err)
	}
	if n := len(frozen.requests()); n != 1 {
		t.Fatalf("the frozen region got %d requests, want 1 (the probe's)", n)
	}
}

// frozenRegion answers nothing, not even /healthz, until release is
// closed: a process stopped with SIGSTOP, whose kernel still accepts
// connections. It counts the requests it got other than /healthz.
func frozenRegion(t *testing.T, release <-chan struct{}) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			n.Add(1)
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(s.Close)
	return s, &n
}

// TestProbeFailsOverFromAFrozenRegion: with Probe set, a region that
// answers neither an attempt nor /healthz is suspect within about twice the
// probe, so the operations that start after that go elsewhere at once; a
// write's attempt waits out its own timeout all the same (the region may
// still decide it), a read's is given up and asked elsewhere; a region that
// is only slow answers the probe and keeps the attempt; without Probe the
// attempt waits out its timeout.
func TestProbeFailsOverFromAFrozenRegion(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	frozen, writes := frozenRegion(t, release)
	b := newRegion(t, ok)
	health := client.NewHealth()
	const attempt = 3 * time.Second
	c := mustNew(t, client.Config{Regions: []string{frozen.URL, b.URL}, Attempt: attempt, Deadline: time.Minute,
		Probe: 20 * time.Millisecond, Health: health})
	type result struct {
		res  *client.Response
		err  error
		took time.Duration
	}
	first := make(chan result, 1)
	start := time.Now()
	go func() {
		res, err := post(t, c, "k1")
		first <- result{res, err, time.Since(start)}
	}()
	for !health.Suspect(frozen.URL) {
		select {
		case r := <-first:
			t.Fatalf("the write ended (%+v, %v after %s) before the frozen region was suspect", r.res, r.err, r.took)
		default:
		}
		time.Sleep(time.Millisecond) // polling the observable state
	}
	if took := time.Since(start); took >= attempt {
		t.Fatalf("the frozen region became suspect after %s, not before the attempt's timeout (%s)", took, attempt)
	}
	other := mustNew(t, client.Config{Regions: []string{frozen.URL, b.URL}, Attempt: attempt, Health: health})
	if res, err := post(t, other, "k2"); err != nil || res.Region != b.URL || res.Attempts != 1 {
		t.Fatalf("an operation after the probe: got %+v, %v; want b at the first attempt", res, err)
	}
	r := <-first
	if r.err != nil || r.res.Region != b.URL || r.res.Attempts != 2 || r.took < attempt {
		t.Fatalf("the write that met the frozen region: got %+v, %v after %s; want b at the second attempt, after the whole attempt timeout (%s)", r.res, r.err, r.took, attempt)
	}
	if n := writes.Load(); n != 1 {
		t.Fatalf("the frozen region got %d API requests, want 1", n)
	}

	// A read is given up after the probe and asked elsewhere.
	reader := mustNew(t, client.Config{Regions: []string{frozen.URL, b.URL}, Attempt: attempt, Probe: 20 * time.Millisecond})
	start = time.Now()
	res, err := reader.Do(context.Background(), http.MethodGet, "/v1/orders/o1", "", nil)
	if err != nil || res.Region != b.URL {
		t.Fatalf("a read: got %+v, %v; want b's answer", res, err)
	}
	if took := time.Since(start); took >= attempt {
		t.Fatalf("a read took %s: the frozen region's attempt was not given up after the probe", took)
	}

	// Slow, not frozen: the API answer takes 100 ms, /healthz is at once.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			io.WriteString(w, "ok\n")
			return
		}
		time.Sleep(100 * time.Millisecond) // the slowness under test, not a synchronisation
		ok(0, w, r)
	}))
	defer slow.Close()
	c = mustNew(t, client.Config{Regions: []string{slow.URL, b.URL}, Probe: 20 * time.Millisecond})
	if res, err := post(t, c, "k2"); err != nil || res.Region != slow.URL || res.Attempts != 1 {
		t.Fatalf("a slow region: got %+v, %v; want its answer at the first attempt", res, err)
	}

	// No probe: the attempt runs to its timeout.
	c = mustNew(t, client.Config{Regions: []string{frozen.URL, b.URL}, Attempt: 300 * time.Millisecond})
	start = time.Now()
	if res, err := post(t, c, "k3"); err != nil || res.Region != b.URL || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("without a probe: got %+v, %v after %s; want b after the whole attempt timeout", res, err, time.Since(start))
	}
}

// TestProbeAsksALapsedSuspectFirst: once SuspectFor has passed without an
// answer from a suspect region, a client with a probe asks its /healthz
// before sending it an operation: a region still frozen is suspect again
// and costs the operation the probe, not a write's whole attempt; a region
// that is back answers the probe and gets the operation.
func TestProbeAsksALapsedSuspectFirst(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var frozen atomic.Bool
	frozen.Store(true)
	var writes atomic.Int64
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if frozen.Load() {
			if r.URL.Path != "/healthz" {
				writes.Add(1)
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		if r.URL.Path == "/healthz" {
			io.WriteString(w, "ok\n")
			return
		}
		writes.Add(1)
		ok(0, w, r)
	}))
	t.Cleanup(a.Close)
	b := newRegion(t, ok)
	health := client.NewHealth()
	var ahead atomic.Int64 // how far the health's clock is ahead of the wall's
	client.SetClock(health, func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) })
	const attempt = 2 * time.Second
	// A client per operation, each preferring a, all sharing the Health
	// (a merchant's clients for sessions made at a).
	c := func() *client.Client {
		return mustNew(t, client.Config{Regions: []string{a.URL, b.URL}, Attempt: attempt, Deadline: time.Minute,
			Probe: 20 * time.Millisecond, Health: health})
	}

	// The first write meets the frozen region and waits out its attempt.
	if res, err := post(t, c(), "k1"); err != nil || res.Region != b.URL || res.Attempts != 2 {
		t.Fatalf("the first write: got %+v, %v; want b at the second attempt", res, err)
	}
	if !health.Suspect(a.URL) || writes.Load() != 1 {
		t.Fatalf("after the first write: suspect %v, %d writes at a; want suspect after 1", health.Suspect(a.URL), writes.Load())
	}

	// SuspectFor passes; a is still frozen.
	ahead.Add(int64(client.SuspectFor + time.Second))
	start := time.Now()
	if res, err := post(t, c(), "k2"); err != nil || res.Region != b.URL || res.Attempts != 1 {
		t.Fatalf("a write after SuspectFor, a still frozen: got %+v, %v; want b at the first attempt", res, err)
	}
	if took := time.Since(start); took >= attempt {
		t.Fatalf("a write after SuspectFor took %s: it waited on the frozen region", took)
	}
	if !health.Suspect(a.URL) || writes.Load() != 1 {
		t.Fatalf("after the probe: suspect %v, %d writes at a; want suspect again, still 1 write", health.Suspect(a.URL), writes.Load())
	}

	// a is back: after SuspectFor again, it answers the probe and the write.
	frozen.Store(false)
	ahead.Add(int64(client.SuspectFor + time.Second))
	if res, err := post(t, c(), "k3"); err != nil || res.Region != a.URL || res.Attempts != 1 {
		t.Fatalf("a write once a is back: got %+v, %v; want a at the first attempt", res, err)
	}
	if health.Suspect(a.URL) || writes.Load() != 2 {
		t.Fatalf("once a is back: suspect %v, %d writes at a; want not suspect, 2 writes", health.Suspect(a.URL), writes.Load())
	}
}
