package region

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"kassa/account"
	"kassa/admin"
	"kassa/backup"
	"kassa/cards"
	"kassa/checkout"
	"kassa/checkout/hosted"
	"kassa/checkout/merchantapi"
	"kassa/checkout/webhook"
	"kassa/httperr"
	"kassa/invoice"
	invoicepage "kassa/invoice/page"
	"kassa/ledger"
	"kassa/ratelimit"
	"kassa/reconcile"
	"kassa/scoring"
	"kassa/settlement"
	"kassa/static"
	regionsync "kassa/sync"
)

// Region is one running region. Create it with New, run it with Serve and
// release it with Close.
type Region struct {
	cfg      Config
	log      *slog.Logger
	key      ed25519.PrivateKey
	ledger   *ledger.Store
	replica  *backup.Replicator
	node     *regionsync.Node
	checkout *checkout.Service
	credit   *scoring.Engine
	admin    *admin.API
	webhooks *webhook.Dispatcher
	mail     regionMail
	recon    *reconcile.Reconciler
	sim      *cards.Simulator
	invoices *invoices
	acquirer *cards.Client
	// invoiceBook is what the invoice pages show (the region's own book
	// unless a test gave another); invoicePay their card payments.
	invoiceBook invoicepage.Invoices
	invoicePay  *invoicepage.Payments
	registry    *prometheus.Registry
	handler     http.Handler
	// now is the region's clock: the machine's, shifted by clock_offset.
	now   func() time.Time
	ready atomic.Bool
	// recovered: Recover has returned, so this region's own next entry
	// cannot take a sequence number its peers already hold.
	recovered atomic.Bool
	restored  bool
	unlock    func() // releases the data directory's lock

	// readyMu orders the changes of ready: a start-up read that succeeds
	// late must not make a region that is shutting down ready again.
	readyMu  sync.Mutex
	stopping bool
	// unready says why the region is not ready after its start-up read
	// failed (nil otherwise); /readyz shows it.
	unready atomic.Pointer[string]
}

