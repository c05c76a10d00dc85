package checkout_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kassa/checkout"
	"kassa/ledger"
	"kassa/region"
	"kassa/scoring"
)

// Credit limits small enough to bind: every consumer gets 1,000.00 SEK of
// credit; each region may approve 400.00 SEK without rights, 200.00 at most
// per order.
const (
	simLimit     = 100_000
	simBudget    = 40_000
	simMaxOrder  = 20_000
	simDecisions = 3 * time.Second // the checkout's latency budget
)

func creditTune(c *region.Config) {
	s := &c.Scoring
	s.CreditLimit = map[string]int64{"SEK": simLimit}
	s.UnsecuredBudget = map[string]int64{"SEK": simBudget}
	s.UnsecuredMaxOrder, s.UnsecuredMinScore = simMaxOrder, 0
	s.RightsTimeout = 300 * time.Millisecond
	s.GrantShare, s.RebalanceShare = 0.5, 0.3
	s.RebalanceWindow, s.RebalanceInterval = 24*time.Hour, 20*time.Millisecond
	c.Sync.Interval = 20 * time.Millisecond
	c.Sync.RecoveryTimeout = 500 * time.Millisecond
}

// simResult is what one checkout got.
type simResult struct {
	consumer string
	outcome  string // approved, declined, card_only; "" when unanswered
	order    string
	latency  time.Duration
	reasons  []string
}

// try is an API call that reports transport errors instead of failing the
// test, for use from many goroutines and against stopped regions.
func try(method, url, key string, body any) (int, map[string]any, error) {
	return callWith(http.DefaultClient, method, url, key, body)
}

// shop runs one pay-later checkout at base and reports the answer.
func shop(base, email, key string, amount int64) simResult {
	r := simResult{consumer: email}
	code, s, err := try("POST", base+"/v1/sessions", key, sessionBody(amount, key))
	if err != nil || code != 201 {
		return r
	}
	start := time.Now()
	code, o, err := try("POST", base+"/v1/sessions/"+s["id"].(string)+"/authorize", key+"-a",
		map[string]any{"method": "pay_later", "consumer": consumer(email)})
	r.latency = time.Since(start)
	if err != nil || (code != 201 && code != 402) {
		return r
	}
	d, _ := o["decision"].(map[string]any)
	r.outcome, _ = d["outcome"].(string)
	r.order, _ = o["id"].(string)
	for _, x := range d["reasons"].([]any) {
		r.reasons = append(r.reasons, x.(string))
	}
	return r
}

type simStats struct {
	total, answered           int
	histTotal, histApproved   int
	hammerTotal, hammerAnswer int
	unsecured                 int
	latencies                 []time.Duration
	outcomes                  map[string]int // outcome and first reason
}

