package cards_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"kassa/cards"
)

func TestClientTestCards(t *testing.T) {
	sim, srv := MustSimulator(t)
	c := cards.NewClient(srv.URL, nil, 2*time.Second, 2)
	charges := 0
	for i, tc := range cards.TestCards() {
		if tc.Stalls {
			continue // TestClientTimeoutThenLookup
		}
		t.Run(tc.Number, func(t *testing.T) {
			key := fmt.Sprintf("order-%d", i)
			res, err := c.Authorize(context.Background(), payment(key, tc.Number))
			if err != nil {
				t.Fatalf("got %v, want no error", err)
			}
			if res.Approved != tc.Approved || res.DeclineCode != tc.DeclineCode {
				t.Errorf("got approved %v decline %q, want %v %q", res.Approved, res.DeclineCode, tc.Approved, tc.DeclineCode)
			}
			if res.ID == "" || res.Amount != 25900 || res.Currency != "SEK" {
				t.Errorf("got %+v, want an id and 25900 SEK", res)
			}
			if tc.Approved {
				charges++
			}
			if got := sim.Charges(); got != charges {
				t.Errorf("got %d charges, want %d", got, charges)
			}
			// Settling by lookup gives the same answer.
			got, found, err := c.Lookup(context.Background(), key)
			if err != nil || !found || got != res {
				t.Errorf("lookup: got %+v %v %v, want %+v true nil", got, found, err, res)
			}
		})
	}
}

func TestClientDeclinesWhatCheckRefuses(t *testing.T) {
	_, srv := MustSimulator(t)
	c := cards.NewClient(srv.URL, nil, 2*time.Second, 0)
	tests := []struct {
		card cards.Card
		want string
	}{
		{cards.Card{Number: "4242424242424241", ExpMonth: 12, ExpYear: 2030, CVC: "123"}, cards.CodeInvalidNumber},
		{cards.Card{Number: "4242424242424242", ExpMonth: 13, ExpYear: 2030, CVC: "123"}, cards.CodeInvalidExpiry},
		{cards.Card{Number: "4242424242424242", ExpMonth: 1, ExpYear: 2026, CVC: "123"}, cards.CodeExpiredCard},
		{cards.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2030, CVC: "1"}, cards.CodeInvalidCVC},
		{cards.Card{Number: "4000000000000127", ExpMonth: 12, ExpYear: 2030, CVC: "12"}, cards.CodeInvalidCVC},
	}
	for i, tt := range tests {
		p := payment(fmt.Sprint("k", i), "")
		p.Card = tt.card
		res, err := c.Authorize(context.Background(), p)
		if err != nil || res.Approved || res.DeclineCode != tt.want {
			t.Errorf("%d: got %+v %v, want declined %s", i, res, err, tt.want)
		}
	}
}

