package client

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Defaults for the zero values of Config's durations.
const (
	DefaultAttempt  = 2 * time.Second
	DefaultDeadline = 10 * time.Second
)

// Waits between attempts at the same region when it gave no Retry-After:
// exponential from retryWaitMin, capped at retryWaitMax.
const (
	retryWaitMin = 50 * time.Millisecond
	retryWaitMax = 2 * time.Second
)

// maxBody bounds a response body the client reads into memory.
const maxBody = 16 << 20

// ErrDeadline means the operation's deadline passed, or would pass before
// any region could be asked again, without a final answer. Do returns the
// last response it got (a 429, 502, 503 or 504), if any, with it.
var ErrDeadline = errors.New("client: deadline passed without a final answer")

// ErrNoKey means Do was asked to send a POST (any method but GET and HEAD)
// without an Idempotency-Key; nothing was sent.
var ErrNoKey = errors.New("client: a write needs an Idempotency-Key")

// Config configures a Client.
type Config struct {
	Regions   []string          // base URLs, e.g. "http://127.0.0.1:8080"; first is preferred initially
	Merchant  string            // merchant id (HTTP Basic user)
	Secret    string            // API secret
	Attempt   time.Duration     // timeout of one attempt at one region (default 2s)
	Deadline  time.Duration     // bound on one logical operation, all retries and regions (default 10s)
	Transport http.RoundTripper // nil: a clone of http.DefaultTransport
	// Health is shared with other Clients of the same process, so that a
	// region one of them found not answering is asked last by all (see
	// Health); nil: this Client keeps its own.
	Health *Health
	// Probe, if positive, bounds how long a region that answers nothing
	// at all (frozen, or a black hole) goes on being asked: once an
	// attempt has gone unanswered for Probe, the client asks the region's
	// /healthz, and if that brings no answer within Probe either, the
	// region is suspect at once (see Health) for every operation sharing
	// the Health, and a read (GET, HEAD) is given up and asked elsewhere.
	// A write's attempt waits out Attempt all the same, as the region may
	// still decide it. A region that answers the probe (whatever it says)
	// is only slow: nothing changes. A region still suspect after
	// SuspectFor is probed before it is sent an operation again. 0: no
	// probe; a region is suspect only once an attempt has timed out, and
	// is asked again (with a real operation) after SuspectFor.
	Probe time.Duration
}

// Client sends merchant API operations to kassa's regions with failover
// (see the package doc). It is safe for concurrent use.
type Client struct {
	regions  []string
	merchant string
	secret   string
	attempt  time.Duration
	deadline time.Duration
	probe    time.Duration
	http     *retryablehttp.Client
	health   *Health

	preferred atomic.Int64 // index into regions of the region that answered last
}

