package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
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
	mu     sync.Mutex
	lat    map[string][]time.Duration
	errors map[string]int
	lag    []time.Duration
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

// bench drives regions through the public merchant API and the failover
// client: each worker creates a session, authorizes it (pay later) and
// captures it, preferring the targets in turn. A sample of orders is polled
// on the targets other than the one that authorized it to measure
// replication lag.
func (e *cmdEnv) bench(ctx context.Context, args []string) error {
	var (
		targets     string
		duration    time.Duration
		concurrency int
		jsonFile    string
		merchant    string
		secret      string
		capture     bool
	)
	_, err := e.flags("bench", "Drive regions through the public merchant API and report throughput and latency per\noperation (session, authorize, capture) and the replication lag between targets.", args, func(fs *pflag.FlagSet) {
		fs.StringVar(&targets, "target", "", "region base URLs, comma-separated (required)")
		fs.DurationVar(&duration, "duration", 10*time.Second, "how long to run")
		fs.IntVar(&concurrency, "concurrency", 32, "parallel clients")
		fs.StringVar(&jsonFile, "json", "", "write the results as JSON to this file")
		fs.StringVar(&merchant, "merchant", "demo", "merchant id")
		fs.StringVar(&secret, "secret", "sk_test_demo", "merchant API secret")
		fs.BoolVar(&capture, "capture", true, "capture each authorized order")
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
	if duration <= 0 || duration > 24*time.Hour {
		return &usageError{"bench: --duration must be positive"}
	}

	// One connection pool for every client. Worker w's i-th checkout goes
	// through failover client (w+i) mod n, which prefers target
	// (w+i) mod n and fails over to the others in order; lag is polled
	// through clients pinned to one target each, so that an order found
	// is an order that target has.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.IdleConnTimeout = concurrency*2, concurrency*2, time.Minute
	var failover, pinned []*client.Client
	index := map[string]int{}
	for i, u := range urls {
		index[u] = i
		c, err := client.New(client.Config{Regions: append(append([]string{}, urls[i:]...), urls[:i]...),
			Merchant: merchant, Secret: secret, Attempt: benchAttempt, Deadline: benchDeadline, Transport: tr})
		if err != nil {
			return &usageError{"bench: " + err.Error()}
		}
		p, err := client.New(client.Config{Regions: []string{u}, Merchant: merchant, Secret: secret,
			Attempt: lagPoll, Deadline: lagPoll, Transport: tr})
		if err != nil {
			return &usageError{"bench: " + err.Error()}
		}
		failover, pinned = append(failover, c), append(pinned, p)
	}
	rec := &recorder{lat: map[string][]time.Duration{}, errors: map[string]int{}}
	// answer turns a client's result into the answer's fields and the
	// region that gave it, or an error for anything but a 2xx.
	answer := func(res *client.Response, err error) (map[string]any, int, error) {
		if err != nil {
			return nil, 0, err
		}
		if res.Status >= 300 {
			return nil, 0, fmt.Errorf("%s: %d %s", res.Region, res.Status, res.Body)
		}
		var out map[string]any
		json.Unmarshal(res.Body, &out)
		return out, index[res.Region], nil
	}

	runCtx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	// runOver says the run has ended: the client may give up on an
	// operation for the run's deadline a moment before runCtx says so.
	runOver := func(err error) bool { return runCtx.Err() != nil || errors.Is(err, context.DeadlineExceeded) }
	run := fmt.Sprintf("%x", time.Now().UnixNano())
	lagSamples := make(chan struct {
		id  string
		at  time.Time
		idx int
	}, 1024)
	var wg sync.WaitGroup
	start := time.Now()
	var firstErr error
	var errOnce sync.Once
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; runCtx.Err() == nil; i++ {
				c := failover[(w+i)%len(urls)]
				key := fmt.Sprintf("bench-%s-%d-%d", run, w, i)
				amount := 1000 + (i%50)*100
				body, _ := json.Marshal(map[string]any{
					"amount": amount, "currency": "SEK", "country": "SE", "merchant_reference": key,
					"lines": []map[string]any{{"name": "Bench item", "quantity": 1, "unit_price": amount, "total": amount}},
					"urls":  map[string]string{"confirmation": "https://shop.example/ok", "cancel": "https://shop.example/cart"},
				})
				t0 := time.Now()
				sess, _, err := answer(c.CreateSession(runCtx, key, body))
				if runOver(err) {
					return
				}
				rec.add("session", time.Since(t0), err)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					continue
				}
				auth, _ := json.Marshal(map[string]any{"method": "pay_later", "consumer": map[string]string{
					"email": fmt.Sprintf("shopper%d@example.com", (w*7919+i)%100000), "given_name": "Bench", "family_name": "Shopper",
					"postal_code": "11122", "country": "SE"}})
				t1 := time.Now()
				order, idx, err := answer(c.Authorize(runCtx, key+"-a", fmt.Sprint(sess["id"]), auth))
				if runOver(err) {
					return
				}
				rec.add("authorize", time.Since(t1), err)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					continue
				}
				if len(urls) > 1 && i%20 == 0 {
					select {
					case lagSamples <- struct {
						id  string
						at  time.Time
						idx int
					}{fmt.Sprint(order["id"]), time.Now(), idx}:
					default:
					}
				}
				if capture {
					t2 := time.Now()
					_, _, err := answer(c.Capture(runCtx, key+"-c", fmt.Sprint(order["id"]), 0))
					if runOver(err) {
						return
					}
					rec.add("capture", time.Since(t2), err)
				}
			}
		}()
	}
	// Lag: poll each sampled order on the targets other than the one that
	// authorized it until it is there.
	var lagWG sync.WaitGroup
	lagWG.Add(1)
	go func() {
		defer lagWG.Done()
		for s := range lagSamples {
			for j := range urls {
				if j == s.idx {
					continue
				}
				deadline := s.at.Add(10 * time.Second)
				for time.Now().Before(deadline) {
					_, _, err := answer(pinned[j].Order(context.Background(), s.id))
					if err == nil {
						rec.mu.Lock()
						rec.lag = append(rec.lag, time.Since(s.at))
						rec.mu.Unlock()
						break
					}
					time.Sleep(2 * time.Millisecond) // polling another region for the order
				}
			}
		}
	}()
	wg.Wait()
	elapsed := time.Since(start)
	close(lagSamples)
	lagWG.Wait()

	res := benchResult{Operations: map[string]opStats{}, Targets: urls, Concurrency: concurrency, DurationS: elapsed.Seconds()}
	ops := []string{"session", "authorize", "capture"}
	for _, op := range ops {
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

	fmt.Fprintf(e.stdout, "kassa bench: %d targets, concurrency %d, %.1fs\n", len(urls), concurrency, elapsed.Seconds())
	fmt.Fprintf(e.stdout, "%-10s %8s %7s %10s %8s %8s %8s %8s\n", "op", "count", "errors", "per_sec", "p50_ms", "p95_ms", "p99_ms", "max_ms")
	for _, op := range ops {
		s := res.Operations[op]
		fmt.Fprintf(e.stdout, "%-10s %8d %7d %10.1f %8.2f %8.2f %8.2f %8.2f\n", op, s.Count, s.Errors, s.PerSecond, s.P50MS, s.P95MS, s.P99MS, s.MaxMS)
	}
	if len(urls) > 1 {
		fmt.Fprintf(e.stdout, "replication lag: p50 %.1f ms, p99 %.1f ms (%d samples)\n", res.ReplicationLagMS.P50, res.ReplicationLagMS.P99, res.ReplicationLagMS.Samples)
	}
	if firstErr != nil {
		fmt.Fprintf(e.stderr, "first error: %v\n", firstErr)
	}
	if jsonFile != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(jsonFile, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("bench: write %s: %w", jsonFile, err)
		}
	}
	if res.Operations["authorize"].Count == 0 {
		return errors.New("bench: no authorization succeeded")
	}
	return nil
}
