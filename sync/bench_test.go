package sync_test

// Benchmarks of replication next to the machine's own ceiling, measured in
// the same run.
//
// Apply rate: a receiving region takes in another region's signed chain
// through the real endpoint, POST /sync/v1/entries on loopback, in batches
// of the production batch size, with valid request signatures. Its bound is
// ed25519 verification of the same entries on every core; the target is
// that entries/s applied reach at least 60% of it.
// BenchmarkReceiveVsCeiling measures both (and Store.Apply without HTTP) in
// turns within one run and reports the ratio.
//
// Replication lag: three regions in this process with the production sync
// settings take a steady 1,000 appends/s (at one region, or spread over all
// three) and the benchmark times each entry from Append returning at its
// origin to its arrival at each other region. The target is p99 under
// 100 ms.
//
// docs/BENCHMARKS.md records the figures and the command.

import (
	"bytes"
	"crypto/ed25519"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"kassa/ceiling"
	"kassa/ledger"
	regionsync "kassa/sync"
)

// benchBatch is the production batch size (config.yaml sync.batch_size):
// how many entries one push carries.
const benchBatch = 512

// benchDraft returns the i-th of a reproducible stream of realistic drafts:
// an order id as subject, 2 to 4 SEK postings over 50,000 consumers and 200
// merchants, and a ~100-byte JSON payload (the shape of ledger's benchmarks).
func benchDraft(i int) ledger.Draft {
	rng := rand.New(rand.NewPCG(uint64(i), 42))
	amount := ledger.Amount(500 + rng.IntN(500_000))
	fee := amount * 3 / 100
	vat := fee / 5
	consumer := fmt.Sprintf("consumer:c%05d:receivable", rng.IntN(50_000))
	merchant := fmt.Sprintf("merchant:m%03d:payable", rng.IntN(200))
	postings := []ledger.Posting{
		{Account: consumer, Amount: amount, Currency: "SEK"},
		{Account: merchant, Amount: -amount, Currency: "SEK"},
	}
	switch i % 3 {
	case 1:
		postings[1].Amount = -(amount - fee)
		postings = append(postings, ledger.Posting{Account: "kassa:revenue", Amount: -fee, Currency: "SEK"})
	case 2:
		postings[1].Amount = -(amount - fee)
		postings = append(postings,
			ledger.Posting{Account: "kassa:revenue", Amount: -(fee - vat), Currency: "SEK"},
			ledger.Posting{Account: "kassa:vat", Amount: -vat, Currency: "SEK"})
	}
	return ledger.Draft{
		Kind:     "order.authorized",
		Subject:  fmt.Sprintf("order-%016x", rng.Uint64()),
		Postings: postings,
		Data: fmt.Appendf(nil, `{"merchant_reference":"A-%08d","amount":%d,"currency":"SEK","method":"pay_later","lines":%d}`,
			rng.IntN(100_000_000), amount, 1+rng.IntN(5)),
	}
}

// benchEpoch is the wall time of the benchmark chains' first entries: an
// hour ago, so that the chains look like entries of a live region.
var benchEpoch = time.Now().Add(-time.Hour).UnixMilli()

// benchChains holds, per origin, a signed chain built from benchDraft,
// extended on demand so that every benchmark round reuses it.
var benchChains struct {
	mu     sync.Mutex
	chains map[string][]ledger.Entry
}

// benchChain returns the first n entries of origin's chain.
func benchChain(origin string, n int) []ledger.Entry {
	benchChains.mu.Lock()
	defer benchChains.mu.Unlock()
	if benchChains.chains == nil {
		benchChains.chains = map[string][]ledger.Entry{}
	}
	have := benchChains.chains[origin]
	if len(have) >= n {
		return have[:n]
	}
	var prev ledger.Hash
	if len(have) > 0 {
		prev = have[len(have)-1].ID()
	}
	grown := append(have, make([]ledger.Entry, n-len(have))...)
	// Links need each id in turn; signatures do not, so sign in parallel.
	for i := len(have); i < n; i++ {
		d := benchDraft(i)
		grown[i] = ledger.Entry{
			Origin: ledger.RegionID(origin), Seq: uint64(i + 1), Prev: prev,
			HLC:  ledger.HLC{Wall: benchEpoch + int64(i/8), Logical: uint32(i % 8)},
			Kind: d.Kind, Subject: d.Subject, Postings: d.Postings, Data: d.Data,
		}
		prev = grown[i].ID()
	}
	key := keyFor(origin)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := len(have) + w; i < n; i += workers {
				grown[i].Sign(key)
			}
		}()
	}
	wg.Wait()
	benchChains.chains[origin] = grown
	return grown
}

