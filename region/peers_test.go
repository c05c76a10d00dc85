package region_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kassa/account"
	"kassa/checkout"
	"kassa/region"
	"kassa/region/regiontest"
	"kassa/scoring"
)

// freezer is one region's outbound transport. A request to a frozen host
// hangs, as against a stopped process whose listener still accepts, until
// the host thaws (then it goes through) or the request's context ends. It
// counts the rights requests sent to each host.
type freezer struct {
	mu     sync.Mutex
	frozen map[string]chan struct{} // host:port -> closed on thaw
	rights map[string]int
	next   http.RoundTripper
}

func (f *freezer) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	thawed := f.frozen[r.URL.Host]
	if strings.HasSuffix(r.URL.Path, "/sync/v1/rights") {
		f.rights[r.URL.Host]++
	}
	f.mu.Unlock()
	if thawed != nil {
		select {
		case <-thawed:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return f.next.RoundTrip(r)
}

func (f *freezer) rightsTo(host string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rights[host]
}

// peered is a region of a test cluster.
type peered struct {
	id   string
	url  string
	host string
	cfg  region.Config
	r    *region.Region
	net  *freezer
	logs *regiontest.LogBuffer
}

// startPeered starts n peered regions r1..rn on loopback, tune adjusting
// each one's config.
func startPeered(t *testing.T, n int, tune func(i int, c *region.Config)) []*peered {
	t.Helper()
	ps := make([]*peered, n)
	lns := make([]net.Listener, n)
	keys := make([]string, n)
	for i := range ps {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
		id := fmt.Sprintf("r%d", i+1)
		cfg := regiontest.Config(id, filepath.Join(t.TempDir(), id), ln.Addr().String())
		if err := cfg.Normalize(); err != nil {
			t.Fatal(err)
		}
		key, _, err := region.EnsureKey(cfg.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = region.PublicKeyString(key)
		ps[i] = &peered{id: id, url: cfg.PublicURL, host: ln.Addr().String(), cfg: cfg, logs: &regiontest.LogBuffer{},
			net: &freezer{frozen: map[string]chan struct{}{}, rights: map[string]int{}, next: http.DefaultTransport}}
	}
	for i, p := range ps {
		for j, q := range ps {
			if i != j {
				p.cfg.Peers = append(p.cfg.Peers, region.Peer{ID: q.id, URL: q.url, PublicKey: keys[j]})
			}
		}
		if i > 0 {
			p.cfg.Checkout.AcquirerURL = ps[0].url + region.SimulatorPath
		}
		if tune != nil {
			tune(i, &p.cfg)
		}
		log := slog.New(slog.NewTextHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		r, err := region.New(context.Background(), p.cfg, log, region.WithTransport(p.net))
		if err != nil {
			t.Fatal(err)
		}
		p.r = r
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.Serve(ctx, lns[i])
		}()
		t.Cleanup(func() {
			for _, q := range ps {
				q.thaw(p) // a hung request must not hold the shutdown
			}
			cancel()
			<-done
			r.Close()
		})
	}
	for _, p := range ps {
		deadline := time.Now().Add(20 * time.Second)
		for !p.ready() {
			if time.Now().After(deadline) {
				t.Fatalf("%s never became ready", p.id)
			}
			time.Sleep(10 * time.Millisecond) // polling readiness of a server
		}
	}
	return ps
}

func (p *peered) ready() bool {
	res, err := http.Get(p.url + "/readyz")
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// freeze makes q look like a stopped process to p.
func (p *peered) freeze(q *peered) {
	p.net.mu.Lock()
	defer p.net.mu.Unlock()
	if p.net.frozen[q.host] == nil {
		p.net.frozen[q.host] = make(chan struct{})
	}
}

func (p *peered) thaw(q *peered) {
	p.net.mu.Lock()
	defer p.net.mu.Unlock()
	if c := p.net.frozen[q.host]; c != nil {
		close(c)
		delete(p.net.frozen, q.host)
	}
}

// api sends a merchant API request as the demo merchant.
func api(t *testing.T, method, url, key string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(b))
	req.SetBasicAuth("demo", "sk_test_demo")
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// payLater creates a session at base and authorizes it for pay later by
// email; it returns the authorization's status and how long it took.
func payLater(t *testing.T, base, key, email string) (int, time.Duration) {
	t.Helper()
	st, s := api(t, "POST", base+"/v1/sessions", key, map[string]any{
		"amount": 5000, "currency": "SEK", "country": "SE", "merchant_reference": "ref-" + key,
		"lines": []map[string]any{{"name": "Shoes", "quantity": 1, "unit_price": 5000, "total": 5000}},
		"urls":  map[string]any{"confirmation": "https://shop.example/ok", "cancel": "https://shop.example/cart"},
	})
	if st != http.StatusCreated {
		t.Fatalf("create session: %d %v", st, s)
	}
	start := time.Now()
	st, o := api(t, "POST", base+"/v1/sessions/"+s["id"].(string)+"/authorize", key+"-auth", map[string]any{
		"method": "pay_later", "consumer": map[string]any{"email": email, "given_name": "Ada", "family_name": "Lovelace",
			"postal_code": "11122", "country": "SE"}})
	took := time.Since(start)
	if st >= 500 {
		t.Fatalf("authorize: %d %v", st, o)
	}
	return st, took
}

// emailsHomedAt returns n shopper emails whose consumers' home is home.
func emailsHomedAt(home string, regions []string, n int, tag string) []string {
	ids := checkout.Consumers{Key: []byte(checkout.DemoIdentityKey)}
	var out []string
	for i := 0; len(out) < n; i++ {
		e := fmt.Sprintf("shopper-%s-%d@example.com", tag, i)
		if scoring.Home(ids.ID(e), regions) == home {
			out = append(out, e)
		}
	}
	return out
}

// TestDecisionsSkipFrozenHome: with the consumers' home region frozen,
// the first pay-later decision in another region waits out
// scoring.rights_timeout and takes the home down; the next ones do not ask
// it (one short probe per sync.interval at most) and answer at once; when
// the home thaws, decisions get their rights from it again.
func TestDecisionsSkipFrozenHome(t *testing.T) {
	const (
		interval      = 2 * time.Second        // the probe interval (sync.interval)
		rightsTimeout = 500 * time.Millisecond // below it, so that waiting out every request would break the bound
		n             = 40
	)
	ps := startPeered(t, 3, func(_ int, c *region.Config) {
		c.Sync.Interval = interval
		c.Scoring.RightsTimeout = rightsTimeout
	})
	home, shop := ps[0], ps[1]
	regions := []string{"r1", "r2", "r3"}
	for _, p := range ps[1:] {
		p.freeze(home)
	}
	emails := emailsHomedAt("r1", regions, n+1, "frozen")
	if st, _ := payLater(t, shop.url, "first", emails[0]); st != http.StatusCreated && st != http.StatusPaymentRequired {
		t.Fatalf("first checkout with a frozen home: %d", st)
	}
	if !shop.r.Node().Down("r1") {
		t.Fatal("the frozen home is not down after a rights request to it timed out")
	}
	before := shop.net.rightsTo(home.host)
	start := time.Now()
	var took []time.Duration
	for i, e := range emails[1:] {
		st, d := payLater(t, shop.url, fmt.Sprintf("frozen-%d", i), e)
		if st != http.StatusCreated && st != http.StatusPaymentRequired {
			t.Fatalf("checkout %d with a frozen home: %d", i, st)
		}
		took = append(took, d)
	}
	elapsed := time.Since(start)
	sent := shop.net.rightsTo(home.host) - before
	// At most one probe per interval (plus one for the interval under way);
	// without skipping, every checkout asks, one per rights_timeout.
	if limit := 1 + int(elapsed/interval); sent > limit {
		t.Fatalf("%d rights requests went to the frozen home during %d checkouts in %s; want at most %d (one per %s)",
			sent, n, elapsed.Round(time.Millisecond), limit, interval)
	}
	slices.Sort(took)
	t.Logf("frozen home: %d pay-later authorizations, %d rights requests to it; authorize p50 %s p99 %s max %s (rights_timeout %s)",
		n, sent, took[n/2].Round(time.Microsecond), took[n*99/100].Round(time.Microsecond), took[n-1].Round(time.Microsecond), rightsTimeout)

	// Thawed: a probe (or the push loop) finds it answering, and decisions
	// are secured by rights it grants again.
	for _, p := range ps[1:] {
		p.thaw(home)
	}
	back := emailsHomedAt("r1", regions, 50, "back")
	deadline := time.Now().Add(15 * time.Second)
	i := 0
	for shop.r.Node().Down("r1") {
		if time.Now().After(deadline) || i == len(back) {
			t.Fatal("the home never came back after it thawed")
		}
		payLater(t, shop.url, fmt.Sprintf("back-%d", i), back[i])
		i++
	}
	before = shop.net.rightsTo(home.host)
	ids := checkout.Consumers{Key: []byte(checkout.DemoIdentityKey)}
	for j, e := range back[i : i+3] {
		if st, _ := payLater(t, shop.url, fmt.Sprintf("again-%d", j), e); st != http.StatusCreated {
			t.Fatalf("checkout after the home came back: %d", st)
		}
		// Only the home grants a line: holding one here, the decision
		// was secured by rights the home sent.
		c := string(ids.ID(e))
		lim, err := shop.r.Ledger().Balance(context.Background(), account.CreditLimit(c), "SEK")
		if err != nil || lim == 0 {
			t.Fatalf("no credit line from the home for consumer %d after it came back (%v)", j, err)
		}
	}
	if sent := shop.net.rightsTo(home.host) - before; sent != 3 {
		t.Fatalf("%d rights requests went to the home that came back for 3 new consumers, want 3", sent)
	}
}
