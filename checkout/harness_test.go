package checkout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kassa/region"
	"kassa/region/regiontest"
)

// cutTransport lets a test cut the link between regions and, with a seeded
// random source, drop requests, lose answers and duplicate requests between
// them (only region-to-region traffic under /sync/).
type cutTransport struct {
	mu  sync.Mutex
	cut map[string]bool // host:port -> unreachable
	// held: host:port -> pushes to it fail (replication held back), while
	// every other request, lookups and rights requests too, goes through
	held map[string]bool
	next http.RoundTripper
	rng  *rand.Rand
	// probabilities of each fault per request
	drop, lose, dup float64
}

func (c *cutTransport) faulty(rng *rand.Rand, drop, lose, dup float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rng, c.drop, c.lose, c.dup = rng, drop, lose, dup
}

// roll draws whether the fault whose probability which picks happens.
func (c *cutTransport) roll(which func(c *cutTransport) float64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := which(c)
	return c.rng != nil && p > 0 && c.rng.Float64() < p
}

func drop(c *cutTransport) float64 { return c.drop }
func lose(c *cutTransport) float64 { return c.lose }
func dup(c *cutTransport) float64  { return c.dup }

func (c *cutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	cut := c.cut[r.URL.Host]
	held := c.held[r.URL.Host] && r.Method == http.MethodPost && r.URL.Path == "/sync/v1/entries"
	c.mu.Unlock()
	if cut {
		return nil, fmt.Errorf("test partition: %s unreachable", r.URL.Host)
	}
	if held {
		return nil, fmt.Errorf("test fault: push to %s held back", r.URL.Host)
	}
	if !strings.HasPrefix(r.URL.Path, "/sync/") {
		return c.next.RoundTrip(r)
	}
	if c.roll(drop) {
		return nil, fmt.Errorf("test fault: request to %s dropped", r.URL.Host)
	}
	if c.roll(dup) {
		// The same request twice: the receiver must refuse or ignore the copy.
		var body []byte
		if r.Body != nil {
			var err error
			if body, err = io.ReadAll(r.Body); err != nil {
				return nil, err
			}
			r.Body.Close()
		}
		dup := r.Clone(r.Context())
		dup.Body = io.NopCloser(bytes.NewReader(body))
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		if res, err := c.next.RoundTrip(dup); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	}
	res, err := c.next.RoundTrip(r)
	if err == nil && c.roll(lose) {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return nil, fmt.Errorf("test fault: answer from %s lost", r.URL.Host)
	}
	return res, err
}

type testRegion struct {
	id   string
	url  string
	dir  string
	cfg  region.Config
	r    *region.Region
	logs *regiontest.LogBuffer
	net  *cutTransport
	stop func() // stops serving and closes the region; safe to call twice
}

func testConfig(id, dir, listen string) region.Config {
	return regiontest.Config(id, dir, listen)
}

// startRegions starts n peered regions r1..rn in this process on loopback.
func startRegions(t testing.TB, n int, tune func(*region.Config)) []*testRegion {
	t.Helper()
	lns := make([]net.Listener, n)
	rs := make([]*testRegion, n)
	cfgs := make([]region.Config, n)
	keys := make([]string, n)
	for i := range rs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
		id := fmt.Sprintf("r%d", i+1)
		dir := filepath.Join(t.TempDir(), id)
		cfgs[i] = testConfig(id, dir, ln.Addr().String())
		if err := cfgs[i].Normalize(); err != nil {
			t.Fatal(err)
		}
		key, _, err := region.EnsureKey(cfgs[i].KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = region.PublicKeyString(key)
		rs[i] = &testRegion{id: id, url: cfgs[i].PublicURL, dir: dir, logs: &regiontest.LogBuffer{},
			net: &cutTransport{cut: map[string]bool{}, next: http.DefaultTransport}}
	}
	for i := range rs {
		for j := range rs {
			if i != j {
				cfgs[i].Peers = append(cfgs[i].Peers, region.Peer{ID: rs[j].id, URL: rs[j].url, PublicKey: keys[j]})
			}
		}
		if i > 0 {
			// One acquirer for all regions, as in a deployment.
			cfgs[i].Checkout.AcquirerURL = rs[0].url + region.SimulatorPath
		}
		if tune != nil {
			tune(&cfgs[i])
		}
		rs[i].cfg = cfgs[i]
		rs[i].start(t, lns[i])
	}
	for _, r := range rs {
		waitReady(t, r.url)
	}
	return rs
}

// start runs the region on ln (a new listener on its address if nil).
func (tr *testRegion) start(t testing.TB, ln net.Listener) {
	t.Helper()
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", tr.cfg.Listen); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(tr.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := region.New(context.Background(), tr.cfg, log, region.WithTransport(tr.net))
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
	var once sync.Once
	tr.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			r.Close()
		})
	}
	t.Cleanup(tr.stop)
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

// partition cuts (or heals) the links between a and b both ways.
func partition(a, b *testRegion, cut bool) {
	for _, p := range [][2]*testRegion{{a, b}, {b, a}} {
		p[0].net.mu.Lock()
		p[0].net.cut[p[1].url[len("http://"):]] = cut
		p[0].net.mu.Unlock()
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

func (r response) num(key string) int64 {
	f, _ := r.body[key].(float64)
	return int64(f)
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
