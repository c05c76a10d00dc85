package nemesis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"kassa/cards"
	"kassa/client"
	"kassa/nemesis/check"
	"kassa/nemesis/proxy"
)

// DefaultElsewhere is the share of follow-ups the nemesis command sends to
// a region other than the session's (Config.Elsewhere).
const DefaultElsewhere = 0.2

// DefaultRate is the command's steady load, in checkouts started per second:
// about half of what three regions on the 2-core machines the figures come
// from sustain with every fault the schedule draws (docs/RELIABILITY.md).
// A run that starts checkouts as fast as the regions answer (Rate 0)
// keeps the machine saturated, so that every latency and catch-up figure
// measures queueing for the cores besides the faults.
const DefaultRate = 30

// DefaultProbe is the command's client liveness probe (client.Config.Probe):
// a region that answers neither an attempt nor /healthz within twice this
// is asked last by the merchant's other operations at once, instead of
// after a whole attempt timeout. Without it, every operation that starts at
// a frozen region in the 2 s before the first attempt there times out waits
// those 2 s (an authorize p99 of 2,002 ms during pauses against 56 ms with
// it, docs/RELIABILITY.md).
const DefaultProbe = 30 * time.Millisecond

// Config is one run.
type Config struct {
	Regions  int           // number of regions, r1..rN (at least 2)
	Duration time.Duration // how long the workload runs; faults end a quiet period before
	Seed     uint64        // seeds the fault schedule and every workload choice
	Binary   string        // the kassa binary to run regions with

	Workers int // concurrent checkouts (default 8)
	// Rate paces the workload: checkouts started per second over all
	// workers, each worker starting one every Workers/Rate seconds (none
	// when it is still busy with the last: it starts the next at once). 0
	// starts a checkout whenever a worker is free, as fast as the regions
	// answer. The command's default is DefaultRate.
	Rate      float64
	Merchants int           // simulated merchants, each with its clients (default 4)
	Consumers int           // shoppers' emails, reused across regions (default 24)
	Attempt   time.Duration // the client's attempt timeout (default 2s)
	// Probe is the client's liveness probe (client.Config.Probe): how long
	// an attempt at a region that answers nothing goes unanswered before
	// the client checks the region's /healthz. 0: none, a region is
	// suspect only once an attempt has timed out. The command's default is
	// DefaultProbe.
	Probe    time.Duration
	Deadline time.Duration // the client's deadline (default 10s)
	// Elsewhere is the share (0 to 1) of hosted-page visits and follow-up
	// calls (get, authorize, capture, refund, cancel, release) sent first
	// to a region other than the one that created the session, as a
	// shopper sent by a load balancer or a merchant whose client failed
	// over would be. 0 sends none; the command's default is
	// DefaultElsewhere.
	Elsewhere float64
	// Faults are the fault kinds the schedule draws from (each one of
	// Kinds); empty: all of them.
	Faults []string

	// Dir holds the regions' data and logs; empty: a temporary directory,
	// removed when the run ends unless KeepDir.
	Dir     string
	KeepDir bool
	// Progress gets a progress line every ProgressEvery (default 5s); nil:
	// none.
	Progress      io.Writer
	ProgressEvery time.Duration
	// Converge bounds the wait for equal digests after the heal (default
	// 60s).
	Converge time.Duration
	// ConvergenceBound is what the convergence check holds the regions to
	// (default check.DefaultConvergenceBound, 2 s).
	ConvergenceBound time.Duration
}

// Result is a run's history, its checked report and the figures the
// history has no field for.
type Result struct {
	History check.History
	Report  check.Report
	OK      bool // every check holds
	// PeerBytes is every byte the peer links carried (both directions),
	// Entries the ledger entries written, BytesPerEntry the one over the
	// other: what replication costs as regions are added.
	PeerBytes     int64
	Entries       uint64
	BytesPerEntry float64
	Dir           string // where the regions' data and logs are (if kept)
}

func (c *Config) defaults() error {
	if c.Regions < 2 {
		return fmt.Errorf("regions: need at least 2, got %d", c.Regions)
	}
	if c.Duration <= 0 {
		return fmt.Errorf("duration: must be positive, got %s", c.Duration)
	}
	if !(c.Elsewhere >= 0 && c.Elsewhere <= 1) { // NaN too
		return fmt.Errorf("elsewhere: must be a share between 0 and 1, got %g", c.Elsewhere)
	}
	if c.Probe < 0 {
		return fmt.Errorf("probe: must not be negative, got %s", c.Probe)
	}
	if !(c.Rate >= 0 && c.Rate <= 100000) { // NaN too
		return fmt.Errorf("rate: must be between 0 and 100000 checkouts a second, got %g", c.Rate)
	}
	if c.Binary == "" {
		return errors.New("binary: the kassa binary is needed to run regions")
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Workers, 8)
	def(&c.Merchants, 4)
	def(&c.Consumers, 24)
	defd(&c.Attempt, 2*time.Second)
	defd(&c.Deadline, 10*time.Second)
	defd(&c.ProgressEvery, 5*time.Second)
	defd(&c.Converge, 60*time.Second)
	return nil
}