func TestClientTimeoutThenLookup(t *testing.T) {
	sim, srv := MustSimulator(t) // Stall is the 30s default: the client must give up first
	const timeout = 100 * time.Millisecond
	c := cards.NewClient(srv.URL, nil, timeout, 3)
	start := time.Now()
	res, err := c.Authorize(context.Background(), payment("order-t", "4000 0000 0000 3220"))
	elapsed := time.Since(start)
	if !errors.Is(err, cards.ErrUnknownOutcome) {
		t.Fatalf("got %+v, %v, want ErrUnknownOutcome", res, err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want it to wrap context.DeadlineExceeded", err)
	}
	if elapsed < timeout || elapsed > timeout+time.Second {
		t.Errorf("gave up after %v, want about %v", elapsed, timeout)
	}
	// The reconciler settles it: the acquirer did charge.
	got, found, err := c.Lookup(context.Background(), "order-t")
	if err != nil || !found || !got.Approved || got.ID == "" {
		t.Errorf("lookup: got %+v %v %v, want found approved", got, found, err)
	}
	if n := sim.Charges(); n != 1 {
		t.Errorf("got %d charges, want 1", n)
	}
	// Asking again under the same key stalls again and charges nothing more.
	if _, err := c.Authorize(context.Background(), payment("order-t", "4000 0000 0000 3220")); !errors.Is(err, cards.ErrUnknownOutcome) {
		t.Errorf("second try: got %v, want ErrUnknownOutcome", err)
	}
	if n := sim.Charges(); n != 1 {
		t.Errorf("after a second try: got %d charges, want 1", n)
	}
}

func TestClientLookupNotFound(t *testing.T) {
	_, srv := MustSimulator(t)
	c := cards.NewClient(srv.URL, nil, time.Second, 0)
	res, found, err := c.Lookup(context.Background(), "never-sent")
	if err != nil || found {
		t.Errorf("got %+v %v %v, want not found, no error", res, found, err)
	}
	// A 404 that is not the acquirer's "not found" (a wrong base URL) must
	// not read as "never charged".
	wrong := cards.NewClient(srv.URL+"/nowhere", nil, time.Second, 0)
	if _, found, err := wrong.Lookup(context.Background(), "never-sent"); err == nil || found {
		t.Errorf("wrong URL: got found %v err %v, want an error", found, err)
	}
}

// flaky fails the first n requests with status, either before passing them
// on (the acquirer never saw them) or after (the acquirer charged, the answer
// was lost).
type flaky struct {
	next   http.Handler
	status int
	n      int32
	after  bool
	seen   atomic.Int32
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.seen.Add(1) > f.n {
		f.next.ServeHTTP(w, r)
		return
	}
	if f.after {
		f.next.ServeHTTP(discard{}, r)
	}
	http.Error(w, "bad gateway", f.status)
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

func TestClientRetries(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		fail    int32
		after   bool
		retries int
		wantErr error // nil: approved
		charges int
	}{
		{"502 twice, then through", http.StatusBadGateway, 2, false, 2, nil, 1},
		{"charged, answer lost twice", http.StatusBadGateway, 2, true, 2, nil, 1},
		{"503 then through", http.StatusServiceUnavailable, 1, false, 1, nil, 1},
		{"429 then through", http.StatusTooManyRequests, 1, false, 1, nil, 1},
		{"502 until retries run out", http.StatusBadGateway, 3, false, 2, cards.ErrUnknownOutcome, 0},
		{"charged, every answer lost", http.StatusBadGateway, 3, true, 2, cards.ErrUnknownOutcome, 1},
		{"429 until retries run out", http.StatusTooManyRequests, 3, false, 2, cards.ErrUnavailable, 0},
		{"500 without retries", http.StatusInternalServerError, 1, false, 0, cards.ErrUnknownOutcome, 0},
		{"501 is not retried", http.StatusNotImplemented, 1, false, 3, cards.ErrUnknownOutcome, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := cards.NewSimulator(func() time.Time { return now })
			f := &flaky{next: sim.Handler(), status: tt.status, n: tt.fail, after: tt.after}
			srv := MustServe(t, f)
			c := cards.NewClient(srv.URL, nil, 5*time.Second, tt.retries)
			res, err := c.Authorize(context.Background(), payment("order-1", "4242424242424242"))
			if tt.wantErr == nil {
				if err != nil || !res.Approved {
					t.Errorf("got %+v %v, want approved", res, err)
				}
			} else if !errors.Is(err, tt.wantErr) {
				t.Errorf("got %+v %v, want %v", res, err, tt.wantErr)
			}
			if got := sim.Charges(); got != tt.charges {
				t.Errorf("got %d charges, want %d", got, tt.charges)
			}
		})
	}
}

func TestClientAnswers(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr error
	}{
		{"400", 400, `{"error":{"code":"malformed"}}`, cards.ErrRejected},
		{"409", 409, `{"error":{"code":"idempotency_conflict"}}`, cards.ErrIdempotencyConflict},
		{"404 on POST", 404, `404 page not found`, cards.ErrRejected},
		{"200 garbage", 200, `<html>`, cards.ErrUnknownOutcome},
		{"200 without status", 200, `{"id":"p1"}`, cards.ErrUnknownOutcome},
		{"200 pending", 200, `{"id":"p1","status":"pending"}`, cards.ErrUnknownOutcome},
		{"302", 302, ``, cards.ErrUnknownOutcome},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := MustServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Idempotency-Key") != "k" {
					t.Errorf("got Idempotency-Key %q, want k", r.Header.Get("Idempotency-Key"))
				}
				if tt.status == 302 {
					w.Header().Set("Location", "http://example.invalid/")
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			c := cards.NewClient(srv.URL, nil, time.Second, 2)
			if _, err := c.Authorize(context.Background(), payment("k", "4242424242424242")); !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestClientSameKeyConcurrently(t *testing.T) {
	sim, srv := MustSimulator(t)
	c := cards.NewClient(srv.URL, nil, 5*time.Second, 2)
	var wg sync.WaitGroup
	results := make([]cards.Result, 20)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Authorize(context.Background(), payment("order-c", "5555 5555 5555 4444"))
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		}()
	}
	wg.Wait()
	if got := sim.Charges(); got != 1 {
		t.Errorf("got %d charges, want 1", got)
	}
	for i, r := range results {
		if r != results[0] || !r.Approved {
			t.Errorf("call %d: got %+v, want %+v approved", i, r, results[0])
		}
	}
}