// benchPushBodies encodes entries as the bodies of pushes from region from,
// benchBatch entries each, with the vector a sender holding them reports.
func benchPushBodies(tb testing.TB, from string, entries []ledger.Entry) [][]byte {
	tb.Helper()
	var out [][]byte
	for lo := 0; lo < len(entries); lo += benchBatch {
		part := entries[lo:min(len(entries), lo+benchBatch)]
		// Numbered as a push loop numbers them, each continuing the one
		// before (which may still be in flight).
		k := uint64(len(out))
		req := regionsync.PushRequest{From: from, Vector: map[string]uint64{from: part[len(part)-1].Seq}, Seq: k + 1, After: k, Entries: make([][]byte, len(part))}
		for i := range part {
			req.Entries[i], _ = part[i].MarshalBinary()
		}
		b, err := req.MarshalBinary()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// benchReceiver is one region serving the sync endpoints on loopback, as a
// cluster member does, without pushing anything itself.
type benchReceiver struct {
	store *ledger.Store
	node  *regionsync.Node
	srv   *httptest.Server
}

// newBenchReceiver opens region id in a fresh temp dir with the production
// settings, knowing the keys of senders, and serves it on loopback.
func newBenchReceiver(tb testing.TB, id string, senders ...string) *benchReceiver {
	tb.Helper()
	keys := ledger.Keys{ledger.RegionID(id): keyFor(id).Public().(ed25519.PublicKey)}
	cfg := regionsync.Config{Key: keyFor(id), Settings: regionsync.Settings{BatchSize: benchBatch}, Logger: quiet()}
	for _, s := range senders {
		pub := keyFor(s).Public().(ed25519.PublicKey)
		keys[ledger.RegionID(s)] = pub
		// This receiver never pushes, so the URL is never dialled.
		cfg.Peers = append(cfg.Peers, regionsync.Peer{ID: s, URL: "http://" + s + ".invalid", PublicKey: pub})
	}
	st, err := ledger.Open(bg, ledger.Options{Path: filepath.Join(tb.TempDir(), id+".db"), Region: ledger.RegionID(id), Key: keyFor(id), Keys: keys, Logger: quiet()})
	if err != nil {
		tb.Fatal(err)
	}
	n, err := regionsync.New(st, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	r := mux.NewRouter()
	n.Routes(r)
	rc := &benchReceiver{store: st, node: n, srv: httptest.NewServer(r)}
	tb.Cleanup(func() {
		rc.srv.Close()
		st.Close()
	})
	return rc
}

// benchSender pushes pre-encoded batches to a receiver as region from's push
// loop does while catching a peer up: each request signed afresh
// (kassa-sync-v1, as sync/protocol.go documents it), with benchInFlight of
// them awaiting their answers at once (sync.pushes_in_flight).
type benchSender struct {
	from   string
	key    ed25519.PrivateKey
	url    string
	client *http.Client
}

// benchInFlight is the default of sync.pushes_in_flight.
const benchInFlight = 2

func newBenchSender(from string, to *benchReceiver) *benchSender {
	return &benchSender{from: from, key: keyFor(from), url: to.srv.URL + "/sync/v1/entries",
		client: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 30 * time.Second}}
}

// push sends one body and checks that the receiver applied want entries.
func (s *benchSender) push(body []byte, want int) error {
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := time.Now().UnixMilli()
	sum := sha256.Sum256(body)
	var nb [12]byte
	crand.Read(nb[:])
	nonce := hex.EncodeToString(nb[:])
	msg := "kassa-sync-v1\n" + req.Method + "\n" + req.URL.RequestURI() + "\n" + strconv.FormatInt(ts, 10) + "\n" + nonce + "\n" + hex.EncodeToString(sum[:])
	req.Header.Set(regionsync.HeaderNonce, nonce)
	req.Header.Set("Content-Type", regionsync.PushContentType)
	req.Header.Set(regionsync.HeaderRegion, s.from)
	req.Header.Set(regionsync.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(regionsync.HeaderSignature, base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, []byte(msg))))
	res, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("push from %s: got %d %s, want 200", s.from, res.StatusCode, b)
	}
	var pr regionsync.PushResponse
	if err := json.Unmarshal(b, &pr); err != nil {
		return err
	}
	if pr.Applied != want || len(pr.Rejected) > 0 {
		return fmt.Errorf("push from %s: got %d applied, %d duplicates, rejected %+v, want %d applied", s.from, pr.Applied, pr.Duplicates, pr.Rejected, want)
	}
	return nil
}

