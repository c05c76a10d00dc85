package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"kassa/client"
)

// benchResult is the fixed output shape of kassa bench --json.
type benchResult struct {
	Operations       map[string]opStats `json:"operations"`
	ReplicationLagMS lagStats           `json:"replication_lag_ms"`
	Targets          []string           `json:"targets"`
	Concurrency      int                `json:"concurrency"`
	DurationS        float64            `json:"duration_s"`
	// Rate is the open loop's checkouts per second (0: the closed loop of
	// Concurrency clients); Missed counts the checkouts the open loop could
	// not start on time because MaxInFlight were still waiting.
	Rate   float64 `json:"rate,omitempty"`
	Missed int     `json:"missed,omitempty"`
	// Decisions counts authorizations by outcome (approved, card_only,
	// declined) and Reasons the reason codes of those not approved.
	Decisions map[string]int `json:"decisions"`
	Reasons   map[string]int `json:"reasons"`
	// EntriesPerCheckout is what the targets wrote during the run (from
	// their kassa_ledger_entries_written_total) per completed checkout:
	// in all, by kind and by region.
	EntriesPerCheckout *entryCounts `json:"entries_per_checkout,omitempty"`
	// Ceiling is this machine's ceiling for the run's checkouts, measured
	// after it (--ceiling).
	Ceiling *ceilingResult `json:"ceiling,omitempty"`
}

type entryCounts struct {
	Total    float64            `json:"total"`
	ByKind   map[string]float64 `json:"by_kind"`
	ByRegion map[string]float64 `json:"by_region"`
}

type opStats struct {
	Count     int     `json:"count"`
	Errors    int     `json:"errors"`
	PerSecond float64 `json:"per_second"`
	P50MS     float64 `json:"p50_ms"`
	P95MS     float64 `json:"p95_ms"`
	P99MS     float64 `json:"p99_ms"`
	MaxMS     float64 `json:"max_ms"`
}

type lagStats struct {
	P50     float64 `json:"p50"`
	P99     float64 `json:"p99"`
	Samples int     `json:"samples"`
}

// Bounds of bench's calls: an operation may fail over within
// benchDeadline (the bound a call had before bench used the failover
// client); a lag poll asks one target for at most lagPoll.
const (
	benchAttempt  = 5 * time.Second
	benchDeadline = 30 * time.Second
	lagPoll       = 2 * time.Second
)

// recorder collects latencies per operation; it is safe for concurrent use.
type recorder struct {
	mu        sync.Mutex
	lat       map[string][]time.Duration
	errors    map[string]int
	lag       []time.Duration
	decisions map[string]int
	reasons   map[string]int
	missed    int
}

// decide counts an authorization's decision and, unless it approved, its
// reasons.
func (r *recorder) decide(outcome string, reasons []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.decisions[outcome]++
	if outcome != "approved" {
		for _, c := range reasons {
			r.reasons[c]++
		}
	}
}

func (r *recorder) add(op string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errors[op]++
		return
	}
	r.lat[op] = append(r.lat[op], d)
}

func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	i := int(float64(len(ds)-1) * p)
	return float64(ds[i].Microseconds()) / 1000
}

// benchMaxInFlight bounds the open loop's checkouts waiting for answers:
// one more is counted as missed rather than started late.
const benchMaxInFlight = 4096