// failingTransport fails every request with err, counting them.
type failingTransport struct {
	err   error
	calls atomic.Int32
}

func (f *failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	f.calls.Add(1)
	return nil, f.err
}

func TestClientUnreachable(t *testing.T) {
	// A port nothing listens on: connection refused, so nothing was sent.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name      string
		url       string
		transport http.RoundTripper
		want      error
		notWant   error
	}{
		{"connection refused", "http://" + addr, nil, cards.ErrUnavailable, cards.ErrUnknownOutcome},
		{"dial error from a transport", "http://acquirer.test", &failingTransport{err: refused}, cards.ErrUnavailable, cards.ErrUnknownOutcome},
		{"dns error", "http://acquirer.test", &failingTransport{err: &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "acquirer.test", IsNotFound: true}}}, cards.ErrUnavailable, cards.ErrUnknownOutcome},
		{"reset after sending", "http://acquirer.test", &failingTransport{err: reset}, cards.ErrUnknownOutcome, cards.ErrUnavailable},
		{"unexplained error", "http://acquirer.test", &failingTransport{err: errors.New("boom")}, cards.ErrUnknownOutcome, cards.ErrUnavailable},
		{"bad base URL", "acquirer.test:80", nil, cards.ErrUnavailable, cards.ErrUnknownOutcome},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := cards.NewClient(tt.url, tt.transport, 2*time.Second, 2)
			_, err := c.Authorize(context.Background(), payment("k", "4242424242424242"))
			if !errors.Is(err, tt.want) || errors.Is(err, tt.notWant) {
				t.Errorf("got %v, want %v and not %v", err, tt.want, tt.notWant)
			}
			if ft, ok := tt.transport.(*failingTransport); ok {
				if got := ft.calls.Load(); got != 3 {
					t.Errorf("got %d attempts, want 3", got)
				}
			}
			if _, _, err := c.Lookup(context.Background(), "k"); !errors.Is(err, cards.ErrUnavailable) || errors.Is(err, cards.ErrUnknownOutcome) {
				t.Errorf("lookup: got %v, want ErrUnavailable only", err)
			}
		})
	}
}

// TestClientUnknownThenRefused: once one attempt may have reached the
// acquirer, a later refused connection does not make the outcome known.
func TestClientUnknownThenRefused(t *testing.T) {
	var calls atomic.Int32
	srv := MustServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	var once sync.Once
	tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		first := false
		once.Do(func() { first = true })
		if first {
			return http.DefaultTransport.RoundTrip(r)
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	})
	c := cards.NewClient(srv.URL, tr, 2*time.Second, 2)
	_, err := c.Authorize(context.Background(), payment("k", "4242424242424242"))
	if !errors.Is(err, cards.ErrUnknownOutcome) {
		t.Errorf("got %v, want ErrUnknownOutcome", err)
	}
	if calls.Load() != 1 {
		t.Errorf("got %d requests at the server, want 1", calls.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestClientNeedsIdempotencyKey(t *testing.T) {
	var calls atomic.Int32
	srv := MustServe(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	c := cards.NewClient(srv.URL, nil, time.Second, 2)
	for _, key := range []string{"", "has space", strings.Repeat("k", 256)} {
		if _, err := c.Authorize(context.Background(), payment(key, "4242424242424242")); !errors.Is(err, cards.ErrRejected) {
			t.Errorf("key %q: got %v, want ErrRejected", key, err)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("got %d requests, want none", calls.Load())
	}
}

func TestClientErrorsNeverCarryTheCard(t *testing.T) {
	srv := MustServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	c := cards.NewClient(srv.URL, nil, time.Second, 1)
	p := payment("k", "4000 0566 5566 5556")
	_, err := c.Authorize(context.Background(), p)
	if err == nil {
		t.Fatal("got nil, want an error")
	}
	if l := leaks(err.Error(), p.Card.Number); l != "" || strings.Contains(err.Error(), p.Card.CVC) {
		t.Errorf("got card data in %q", err)
	}
}