// pushAll sends bodies in order and returns how long that took, or the
// first error.
func (s *benchSender) pushAll(bodies [][]byte, sizes []int) (time.Duration, error) {
	start := time.Now()
	slots := make(chan struct{}, benchInFlight)
	errs := make([]error, len(bodies))
	var wg sync.WaitGroup
	for i, b := range bodies {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.push(b, sizes[i])
			<-slots
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// benchPushConcurrently runs every sender's pushAll of its own bodies at
// once and returns how long that took, or the first error.
func benchPushConcurrently(senders []*benchSender, bodies [][][]byte, sizes []int) (time.Duration, error) {
	errs := make([]error, len(senders))
	var wg sync.WaitGroup
	start := time.Now()
	for i, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.pushAll(bodies[i], sizes)
		}()
	}
	wg.Wait()
	return time.Since(start), errors.Join(errs...)
}

// benchBatchSizes returns how many entries each of benchPushBodies' batches
// of n entries holds.
func benchBatchSizes(n int) []int {
	var out []int
	for lo := 0; lo < n; lo += benchBatch {
		out = append(out, min(benchBatch, n-lo))
	}
	return out
}

// benchReceiveSenders are the concurrent senders of BenchmarkReceive, each
// pushing its own chain: one is a peer catching the receiver up; two is two
// peers doing so at once, which lets the receiver overlap one request's
// verification with the other's commit.
var benchReceiveSenders = []int{1, 2}