// bench drives regions through the public merchant API and the failover
// client: each checkout creates a session, authorizes it (pay later) and,
// if approved, captures it. The closed loop runs --concurrency clients
// back to back; the open loop (--rate) starts checkouts at a fixed rate
// whatever the answers, and times each from when it was due to start, so
// a slow answer cannot hide the queue behind it. A sample of orders is
// polled on the targets other than the one that authorized it to measure
// replication lag.
func (e *cmdEnv) bench(ctx context.Context, args []string) error {
	var (
		targets     string
		duration    time.Duration
		concurrency int
		rate        float64
		jsonFile    string
		merchant    string
		secret      string
		capture     bool
		withCeiling bool
		metricsTok  string
	)
	_, err := e.flags("bench", "Drive regions through the public merchant API and report throughput and latency per\noperation (session, authorize, capture, and the whole checkout), the decisions by outcome\nand reason, and the replication lag between targets.", args, func(fs *pflag.FlagSet) {
		fs.StringVar(&targets, "target", "", "region base URLs, comma-separated (required)")
		fs.DurationVar(&duration, "duration", 10*time.Second, "how long to run")
		fs.IntVar(&concurrency, "concurrency", 32, "parallel clients of the closed loop")
		fs.Float64Var(&rate, "rate", 0, "open loop: start this many checkouts per second whatever the answers (0: closed loop)")
		fs.StringVar(&jsonFile, "json", "", "write the results as JSON to this file")
		fs.StringVar(&merchant, "merchant", "demo", "merchant id")
		fs.StringVar(&secret, "secret", "sk_test_demo", "merchant API secret")
		fs.BoolVar(&capture, "capture", true, "capture each approved order")
		fs.StringVar(&metricsTok, "metrics-token", "", "the targets' http.metrics_token, sent with every read of /metrics and /sync/v1/status (without it, a target that asks for one is polled for orders instead, and --ceiling cannot read it)")
		fs.BoolVar(&withCeiling, "ceiling", false, "after the run, measure this machine's ceiling for the same checkouts (their requests, and the entries they wrote, appended and taken in by every other target) and report the ratio; meaningful when the targets run on this machine")
	})
	if err != nil {
		return err
	}
	var urls []string
	for _, u := range strings.Split(targets, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				return &usageError{fmt.Sprintf("bench: --target %q must be an http(s) URL", u)}
			}
			if !slices.Contains(urls, u) { // a target listed twice is one region
				urls = append(urls, u)
			}
		}
	}
	if len(urls) == 0 {
		return &usageError{"bench: --target is required (e.g. --target http://127.0.0.1:8080)"}
	}
	if concurrency < 1 || concurrency > 10000 {
		return &usageError{"bench: --concurrency must be between 1 and 10000"}
	}
	if rate < 0 || rate > 100000 || rate != rate {
		return &usageError{"bench: --rate must be between 0 (closed loop) and 100000 checkouts per second"}
	}
	if duration <= 0 || duration > 24*time.Hour {
		return &usageError{"bench: --duration must be positive"}
	}
	if strings.ContainsAny(metricsTok, " \t\r\n") {
		return &usageError{"bench: --metrics-token must not contain spaces or line breaks"}
	}
	b, err := newBenchRun(urls, merchant, secret, concurrency, rate, capture, metricsTok)
	if err != nil {
		return err
	}
	res := b.run(ctx, duration)
	if withCeiling {
		if res.Ceiling, err = measureCeiling(ctx, res, concurrency, capture, len(urls)); err != nil {
			return err
		}
	}

	fmt.Fprintf(e.stdout, "kassa bench: %d targets, %s, %.1fs\n", len(urls), b.loop(), res.DurationS)
	fmt.Fprintf(e.stdout, "%-10s %8s %7s %10s %8s %8s %8s %8s\n", "op", "count", "errors", "per_sec", "p50_ms", "p95_ms", "p99_ms", "max_ms")
	for _, op := range benchOps {
		s := res.Operations[op]
		fmt.Fprintf(e.stdout, "%-10s %8d %7d %10.1f %8.2f %8.2f %8.2f %8.2f\n", op, s.Count, s.Errors, s.PerSecond, s.P50MS, s.P95MS, s.P99MS, s.MaxMS)
	}
	fmt.Fprintf(e.stdout, "decisions: %s\n", countsLine(res.Decisions))
	if len(res.Reasons) > 0 {
		fmt.Fprintf(e.stdout, "reasons (not approved): %s\n", countsLine(res.Reasons))
	}
	if rate > 0 {
		fmt.Fprintf(e.stdout, "open loop: %.1f checkouts/s asked, %d missed (more than %d waiting)\n", rate, res.Missed, benchMaxInFlight)
	}
	if c := res.EntriesPerCheckout; c != nil {
		kinds := make([]string, 0, len(c.ByKind))
		for k, v := range c.ByKind {
			if v >= 0.005 {
				kinds = append(kinds, k)
			}
		}
		sort.Slice(kinds, func(i, j int) bool {
			if c.ByKind[kinds[i]] != c.ByKind[kinds[j]] {
				return c.ByKind[kinds[i]] > c.ByKind[kinds[j]]
			}
			return kinds[i] < kinds[j]
		})
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = fmt.Sprintf("%s %.2f", k, c.ByKind[k])
		}
		fmt.Fprintf(e.stdout, "entries written per checkout: %.2f (%s)\n", c.Total, strings.Join(parts, ", "))
	}
	if len(urls) > 1 {
		fmt.Fprintf(e.stdout, "replication lag: p50 %.1f ms, p99 %.1f ms (%d samples)\n", res.ReplicationLagMS.P50, res.ReplicationLagMS.P99, res.ReplicationLagMS.Samples)
	}
	if c := res.Ceiling; c != nil {
		fmt.Fprintf(e.stdout, "ceiling of this machine: http %.0f requests/s, append %.0f entries/s, apply %.0f entries/s;\n", c.HTTPRequestsPerS, c.AppendsPerS, c.AppliesPerS)
		fmt.Fprintf(e.stdout, "  a checkout = %.0f requests + %.2f entries appended + %.2f applied in %d other regions: %.1f checkouts/s; ratio %.3f\n",
			c.RequestsPerCheckout, c.EntriesPerCheckout, float64(c.OtherRegions)*c.EntriesPerCheckout, c.OtherRegions, c.CheckoutsPerS, c.Ratio)
	}
	if b.firstErr != nil {
		fmt.Fprintf(e.stderr, "first error: %v\n", b.firstErr)
	}
	if jsonFile != "" {
		out, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(jsonFile, append(out, '\n'), 0o644); err != nil {
			return fmt.Errorf("bench: write %s: %w", jsonFile, err)
		}
	}
	if res.Operations["authorize"].Count == 0 {
		return errors.New("bench: no authorization succeeded")
	}
	return nil
}