// runCreditSim runs one seeded scenario on a fresh three-region cluster:
// consumers build a history where they shop, then shop again (with the
// link between r1 and the others cut, if partitioned), then a few consumers
// hammer every region at once past their limits while the network drops,
// loses and duplicates messages and one region loses its disk and comes
// back from an old replica. After the heal it checks the credit invariants
// in every region.
func runCreditSim(t *testing.T, seed uint64, partitioned bool) simStats {
	rs := startRegions(t, 3, creditTune)
	rng := rand.New(rand.NewPCG(seed, 99))
	for i, r := range rs {
		r.net.faulty(rand.New(rand.NewPCG(seed, uint64(i))), 0.05, 0.05, 0.05)
	}
	regions := []string{"r1", "r2", "r3"}
	byID := map[string]*testRegion{}
	for _, r := range rs {
		byID[r.id] = r
	}
	svc := rs[0].r.Checkout()
	var st simStats
	var mu sync.Mutex
	record := func(r simResult, hist, hammer bool) {
		mu.Lock()
		defer mu.Unlock()
		st.total++
		if hammer {
			st.hammerTotal++
		}
		if r.outcome == "" {
			return
		}
		st.answered++
		if st.outcomes == nil {
			st.outcomes = map[string]int{}
		}
		st.outcomes[r.outcome+"/"+r.reasons[0]]++
		st.latencies = append(st.latencies, r.latency)
		if hammer {
			st.hammerAnswer++
		}
		if hist {
			st.histTotal++
			if r.outcome == "approved" {
				st.histApproved++
			}
		}
		for _, x := range r.reasons {
			if x == scoring.ReasonUnsecured {
				st.unsecured++
			}
		}
	}

	// 1. History: each consumer shops once where it lives (never its home
	// region) and the order is cancelled; the rights it pulled stay there.
	type shopper struct{ email, home, at string }
	var shoppers []shopper
	for i := 0; i < 9; i++ {
		email := fmt.Sprintf("hist%d-%d@example.com", seed, i)
		home := scoring.Home(svc.ConsumerID(email), regions)
		at := regions[(indexOf(regions, home)+1+i%2)%3]
		shoppers = append(shoppers, shopper{email, home, at})
	}
	for i, s := range shoppers {
		r := shop(byID[s.at].url, s.email, fmt.Sprintf("h%d-%d", seed, i), 10_000)
		if r.outcome != "approved" {
			for _, x := range rs {
				for _, l := range strings.Split(x.logs.String(), "\n") {
					if strings.Contains(l, "credit") || strings.Contains(l, "rights") {
						t.Log(x.id, l)
					}
				}
			}
			t.Fatalf("seed %d: history checkout for %s at %s (home %s): %+v", seed, s.email, s.at, s.home, r)
		}
		if code, _, err := try("POST", byID[s.at].url+"/v1/orders/"+r.order+"/cancel", fmt.Sprintf("hc%d-%d", seed, i), nil); err != nil || code != 200 {
			t.Fatalf("seed %d: cancel %s: %d %v", seed, r.order, code, err)
		}
	}
	converge(t, rs)

	// 2. The same consumers shop again where they live, four times each.
	if partitioned {
		partition(byID["r1"], byID["r2"], true)
		partition(byID["r1"], byID["r3"], true)
	}
	var wg sync.WaitGroup
	for i, s := range shoppers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 4; j++ {
				record(shop(byID[s.at].url, s.email, fmt.Sprintf("p%d-%d-%d", seed, i, j), 8_000), true, false)
			}
		}()
	}
	wg.Wait()

	// 3. The hammer: new consumers at every region at once, far past their
	// limits, with captures, repayments and cancellations in any region;
	// r3 stops halfway and comes back.
	hammer := []string{fmt.Sprintf("ham%d-a@example.com", seed), fmt.Sprintf("ham%d-b@example.com", seed), fmt.Sprintf("ham%d-c@example.com", seed)}
	plans := make([]int64, 0)
	for range 2 * len(regions) * len(hammer) {
		plans = append(plans, 5_000+rng.Int64N(15_000))
	}
	round := func(name string, live []*testRegion) {
		var wg sync.WaitGroup
		for ri, r := range live {
			for ci, email := range hammer {
				wg.Add(1)
				go func() {
					defer wg.Done()
					orng := rand.New(rand.NewPCG(seed, uint64(ri*10+ci)))
					for k := 0; k < 4; k++ {
						key := fmt.Sprintf("%s-%d-%s-%d-%d", name, seed, r.id, ci, k)
						res := shop(r.url, email, key, plans[(ri*len(hammer)+ci)%len(plans)]+int64(k))
						record(res, false, true)
						if res.outcome != "approved" {
							continue
						}
						other := live[orng.IntN(len(live))]
						switch x := orng.IntN(10); {
						case x < 3:
							try("POST", other.url+"/v1/orders/"+res.order+"/cancel", key+"-c", nil)
						case x < 8:
							if code, _, _ := try("POST", other.url+"/v1/orders/"+res.order+"/captures", key+"-k", nil); code == 201 && x < 6 {
								other.r.Checkout().Repay(context.Background(), checkout.OrderID(res.order),
									checkout.Repayment{Amount: 1_000 + orng.Int64N(3_000), PaidAt: time.Now(), Reference: key + "-r"})
							}
						}
					}
				}()
			}
		}
		wg.Wait()
	}
	r3 := byID["r3"]
	if err := r3.r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(t.TempDir(), "old-backup")
	copyDir(t, filepath.Join(r3.dir, "backup"), old)
	round("ha", rs)
	r3.stop()
	round("hb", rs[:2])
	// r3's disk is lost: it comes back from the replica as it was before
	// the hammer, and fetches the rest of its own chain from its peers
	// (on a quiet network: recovery under faults is sync's own test).
	key, err := os.ReadFile(r3.cfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(r3.dir)
	copyDir(t, old, filepath.Join(r3.dir, "backup"))
	os.WriteFile(r3.cfg.KeyFile, key, 0o600)
	for _, r := range rs {
		r.net.faulty(nil, 0, 0, 0)
	}
	r3.start(t, nil)
	waitReady(t, r3.url)
	if !r3.r.Restored() {
		t.Fatal("r3 did not restore from its replica")
	}
	for i, r := range rs {
		r.net.faulty(rand.New(rand.NewPCG(seed, uint64(10+i))), 0.05, 0.05, 0.05)
	}
	round("hc", rs)

	// 4. Heal and check.
	for _, r := range rs {
		r.net.faulty(nil, 0, 0, 0)
	}
	partition(byID["r1"], byID["r2"], false)
	partition(byID["r1"], byID["r3"], false)
	converge(t, rs)
	all := append([]string{}, hammer...)
	for _, s := range shoppers {
		all = append(all, s.email)
	}
	for _, r := range rs {
		if forks, _ := r.r.Ledger().Forks(context.Background()); len(forks) != 0 {
			t.Fatalf("%s quarantined forks: %+v", r.id, forks)
		}
	}
	var diff string
	eventually(t, func() bool {
		converge(t, rs)
		diff = checkCredit(t, rs, all)
		if diff != "" {
			t.Log(diff) // shown only if the regions never agree
		}
		return diff == ""
	})
	return st
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// converge waits until every region holds the same entries and the
// rebalancers have nothing left to move.
func converge(t *testing.T, rs []*testRegion) {
	t.Helper()
	eventually(t, func() bool {
		d := rs[0].r.Ledger().Digest()
		for _, r := range rs[1:] {
			if r.r.Ledger().Digest() != d {
				return false
			}
		}
		return true
	})
}

// checkCredit asserts the credit invariants in every region: exposure never
// beyond the limit plus unsecured approvals, no region past its unsecured
// budget, no rights account below zero, every right accounted for, the
// exposure equal to what the orders say, and identical rights tables (it
// reports a difference between regions; the invariants it asserts).
func checkCredit(t *testing.T, rs []*testRegion, emails []string) string {
	t.Helper()
	ctx := context.Background()
	for _, r := range rs {
		for _, id := range []string{"r1", "r2", "r3"} {
			b, err := r.r.Ledger().Balance(ctx, "unsecured:"+id, "SEK")
			if err != nil || -b < 0 || -b > simBudget {
				t.Fatalf("%s: %s spent %d of its unsecured budget %d (err %v)", r.id, id, -b, simBudget, err)
			}
		}
	}
	for _, email := range emails {
		var first []byte
		for _, r := range rs {
			cid := r.r.Checkout().ConsumerID(email)
			v, err := r.r.Credit().Consumer(ctx, cid)
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Lines) != 1 {
				t.Fatalf("%s: %s has %d lines: %+v", r.id, email, len(v.Lines), v)
			}
			l := v.Lines[0]
			var sum int64
			for reg, n := range l.Rights {
				if n < 0 {
					t.Fatalf("%s: %s: region %s owns %d rights", r.id, email, reg, n)
				}
				sum += n
			}
			if l.LineGranted && (l.Limit != simLimit || sum+l.Secured != l.Limit) {
				t.Fatalf("%s: %s: limit %d, rights %d + secured exposure %d", r.id, email, l.Limit, sum, l.Secured)
			}
			if l.Secured < 0 || l.Unsecured < 0 || l.Secured > l.Limit {
				t.Fatalf("%s: %s: exposure %d secured (limit %d), %d unsecured", r.id, email, l.Secured, l.Limit, l.Unsecured)
			}
			// The exposure is what the consumer's orders say it is.
			want := orderExposure(t, r, cid)
			if l.Exposure != want {
				t.Fatalf("%s: %s: exposure %d, but the orders add up to %d", r.id, email, l.Exposure, want)
			}
			b, _ := json.Marshal(l)
			if first == nil {
				first = b
			} else if !bytes.Equal(first, b) {
				// A rebalancing transfer may land between two reads.
				return fmt.Sprintf("%s: %s: line differs between regions:\n%s\n%s", r.id, email, first, b)
			}
		}
	}
	return ""
}