// BenchmarkReceive measures entries/s applied by region r2 from pushes of
// pre-signed batches through POST /sync/v1/entries on loopback.
func BenchmarkReceive(b *testing.B) {
	for _, senders := range benchReceiveSenders {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			origins := []string{"r1", "r3"}[:senders]
			rc := newBenchReceiver(b, "r2", origins...)
			per := (b.N + senders - 1) / senders
			bodies := make([][][]byte, senders)
			for i, o := range origins {
				bodies[i] = benchPushBodies(b, o, benchChain(o, per))
			}
			pushers := make([]*benchSender, senders)
			for i, o := range origins {
				pushers[i] = newBenchSender(o, rc)
			}
			b.ResetTimer()
			if _, err := benchPushConcurrently(pushers, bodies, benchBatchSizes(per)); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(per*senders)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkApplyDirect measures Store.Apply of the same chain, benchBatch
// entries a call, without HTTP, JSON or request signatures.
func BenchmarkApplyDirect(b *testing.B) {
	chain := benchChain("r1", b.N)
	st := newBenchReceiver(b, "r2", "r1").store
	b.ResetTimer()
	benchApplyAll(b, st, chain)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

func benchApplyAll(tb testing.TB, st *ledger.Store, chain []ledger.Entry) time.Duration {
	tb.Helper()
	start := time.Now()
	for lo := 0; lo < len(chain); lo += benchBatch {
		part := chain[lo:min(len(chain), lo+benchBatch)]
		res, err := st.Apply(bg, part)
		if err != nil {
			tb.Fatal(err)
		}
		if res.Applied != len(part) {
			tb.Fatalf("got %d applied, %d duplicates, %d rejected, want %d applied", res.Applied, res.Duplicates, len(res.Rejected), len(part))
		}
	}
	return time.Since(start)
}

// benchVerifyPool is how many distinct signed entries the verification ceiling
// cycles through.
const benchVerifyPool = 1 << 13

// benchVerifyMessages returns the canonical bytes and signatures of r1's first
// benchVerifyPool entries: exactly what a receiver verifies.
var benchVerifyMessages = sync.OnceValues(func() ([][]byte, [][]byte) {
	es := benchChain("r1", benchVerifyPool)
	msgs, sigs := make([][]byte, len(es)), make([][]byte, len(es))
	for i := range es {
		msgs[i], sigs[i] = es[i].Canonical(), es[i].Sig
	}
	return msgs, sigs
})

// BenchmarkVerifyCeiling measures ed25519 verification of the entries'
// canonical bytes on every core: the bound on a receiver's apply rate.
func BenchmarkVerifyCeiling(b *testing.B) {
	msgs, sigs := benchVerifyMessages()
	pub := keyFor("r1").Public().(ed25519.PublicKey)
	b.ResetTimer()
	if _, err := ceiling.Verify(pub, msgs, sigs, b.N); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}

// benchVsRound is how many entries each part of one BenchmarkReceiveVsCeiling
// iteration takes in or verifies, in benchVsSlices interleaved turns.
const (
	benchVsRound  = 1 << 14
	benchVsSlices = 8
)

// BenchmarkReceiveVsCeiling measures, in each iteration and on benchVsRound
// entries each, in turns of benchVsRound/benchVsSlices entries so that every
// part sees the same table sizes and the same noise from the rest of the
// machine: receiving over HTTP from one sender, and from two senders at
// once (half the entries each); Store.Apply without HTTP; and ed25519
// verification alone on every core. It reports the rates and
// ratio = receive / verify, whose target is at least 0.6; ratio-2senders
// and ratio-apply are the same for the other two.
func BenchmarkReceiveVsCeiling(b *testing.B) {
	msgs, sigs := benchVerifyMessages()
	slice := benchVsRound / benchVsSlices
	r1, r3 := benchChain("r1", benchVsRound), benchChain("r3", benchVsRound/2)
	one, two := benchPushBodies(b, "r1", r1), [][][]byte{benchPushBodies(b, "r1", r1[:benchVsRound/2]), benchPushBodies(b, "r3", r3)}
	perSlice := slice / benchBatch
	sizes := benchBatchSizes(slice)
	var recvTime, recv2Time, applyTime, verifyTime time.Duration
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		rc1, rc2 := newBenchReceiver(b, "r2", "r1"), newBenchReceiver(b, "r2", "r1", "r3")
		ap := newBenchReceiver(b, "r2", "r1").store
		s1 := newBenchSender("r1", rc1)
		s2 := []*benchSender{newBenchSender("r1", rc2), newBenchSender("r3", rc2)}
		b.StartTimer()
		for k := 0; k < benchVsSlices; k++ {
			d, err := s1.pushAll(one[k*perSlice:(k+1)*perSlice], sizes)
			if err != nil {
				b.Fatal(err)
			}
			recvTime += d

			half := perSlice / 2
			d, err = benchPushConcurrently(s2, [][][]byte{two[0][k*half : (k+1)*half], two[1][k*half : (k+1)*half]}, sizes)
			if err != nil {
				b.Fatal(err)
			}
			recv2Time += d

			applyTime += benchApplyAll(b, ap, r1[k*slice:(k+1)*slice])
			d, err = ceiling.Verify(keyFor("r1").Public().(ed25519.PublicKey), msgs, sigs, slice)
			if err != nil {
				b.Fatal(err)
			}
			verifyTime += d
		}
	}
	total := float64(b.N * benchVsRound)
	recv, recv2 := total/recvTime.Seconds(), total/recv2Time.Seconds()
	apply, verify := total/applyTime.Seconds(), total/verifyTime.Seconds()
	b.ReportMetric(recv, "receive-entries/s")
	b.ReportMetric(recv2, "receive2senders-entries/s")
	b.ReportMetric(apply, "apply-entries/s")
	b.ReportMetric(verify, "verify-sigs/s")
	b.ReportMetric(recv/verify, "ratio")
	b.ReportMetric(recv2/verify, "ratio-2senders")
	b.ReportMetric(apply/verify, "ratio-apply")
}

// Replication lag workload: benchLagRate appends/s in all, spread over the
// writing regions, for benchLagWindow per iteration, each entry timed until
// every other region holds it.
const (
	benchLagRate   = 1000
	benchLagWindow = 5 * time.Second
	// benchLagDeadline bounds how long the peers may take to catch up after
	// the last append before the benchmark fails.
	benchLagDeadline = 30 * time.Second
)

// benchLagWriters are the numbers of regions taking the appends: one (r1),
// and all three at once, as a masterless cluster under checkout load is.
var benchLagWriters = []int{1, 3}

// benchProductionSync sets the sync settings of the embedded config.yaml.
func benchProductionSync(cfg *regionsync.Config) {
	cfg.BatchSize = benchBatch
	cfg.MaxBodyBytes = 8 << 20
	cfg.Interval = time.Second
	cfg.Timeout = 5 * time.Second
	cfg.Retries = 3
	cfg.RetryWaitMin = 50 * time.Millisecond
	cfg.RetryWaitMax = 2 * time.Second
	cfg.MaxConcurrentPerPeer = 4
	cfg.ReplayWindow = time.Minute
}

// benchRequests counts the sync requests a cluster's regions send; among
// them the pushes that carry no entry (a body with one entry is several
// hundred bytes), and the answers that were not 200.
type benchRequests struct{ all, empty, refused atomic.Int64 }

// counted wraps one region's transport so that its requests are counted.
func (c *benchRequests) counted(next http.RoundTripper) http.RoundTripper {
	return benchCounting{c, next}
}

type benchCounting struct {
	c    *benchRequests
	next http.RoundTripper
}

func (t benchCounting) RoundTrip(r *http.Request) (*http.Response, error) {
	t.c.all.Add(1)
	if r.Method == http.MethodPost && r.ContentLength < 256 {
		t.c.empty.Add(1)
	}
	res, err := t.next.RoundTrip(r)
	if err == nil && res.StatusCode != http.StatusOK {
		t.c.refused.Add(1)
	}
	return res, err
}

// benchArrivals timestamps the arrival of origin's entries after seq base at
// one store until it holds base+len(at) or the deadline passes; it returns
// how many arrived. A commit closes the store's Changed channel after
// publishing the new vector, so each wake-up sees every entry committed so
// far.
func benchArrivals(st *ledger.Store, origin ledger.RegionID, base uint64, at []time.Time, deadline <-chan struct{}) int {
	last := base
	n := uint64(len(at))
	for {
		changed := st.Changed()
		v := st.Vector()[origin]
		now := time.Now()
		for s := last + 1; s <= min(v, base+n); s++ {
			at[s-base-1] = now
		}
		last = max(last, v)
		if last >= base+n {
			return len(at)
		}
		select {
		case <-changed:
		case <-deadline:
			return int(last - base)
		}
	}
}

// BenchmarkReplicationLag measures, under a steady benchLagRate appends/s
// on a three-region cluster on loopback with the production sync settings
// and no faults, the time from Append returning at the origin to the entry
// being held by each other region. It reports p50_ms, p99_ms and max_ms over
// every (entry, peer) pair, the append rate achieved, the sync requests per
// second (and how many were empty pushes), and how many requests were
// refused. Appends are open-loop: each tick of a 1 ms ticker starts the
// appends due by then, each in its own goroutine, so a slow commit does not
// lower the offered load; the k-th append goes to writer k mod writers.
func BenchmarkReplicationLag(b *testing.B) {
	for _, writers := range benchLagWriters {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			benchReplicationLag(b, writers)
		})
	}
}