// New returns a Client for cfg. It fails if cfg has no regions, a region
// that is not an absolute http(s) URL or is listed twice, no merchant id or
// secret, or a negative duration.
func New(cfg Config) (*Client, error) {
	if len(cfg.Regions) == 0 {
		return nil, errors.New("client: Config.Regions is empty")
	}
	seen := map[string]bool{}
	regions := make([]string, 0, len(cfg.Regions))
	for _, r := range cfg.Regions {
		r = strings.TrimRight(strings.TrimSpace(r), "/")
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("client: Config.Regions: %q is not an absolute http(s) URL", r)
		}
		if seen[r] {
			return nil, fmt.Errorf("client: Config.Regions: %q is listed twice", r)
		}
		seen[r] = true
		regions = append(regions, r)
	}
	if cfg.Merchant == "" {
		return nil, errors.New("client: Config.Merchant is empty")
	}
	if cfg.Secret == "" {
		return nil, errors.New("client: Config.Secret is empty")
	}
	if cfg.Attempt < 0 || cfg.Deadline < 0 || cfg.Probe < 0 {
		return nil, errors.New("client: Config.Attempt, Config.Deadline and Config.Probe must not be negative")
	}
	if cfg.Attempt == 0 {
		cfg.Attempt = DefaultAttempt
	}
	if cfg.Deadline == 0 {
		cfg.Deadline = DefaultDeadline
	}
	tr := cfg.Transport
	if tr == nil {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{
		// retryablehttp closes idle connections after a failed request;
		// hiding the transport's CloseIdleConnections keeps one region's
		// failure from dropping the pooled connections to the others.
		Transport: roundTripper{tr},
		// A redirect is the region's answer, not a place to send the
		// merchant's secret and request.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	rc.Logger = nil
	rc.RetryMax = 0
	rc.CheckRetry = func(context.Context, *http.Response, error) (bool, error) { return false, nil }
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	health := cfg.Health
	if health == nil {
		health = NewHealth()
	}
	return &Client{
		health:   health,
		regions:  regions,
		merchant: cfg.Merchant,
		secret:   cfg.Secret,
		attempt:  cfg.Attempt,
		deadline: cfg.Deadline,
		probe:    cfg.Probe,
		http:     rc,
	}, nil
}

// roundTripper hides every method of the RoundTripper it holds but
// RoundTrip.
type roundTripper struct{ http.RoundTripper }

// Response is the answer to an operation: the final answer, or with
// ErrDeadline the last answer that was not final.
type Response struct {
	Status   int
	Header   http.Header
	Body     []byte
	Region   string // base URL that gave this answer
	Attempts int    // attempts made by the operation, at every region
}

// Error is the API's error body, {"error": {...}}, with the status it came
// with. Response.Decode returns it for an answer that is not a 2xx.
type Error struct {
	Status        int    `json:"-"`
	Code          string `json:"code"`
	Message       string `json:"message"`
	Field         string `json:"field,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("kassa: %d %s: %s", e.Status, e.Code, e.Message)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	return s
}

// Decode decodes a 2xx answer's JSON body into v. For any other status it
// returns an *Error with the API's code and message (Code empty if the body
// was not the API's error shape), and leaves v alone.
func (r *Response) Decode(v any) error {
	if r.Status < 200 || r.Status > 299 {
		var body struct {
			Error Error `json:"error"`
		}
		json.Unmarshal(r.Body, &body) // a body of another shape leaves Code empty
		e := body.Error
		e.Status = r.Status
		if e.Message == "" {
			e.Message = http.StatusText(r.Status)
		}
		return &e
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("client: decode %d answer: %w", r.Status, err)
	}
	return nil
}

// NewKey returns a random Idempotency-Key (26 characters, 130 bits).
func NewKey() string { return rand.Text() }

// Do sends one logical operation: POSTs need key (the Idempotency-Key,
// reused on every retry and region). It fails over on connection errors,
// attempt timeouts, 429 and 503 (honouring Retry-After within the
// deadline), and 502 and 504; prefers the region that answered last; and
// returns the first final answer (any other status) with a nil error,
// whatever its status. path is the request's path and query, such as
// "/v1/sessions". body is sent as JSON: nil for none, []byte or
// json.RawMessage as they are, anything else marshalled.
//
// The error wraps ErrDeadline when the deadline passed without a final
// answer, or would before any region could be asked again (the last
// response, if any, is returned with it), and context.DeadlineExceeded as
// well when that deadline was ctx's; ErrNoKey for a POST without a key; or
// context.Canceled if ctx was cancelled.
func (c *Client) Do(ctx context.Context, method, path, key string, body any) (*Response, error) {
	if method != http.MethodGet && method != http.MethodHead && key == "" {
		return nil, fmt.Errorf("%s %s: %w", method, path, ErrNoKey)
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("client: %s %s: path must start with /", method, path)
	}
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	case json.RawMessage:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("client: %s %s: encode body: %w", method, path, err)
		}
	}

	opCtx, cancel := context.WithTimeout(ctx, c.deadline)
	defer cancel()
	end, _ := opCtx.Deadline()
	// When the caller's deadline is the one that bounds the operation, a
	// give-up says so (context.DeadlineExceeded) even if it comes before
	// ctx's timer has fired.
	callerDeadline, ok := ctx.Deadline()
	callerBound := ok && !callerDeadline.After(end)

	n := len(c.regions)
	first := int(c.preferred.Load())
	notBefore := make([]time.Time, n) // per region: not to be asked again before
	failures := make([]int, n)        // per region: failed attempts in this operation
	var last *Response
	var lastErr error
	attempts := 0
	next := first
	for {
		// The first region in rotation order from next that may be asked
		// now, or failing that the one that may be asked soonest. A region
		// that did not answer lately (Health) is asked only when no other
		// may be asked now: it would likely cost a whole attempt again.
		now := time.Now()
		pick, wait := -1, time.Duration(0)
		for i := range n {
			r := (next + i) % n
			if d := notBefore[r].Sub(now); d <= 0 && !c.health.Suspect(c.regions[r]) {
				pick, wait = r, 0
				break
			} else if d <= 0 {
				d = 0
				if pick < 0 || wait > 0 {
					pick, wait = r, d
				}
			} else if pick < 0 || d < wait {
				pick, wait = r, d
			}
		}
		if !now.Add(wait).Before(end) {
			return c.giveUp(ctx, callerBound, method, path, last, lastErr, attempts)
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-opCtx.Done():
				t.Stop()
				return c.giveUp(ctx, callerBound, method, path, last, lastErr, attempts)
			case <-t.C:
			}
		}

		if c.probe > 0 && c.health.lapsed(c.regions[pick]) {
			// Suspect a while ago and not heard from since: if it is still
			// frozen, a write sent there would wait out a whole attempt,
			// where the probe costs at most Probe.
			if !c.alive(opCtx, c.regions[pick]) {
				if opCtx.Err() != nil {
					return c.giveUp(ctx, callerBound, method, path, last, lastErr, attempts)
				}
				c.health.failed(c.regions[pick])
				next = (pick + 1) % n
				continue
			}
			c.health.answered(c.regions[pick])
		}
		attempts++
		res, err := c.try(opCtx, c.regions[pick], method, path, key, raw)
		switch {
		case err == nil && res.Status != http.StatusBadGateway && res.Status != http.StatusGatewayTimeout:
			c.health.answered(c.regions[pick])
		case opCtx.Err() == nil:
			// No answer from the region itself (a 502 or 504 is a proxy's
			// word that it could not reach it).
			c.health.failed(c.regions[pick])
		}
		if err == nil && !failover(res.Status) {
			res.Attempts = attempts
			c.preferred.Store(int64(pick))
			return res, nil
		}
		if err != nil && opCtx.Err() != nil {
			// The attempt was cut short by the operation's deadline or the
			// caller; the last answer stays the last answer.
			return c.giveUp(ctx, callerBound, method, path, last, lastErr, attempts)
		}
		var hres *http.Response
		if err == nil {
			res.Attempts = attempts
			last, lastErr = res, fmt.Errorf("%s answered %d", res.Region, res.Status)
			hres = &http.Response{StatusCode: res.Status, Header: res.Header}
		} else {
			lastErr = err
		}
		// retryablehttp's backoff reads Retry-After on 429 and 503.
		notBefore[pick] = time.Now().Add(retryablehttp.DefaultBackoff(retryWaitMin, retryWaitMax, failures[pick], hres))
		failures[pick]++
		next = (pick + 1) % n
	}
}

// failover reports whether status is an answer to try elsewhere.
func failover(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// giveUp ends an operation that got no final answer. callerBound says the
// operation's deadline was ctx's.
func (c *Client) giveUp(ctx context.Context, callerBound bool, method, path string, last *Response, lastErr error, attempts int) (*Response, error) {
	if last != nil {
		last.Attempts = attempts
	}
	why := ""
	if lastErr != nil {
		why = " (last: " + lastErr.Error() + ")"
	}
	op := fmt.Sprintf("client: %s %s after %d attempts%s", method, path, attempts, why)
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return last, fmt.Errorf("%s: %w", op, err)
	}
	if callerBound {
		return last, fmt.Errorf("%s: %w (%w)", op, ErrDeadline, context.DeadlineExceeded)
	}
	return last, fmt.Errorf("%s: %w", op, ErrDeadline)
}

// try makes one attempt at one region, bounded by the attempt timeout, and
// with a probe watches the region's liveness (Config.Probe). An error means
// no complete answer came back.
func (c *Client) try(ctx context.Context, region, method, path, key string, body []byte) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.attempt)
	defer cancel()
	if c.probe <= 0 {
		return c.send(ctx, region, method, path, key, body)
	}
	type result struct {
		res *Response
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := c.send(ctx, region, method, path, key, body)
		done <- result{res, err}
	}()
	wait := time.NewTimer(c.probe)
	defer wait.Stop()
	select {
	case r := <-done:
		return r.res, r.err
	case <-wait.C:
	}
	alive := make(chan bool, 1)
	go func() { alive <- c.alive(ctx, region) }()
	select {
	case r := <-done:
		return r.res, r.err
	case ok := <-alive:
		if ok {
			r := <-done
			return r.res, r.err
		}
	}
	// Frozen or gone: every operation sharing the Health asks it last from
	// now on, not only once this attempt has timed out.
	c.health.failed(region)
	if method != http.MethodGet && method != http.MethodHead {
		// A write is not given up early: the region may still decide it
		// when it resumes, and the same request decided elsewhere
		// meanwhile could stand twice (two authorizations of one order).
		r := <-done
		return r.res, r.err
	}
	// A read changes nothing wherever it is answered.
	cancel()
	<-done
	return nil, fmt.Errorf("%s: no answer within %s, nor to a liveness probe", region, 2*c.probe)
}

// alive reports whether region answers GET /healthz (with any status)
// within the probe timeout. The merchant's secret is not sent.
func (c *Client) alive(ctx context.Context, region string) bool {
	ctx, cancel := context.WithTimeout(ctx, c.probe)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, region+"/healthz", nil)
	if err != nil {
		return false
	}
	res, err := c.http.HTTPClient.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return true
}

// send makes one request to region and reads its answer.
func (c *Client) send(ctx context.Context, region, method, path, key string, body []byte) (*Response, error) {
	var rb any
	if body != nil {
		rb = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, region+path, rb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", region, err)
	}
	req.SetBasicAuth(c.merchant, c.secret)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	hres, err := c.http.Do(req)
	if err != nil {
		if hres != nil { // the passthrough error handler may hand both back
			hres.Body.Close()
		}
		return nil, fmt.Errorf("%s: %w", region, err)
	}
	defer hres.Body.Close()
	b, err := io.ReadAll(io.LimitReader(hres.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read answer: %w", region, err)
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("%s: answer larger than %d bytes", region, maxBody)
	}
	return &Response{Status: hres.StatusCode, Header: hres.Header, Body: b, Region: region}, nil
}

// CreateSession creates a checkout session (POST /v1/sessions); session
// is the request body.
func (c *Client) CreateSession(ctx context.Context, key string, session any) (*Response, error) {
	return c.Do(ctx, http.MethodPost, "/v1/sessions", key, session)
}

// Authorize authorizes a session (POST /v1/sessions/{id}/authorize); req
// is the request body (method and consumer). A decline is a final 402.
func (c *Client) Authorize(ctx context.Context, key, session string, req any) (*Response, error) {
	return c.Do(ctx, http.MethodPost, "/v1/sessions/"+url.PathEscape(session)+"/authorize", key, req)
}

// Capture captures amount minor units of an order (POST
// /v1/orders/{id}/captures); 0 captures all that is open.
func (c *Client) Capture(ctx context.Context, key, order string, amount int64) (*Response, error) {
	return c.Do(ctx, http.MethodPost, "/v1/orders/"+url.PathEscape(order)+"/captures", key, amountBody(amount))
}

// Refund refunds amount minor units of an order (POST
// /v1/orders/{id}/refunds); 0 refunds all that is captured.
func (c *Client) Refund(ctx context.Context, key, order string, amount int64) (*Response, error) {
	return c.Do(ctx, http.MethodPost, "/v1/orders/"+url.PathEscape(order)+"/refunds", key, amountBody(amount))
}

// Cancel cancels an order that has nothing captured (POST
// /v1/orders/{id}/cancel).
func (c *Client) Cancel(ctx context.Context, key, order string) (*Response, error) {
	return c.Do(ctx, http.MethodPost, "/v1/orders/"+url.PathEscape(order)+"/cancel", key, nil)
}

// Release releases what is left uncaptured of an order (POST
// /v1/orders/{id}/release).
func (c *Client) Release(ctx context.Context, key, order string) (*Response, error) {
	return c.Do(ctx, http.MethodPost, "/v1/orders/"+url.PathEscape(order)+"/release", key, nil)
}

// Order gets an order (GET /v1/orders/{id}).
func (c *Client) Order(ctx context.Context, order string) (*Response, error) {
	return c.Do(ctx, http.MethodGet, "/v1/orders/"+url.PathEscape(order), "", nil)
}

func amountBody(amount int64) any {
	if amount == 0 {
		return nil
	}
	return map[string]int64{"amount": amount}
}