// orderExposure adds up what a consumer owes or may still be charged on
// its credit orders, from the orders themselves.
func orderExposure(t *testing.T, r *testRegion, cid checkout.ConsumerID) int64 {
	t.Helper()
	ctx := context.Background()
	es, err := r.r.Ledger().EntriesByKind(ctx, checkout.KindOrderAuthorized)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	seen := map[string]bool{}
	for i := range es {
		f, ok := checkout.CreditFactOf(&es[i])
		if !ok || f.Consumer != cid || seen[string(f.Order)] {
			continue
		}
		seen[string(f.Order)] = true
		o, err := r.r.Checkout().Order(ctx, "", f.Order)
		if err != nil {
			t.Fatal(err)
		}
		total += o.Amount - o.Released - o.Repaid
	}
	return total
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// TestCreditHoldsUnderFaults is the credit simulation: for several seeds,
// the same scenario without and with a partition that cuts r1 off. Every
// checkout gets an answer; the invariants hold everywhere after the heal;
// consumers with history are approved during the partition nearly as
// often as without it, because their rights were already where they shop.
func TestCreditHoldsUnderFaults(t *testing.T) {
	seeds := 4
	if n, err := strconv.Atoi(os.Getenv("KASSA_SIM_SEEDS")); err == nil && n > 0 {
		seeds = n
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			base := runCreditSim(t, seed, false)
			part := runCreditSim(t, seed, true)
			for name, s := range map[string]simStats{"without partition": base, "with partition": part} {
				if s.answered != s.total {
					t.Fatalf("%s: %d of %d checkouts answered", name, s.answered, s.total)
				}
				within := 0
				for _, d := range s.latencies {
					if d <= simDecisions {
						within++
					}
				}
				// Latency is reported, not asserted: a test must not fail
				// because the machine is slow (BENCHMARKS.md has figures).
				t.Logf("%s: %d of %d checkouts answered (%v), %d within the %s budget; authorize p50 %s p99 %s max %s",
					name, s.answered, s.total, s.outcomes, within, simDecisions, percentile(s.latencies, .5), percentile(s.latencies, .99), percentile(s.latencies, 1))
			}
			rb := float64(base.histApproved) / float64(base.histTotal)
			rp := float64(part.histApproved) / float64(part.histTotal)
			t.Logf("consumers with history: approved %.2f without partition, %.2f with (ratio %.2f, target >= 0.90)", rb, rp, rp/rb)
			if rb == 0 || rp/rb < 0.9 {
				t.Fatalf("approval during the partition fell to %.2f of normal", rp/rb)
			}
		})
	}
}

