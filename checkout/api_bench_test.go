package checkout_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kassa/ceiling"
	"kassa/ledger"
)

// benchClients is how many concurrent API clients the benchmarks run, as
// `kassa bench --concurrency 32` does.
const benchClients = 32

// benchClient keeps a connection per concurrent client, as a merchant's
// HTTP client pool (and `kassa bench`) does; http.DefaultClient keeps only
// two idle connections per host and would open a new one for most calls.
func benchClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 2 * benchClients, MaxIdleConnsPerHost: 2 * benchClients, IdleConnTimeout: time.Minute,
	}}
}

// callWith is one merchant API call with client c; it returns the status
// and the decoded answer.
func callWith(c *http.Client, method, url, key string, body any) (int, map[string]any, error) {
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(j))
	req.SetBasicAuth("demo", "sk_test_demo")
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return res.StatusCode, out, nil
}

// benchAuthorizations runs n checkouts at base from benchClients clients,
// each a session and its pay-later authorization for a new consumer, and
// returns how long they took and each authorization's latency.
func benchAuthorizations(tb testing.TB, c *http.Client, base, run string, n int) (time.Duration, []time.Duration) {
	return benchCheckouts(tb, c, base, run, n, benchClients)
}

// BenchmarkAuthorizeAPI drives one region through its HTTP API in-process:
// 32 clients, each creating a session and authorizing it for pay later
// (a new consumer each time). It reports authorizations per second and
// authorize latency; `kassa bench` is the same load from outside.
//
//	go test ./checkout -run '^$' -bench AuthorizeAPI -benchtime 4000x -cpuprofile /tmp/cpu.out
func BenchmarkAuthorizeAPI(b *testing.B) {
	r := startRegions(b, 1, nil)[0]
	c := benchClient()
	b.ResetTimer()
	took, lat := benchAuthorizations(b, c, r.url, "b", b.N)
	b.StopTimer()
	b.ReportMetric(float64(len(lat))/took.Seconds(), "authorizations/s")
	b.ReportMetric(float64(percentile(lat, .5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, .99).Microseconds())/1000, "p99-ms")
}

// benchVsTurns is how many interleaved turns BenchmarkAuthorizeVsCeiling
// splits each part into, so that all parts see the same noise.
const benchVsTurns = 4

// BenchmarkAuthorizeVsCeiling measures the API's authorizations next to what
// this machine could do at best for the same work, in the same process and
// in interleaved turns. An authorization through the API is two HTTP requests
// (create the session, authorize it) and the signed entries it writes: the
// session, the new consumer's credit line (granted by its home region, here
// this one) and the authorization. The parts of the ceiling are:
//
//   - http: the same 32 clients sending the same two requests, with bodies of
//     the same size, to a handler that reads the body and answers at once:
//     what HTTP alone costs on loopback, client and server on the same cores;
//   - append: the ledger's own ceiling, Store.Append from 512 concurrent
//     callers (large group commits), entries shaped like the API's;
//
// and ceiling = 1 / (2/http + k/append), where k is the number of entries
// the API wrote per authorization in this run: the rate if an authorization
// cost nothing but its HTTP requests and its ledger appends, each at its own
// best rate. It reports the API's rate and latency, the parts, the ceiling
// and ratio = API / ceiling.
//
//	go test ./checkout -run '^$' -bench AuthorizeVsCeiling -benchtime 4000x
func BenchmarkAuthorizeVsCeiling(b *testing.B) {
	r := startRegions(b, 1, nil)[0]
	c := benchClient()
	st := openBenchStore(b)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"ses_0123456789abcdef","status":"authorized"}`)
	}))
	b.Cleanup(echo.Close)
	per := max(b.N/benchVsTurns, benchClients)
	before := r.r.Ledger().Count()
	var apiTime, httpTime, appendTime time.Duration
	var lat []time.Duration
	b.ResetTimer()
	for turn := 0; turn < benchVsTurns; turn++ {
		d, l := benchAuthorizations(b, c, r.url, fmt.Sprintf("t%d", turn), per)
		apiTime += d
		lat = append(lat, l...)
		httpTime += benchEcho(c, echo.URL, per)
		appendTime += benchAppends(b, st, per*3, turn)
	}
	b.StopTimer()
	n := float64(per * benchVsTurns)
	entries := float64(r.r.Ledger().Count()-before) / n
	api, httpRate := n/apiTime.Seconds(), 2*n/httpTime.Seconds()
	appendRate := 3 * n / appendTime.Seconds()
	ceiling := 1 / (2/httpRate + entries/appendRate)
	b.ReportMetric(api, "authorizations/s")
	b.ReportMetric(float64(percentile(lat, .5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, .99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(entries, "entries/authorization")
	b.ReportMetric(httpRate, "http-requests/s")
	b.ReportMetric(appendRate, "appends/s")
	b.ReportMetric(ceiling, "ceiling/s")
	b.ReportMetric(api/ceiling, "ratio")
}

// benchEcho sends n pairs of requests shaped like a session and its
// authorization to url from benchClients clients and returns how long that
// took.
func benchEcho(c *http.Client, url string, n int) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				key := fmt.Sprintf("echo-%d", i)
				callWith(c, "POST", url+"/v1/sessions", key, sessionBody(25_900, key))
				callWith(c, "POST", url+"/v1/sessions/ses_0123456789abcdef/authorize", key+"-a",
					map[string]any{"method": "pay_later", "consumer": consumer(key + "@example.com")})
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// openBenchStore opens a ledger of its own for the append ceiling.
func openBenchStore(tb testing.TB) *ledger.Store {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	st, err := ledger.Open(context.Background(), ledger.Options{Path: filepath.Join(tb.TempDir(), "ceiling.db"), Region: "r1", Key: key,
		Keys: ledger.Keys{"r1": key.Public().(ed25519.PublicKey)}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// benchAppends appends n entries shaped like an authorization's as the
// ceiling package measures the ledger's best rate, and returns how long
// that took.
func benchAppends(tb testing.TB, st *ledger.Store, n, turn int) time.Duration {
	d, err := ceiling.Appends(context.Background(), st, n, fmt.Sprint(turn))
	if err != nil {
		tb.Fatal(err)
	}
	return d
}
