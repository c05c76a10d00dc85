package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"kassa/httperr"
)

// The defaults of Config.
const (
	DefaultMaxBodyBytes    = 1 << 20 // the regions' own http.max_body_bytes
	DefaultDialTimeout     = 2 * time.Second
	DefaultResponseTimeout = 30 * time.Second // to a region's response headers, per attempt
	DefaultRequestTimeout  = 60 * time.Second // one request, every attempt
	DefaultCheckInterval   = time.Second
	DefaultCheckTimeout    = time.Second
)

// Config configures a Router. Only Regions is required.
type Config struct {
	// Regions are the regions' base URLs (http://127.0.0.1:8081), in the
	// order round robin starts from.
	Regions []string
	// MaxBodyBytes bounds a request body; a larger one is answered 413.
	MaxBodyBytes int64
	// DialTimeout bounds connecting to a region, ResponseTimeout waiting
	// for its response headers, RequestTimeout a whole request with every
	// attempt.
	DialTimeout     time.Duration
	ResponseTimeout time.Duration
	RequestTimeout  time.Duration
	// CheckInterval is how often Run asks every region's /readyz, each
	// answer bounded by CheckTimeout.
	CheckInterval time.Duration
	CheckTimeout  time.Duration
	// Pinned are path prefixes (such as "/admin/") whose requests go to the
	// first ready region in Regions' order instead of in turn: for pages
	// whose sign-in is kept by one region.
	Pinned []string
	// Transport reaches the regions; nil: a transport with DialTimeout and
	// ResponseTimeout.
	Transport http.RoundTripper
	Logger    *slog.Logger // nil: slog.Default()
}

// Router forwards requests to regions (see the package doc). It is an
// http.Handler, safe for concurrent use.
type Router struct {
	cfg     Config
	regions []*region
	next    atomic.Uint64
	proxy   *httputil.ReverseProxy
	checks  *http.Client
	log     *slog.Logger
}

// region is one region behind the router.
type region struct {
	url  *url.URL
	down atomic.Bool // /readyz failed, or a connection to it did
}

// New returns a Router for cfg. It fails if there are no regions, a region
// is not an absolute http(s) URL without a path, query or credentials, or
// a limit is negative.
func New(cfg Config) (*Router, error) {
	if len(cfg.Regions) == 0 {
		return nil, errors.New("router: no regions")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.DialTimeout, DefaultDialTimeout)
	def(&cfg.ResponseTimeout, DefaultResponseTimeout)
	def(&cfg.RequestTimeout, DefaultRequestTimeout)
	def(&cfg.CheckInterval, DefaultCheckInterval)
	def(&cfg.CheckTimeout, DefaultCheckTimeout)
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxBodyBytes < 0 || cfg.DialTimeout < 0 || cfg.ResponseTimeout < 0 || cfg.RequestTimeout < 0 || cfg.CheckInterval < 0 || cfg.CheckTimeout < 0 {
		return nil, errors.New("router: limits and timeouts must not be negative")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	rt := &Router{cfg: cfg, log: cfg.Logger}
	seen := map[string]bool{}
	for _, s := range cfg.Regions {
		u, err := url.Parse(strings.TrimRight(s, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("router: region %q is not an http(s) URL of a host without path, query or credentials", s)
		}
		if seen[u.String()] {
			return nil, fmt.Errorf("router: region %q is listed twice", s)
		}
		seen[u.String()] = true
		rt.regions = append(rt.regions, &region{url: u})
	}
	tr := cfg.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext
		t.ResponseHeaderTimeout = cfg.ResponseTimeout
		t.MaxIdleConnsPerHost = 64
		tr = t
	}
	rt.checks = &http.Client{Transport: tr, Timeout: cfg.CheckTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	rt.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The client's own X-Forwarded-* were dropped: the router is
			// the edge, and says who connected to it.
			pr.SetXForwarded()
			pr.Out.Host = "" // the region's host, as the attempt sets it
		},
		Transport:    &failover{rt: rt, base: tr},
		ErrorHandler: rt.proxyError,
		ErrorLog:     slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return rt, nil
}

// plan is one request's attempts: the regions in the order to try, the
// body to send to each, and whether it may be sent more than once.
type plan struct {
	order     []*region
	body      []byte
	retryable bool
}

type planKey struct{}

// ServeHTTP forwards r to a region, and to the next when that one cannot
// be reached and r may be sent again.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > rt.cfg.MaxBodyBytes {
		rt.tooLarge(w)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rt.cfg.MaxBodyBytes))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			rt.tooLarge(w)
			return
		}
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "bad_request", Message: "the request body could not be read"})
		return
	}
	p := &plan{order: rt.order(rt.pinned(r.URL.Path)), body: body, retryable: retryable(r)}
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), planKey{}, p), rt.cfg.RequestTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	rt.proxy.ServeHTTP(w, r)
}