// harness is one run in progress.
type harness struct {
	cfg         Config
	regions     []*regionProc
	merchants   []merchant
	emails      []string
	acquirerURL string
	webhookURL  string
	pubs        []string // every region's public key, by index
	started     time.Time
	rec         recorder
	byURL       map[string]string // client proxy URL -> region id

	catchUpWG sync.WaitGroup
	mu        sync.Mutex
	catchUps  []time.Duration // after each partition's heal (catchUp)
	lag       []check.Sample  // replication lag samples (sampleLag)
	orders    map[string]orderNote
	webhooks  []check.Webhook
	seen      map[string]bool // event ids processed
	active    map[int]string  // fault number -> description, while it lasts
}

type orderNote struct{ method, email string }

func (h *harness) since() time.Duration { return time.Since(h.started) }

func (h *harness) regionOf(u string) string {
	if id, ok := h.byURL[strings.TrimRight(u, "/")]; ok {
		return id
	}
	return u
}

func (h *harness) noteOrder(id, method, email string) {
	h.mu.Lock()
	h.orders[id] = orderNote{method, email}
	h.mu.Unlock()
}

// Run starts the regions, runs the workload and the fault schedule for
// cfg.Duration, heals, waits for convergence, collects what every region
// holds and checks the history. An error means the harness could not do
// its job (a region would not start); a check that fails is in Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	h := &harness{cfg: cfg, merchants: merchantsFor(cfg.Merchants), orders: map[string]orderNote{}, seen: map[string]bool{},
		active: map[int]string{}, byURL: map[string]string{}}
	for i := range cfg.Consumers {
		h.emails = append(h.emails, fmt.Sprintf("shopper%02d@nemesis.example", i+1))
	}
	root := cfg.Dir
	if root == "" {
		d, err := os.MkdirTemp("", "kassa-nemesis-")
		if err != nil {
			return nil, err
		}
		root = d
		if !cfg.KeepDir {
			defer os.RemoveAll(root)
		}
	}
	var closers []func()
	defer func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}()

	// The acquirer and the webhook receiver live in this process.
	sim := cards.NewSimulator(nil)
	sim.Stall = 5 * time.Second
	simURL, stopSim, err := serveLoopback(sim.Handler())
	if err != nil {
		return nil, err
	}
	closers = append(closers, stopSim)
	h.acquirerURL = simURL
	hookURL, stopHooks, err := serveLoopback(http.HandlerFunc(h.receiveWebhook))
	if err != nil {
		return nil, err
	}
	closers = append(closers, stopHooks)
	h.webhookURL = hookURL + "/webhooks"

	if err := h.setup(ctx, root); err != nil {
		return nil, err
	}
	closers = append(closers, func() {
		for _, r := range h.regions {
			r.stop(syscall.SIGKILL, time.Second)
			r.client.Close()
			for _, p := range r.peers {
				p.Close()
			}
		}
	})
	if err := h.startAll(ctx); err != nil {
		return nil, err
	}

	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6e656d65))
	plan := schedule(rng, cfg.Regions, cfg.Duration, cfg.Faults)
	hist := check.History{Started: time.Now()}
	for _, r := range h.regions {
		hist.Regions = append(hist.Regions, r.id)
	}
	h.started = hist.Started

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range cfg.Workers {
		regions := make([]string, 0, cfg.Regions)
		for k := range cfg.Regions {
			regions = append(regions, h.regions[(w+k)%cfg.Regions].client.URL())
		}
		m := h.merchants[w%len(h.merchants)]
		c, err := client.New(client.Config{Regions: regions, Merchant: m.id, Secret: m.secret, Attempt: cfg.Attempt, Deadline: cfg.Deadline, Probe: cfg.Probe, Health: m.health})
		if err != nil {
			close(stop)
			wg.Wait()
			return nil, err
		}
		wk := &worker{h: h, c: c, m: m, tr: http.DefaultTransport.(*http.Transport).Clone(),
			rng: rand.New(rand.NewPCG(cfg.Seed, uint64(w+1))), prefix: fmt.Sprintf("nem-%d-w%d", cfg.Seed, w), stop: stop}
		if cfg.Rate > 0 {
			every := time.Duration(float64(cfg.Workers) / cfg.Rate * float64(time.Second))
			// The workers' first starts are spread over one interval.
			wk.pace = &pacer{every: every, next: time.Now().Add(every * time.Duration(w) / time.Duration(cfg.Workers))}
		}
		wg.Add(1)
		go func() { defer wg.Done(); wk.run(ctx) }()
	}

	faultsDone := make(chan []check.Fault, 1)
	faultErr := make(chan error, 1)
	go func() {
		fs, err := h.runFaults(ctx, plan)
		faultsDone <- fs
		faultErr <- err
	}()
	progressDone := make(chan struct{})
	go h.progress(stop, progressDone)
	lagDone := make(chan struct{})
	go h.sampleLag(ctx, stop, lagDone)

	select {
	case <-time.After(cfg.Duration):
	case <-ctx.Done():
	}
	hist.Faults = <-faultsDone // the schedule ends a quiet period before the duration
	ferr := <-faultErr
	close(stop)
	wg.Wait()
	<-progressDone
	<-lagDone
	h.mu.Lock()
	hist.Lag = slices.Clone(h.lag)
	h.mu.Unlock()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if ferr != nil {
		return nil, ferr
	}

	// Heal everything there is (the schedule healed its own faults), make
	// sure every region runs, and wait for the digests to meet.
	for _, r := range h.regions {
		r.client.Heal()
		for _, p := range r.peers {
			p.Heal()
		}
		r.signal(syscall.SIGCONT)
		if !r.running() {
			if err := h.start(ctx, r); err != nil {
				return nil, err
			}
		}
	}
	h.catchUpWG.Wait()
	hist.Convergences = h.catchUps
	hist.HealedAt = h.since()
	hist.Final.Digests, hist.Final.ConvergedAfter = h.converge(ctx, hist.HealedAt)
	h.logf("healed at %s; converged after %s", hist.HealedAt.Round(time.Millisecond), hist.Final.ConvergedAfter.Round(time.Millisecond))

	res := &Result{Dir: root}
	for _, r := range h.regions {
		for _, p := range r.peers {
			res.PeerBytes += p.Bytes(proxy.Forward) + p.Bytes(proxy.Backward)
		}
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	if st, err := getStatus(ctx, hc, h.regions[0].url()); err == nil {
		for _, s := range st.Vector {
			res.Entries += s
		}
	}
	if res.Entries > 0 {
		res.BytesPerEntry = float64(res.PeerBytes) / float64(res.Entries)
	}
	h.collect(ctx, &hist.Final, simURL)
	hist.Final.Verify = h.verifyAll(ctx)

	h.rec.mu.Lock()
	hist.Ops = slices.Clone(h.rec.ops)
	h.rec.mu.Unlock()
	h.mu.Lock()
	hist.Webhooks = slices.Clone(h.webhooks)
	h.mu.Unlock()
	slices.SortStableFunc(hist.Ops, func(a, b check.Op) int { return int(a.Start - b.Start) })

	res.History = hist
	res.Report = check.Check(hist, check.Options{ConvergenceBound: cfg.ConvergenceBound})
	res.OK = res.Report.OK()
	return res, nil
}