// New prepares a region from a validated config: it restores a missing
// database from the replica, loads (or, for a brand-new region, creates) the
// key, starts replication and opens the ledger. It returns an error naming
// what is wrong; nothing is left open on error.
func New(ctx context.Context, cfg Config, log *slog.Logger, options ...Option) (*Region, error) {
	var opts settings
	built := false // nothing is left held on error: the lock is released
	for _, o := range options {
		o(&opts)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Region{cfg: cfg, log: log.With("region", cfg.Region), registry: prometheus.NewRegistry(), now: time.Now}
	if off := cfg.ClockOffset; off != 0 {
		// Development fault injection (Validate refuses it in production):
		// one shifted clock for everything that reads the region's time.
		r.now = func() time.Time { return time.Now().Add(off) }
		if test := opts.now; test != nil {
			opts.now = func() time.Time { return test().Add(off) }
		} else {
			opts.now = r.now
		}
		r.log.Warn("clock_offset: this region's clock runs off the machine's", "offset", off)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("region: create data dir: %w", err)
	}
	unlock, err := LockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	r.unlock = unlock
	defer func() {
		if !built {
			unlock()
		}
	}()
	dbPath := cfg.DBPath()
	restored, err := backup.RestoreIfMissing(ctx, cfg.Backup.URL, dbPath, r.log)
	if err != nil {
		return nil, fmt.Errorf("region: restore %s from %s: %w", dbPath, cfg.Backup.URL, err)
	}
	r.restored = restored
	_, statErr := os.Stat(dbPath)
	dbExists := statErr == nil
	if dbExists {
		r.key, err = LoadKey(cfg.KeyFile)
		if errors.Is(err, ErrNoKey) {
			return nil, fmt.Errorf("region: key file %s is missing but database %s exists: "+
				"put the region's key file back (the database is bound to its key); a new key would fork the region's chain", cfg.KeyFile, dbPath)
		}
	} else {
		var created bool
		r.key, created, err = EnsureKey(cfg.KeyFile)
		if created {
			r.log.Info("created region key", "key_file", cfg.KeyFile, "public_key", PublicKeyString(r.key))
		}
	}
	if err != nil {
		return nil, err
	}

	keys := ledger.Keys{ledger.RegionID(cfg.Region): r.key.Public().(ed25519.PublicKey)}
	for _, p := range cfg.Peers {
		pub, _ := ParsePublicKey(p.PublicKey) // checked by Validate
		keys[ledger.RegionID(p.ID)] = pub
	}

	r.replica, err = backup.Start(ctx, backup.Options{
		DBPath: dbPath, Settings: cfg.Backup, Logger: r.log,
	})
	if err != nil {
		return nil, fmt.Errorf("region: start backup to %s: %w", cfg.Backup.URL, err)
	}
	ledgerSettings := cfg.Ledger
	ledgerSettings.Synchronous = cfg.Synchronous() // durability fsync: FULL
	r.ledger, err = ledger.Open(ctx, ledger.Options{
		Path:     dbPath,
		Region:   ledger.RegionID(cfg.Region),
		Key:      r.key,
		Keys:     keys,
		Settings: ledgerSettings,
		Logger:   r.log,
		Metrics:  ledger.NewMetrics(r.registry),
		Now:      r.now,
	})
	if err != nil {
		r.replica.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("region: open ledger: %w", err)
	}
	peers := make([]regionsync.Peer, len(cfg.Peers))
	for i, p := range cfg.Peers {
		peers[i] = regionsync.Peer{ID: p.ID, URL: p.URL, PublicKey: keys[ledger.RegionID(p.ID)]}
	}
	r.node, err = regionsync.New(r.ledger, regionsync.Config{
		Key: r.key, Peers: peers, Settings: cfg.Sync, Transport: opts.transport, Now: r.now, Logger: r.log, Registerer: r.registry,
	})
	if err != nil {
		r.ledger.Close()
		r.replica.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	r.credit = r.newCredit()
	r.checkout = r.newCheckout(opts)
	if r.webhooks, err = r.newWebhooks(opts); err != nil {
		r.ledger.Close()
		r.replica.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if r.invoices, err = r.newInvoices(opts); err != nil {
		r.ledger.Close()
		r.replica.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if r.mail, err = r.newMail(opts); err != nil {
		r.ledger.Close()
		r.replica.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	r.node.SetGranter(rightsRouter{r.credit, r.checkout, &r.recovered})
	r.recon = r.newReconciler(settlementSource(r.acquirer), opts)
	if r.invoiceBook = opts.invoices; r.invoiceBook == nil {
		r.invoiceBook = r.invoices.book
	}
	r.handler = r.routes()
	built = true
	return r, nil
}

// SimulatorPath is where a development region serves its simulated
// acquirer; other regions of a local cluster set checkout.acquirer_url to
// the first region's URL plus this path, so that they share one acquirer.
const SimulatorPath = "/simulator/acquirer/v1"

func (r *Region) newCheckout(opts settings) *checkout.Service {
	cfg := r.cfg
	acquirerURL := cfg.Checkout.AcquirerURL
	if acquirerURL == "" && cfg.Mode == "development" { // production requires acquirer_url
		// The simulated acquirer is served by this region itself, so card
		// payments go through the real client: HTTP, timeouts, retries
		// with an idempotency key.
		r.sim = cards.NewSimulator(time.Now)
		acquirerURL = strings.TrimRight(cfg.PublicURL, "/") + SimulatorPath
	}
	transport := opts.transport
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	acquirer := cards.NewClient(acquirerURL, transport, cfg.Checkout.AcquirerTimeout, 2)
	r.acquirer = acquirer
	merchants := make([]checkout.MerchantConfig, len(cfg.Merchants))
	for i, m := range cfg.Merchants {
		merchants[i] = checkout.MerchantConfig{ID: m.ID, Name: m.Name, APISecret: m.APISecret, WebhookSecret: m.WebhookSecret}
	}
	var peers []string
	for _, p := range cfg.Peers {
		peers = append(peers, p.ID)
	}
	return checkout.New(r.ledger, r.credit, acquirer, r.node, checkout.Config{
		Region: cfg.Region, Peers: peers, PublicURL: strings.TrimRight(cfg.PublicURL, "/"), SiteURL: cfg.SiteURL,
		AllowLoopback: cfg.Mode == "development", SessionTTL: cfg.Checkout.SessionTTL, AuthTTL: cfg.Checkout.AuthTTL,
		Merchants: merchants, SessionIDs: checkout.SessionIDs{Key: []byte(cfg.Checkout.IDKey)},
		Consumers:      checkout.Consumers{Key: []byte(cfg.Checkout.IdentityKey)},
		FingerprintKey: cards.FingerprintKey(cfg.Checkout.FingerprintKey), InvoiceDays: cfg.Scoring.InvoiceDays, Logger: r.log,
		SecretKey: cfg.Checkout.SecretKey, Acknowledge: r.acknowledge(), Now: opts.now,
		ReadThrough: readThrough{r.node},
	})
}

// acknowledge returns what the merchant API and hosted pages wait for
// after a write: nothing under durability local and fsync (the commit is
// the acknowledgement), and under peer until a peer holds every entry this
// region has written so far, which includes the request's own (entries of
// one origin are a chain, so holding seq n holds all before it).
func (r *Region) acknowledge() func(context.Context) error {
	if r.cfg.Durability != "peer" {
		return nil
	}
	self := ledger.RegionID(r.cfg.Region)
	return func(ctx context.Context) error {
		return r.node.AwaitPeer(ctx, self, r.ledger.Vector()[self])
	}
}

func (r *Region) newCredit() *scoring.Engine {
	regions := []string{r.cfg.Region}
	for _, p := range r.cfg.Peers {
		regions = append(regions, p.ID)
	}
	return scoring.New(r.ledger, scoring.Config{
		Region: r.cfg.Region, Regions: regions, Policy: r.cfg.Policy(), Rights: r.node,
		Stale: r.node.Unreachable, Now: r.now, Logger: r.log, Registerer: r.registry,
		MayGrant: func() bool { return r.node.HeardFromAll() && !r.node.Lagging(grantLag) },
	})
}

// grantLag is how many entries a region may lack of a peer's and still
// grant credit lines as a consumer's home: a region in steady state lags by
// the few entries in flight; one that just joined or was restored lags by
// far more until it has caught up. (A region cut off from its peers keeps
// granting: only the home grants, and it holds its own earlier grants.)
const grantLag = 10_000

// rightsRouter sends a peer's rights request to the owner of the rights:
// credit lines to scoring, orders to checkout.
type rightsRouter struct {
	credit    *scoring.Engine
	checkout  *checkout.Service
	recovered *atomic.Bool
}

// errRecovering answers a peer's rights request while this region is still
// fetching its own entries from its peers: a grant is an entry of this
// region's, and written then it could take a sequence number a peer
// already holds (a fork). The peer tries again shortly.
var errRecovering error = recovering{}

type recovering struct{}

func (recovering) Error() string {
	return "region: still recovering its own entries from peers; no rights are granted until then"
}
func (recovering) Temporary() bool { return true }

func (rr rightsRouter) GrantRights(ctx context.Context, subject, prefix, to string, amount int64) (ledger.Entry, error) {
	if !rr.recovered.Load() {
		return ledger.Entry{}, errRecovering
	}
	rights, err := account.ParseRights(prefix)
	if err != nil {
		return ledger.Entry{}, fmt.Errorf("region: rights request: %w", err)
	}
	if rights.Kind() == account.KindCreditRights {
		return rr.credit.GrantRights(ctx, subject, prefix, to, amount)
	}
	return rr.checkout.GrantRights(ctx, subject, prefix, to, amount)
}

func (r *Region) newWebhooks(opts settings) (*webhook.Dispatcher, error) {
	cfg := r.cfg.Webhooks
	cfg.Region, cfg.AllowLoopback = r.cfg.Region, r.cfg.Mode == "development"
	for _, p := range r.cfg.Peers {
		cfg.Peers = append(cfg.Peers, p.ID)
	}
	cfg.Transport, cfg.Logger, cfg.Now = opts.transport, r.log, r.now
	for _, f := range opts.webhooks {
		f(&cfg)
	}
	return webhook.New(r.ledger, r.checkout, cfg)
}

// Credit returns the region's credit engine.
func (r *Region) Credit() *scoring.Engine { return r.credit }

// Checkout returns the region's checkout service.
func (r *Region) Checkout() *checkout.Service { return r.checkout }

// Simulator returns the simulated acquirer this region serves in
// development (nil when it calls a configured acquirer), for tests that set
// its failure knobs.
func (r *Region) Simulator() *cards.Simulator { return r.sim }

// Webhooks returns the region's webhook dispatcher.
func (r *Region) Webhooks() *webhook.Dispatcher { return r.webhooks }

// Node returns the region's replication node.
func (r *Region) Node() *regionsync.Node { return r.node }

// Ledger returns the region's ledger.
func (r *Region) Ledger() *ledger.Store { return r.ledger }

// PublicKey returns the region's public key as peers configure it.
func (r *Region) PublicKey() string { return PublicKeyString(r.key) }

// Restored reports whether New restored the database from the replica.
func (r *Region) Restored() bool { return r.restored }

// Handler returns the region's HTTP handler.
func (r *Region) Handler() http.Handler { return r.handler }

// Sync ships every committed write to the backup replica and waits.
func (r *Region) Sync(ctx context.Context) error { return r.replica.Sync(ctx) }

func (r *Region) routes() http.Handler {
	m := mux.NewRouter()
	m.Handle("/healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})).Methods(http.MethodGet, http.MethodHead)
	m.Handle("/readyz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !r.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			if why := r.unready.Load(); why != nil {
				fmt.Fprintln(w, "not ready: "+*why)
				return
			}
			fmt.Fprintln(w, "not ready")
			return
		}
		fmt.Fprintln(w, "ready")
	})).Methods(http.MethodGet, http.MethodHead)
	m.Handle("/metrics", promhttp.HandlerFor(prometheus.Gatherers{r.registry, prometheus.DefaultGatherer},
		promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(r.log.Handler(), slog.LevelError)})).Methods(http.MethodGet)
	r.node.Routes(m)
	limiter := ratelimit.New(r.cfg.Checkout.RatePerMerchant, r.cfg.Checkout.RatePerClient, nil)
	reports := settlement.New(r.ledger, r.cfg.Settlement)
	merchantapi.New(r.checkout, limiter, r.ready.Load, r.log).WithSettlements(reports).Routes(m)
	staff := r.cfg.AdminStaff()
	assets := static.New("/static/")
	merchants := make([]string, len(r.cfg.Merchants))
	for i, mc := range r.cfg.Merchants {
		merchants[i] = mc.ID
	}
	r.admin = admin.New(r.ledger, r.checkout, r.webhooks, staff, r.log).WithCredit(r.credit).WithUI(admin.UI{
		Merchants: merchants, Asset: assets.Path, Now: r.now,
		Secure: r.cfg.Mode == "production" || strings.HasPrefix(r.cfg.PublicURL, "https:"),
	}).WithHealth(admin.Health{Ready: r.ready.Load, Sync: r.node.Status, Backup: r.replica.Status}).
		WithReconciliation(r.recon).WithSettlements(reports).WithMailbox(r.adminMailbox()).
		WithInvoices(r.invoices.book, invoice.ValidReference)
	r.admin.Routes(m)
	m.PathPrefix("/static/").Handler(assets).Methods(http.MethodGet, http.MethodHead)
	// The pages' posts count in buckets of their own, never against the
	// merchant's API limit.
	pageLimiter := ratelimit.New(0, r.cfg.Checkout.RatePerPageClient, nil)
	hosted.New(r.checkout, hosted.Config{Limiter: pageLimiter, Ready: r.ready.Load, Asset: assets.Path,
		Secure: strings.HasPrefix(r.cfg.PublicURL, "https:") || strings.HasPrefix(r.cfg.SiteURL, "https:"), Logger: r.log}).Routes(m)
	r.invoicePay = r.mountInvoicePages(m, r.invoiceBook, assets.Path)
	if r.sim != nil && r.cfg.Mode == "development" {
		m.PathPrefix(SimulatorPath + "/").Handler(http.StripPrefix(SimulatorPath, r.sim.Handler()))
	}
	m.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such route: " + req.URL.Path})
	})
	m.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		httperr.Write(w, httperr.Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: req.Method + " is not allowed on " + req.URL.Path})
	})
	h := r.instrument(m)
	// After instrument's own middleware, so a refused request is still
	// counted under its route.
	m.Use(r.operatorsOnly)
	return h
}