// lineOf is a consumer's SEK credit line as region r knows it.
func lineOf(t *testing.T, r *testRegion, email string) scoring.LineView {
	t.Helper()
	v, err := r.r.Credit().Consumer(context.Background(), r.r.Checkout().ConsumerID(email))
	if err != nil || len(v.Lines) != 1 {
		t.Fatalf("%s: consumer %s: %+v %v", r.id, email, v, err)
	}
	return v.Lines[0]
}

// TestCreditFollowsTheOrder walks a pay-later order through capture,
// release, refund and repayment, and a refund in another region, checking
// the consumer's exposure and rights at each step.
func TestCreditFollowsTheOrder(t *testing.T) {
	rs := startRegions(t, 2, creditTune)
	r1, r2 := rs[0], rs[1]
	ctx := context.Background()
	email := "lifecycle@example.com"
	res := shop(r1.url, email, "life", 30_000)
	if res.outcome != "approved" {
		t.Fatalf("authorize: %+v", res)
	}
	oid := res.order
	check := func(r *testRegion, exposure int64) {
		t.Helper()
		l := lineOf(t, r, email)
		var sum int64
		for _, n := range l.Rights {
			sum += n
		}
		if l.Exposure != exposure || sum+l.Secured != simLimit {
			t.Fatalf("%s: exposure %d (want %d), rights %v, secured %d", r.id, l.Exposure, exposure, l.Rights, l.Secured)
		}
	}
	check(r1, 30_000)
	if c := call(t, "POST", r1.url+"/v1/orders/"+oid+"/captures", "life-c", map[string]any{"amount": 20_000}); c.status != 201 {
		t.Fatalf("capture: %d %s", c.status, c.raw)
	}
	// The capture made the invoice: 20,000 due in 30 days.
	es, _ := r1.r.Ledger().EntriesBySubject(ctx, oid)
	var due []checkout.Due
	for i := range es {
		if f, ok := checkout.CreditFactOf(&es[i]); ok && f.Kind == "capture" {
			due = f.Due
		}
	}
	if len(due) != 1 || due[0].Amount != 20_000 || time.Until(time.UnixMilli(due[0].At)) < 29*24*time.Hour {
		t.Fatalf("due %+v", due)
	}
	if c := call(t, "POST", r1.url+"/v1/orders/"+oid+"/release", "life-r", nil); c.status != 200 {
		t.Fatalf("release: %d %s", c.status, c.raw)
	}
	check(r1, 20_000)
	if c := call(t, "POST", r1.url+"/v1/orders/"+oid+"/refunds", "life-f", map[string]any{"amount": 5_000}); c.status != 201 {
		t.Fatalf("refund: %d %s", c.status, c.raw)
	}
	check(r1, 15_000)
	svc := r1.r.Checkout()
	if _, _, err := svc.Repay(ctx, checkout.OrderID(oid), checkout.Repayment{Amount: 16_000, PaidAt: time.Now(), Reference: "B-1"}); err == nil {
		t.Fatal("repaid more than owed")
	}
	if _, _, err := svc.Repay(ctx, checkout.OrderID(oid), checkout.Repayment{Amount: 10_000, PaidAt: time.Now(), Reference: "B-1"}); err != nil {
		t.Fatal(err)
	}
	if _, replayed, err := svc.Repay(ctx, checkout.OrderID(oid), checkout.Repayment{Amount: 10_000, PaidAt: time.Now(), Reference: "B-1"}); err != nil || !replayed {
		t.Fatalf("replay: %v %v", replayed, err)
	}
	check(r1, 5_000)
	// A refund in r2 brings the refund rights and the debt with them: the
	// consumer's exposure goes back there.
	converge(t, rs)
	if c := call(t, "POST", r2.url+"/v1/orders/"+oid+"/refunds", "life-f2", map[string]any{"amount": 15_000}); c.status != 201 {
		t.Fatalf("refund in r2: %d %s", c.status, c.raw)
	}
	check(r2, 0)
	converge(t, rs)
	check(r1, 0)
	if owed, _, err := svc.Debt(ctx, checkout.OrderID(oid)); err != nil || owed != 0 {
		t.Fatalf("owed %d %v", owed, err)
	}

	// Pay in 3: three parts, the first with the odd minor unit.
	s := call(t, "POST", r1.url+"/v1/sessions", "three-s", sessionBody(30_001, "three"))
	o := call(t, "POST", r1.url+"/v1/sessions/"+s.str("id")+"/authorize", "three-a", map[string]any{"method": "instalments", "consumer": consumer("three@example.com")})
	if o.status != 201 {
		t.Fatalf("instalments: %d %s", o.status, o.raw)
	}
	if c := call(t, "POST", r1.url+"/v1/orders/"+o.str("id")+"/captures", "three-c", nil); c.status != 201 {
		t.Fatalf("capture: %d %s", c.status, c.raw)
	}
	es, _ = r1.r.Ledger().EntriesBySubject(ctx, o.str("id"))
	due = nil
	for i := range es {
		if f, ok := checkout.CreditFactOf(&es[i]); ok && f.Kind == "capture" {
			due = f.Due
		}
	}
	if len(due) != 3 || due[0].Amount != 10_001 || due[1].Amount != 10_000 || due[2].At-due[1].At != (30*24*time.Hour).Milliseconds() {
		t.Fatalf("pay in 3 schedule %+v", due)
	}
}