func benchReplicationLag(b *testing.B, writers int) {
	var reqs benchRequests
	c := newCluster(b, 3, 1, func(cfg *regionsync.Config) {
		benchProductionSync(cfg)
		cfg.Transport = reqs.counted(cfg.Transport)
	})
	// Warm up: every node has heard its peers' vectors once, so pushes carry
	// entries from the first commit on.
	for _, m := range c.members[:writers] {
		if _, err := m.store.Append(bg, benchDraft(0)); err != nil {
			b.Fatal(err)
		}
	}
	c.converged(10 * time.Second)

	per := int(benchLagWindow.Seconds()*benchLagRate) / writers // appends per writer
	var lags []time.Duration
	var offered time.Duration
	all0, empty0, refused0 := reqs.all.Load(), reqs.empty.Load(), reqs.refused.Load()
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		type stream struct {
			origin   *member
			base     uint64
			appended []time.Time
			arrived  map[string][]time.Time // peer -> arrival of each entry
			got      map[string]int
		}
		deadline := make(chan struct{})
		var watchers, appends sync.WaitGroup
		var mu sync.Mutex
		streams := make([]*stream, writers)
		for w, o := range c.members[:writers] {
			st := &stream{origin: o, base: o.store.Vector()[ledger.RegionID(o.id)], appended: make([]time.Time, per),
				arrived: map[string][]time.Time{}, got: map[string]int{}}
			streams[w] = st
			for _, p := range c.members {
				if p == o {
					continue
				}
				at := make([]time.Time, per)
				st.arrived[p.id] = at
				watchers.Add(1)
				go func() {
					defer watchers.Done()
					n := benchArrivals(p.store, ledger.RegionID(o.id), st.base, at, deadline)
					mu.Lock()
					st.got[p.id] = n
					mu.Unlock()
				}()
			}
		}

		var failed atomic.Pointer[error]
		total := per * writers
		tick := time.NewTicker(time.Second / benchLagRate)
		start := time.Now()
		for issued := 0; issued < total; {
			<-tick.C
			due := min(total, int(time.Since(start)*benchLagRate/time.Second)+1)
			for ; issued < due; issued++ {
				st := streams[issued%writers]
				appends.Add(1)
				go func() {
					defer appends.Done()
					e, err := st.origin.store.Append(bg, benchDraft(issued+1))
					if err != nil {
						failed.Store(&err)
						return
					}
					st.appended[e.Seq-st.base-1] = time.Now()
				}()
			}
		}
		tick.Stop()
		offered += time.Since(start)
		appends.Wait()
		if err := failed.Load(); err != nil {
			b.Fatal(*err)
		}
		timer := time.AfterFunc(benchLagDeadline, func() { close(deadline) })
		watchers.Wait()
		timer.Stop()
		for _, st := range streams {
			for peer, at := range st.arrived {
				if st.got[peer] != per {
					b.Fatalf("%s holds %d of %s's %d entries %s after the last append", peer, st.got[peer], st.origin.id, per, benchLagDeadline)
				}
				for s := range per {
					// An entry can reach a peer before its Append caller has
					// been scheduled again: that is no lag.
					lags = append(lags, max(0, at[s].Sub(st.appended[s])))
				}
			}
		}
	}
	b.StopTimer()
	all, empty, refused := reqs.all.Load()-all0, reqs.empty.Load()-empty0, reqs.refused.Load()-refused0
	slices.Sort(lags)
	q := func(p float64) float64 {
		return float64(lags[min(len(lags)-1, int(p*float64(len(lags))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.50), "p50_ms")
	b.ReportMetric(q(0.99), "p99_ms")
	b.ReportMetric(float64(lags[len(lags)-1])/float64(time.Millisecond), "max_ms")
	b.ReportMetric(float64(b.N*per*writers)/offered.Seconds(), "appends/s")
	b.ReportMetric(float64(all)/b.Elapsed().Seconds(), "requests/s")
	b.ReportMetric(float64(empty)/b.Elapsed().Seconds(), "empty-pushes/s")
	b.ReportMetric(float64(refused), "refused")
}