// serveLoopback serves handler on a fresh loopback port.
func serveLoopback(handler http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// receiveWebhook records a delivery: it verifies nothing (the checker
// counts processing by event id, duplicates included).
func (h *harness) receiveWebhook(w http.ResponseWriter, r *http.Request) {
	var ev struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			Order struct {
				ID string `json:"id"`
			} `json:"order"`
		} `json:"data"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" {
		http.Error(w, "not an event", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	// The receiver acts on an event id once: later deliveries are
	// recorded, not processed.
	first := !h.seen[ev.ID]
	h.seen[ev.ID] = true
	h.webhooks = append(h.webhooks, check.Webhook{EventID: ev.ID, Type: ev.Type, Order: ev.Data.Order.ID, At: h.since(), Processed: first})
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// setup lays out every region: addresses, proxies, keys and config files.
func (h *harness) setup(ctx context.Context, root string) error {
	n := h.cfg.Regions
	for i := range n {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		id := fmt.Sprintf("r%d", i+1)
		h.regions = append(h.regions, &regionProc{id: id, dir: filepath.Join(root, id), cfgPath: filepath.Join(root, id+".yaml"),
			addr: addr, logPath: filepath.Join(root, id+".log"), peers: map[int]*proxy.Proxy{}})
	}
	for i, r := range h.regions {
		var err error
		if r.client, err = proxy.New(r.addr); err != nil {
			return err
		}
		h.byURL[r.client.URL()] = r.id
		for j, q := range h.regions {
			if i != j {
				if r.peers[j], err = proxy.New(q.addr); err != nil {
					return err
				}
			}
		}
	}
	pubs := make([]string, n)
	for i, r := range h.regions {
		out, err := h.kassa(ctx, "keygen", "--data-dir", r.dir)
		if err != nil {
			return fmt.Errorf("keygen %s: %v: %s", r.id, err, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		pubs[i] = strings.TrimSpace(lines[len(lines)-1])
	}
	h.pubs = pubs
	for i := range h.regions {
		if err := h.writeConfig(i); err != nil {
			return err
		}
	}
	return nil
}

// startAll starts every region at once: each looks for its peers while
// starting.
func (h *harness) startAll(ctx context.Context) error {
	errs := make([]error, len(h.regions))
	var wg sync.WaitGroup
	for i, r := range h.regions {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = h.start(ctx, r) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runFaults injects the schedule, each fault at its time and healed after
// its duration, and returns them as they happened.
func (h *harness) runFaults(ctx context.Context, plan []planned) ([]check.Fault, error) {
	var out []check.Fault
	end := h.started.Add(quietStart(h.cfg.Duration))
	for k, p := range plan {
		if !sleepUntil(ctx, h.started.Add(p.At)) {
			return out, nil
		}
		if time.Now().Add(p.For).After(end) {
			// A slow fault (a restore) ran late: keep the quiet period.
			break
		}
		f := check.Fault{Kind: p.Kind, At: h.since()}
		for _, i := range p.Regions {
			f.Regions = append(f.Regions, h.regions[i].id)
		}
		heal, detail, err := h.inject(ctx, p)
		f.Detail = detail
		if err != nil {
			f.Detail = detail + ": " + err.Error()
			h.logf("fault %s: %v", p.Kind, err)
		}
		h.mu.Lock()
		h.active[k] = p.Kind + " " + detail
		h.mu.Unlock()
		sleepUntil(ctx, time.Now().Add(p.For))
		herr := heal()
		f.Duration = h.since() - f.At
		if strings.HasPrefix(p.Kind, "partition") && herr == nil {
			// Measured until the next fault starts, which would hold the
			// regions apart again: not caught up by then counts as the
			// time measured, a lower bound.
			stopAt := h.started.Add(h.cfg.Duration)
			if k+1 < len(plan) {
				stopAt = h.started.Add(plan[k+1].At)
			}
			h.catchUpWG.Add(1)
			go func() {
				defer h.catchUpWG.Done()
				d, slowest := h.catchUp(ctx, stopAt)
				h.mu.Lock()
				h.catchUps = append(h.catchUps, d)
				h.mu.Unlock()
				h.logf("%s healed; every region held what every other had written at the heal after %s (%s)", p.Kind, d.Round(time.Millisecond), slowest)
			}()
		}
		h.mu.Lock()
		delete(h.active, k)
		h.mu.Unlock()
		out = append(out, f)
		if herr != nil {
			return out, fmt.Errorf("healing %s (%s): %w", p.Kind, detail, herr)
		}
	}
	return out, nil
}

// sleepUntil waits until t or ctx ends; false if ctx ended.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (h *harness) logf(format string, args ...any) {
	if h.cfg.Progress != nil {
		fmt.Fprintf(h.cfg.Progress, "nemesis: "+format+"\n", args...)
	}
}

// progress writes a line every ProgressEvery until stop is closed.
func (h *harness) progress(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	if h.cfg.Progress == nil {
		return
	}
	t := time.NewTicker(h.cfg.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ops, answered := h.rec.counts()
		pct := 100.0
		if ops > 0 {
			pct = 100 * float64(answered) / float64(ops)
		}
		h.mu.Lock()
		var act []string
		for _, a := range h.active {
			act = append(act, a)
		}
		h.mu.Unlock()
		slices.Sort(act)
		faults := "none"
		if len(act) > 0 {
			faults = strings.Join(act, "; ")
		}
		h.logf("%s/%s ops %d answered %.2f%% faults: %s", h.since().Round(time.Second), h.cfg.Duration, ops, pct, faults)
	}
}

// converge polls every region's digest until all are equal or Converge
// passes; the time after healed (-1: never) and the last digests.