// TestExpiredCreditIsReleased: an authorization that expires uncaptured
// stops counting against the consumer's limit once the reconciler runs.
func TestExpiredCreditIsReleased(t *testing.T) {
	ctx := context.Background()
	seed := make([]byte, ed25519.SeedSize)
	key := ed25519.NewKeyFromSeed(seed)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := ledger.Open(ctx, ledger.Options{Path: filepath.Join(t.TempDir(), "kassa.db"), Region: "r1", Key: key,
		Keys: ledger.Keys{"r1": key.Public().(ed25519.PublicKey)}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	credit := scoring.New(store, scoring.Config{Region: "r1", Logger: log, Now: clock, Policy: scoring.Policy{MaxPayLater: 1_000_000,
		CreditLimit: map[string]int64{"SEK": 100_000}, GraceDays: 5}})
	svc := checkout.New(store, credit, nil, nil, checkout.Config{Region: "r1", PublicURL: "http://kassa.test", Logger: log, Now: clock,
		AuthTTL: 28 * 24 * time.Hour, Merchants: []checkout.MerchantConfig{{ID: "demo", APISecret: "sk"}},
		Consumers: checkout.Consumers{Key: []byte("k")}, FingerprintKey: []byte("f")})
	authorize := func(ref string, amount int64) checkout.Order {
		req := checkout.SessionRequest{Amount: amount, Currency: "SEK", Country: "SE", MerchantReference: ref,
			Lines: []checkout.Line{{Name: "A", Quantity: 1, UnitPrice: amount, Total: amount}},
			URLs:  checkout.URLs{Confirmation: "https://shop.example/ok", Cancel: "https://shop.example/c"}}
		sess, _, err := svc.CreateSession(ctx, "demo", ref, req, ref)
		if err != nil {
			t.Fatal(err)
		}
		o, _, err := svc.Authorize(ctx, "demo", sess.ID, checkout.AuthorizeRequest{Method: "pay_later", Consumer: checkout.Consumer{
			Email: "late@example.com", GivenName: "Ada", FamilyName: "Lovelace", PostalCode: "11122", Country: "SE"}}, ref)
		if err != nil || o.Status != "authorized" {
			t.Fatalf("%+v %v", o, err)
		}
		return o
	}
	exposure := func() int64 {
		v, err := credit.Consumer(ctx, svc.ConsumerID("late@example.com"))
		if err != nil || len(v.Lines) != 1 {
			t.Fatalf("%+v %v", v, err)
		}
		return v.Lines[0].Exposure
	}
	o1 := authorize("E-1", 30_000)
	o2 := authorize("E-2", 20_000)
	if _, _, err := svc.Capture(ctx, "demo", o2.ID, "c", 5_000, "c"); err != nil {
		t.Fatal(err)
	}
	if _, n, err := svc.Sweep(ctx); err != nil || n != 0 || exposure() != 50_000 {
		t.Fatalf("before expiry: released %d (%v), exposure %d", n, err, exposure())
	}
	now = now.Add(29 * 24 * time.Hour)
	if _, n, err := svc.Sweep(ctx); err != nil || n != 2 {
		t.Fatalf("released %d, %v", n, err)
	}
	// What was captured is still owed; the rest is free again.
	if e := exposure(); e != 5_000 {
		t.Fatalf("exposure %d after expiry, want 5000", e)
	}
	if _, n, err := svc.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("second run released %d, %v", n, err)
	}
	if o, _ := svc.Order(ctx, "demo", o1.ID); o.Status != "cancelled" || o.Released != 30_000 {
		t.Fatalf("expired order: %+v", o)
	}
}

// TestSweepVoidsALostDuplicate: a session authorized for credit in two
// regions cut off from each other holds the consumer's credit twice until
// the losing region voids its authorization; the sweep does that without
// waiting for an operation on the order, and the credit comes back.
func TestSweepVoidsALostDuplicate(t *testing.T) {
	rs := startRegions(t, 2, creditTune)
	r1, r2 := rs[0], rs[1]
	ctx := context.Background()
	email := "twice@example.com"
	s := call(t, "POST", r1.url+"/v1/sessions", "twice", sessionBody(8000, "twice"))
	eventually(t, func() bool { return call(t, "GET", r2.url+"/v1/sessions/"+s.str("id"), "", nil).status == 200 })
	partition(r1, r2, true)
	for i, r := range rs {
		if a := call(t, "POST", r.url+"/v1/sessions/"+s.str("id")+"/authorize", fmt.Sprint("t", i), map[string]any{"method": "pay_later", "consumer": consumer(email)}); a.status != 201 {
			t.Fatalf("%s: %d %s", r.id, a.status, a.raw)
		}
	}
	partition(r1, r2, false)
	converge(t, rs)
	if l := lineOf(t, r1, email); l.Exposure != 16_000 {
		t.Fatalf("before the sweep: exposure %d, want both authorizations' 16000", l.Exposure)
	}
	total := 0
	for _, r := range rs {
		v, _, err := r.r.Checkout().Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total += v
	}
	if total != 1 {
		t.Fatalf("voided %d authorizations, want the loser's one", total)
	}
	converge(t, rs)
	for _, r := range rs {
		if l := lineOf(t, r, email); l.Exposure != 8_000 {
			t.Fatalf("%s: after the sweep: exposure %d, want the winner's 8000", r.id, l.Exposure)
		}
		if v, _, err := r.r.Checkout().Sweep(ctx); err != nil || v != 0 {
			t.Fatalf("%s: a second sweep voided %d (%v)", r.id, v, err)
		}
	}
}

// TestDuplicateCreditNeverCreatesRights: a session authorized in both
// regions during a partition, one from rights and one from the unsecured
// budget, captured on one side and cancelled on the other before the heal,
// then repaid. Whatever goes back goes back at most once per
// authorization: the consumer's rights never exceed the limit and no
// region's budget grows past what it had.
func TestDuplicateCreditNeverCreatesRights(t *testing.T) {
	for _, home := range []string{"r1", "r2"} {
		t.Run("home "+home, func(t *testing.T) {
			rs := startRegions(t, 2, creditTune)
			r1, r2 := rs[0], rs[1]
			ctx := context.Background()
			var email string
			for i := 0; ; i++ {
				email = fmt.Sprintf("dup%d-%s@example.com", i, home)
				if scoring.Home(r1.r.Checkout().ConsumerID(email), []string{"r1", "r2"}) == home {
					break
				}
			}
			s := call(t, "POST", r1.url+"/v1/sessions", "dupc", sessionBody(8000, "dupc"))
			eventually(t, func() bool { return call(t, "GET", r2.url+"/v1/sessions/"+s.str("id"), "", nil).status == 200 })
			partition(r1, r2, true)
			var oid string
			for i, r := range rs {
				a := call(t, "POST", r.url+"/v1/sessions/"+s.str("id")+"/authorize", fmt.Sprint("d", i), map[string]any{"method": "pay_later", "consumer": consumer(email)})
				if a.status != 201 {
					t.Fatalf("%s: %d %s", r.id, a.status, a.raw)
				}
				oid = a.str("id")
			}
			// r1 wrote first, so it wins after the heal; before it, r2
			// captures its own and r1 cancels its own.
			if c := call(t, "POST", r2.url+"/v1/orders/"+oid+"/captures", "dc", nil); c.status != 201 {
				t.Fatalf("capture at r2: %d %s", c.status, c.raw)
			}
			if c := call(t, "POST", r1.url+"/v1/orders/"+oid+"/cancel", "dx", nil); c.status != 200 {
				t.Fatalf("cancel at r1: %d %s", c.status, c.raw)
			}
			partition(r1, r2, false)
			converge(t, rs)
			for _, r := range rs {
				if _, _, err := r.r.Checkout().Sweep(ctx); err != nil {
					t.Fatal(err)
				}
			}
			converge(t, rs)
			if _, _, err := r2.r.Checkout().Repay(ctx, checkout.OrderID(oid), checkout.Repayment{Amount: 8000, PaidAt: time.Now(), Reference: "dup-bank"}); err != nil {
				t.Fatal(err)
			}
			converge(t, rs)
			for _, r := range rs {
				l := lineOf(t, r, email)
				var sum int64
				for _, n := range l.Rights {
					sum += n
				}
				if l.Secured < 0 || l.Unsecured < 0 || (l.LineGranted && sum+l.Secured != l.Limit) || sum > simLimit {
					t.Fatalf("%s: rights %v (sum %d), secured %d, unsecured %d, limit %d", r.id, l.Rights, sum, l.Secured, l.Unsecured, l.Limit)
				}
				for _, id := range []string{"r1", "r2"} {
					if b, _ := r.r.Ledger().Balance(ctx, "unsecured:"+id, "SEK"); b > 0 {
						t.Fatalf("%s: %s's unsecured budget grew by %d", r.id, id, b)
					}
				}
			}
		})
	}
}

// TestReplayReturnsTheOriginalAnswer: a retry under the same key gets the
// response the first request got, not the object as it is now.
func TestReplayReturnsTheOriginalAnswer(t *testing.T) {
	r1 := startRegions(t, 1, nil)[0]
	s := call(t, "POST", r1.url+"/v1/sessions", "orig-s", sessionBody(10_000, "orig"))
	auth := map[string]any{"method": "pay_later", "consumer": consumer("orig@example.com")}
	a := call(t, "POST", r1.url+"/v1/sessions/"+s.str("id")+"/authorize", "orig-a", auth)
	oid := a.str("id")
	c1 := call(t, "POST", r1.url+"/v1/orders/"+oid+"/captures", "orig-c1", map[string]any{"amount": 3000})
	c2 := call(t, "POST", r1.url+"/v1/orders/"+oid+"/captures", "orig-c2", map[string]any{"amount": 2000})
	if a.status != 201 || c1.status != 201 || c2.status != 201 || c2.num("captured") != 5000 {
		t.Fatalf("setup: %d %d %d %s", a.status, c1.status, c2.status, c2.raw)
	}
	if r := call(t, "POST", r1.url+"/v1/sessions", "orig-s", sessionBody(10_000, "orig")); r.header.Get("Idempotent-Replayed") != "true" || r.str("status") != "open" || r.raw != s.raw {
		t.Fatalf("session replay: %s\nwant %s", r.raw, s.raw)
	}
	if r := call(t, "POST", r1.url+"/v1/sessions/"+s.str("id")+"/authorize", "orig-a", auth); r.str("status") != "authorized" || r.num("captured") != 0 || r.raw != a.raw {
		t.Fatalf("authorize replay: %s\nwant %s", r.raw, a.raw)
	}
	if r := call(t, "POST", r1.url+"/v1/orders/"+oid+"/captures", "orig-c1", map[string]any{"amount": 3000}); r.num("captured") != 3000 || r.raw != c1.raw {
		t.Fatalf("capture replay: %s\nwant %s", r.raw, c1.raw)
	}
}

// TestRepayWhereTheDebtIsNotHeld: a repayment recorded in a region that does
// not own the order's debt asks the owner for it; the consumer's credit
// comes back there.
func TestRepayWhereTheDebtIsNotHeld(t *testing.T) {
	rs := startRegions(t, 2, creditTune)
	r1, r2 := rs[0], rs[1]
	email := "repay-elsewhere@example.com"
	res := shop(r1.url, email, "rpe", 12_000)
	if res.outcome != "approved" {
		t.Fatalf("%+v", res)
	}
	if c := call(t, "POST", r1.url+"/v1/orders/"+res.order+"/captures", "rpe-c", nil); c.status != 201 {
		t.Fatalf("capture: %d %s", c.status, c.raw)
	}
	converge(t, rs)
	before := lineOf(t, r2, email)
	if _, _, err := r2.r.Checkout().Repay(context.Background(), checkout.OrderID(res.order), checkout.Repayment{Amount: 5_000, PaidAt: time.Now(), Reference: "rpe-1"}); err != nil {
		t.Fatal(err)
	}
	after := lineOf(t, r2, email)
	if after.Exposure != before.Exposure-5_000 || after.Rights["r2"] != before.Rights["r2"]+5_000 {
		t.Fatalf("before %+v\nafter %+v", before, after)
	}
	// Cut off from the owner of the rest of the debt, r2 cannot record more
	// and says so; nothing is written.
	// Only r2's own entries are counted: r1's mail about the capture may
	// still arrive, and that is not r2 writing.
	partition(r1, r2, true)
	n := r2.r.Ledger().Vector()["r2"]
	_, _, err := r2.r.Checkout().Repay(context.Background(), checkout.OrderID(res.order), checkout.Repayment{Amount: 7_000, PaidAt: time.Now(), Reference: "rpe-2"})
	if err == nil || r2.r.Ledger().Vector()["r2"] != n {
		t.Fatalf("repaying debt held by an unreachable region: %v (r2's entries %d -> %d)", err, n, r2.r.Ledger().Vector()["r2"])
	}
}

// raceLoser approves every time with postings whose guard always fails, as
// if concurrent checkouts kept spending the rights first.
type raceLoser struct{ calls, local int }

func (r *raceLoser) Decide(_ context.Context, in checkout.DecisionInput) (checkout.Decision, error) {
	r.calls++
	if in.LocalOnly {
		r.local++
	}
	return checkout.Decision{Outcome: "approved", Reasons: []string{"score_approved"},
		Credit:   &checkout.CreditHold{Consumer: in.Consumer, Source: "rights", Region: "r1", Exposure: "credit:x:exposure", Return: "credit:x:rights:"},
		Postings: []ledger.Posting{{Account: "credit:x:rights:r1", Amount: -1, Currency: in.Currency}, {Account: "credit:x:exposure", Amount: 1, Currency: in.Currency}},
		Guards:   []ledger.Guard{{Account: "credit:x:rights:r1", Currency: in.Currency}}}, nil
}

// TestLostRacesAnswerCardOnly: a decision whose rights keep going to
// concurrent checkouts is retried from local state only, and after five
// lost races the shopper is offered card rather than shown an error.
func TestLostRacesAnswerCardOnly(t *testing.T) {
	ctx := context.Background()
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := ledger.Open(ctx, ledger.Options{Path: filepath.Join(t.TempDir(), "kassa.db"), Region: "r1", Key: key,
		Keys: ledger.Keys{"r1": key.Public().(ed25519.PublicKey)}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	scorer := &raceLoser{}
	svc := checkout.New(store, scorer, nil, nil, checkout.Config{Region: "r1", PublicURL: "http://kassa.test", Logger: log,
		Merchants: []checkout.MerchantConfig{{ID: "demo", APISecret: "sk"}}, Consumers: checkout.Consumers{Key: []byte("k")}, FingerprintKey: []byte("f")})
	req := checkout.SessionRequest{Amount: 1000, Currency: "SEK", Country: "SE", MerchantReference: "race",
		Lines: []checkout.Line{{Name: "A", Quantity: 1, UnitPrice: 1000, Total: 1000}},
		URLs:  checkout.URLs{Confirmation: "https://shop.example/ok", Cancel: "https://shop.example/c"}}
	sess, _, err := svc.CreateSession(ctx, "demo", "race", req, "race")
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := svc.Authorize(ctx, "demo", sess.ID, checkout.AuthorizeRequest{Method: "pay_later", Consumer: checkout.Consumer{
		Email: "race@example.com", GivenName: "Ada", FamilyName: "Lovelace", PostalCode: "11122", Country: "SE"}}, "race")
	if err != nil || o.Status != "declined" || o.Decision.Outcome != "card_only" || o.Decision.Reasons[0] != "credit_rights_unavailable" {
		t.Fatalf("got %+v %v", o, err)
	}
	if scorer.calls != 5 || scorer.local != 4 {
		t.Fatalf("decided %d times, %d from local state; want 5 and 4", scorer.calls, scorer.local)
	}
}