// benchOps are the operations bench reports, in the table's order;
// checkout is the whole of one (session, authorize and capture).
var benchOps = []string{"session", "authorize", "capture", "checkout"}

// countsLine writes counts as "a 3, b 1", largest first, then by name.
func countsLine(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// lagSample is an order to look for on the targets that did not
// authorize it.
type lagSample struct {
	id  string
	at  time.Time
	idx int
}

// bearer sends an operator's token with every request it carries: the
// reads of /metrics and /sync/v1/status that http.metrics_token guards.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (t bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return t.next.RoundTrip(r)
}

// benchRun is one run of kassa bench.
type benchRun struct {
	urls        []string
	index       map[string]int
	failover    []*client.Client
	pinned      []*client.Client
	concurrency int
	rate        float64
	capture     bool
	rec         *recorder
	metrics     *http.Client
	id          string
	lag         chan lagSample
	errOnce     sync.Once
	firstErr    error
}

func newBenchRun(urls []string, merchant, secret string, concurrency int, rate float64, capture bool, metricsToken string) (*benchRun, error) {
	var metrics http.RoundTripper = &http.Transport{MaxIdleConns: 4 * lagSamplers * len(urls),
		MaxIdleConnsPerHost: 2 * lagSamplers, IdleConnTimeout: time.Minute}
	if metricsToken != "" {
		metrics = bearer{token: metricsToken, next: metrics}
	}
	b := &benchRun{urls: urls, index: map[string]int{}, concurrency: concurrency, rate: rate, capture: capture,
		rec: &recorder{lat: map[string][]time.Duration{}, errors: map[string]int{}, decisions: map[string]int{}, reasons: map[string]int{}},
		id:  fmt.Sprintf("%x", time.Now().UnixNano()), lag: make(chan lagSample, 1024),
		metrics: &http.Client{Timeout: lagPoll, Transport: metrics}}
	// One connection pool for every client. Checkout (w, i) goes through
	// failover client (w+i) mod n, which prefers target (w+i) mod n and
	// fails over to the others in order; lag is polled through clients
	// pinned to one target each, so that an order found is an order that
	// target has.
	conns := concurrency * 2
	if rate > 0 {
		conns = max(conns, int(rate))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.IdleConnTimeout = conns, conns, time.Minute
	health := client.NewHealth()
	for i, u := range urls {
		b.index[u] = i
		c, err := client.New(client.Config{Regions: append(append([]string{}, urls[i:]...), urls[:i]...),
			Merchant: merchant, Secret: secret, Attempt: benchAttempt, Deadline: benchDeadline, Transport: tr, Health: health})
		if err != nil {
			return nil, &usageError{"bench: " + err.Error()}
		}
		p, err := client.New(client.Config{Regions: []string{u}, Merchant: merchant, Secret: secret,
			Attempt: lagPoll, Deadline: lagPoll, Transport: tr})
		if err != nil {
			return nil, &usageError{"bench: " + err.Error()}
		}
		b.failover, b.pinned = append(b.failover, c), append(b.pinned, p)
	}
	return b, nil
}

func (b *benchRun) loop() string {
	if b.rate > 0 {
		return fmt.Sprintf("open loop at %.1f checkouts/s", b.rate)
	}
	return fmt.Sprintf("concurrency %d", b.concurrency)
}

// benchAnswer is what the bench reads of an answer: a session's or an
// order's id and an order's decision. Decoding only these fields keeps the
// load generator's share of the machine small: it runs next to the
// regions it measures.
type benchAnswer struct {
	ID       string `json:"id"`
	Decision *struct {
		Outcome string   `json:"outcome"`
		Reasons []string `json:"reasons"`
	} `json:"decision"`
}

// answer turns a client's result into the answer's fields and the region
// that gave it, or an error for anything but a 2xx (a 402 with a decision
// is an answer too: a decline).
func (b *benchRun) answer(res *client.Response, err error) (benchAnswer, int, error) {
	var out benchAnswer
	if err != nil {
		return out, 0, err
	}
	if res.Status >= 300 {
		if res.Status == http.StatusPaymentRequired && json.Unmarshal(res.Body, &out) == nil && out.Decision != nil {
			return out, b.index[res.Region], nil
		}
		return out, 0, fmt.Errorf("%s: %d %s", res.Region, res.Status, res.Body)
	}
	json.Unmarshal(res.Body, &out)
	return out, b.index[res.Region], nil
}

func (b *benchRun) fail(err error) { b.errOnce.Do(func() { b.firstErr = err }) }

// run runs the loop for d and collects the results.
func (b *benchRun) run(ctx context.Context, d time.Duration) benchResult {
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var lagWG sync.WaitGroup
	lagWG.Add(1)
	go func() {
		defer lagWG.Done()
		b.pollLag()
	}()
	written := b.written(ctx)
	start := time.Now()
	if b.rate > 0 {
		b.openLoop(runCtx, start)
	} else {
		b.closedLoop(runCtx)
	}
	elapsed := time.Since(start)
	close(b.lag)
	lagWG.Wait()
	after := b.written(ctx)

	rec := b.rec
	res := benchResult{Operations: map[string]opStats{}, Targets: b.urls, Concurrency: b.concurrency, DurationS: elapsed.Seconds(),
		Rate: b.rate, Missed: rec.missed, Decisions: rec.decisions, Reasons: rec.reasons}
	for _, op := range benchOps {
		ds := rec.lat[op]
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		st := opStats{Count: len(ds), Errors: rec.errors[op], PerSecond: float64(len(ds)) / elapsed.Seconds(),
			P50MS: percentile(ds, 0.50), P95MS: percentile(ds, 0.95), P99MS: percentile(ds, 0.99)}
		if len(ds) > 0 {
			st.MaxMS = float64(ds[len(ds)-1].Microseconds()) / 1000
		}
		res.Operations[op] = st
	}
	sort.Slice(rec.lag, func(i, j int) bool { return rec.lag[i] < rec.lag[j] })
	res.ReplicationLagMS = lagStats{P50: percentile(rec.lag, 0.5), P99: percentile(rec.lag, 0.99), Samples: len(rec.lag)}
	if n := res.Operations["checkout"].Count; n > 0 && written != nil && after != nil {
		c := &entryCounts{ByKind: map[string]float64{}, ByRegion: map[string]float64{}}
		for target, kinds := range after {
			for kind, v := range kinds {
				d := (v - written[target][kind]) / float64(n)
				c.Total += d
				c.ByKind[kind] += d
				c.ByRegion[target] += d
			}
		}
		res.EntriesPerCheckout = c
	}
	return res
}

// writtenLine matches one kind's count of entries a region wrote in the
// Prometheus text format.
var writtenLine = regexp.MustCompile(`^kassa_ledger_entries_written_total\{kind="([^"]+)"\} ([0-9.e+]+)$`)

// written reads, from every target's /metrics, how many entries of each
// kind it has written; nil if a target does not answer.
func (b *benchRun) written(ctx context.Context) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for i, u := range b.urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/metrics", nil)
		if err != nil {
			return nil
		}
		res, err := b.metrics.Do(req)
		if err != nil {
			return nil
		}
		body, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			return nil
		}
		kinds := map[string]float64{}
		for _, l := range strings.Split(string(body), "\n") {
			if m := writtenLine.FindStringSubmatch(l); m != nil {
				v, _ := strconv.ParseFloat(m[2], 64)
				kinds[m[1]] = v
			}
		}
		out[b.urls[i]] = kinds
	}
	return out
}

