package main

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestBenchFailsOverAndMeasuresLag runs kassa bench against two targets: a
// front that refuses every write with 503 and passes reads through to a
// region, and the region itself. Every checkout must fail over to the
// region and succeed, and the replication lag is sampled through the
// front: from the regions' /sync/v1/status (with the token, where
// --metrics-token gives it), or, where that needs a token the bench does
// not have, by asking for the order.
func TestBenchFailsOverAndMeasuresLag(t *testing.T) {
	const token = "metrics-token-0123456789abcdef0123456789"
	for _, tc := range []struct {
		name    string
		environ []string
		args    []string
		via     string // the path the front must see lag polled through
	}{
		{"status", nil, nil, "/sync/v1/status"},
		{"orders", []string{"KASSA_HTTP_METRICS_TOKEN=" + token}, nil, "/v1/orders/"},
		{"token", []string{"KASSA_HTTP_METRICS_TOKEN=" + token}, []string{"--metrics-token", token}, "/sync/v1/status"},
	} {
		t.Run(tc.name, func(t *testing.T) { benchFailsOverAndMeasuresLag(t, tc.environ, tc.args, tc.via) })
	}
}

func benchFailsOverAndMeasuresLag(t *testing.T, environ, extra []string, via string) {
	base, _ := startServe(t, environ, "--data-dir", t.TempDir())
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	var refused, polled atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, via) {
			polled.Add(1)
		}
		if r.Method == http.MethodPost {
			refused.Add(1)
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	out := filepath.Join(t.TempDir(), "bench.json")
	args := append([]string{"bench", "--target", front.URL + "," + base, "--duration", "1s", "--concurrency", "2", "--json", out}, extra...)
	if via == "/sync/v1/status" {
		args = append(args, "--ceiling") // the other target's metrics can be read
	}
	stdout, stderr, code := runCmd(t, nil, args...)
	if code != 0 {
		t.Fatalf("bench exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Operations map[string]struct {
			Count     int      `json:"count"`
			Errors    int      `json:"errors"`
			PerSecond *float64 `json:"per_second"`
			P50MS     *float64 `json:"p50_ms"`
			P95MS     *float64 `json:"p95_ms"`
			P99MS     *float64 `json:"p99_ms"`
			MaxMS     *float64 `json:"max_ms"`
		} `json:"operations"`
		ReplicationLagMS struct {
			P50     *float64 `json:"p50"`
			P99     *float64 `json:"p99"`
			Samples int      `json:"samples"`
		} `json:"replication_lag_ms"`
		Ceiling *reportedCeiling `json:"ceiling"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("bench JSON: %v\n%s", err, b)
	}
	for _, op := range []string{"session", "authorize", "capture"} {
		s, ok := res.Operations[op]
		if !ok || s.Count == 0 || s.Errors != 0 || s.PerSecond == nil || s.P50MS == nil || s.P95MS == nil || s.P99MS == nil || s.MaxMS == nil {
			t.Errorf("%s: got %+v, want a count, no errors and the fixed fields\n%s\nstderr:\n%s", op, s, b, stderr)
		}
	}
	if res.ReplicationLagMS.Samples == 0 || res.ReplicationLagMS.P50 == nil || res.ReplicationLagMS.P99 == nil {
		t.Errorf("replication_lag_ms: got %+v, want samples with p50 and p99\n%s", res.ReplicationLagMS, b)
	}
	if refused.Load() == 0 {
		t.Error("the front refused no write: the test did not exercise failover")
	}
	if polled.Load() == 0 {
		t.Errorf("lag was not polled through %s", via)
	}
	// Two targets: every entry a checkout wrote is taken in by one other.
	if c := res.Ceiling; via == "/sync/v1/status" {
		if c == nil {
			t.Fatalf("no ceiling in the report\n%s", b)
		}
		want := c.expected()
		if c.OtherRegions != 1 || c.Applies <= 0 || math.Abs(c.CheckoutsPerS-want) > want*1e-9 {
			t.Errorf("ceiling %+v: want one other region and %.1f checkouts/s\n%s", *c, want, b)
		}
	}
}

// reportedCeiling is the ceiling part of kassa bench --json.
type reportedCeiling struct {
	HTTP          float64 `json:"http_requests_per_s"`
	Appends       float64 `json:"appends_per_s"`
	Applies       float64 `json:"applies_per_s"`
	Requests      float64 `json:"requests_per_checkout"`
	Entries       float64 `json:"entries_per_checkout"`
	OtherRegions  int     `json:"other_regions"`
	CheckoutsPerS float64 `json:"checkouts_per_s"`
	Ratio         float64 `json:"ratio"`
}

// expected is the ceiling docs/BENCHMARKS.md defines, from the parts
// reported: each checkout's requests, its entries appended once and taken
// in by every other region.
func (c reportedCeiling) expected() float64 {
	return 1 / (c.Requests/c.HTTP + c.Entries/c.Appends + float64(c.OtherRegions)*c.Entries/c.Applies)
}

// TestBenchOpenLoop runs kassa bench --rate --ceiling against one region:
// the open loop starts no more checkouts than its schedule allows, whatever
// the region could take, the JSON counts decisions by outcome, and the
// ceiling is measured for the checkouts of the run.
func TestBenchOpenLoop(t *testing.T) {
	base, _ := startServe(t, nil, "--data-dir", t.TempDir())
	out := filepath.Join(t.TempDir(), "bench.json")
	stdout, stderr, code := runCmd(t, nil, "bench", "--target", base, "--duration", "2s", "--rate", "20", "--ceiling", "--json", out)
	if code != 0 {
		t.Fatalf("bench exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Rate       float64 `json:"rate"`
		Operations map[string]struct {
			Count     int     `json:"count"`
			Errors    int     `json:"errors"`
			PerSecond float64 `json:"per_second"`
		} `json:"operations"`
		Decisions          map[string]int `json:"decisions"`
		Reasons            map[string]int `json:"reasons"`
		EntriesPerCheckout struct {
			Total  float64            `json:"total"`
			ByKind map[string]float64 `json:"by_kind"`
		} `json:"entries_per_checkout"`
		Ceiling reportedCeiling `json:"ceiling"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("bench JSON: %v\n%s", err, b)
	}
	// A checkout writes a session, an authorization and a capture; other
	// entries (webhook records, rebalancing) are possible but rare here.
	if e := res.EntriesPerCheckout; e.ByKind["session.created"] < 0.9 || e.ByKind["order.authorized"] < 0.9 || e.Total < 2.7 {
		t.Errorf("entries per checkout %+v: want about one session, one authorization and one capture each\n%s", e, b)
	}
	// 2 s at 20/s is 40 checkouts due (41 with the one at 0 s); a closed
	// loop of 32 clients does far more.
	co := res.Operations["checkout"]
	if res.Rate != 20 || co.Count+co.Errors == 0 || co.Count+co.Errors > 41 {
		t.Errorf("rate %v, checkouts %+v: want rate 20 and 1 to 41 checkouts\n%s", res.Rate, co, b)
	}
	total := 0
	for _, n := range res.Decisions {
		total += n
	}
	if res.Decisions["approved"] == 0 || total != res.Operations["authorize"].Count || res.Reasons == nil {
		t.Errorf("decisions %v (reasons %v) for %d authorizations: want them all counted by outcome\n%s",
			res.Decisions, res.Reasons, res.Operations["authorize"].Count, b)
	}
	// One region: nothing is applied elsewhere, so the ceiling is its
	// requests and appends alone.
	c := res.Ceiling
	want := c.expected()
	if c.HTTP <= 0 || c.Appends <= 0 || c.Applies <= 0 || c.Requests != 3 || c.Entries != res.EntriesPerCheckout.Total || c.OtherRegions != 0 ||
		math.Abs(c.CheckoutsPerS-want) > want*1e-9 || math.Abs(c.Ratio-co.PerSecond/c.CheckoutsPerS) > 1e-9 {
		t.Errorf("ceiling %+v: want every part measured, 3 requests and the run's entries per checkout, no other region, %.1f checkouts/s\n%s", c, want, b)
	}
	if !strings.Contains(stdout, "decisions: approved") || !strings.Contains(stdout, "open loop: 20.0 checkouts/s") || !strings.Contains(stdout, "ceiling of this machine") {
		t.Errorf("stdout lacks the decisions or the open loop line:\n%s", stdout)
	}
}

func TestBenchRejectsBadRate(t *testing.T) {
	for _, rate := range []string{"-1", "1e9", "fast"} {
		_, stderr, code := runCmd(t, nil, "bench", "--target", "http://127.0.0.1:1", "--rate", rate)
		if code != 2 || !strings.Contains(stderr, "rate") {
			t.Errorf("--rate %s: exit %d, stderr %q; want 2 naming --rate", rate, code, stderr)
		}
	}
}

func TestBenchRejectsBadMetricsToken(t *testing.T) {
	for _, tok := range []string{"two words", "line\nbreak"} {
		_, stderr, code := runCmd(t, nil, "bench", "--target", "http://127.0.0.1:1", "--metrics-token", tok)
		if code != 2 || !strings.Contains(stderr, "--metrics-token") || strings.Contains(stderr, tok) {
			t.Errorf("--metrics-token %q: exit %d, stderr %q; want 2 naming --metrics-token, not echoing the token", tok, code, stderr)
		}
	}
}