// Serve answers HTTP on ln until ctx is done, then shuts down gracefully:
// readiness goes false, in-flight requests finish (up to the shutdown
// timeout), and Serve returns. Call Close afterwards.
func (r *Region) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           r.handler,
		ReadHeaderTimeout: min(r.cfg.HTTP.ReadTimeout, 5*time.Second),
		ReadTimeout:       r.cfg.HTTP.ReadTimeout,
		WriteTimeout:      r.cfg.HTTP.WriteTimeout,
		IdleTimeout:       r.cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	// Peers can push and pull from the start, but this region takes no
	// traffic of its own (readyz stays 503) until it has asked its peers for
	// any of its own entries they hold beyond its head.
	if len(r.cfg.Peers) > 0 {
		if err := r.node.Recover(ctx); err != nil {
			r.log.Warn("starting without an answer from every peer; a peer that held newer entries of this region will report a fork", "err", err)
		}
	}
	r.recovered.Store(true)
	syncCtx, stopSync := context.WithCancel(context.WithoutCancel(ctx))
	syncDone := make(chan struct{})
	go func() {
		defer close(syncDone)
		var wg sync.WaitGroup
		wg.Add(10)
		go func() {
			defer wg.Done()
			r.invoices.run(syncCtx)
		}()
		go func() {
			defer wg.Done()
			r.settleInvoicePayments(syncCtx, r.invoicePay)
		}()
		go func() {
			defer wg.Done()
			r.admin.Run(syncCtx)
		}()
		go func() {
			defer wg.Done()
			r.reconcileSettlements(syncCtx)
		}()
		go func() {
			defer wg.Done()
			r.checkout.FollowMerchants(syncCtx)
		}()
		go func() {
			defer wg.Done()
			r.reconcile(syncCtx)
		}()
		go func() {
			defer wg.Done()
			r.checkout.FollowSweep(syncCtx)
		}()
		go func() {
			defer wg.Done()
			r.rebalance(syncCtx)
		}()
		go func() {
			defer wg.Done()
			r.webhooks.Run(syncCtx)
		}()
		go func() {
			defer wg.Done()
			r.mail.box.Run(syncCtx)
		}()
		r.node.Run(syncCtx)
		wg.Wait()
	}()
	// The start-up read folds the ledger into what decisions and the sweep
	// keep in memory. A region that cannot read its ledger would answer
	// every pay-later checkout with an error, so it takes no traffic of
	// its own until the read succeeds: it keeps serving its peers (they
	// may need its entries), /readyz says what is wrong, and the read is
	// tried again (docs/ledger.md, "A stored entry that cannot be read").
	if err := r.startRead(ctx); err != nil {
		go r.retryStartRead(syncCtx, err)
	}
	select {
	case err := <-errc:
		r.setReady(false, true)
		stopSync()
		<-syncDone
		return fmt.Errorf("region: serve: %w", err)
	case <-ctx.Done():
	}
	r.setReady(false, true)
	defer func() {
		// After the last request: one final push so peers hold what was
		// just written.
		stopSync()
		<-syncDone
	}()
	r.log.Info("shutting down: draining requests")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("region: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startRetry is how long a region whose start-up read failed waits before
// it tries again.
const startRetry = 10 * time.Second

// startRead runs the start-up read; on success the region is ready, on
// failure /readyz and an error log line say why.
func (r *Region) startRead(ctx context.Context) error {
	err := r.credit.Start(ctx)
	if err == nil {
		err = r.checkout.StartSweep(ctx)
	}
	if err == nil {
		err = r.checkout.LoadMerchants(ctx)
	}
	if err == nil {
		r.unready.Store(nil)
		r.setReady(true, false)
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	why := "the first read of the ledger failed: " + err.Error()
	r.unready.Store(&why)
	r.log.Error("not ready: the first read of the ledger failed; this region takes no checkout traffic "+
		"until it succeeds (peers can still sync with it); run kassa verify on its data dir",
		"err", err, "retry_in", startRetry)
	return err
}

// retryStartRead tries the start-up read again every startRetry until it
// succeeds or ctx is done.
func (r *Region) retryStartRead(ctx context.Context, err error) {
	t := time.NewTicker(startRetry)
	defer t.Stop()
	for err != nil {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err = r.startRead(ctx)
	}
}

// setReady changes readiness; once stopping, the region never becomes
// ready again.
func (r *Region) setReady(ready, stopping bool) {
	r.readyMu.Lock()
	defer r.readyMu.Unlock()
	r.stopping = r.stopping || stopping
	r.ready.Store(ready && !r.stopping)
}

// every runs f every d until ctx is done (never if d is not positive).
func every(ctx context.Context, d time.Duration, f func()) {
	if d <= 0 {
		return
	}
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f()
	}
}

// reconcile settles unknown card outcomes and sweeps this region's
// authorizations (duplicates to void, expired credit to release) until ctx
// is done.
func (r *Region) reconcile(ctx context.Context) {
	every(ctx, r.cfg.Checkout.ReconcileInterval, func() {
		if n, err := r.checkout.Reconcile(ctx); err != nil {
			r.log.Error("reconcile card outcomes", "err", err)
		} else if n > 0 {
			r.log.Info("settled card authorizations with unknown outcome", "settled", n)
		}
		if voided, released, err := r.checkout.Sweep(ctx); err != nil {
			r.log.Error("sweep authorizations", "err", err)
		} else if voided+released > 0 {
			r.log.Info("swept authorizations", "voided_duplicates", voided, "released_expired", released)
		}
	})
}

// rebalance moves credit rights toward where consumers shop until ctx is
// done.
func (r *Region) rebalance(ctx context.Context) {
	every(ctx, r.cfg.Scoring.RebalanceInterval, func() {
		if n, err := r.credit.Rebalance(ctx); err != nil {
			r.log.Error("rebalance credit rights", "err", err)
		} else if n > 0 {
			r.log.Debug("moved credit rights ahead of demand", "transfers", n)
		}
	})
}

// Close finishes queued ledger writes, closes the ledger and then the backup
// replica (after a final sync). It is safe to call once after Serve returned.
func (r *Region) Close() error {
	r.setReady(false, true)
	lerr := r.ledger.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	berr := r.replica.Close(ctx)
	r.unlock()
	return errors.Join(lerr, berr)
}

// Banner is what an operator (or a newcomer after `go run .`) needs to know
// about a region that just started listening on addr.
func (r *Region) Banner(addr string) string {
	base := r.cfg.PublicURL
	if strings.HasSuffix(r.cfg.Listen, ":0") {
		base = "http://" + addr
	}
	var b strings.Builder
	fmt.Fprintf(&b, "kassa region %s (%s mode) listening on http://%s\n", r.cfg.Region, r.cfg.Mode, addr)
	fmt.Fprintf(&b, "  sync status:  %s/sync/v1/status\n", base)
	fmt.Fprintf(&b, "  health:       %s/healthz   ready: %s/readyz   metrics: %s/metrics\n", base, base, base)
	if r.cfg.HTTP.MetricsToken != "" || len(r.cfg.HTTP.MetricsAllow) > 0 {
		b.WriteString("                (metrics and sync status need http.metrics_token / http.metrics_allow)\n")
	}
	fmt.Fprintf(&b, "  durability:   %s (ledger synchronous %s)\n", r.cfg.Durability, r.cfg.Synchronous())
	fmt.Fprintf(&b, "  database:     %s (%d entries)\n", r.cfg.DBPath(), r.ledger.Count())
	fmt.Fprintf(&b, "  backup:       %s\n", r.cfg.Backup.URL)
	fmt.Fprintf(&b, "  public key:   %s\n", r.PublicKey())
	if r.cfg.Mode == "development" {
		for _, m := range r.cfg.Merchants {
			if m.ID == DemoMerchantID {
				fmt.Fprintf(&b, "  demo merchant: id %s, API secret %s (HTTP Basic)\n", m.ID, m.APISecret)
			}
		}
		for _, s := range r.cfg.Staff {
			if s.Username == DemoStaffUser {
				fmt.Fprintf(&b, "  demo staff:    %s / %s\n", s.Username, s.Password)
			}
		}
	}
	fmt.Fprintf(&b, "  merchant API: %s/v1 (OpenAPI: %s/v1/openapi.json)\n", base, base)
	fmt.Fprintf(&b, "  checkout:     %s/checkout/{session id} (create a session with POST /v1/sessions; see README)\n", base)
	if site := r.cfg.SiteURL; site != "" && site != strings.TrimRight(r.cfg.PublicURL, "/") {
		fmt.Fprintf(&b, "  site_url:     %s (checkout links and emails name it)\n", site)
	}
	fmt.Fprintf(&b, "  admin UI:     %s/admin/login (staff credentials; JSON under %s/admin/api/)\n", base, base)
	b.WriteString(r.mailBanner(base))
	b.WriteString("Stop with Ctrl+C; it drains requests and finishes writes first.\n")
	return b.String()
}