func (b *benchRun) closedLoop(ctx context.Context) {
	var wg sync.WaitGroup
	for w := 0; w < b.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				b.checkout(ctx, w, i, time.Now())
			}
		}()
	}
	wg.Wait()
}

// openLoop starts checkout k at start + k/rate until ctx ends, each in a
// goroutine of its own, with at most benchMaxInFlight waiting; a checkout
// due while that many wait is counted as missed. The run ends when every
// started checkout has its answer.
func (b *benchRun) openLoop(ctx context.Context, start time.Time) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, benchMaxInFlight)
	interval := time.Duration(float64(time.Second) / b.rate)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for k := 0; ; k++ {
		due := start.Add(time.Duration(k) * interval)
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				wg.Wait()
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			wg.Wait()
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			b.rec.mu.Lock()
			b.rec.missed++
			b.rec.mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			// An open-loop checkout runs to its answer: the run's end
			// stops starting new ones, not the ones under way.
			b.checkout(context.WithoutCancel(ctx), k, 0, due)
		}()
	}
}

// checkout runs checkout (w, i) of the run, due at due: a session, a pay
// later authorization and, if approved, a capture.
func (b *benchRun) checkout(ctx context.Context, w, i int, due time.Time) {
	// runOver says the run has ended: the client may give up on an
	// operation for the run's deadline a moment before ctx says so.
	runOver := func(err error) bool { return ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) }
	c := b.failover[(w+i)%len(b.urls)]
	key := fmt.Sprintf("bench-%s-%d-%d", b.id, w, i)
	amount := 1000 + ((w+i)%50)*100
	body, _ := json.Marshal(map[string]any{
		"amount": amount, "currency": "SEK", "country": "SE", "merchant_reference": key,
		"lines": []map[string]any{{"name": "Bench item", "quantity": 1, "unit_price": amount, "total": amount}},
		"urls":  map[string]string{"confirmation": "https://shop.example/ok", "cancel": "https://shop.example/cart"},
	})
	t0 := time.Now()
	sess, _, err := b.answer(c.CreateSession(ctx, key, body))
	if runOver(err) {
		return
	}
	b.rec.add("session", time.Since(t0), err)
	if err != nil {
		b.rec.add("checkout", 0, err)
		b.fail(err)
		return
	}
	auth, _ := json.Marshal(map[string]any{"method": "pay_later", "consumer": map[string]string{
		"email": fmt.Sprintf("shopper%d@example.com", (w*7919+i)%100000), "given_name": "Bench", "family_name": "Shopper",
		"postal_code": "11122", "country": "SE"}})
	t1 := time.Now()
	order, idx, err := b.answer(c.Authorize(ctx, key+"-a", sess.ID, auth))
	if runOver(err) {
		return
	}
	b.rec.add("authorize", time.Since(t1), err)
	if err != nil {
		b.rec.add("checkout", 0, err)
		b.fail(err)
		return
	}
	outcome, reasons := decisionOf(order)
	b.rec.decide(outcome, reasons)
	if outcome == "approved" {
		if len(b.urls) > 1 && (w+i)%20 == 0 {
			select {
			case b.lag <- lagSample{order.ID, time.Now(), idx}:
			default:
			}
		}
		if b.capture {
			t2 := time.Now()
			_, _, err := b.answer(c.Capture(ctx, key+"-c", order.ID, 0))
			if runOver(err) {
				return
			}
			b.rec.add("capture", time.Since(t2), err)
			if err != nil {
				b.rec.add("checkout", 0, err)
				b.fail(err)
				return
			}
		}
	}
	b.rec.add("checkout", time.Since(due), nil)
}