func (rt *Router) tooLarge(w http.ResponseWriter) {
	httperr.Write(w, httperr.Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
		Message: fmt.Sprintf("the request body is larger than %d bytes", rt.cfg.MaxBodyBytes)})
}

// retryable reports whether r may reach a region twice without doing
// twice what it asks: by its method, or by its Idempotency-Key.
func retryable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return r.Header.Get("Idempotency-Key") != ""
}

// pinned reports whether path starts with one of Config.Pinned.
func (rt *Router) pinned(path string) bool {
	for _, p := range rt.cfg.Pinned {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// order returns every region, starting at the next one in rotation (at
// the first when pinned): the ones that are up first, then the ones that
// are down (still worth a try when no other answers).
func (rt *Router) order(pinned bool) []*region {
	n := len(rt.regions)
	start := 0
	if !pinned {
		start = int((rt.next.Add(1) - 1) % uint64(n))
	}
	up := make([]*region, 0, n)
	var down []*region
	for i := range n {
		g := rt.regions[(start+i)%n]
		if g.down.Load() {
			down = append(down, g)
		} else {
			up = append(up, g)
		}
	}
	return append(up, down...)
}

// proxyError answers a request no region answered.
func (rt *Router) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil && errors.Is(r.Context().Err(), context.Canceled) {
		return // the client went away
	}
	rt.log.Warn("router: no region answered", "method", r.Method, "path", r.URL.Path, "err", err)
	httperr.Write(w, httperr.Error{Status: http.StatusBadGateway, Code: "bad_gateway", RetryAfter: 1,
		Message: "no region answered; a request with an Idempotency-Key may be sent again with the same key"})
}

// failover sends a request to the regions of its plan in turn until one
// answers, or one may have received it and it may not be sent twice.
type failover struct {
	rt   *Router
	base http.RoundTripper
}

func (f *failover) RoundTrip(out *http.Request) (*http.Response, error) {
	p, _ := out.Context().Value(planKey{}).(*plan)
	if p == nil {
		return nil, errors.New("router: request without a plan")
	}
	var lastErr error
	for i, g := range p.order {
		req := out.Clone(out.Context())
		req.URL.Scheme, req.URL.Host, req.Host = g.url.Scheme, g.url.Host, ""
		req.Body, req.ContentLength, req.GetBody = nil, int64(len(p.body)), nil
		if len(p.body) > 0 {
			req.Body = io.NopCloser(bytes.NewReader(p.body))
		}
		res, err := f.base.RoundTrip(req)
		if err == nil {
			g.down.Store(false)
			return res, nil
		}
		lastErr = err
		if out.Context().Err() != nil {
			return nil, err
		}
		g.down.Store(true)
		sent := !dialFailed(err)
		if sent && !p.retryable {
			f.rt.log.Warn("router: region failed after a request without an Idempotency-Key may have reached it; not sent again",
				"region", g.url.Host, "method", out.Method, "path", out.URL.Path, "err", err)
			return nil, err
		}
		if i < len(p.order)-1 {
			f.rt.log.Info("router: region unreachable, trying the next", "region", g.url.Host, "method", out.Method, "path", out.URL.Path, "err", err)
		}
	}
	return nil, lastErr
}

// dialFailed reports whether err is a failure to connect, so that nothing
// of the request was sent.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Check asks every region's /readyz once and marks it up (200) or down.
func (rt *Router) Check(ctx context.Context) {
	for _, g := range rt.regions {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.url.String()+"/readyz", nil)
		if err != nil {
			continue
		}
		res, err := rt.checks.Do(req)
		ready := err == nil && res.StatusCode == http.StatusOK
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			res.Body.Close()
		}
		if was := !g.down.Swap(!ready); was != ready {
			rt.log.Info("router: region readiness changed", "region", g.url.Host, "ready", ready)
		}
	}
}

// Run checks the regions every CheckInterval until ctx ends.
func (rt *Router) Run(ctx context.Context) {
	t := time.NewTicker(rt.cfg.CheckInterval)
	defer t.Stop()
	for {
		rt.Check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Up reports, per region URL, whether the router sends it requests first.
func (rt *Router) Up() map[string]bool {
	m := make(map[string]bool, len(rt.regions))
	for _, g := range rt.regions {
		m[g.url.String()] = !g.down.Load()
	}
	return m
}

// Server returns an http.Server for the router with every timeout set: a
// client that sends slowly or never reads is cut off.
func (rt *Router) Server() *http.Server {
	return &http.Server{
		Handler:           rt,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      rt.cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(rt.log.Handler(), slog.LevelWarn),
	}
}