// decisionOf reads an order's decision: its outcome and reason codes.
func decisionOf(order benchAnswer) (string, []string) {
	if order.Decision == nil {
		return "unknown", nil
	}
	if order.Decision.Outcome == "" {
		return "unknown", order.Decision.Reasons
	}
	return order.Decision.Outcome, order.Decision.Reasons
}

// pollLag measures replication lag for each sampled authorization, up to
// lagSamplers at once, each as sampleLag does.
func (b *benchRun) pollLag() {
	var wg sync.WaitGroup
	slots := make(chan struct{}, lagSamplers)
	for s := range b.lag {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			b.sampleLag(s)
		})
	}
	wg.Wait()
}

// lagSamplers bounds the samples being polled at once; lagEvery is how
// often a sample polls a target's status.
const (
	lagSamplers = 16
	lagEvery    = 5 * time.Millisecond
)

// sampleLag reads, right after an authorization's answer, the authorizing
// target's own head from its /sync/v1/status, and polls every other
// target's status, all at once, until its vector holds that head: the
// lag of each is the time from the answer until then. (Asking for the
// order instead would measure read-through: a region that lacks an order
// fetches it from its peers when asked.) A head read later than the
// answer can only add to the figure, by at most that read's latency.
//
// A target whose status this bench may not read (production asks for
// http.metrics_token, which --metrics-token sends, or a network in
// http.metrics_allow) is asked for the order instead, which a region that
// lacks it reads through from its peers: then the figure is how soon the
// order can be read there, not replication.
func (b *benchRun) sampleLag(s lagSample) {
	origin, err := b.status(b.urls[s.idx])
	held := func(j int, u string) bool {
		if err != nil {
			_, _, oerr := b.answer(b.pinned[j].Order(context.Background(), s.id))
			return oerr == nil
		}
		st, serr := b.status(u)
		return serr == nil && st.Vector[origin.Region] >= origin.Vector[origin.Region]
	}
	var wg sync.WaitGroup
	for j, u := range b.urls {
		if j == s.idx {
			continue
		}
		wg.Go(func() {
			for deadline := s.at.Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(lagEvery) {
				if held(j, u) {
					b.rec.mu.Lock()
					b.rec.lag = append(b.rec.lag, time.Since(s.at))
					b.rec.mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
}

// status reads a target's replication status.
func (b *benchRun) status(u string) (regionStatus, error) {
	var st regionStatus
	res, err := b.metrics.Get(u + "/sync/v1/status")
	if err != nil {
		return st, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return st, fmt.Errorf("bench: %s/sync/v1/status: %s", u, res.Status)
	}
	return st, json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&st)
}

// regionStatus is the part of GET /sync/v1/status that lag needs.
type regionStatus struct {
	Region string            `json:"region"`
	Vector map[string]uint64 `json:"vector"`
}
