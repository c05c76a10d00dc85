package cards

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Errors returned by Client. Each tells the caller whether money may have
// moved; the detail is in the wrapping error's message.
var (
	// ErrUnknownOutcome: the request may have reached the acquirer and no
	// answer came back (a timeout, a connection lost after sending, 5xx
	// answers until the retries ran out). The card may or may not have been
	// charged. Record the payment as unknown and settle it with Lookup, or by
	// repeating Authorize with the same idempotency key and payment.
	ErrUnknownOutcome = errors.New("cards: acquirer outcome unknown")
	// ErrUnavailable: the acquirer could not be reached or said it did not
	// process the request (every attempt failed to connect, or answered
	// 429). Nothing was charged.
	ErrUnavailable = errors.New("cards: acquirer unavailable")
	// ErrRejected: the acquirer refused the request as malformed (a 4xx
	// answer). Nothing was charged under this request.
	ErrRejected = errors.New("cards: acquirer rejected the request")
	// ErrIdempotencyConflict: the idempotency key was used before with a
	// different payment. Nothing new was charged, but the earlier payment
	// under the key may have been.
	ErrIdempotencyConflict = errors.New("cards: idempotency key reused with a different payment")
)

// Client defaults and limits.
const (
	DefaultClientTimeout = 10 * time.Second
	retryWaitMin         = 50 * time.Millisecond
	retryWaitMax         = time.Second
	maxResponseBody      = 64 << 10
)

// Payment is one authorization request. The idempotency key identifies the
// payment at the acquirer: derive it from the order (so a retry in any region
// sends the same key) and never reuse it for a different payment.
type Payment struct {
	IdempotencyKey string
	Amount         int64 // minor units
	Currency       string
	Reference      string
	Card           Card
}

// Result is the acquirer's answer to a payment.
type Result struct {
	ID          string // the acquirer's payment id
	Approved    bool
	DeclineCode string // set when not Approved
	Amount      int64
	Currency    string
}

// Client calls an acquirer that speaks the Simulator's protocol. Every call
// carries an idempotency key, and that is the only reason it may retry: a
// repeated key returns the first answer instead of charging again. A Client
// is safe for concurrent use.
type Client struct {
	base    string
	baseErr error
	timeout time.Duration
	http    *retryablehttp.Client
}

// NewClient returns a client for the acquirer at baseURL (such as
// "http://127.0.0.1:8080/acquirer") that sends through transport (a clone of
// http.DefaultTransport if nil). timeout bounds each call as a whole,
// retries and waits between them included (DefaultClientTimeout if not
// positive); a call is retried up to retries times after a connection
// failure, a 429 or a 5xx answer. A malformed baseURL makes every call fail
// with ErrUnavailable.
func NewClient(baseURL string, transport http.RoundTripper, timeout time.Duration, retries int) *Client {
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if timeout <= 0 {
		timeout = DefaultClientTimeout
	}
	if retries < 0 {
		retries = 0
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), timeout: timeout}
	if u, err := url.Parse(baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.baseErr = fmt.Errorf("acquirer URL %q is not an absolute http(s) URL", baseURL)
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{
		Transport: transport,
		// A redirected payment could be charged by whoever it is sent to;
		// an acquirer that redirects is misconfigured.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	rc.Logger = nil
	rc.RetryMax = retries
	rc.RetryWaitMin, rc.RetryWaitMax = retryWaitMin, retryWaitMax
	rc.CheckRetry = checkRetry
	rc.Backoff = backoff
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.RequestLogHook = beforeAttempt
	c.http = rc
	return c
}

// paymentBody is the body of POST /payments: what Authorize sends and the
// Simulator reads, the only place the number and CVC are encoded, and only
// onto the wire.
type paymentBody struct {
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Number    string `json:"number"`
	ExpMonth  int    `json:"exp_month"`
	ExpYear   int    `json:"exp_year"`
	CVC       string `json:"cvc"`
	Reference string `json:"reference"`
}

// Authorize asks the acquirer to charge p. A decline is a Result with
// Approved false and a nil error. The error, if any, wraps one of
// ErrUnknownOutcome, ErrUnavailable, ErrRejected or ErrIdempotencyConflict
// (and the context's error when the time ran out), which say whether the
// card may have been charged. The call ends within the client's timeout or
// when ctx ends; a ctx cancelled after the request went out makes the
// outcome unknown, so callers may want to detach it from a shopper's request
// (context.WithoutCancel) and rely on the client's timeout.
func (c *Client) Authorize(ctx context.Context, p Payment) (Result, error) {
	if msg := checkIdempotencyKey(p.IdempotencyKey); msg != "" {
		return Result{}, fmt.Errorf("cards: authorize: idempotency key %s: %w", msg, ErrRejected)
	}
	body, err := json.Marshal(paymentBody{
		Amount: p.Amount, Currency: p.Currency, Reference: p.Reference,
		Number: p.Card.Number, ExpMonth: p.Card.ExpMonth, ExpYear: p.Card.ExpYear, CVC: p.Card.CVC,
	})
	if err != nil {
		return Result{}, fmt.Errorf("cards: authorize %s: encode: %w: %w", p.IdempotencyKey, ErrRejected, err)
	}
	b, err := c.do(ctx, http.MethodPost, c.base+"/payments", p.IdempotencyKey, body, maxResponseBody)
	if err != nil {
		return Result{}, fmt.Errorf("cards: authorize %s: %w", p.IdempotencyKey, err)
	}
	res, err := decodeResult(b)
	if err != nil {
		return Result{}, fmt.Errorf("cards: authorize %s: %w: %w", p.IdempotencyKey, ErrUnknownOutcome, err)
	}
	return res, nil
}

// Lookup asks the acquirer what became of the payment sent with
// idempotencyKey, for the reconciler. found is false when the acquirer says
// it never received such a payment (or has forgotten it, after its
// retention). A request still in flight can arrive after a lookup, so only
// trust "not found" once the original call has been over for a while, or
// settle by repeating Authorize with the same key and payment instead.
// Errors wrap ErrUnavailable or ErrRejected; a lookup never charges.
func (c *Client) Lookup(ctx context.Context, idempotencyKey string) (res Result, found bool, err error) {
	if msg := checkIdempotencyKey(idempotencyKey); msg != "" {
		return Result{}, false, fmt.Errorf("cards: lookup: idempotency key %s: %w", msg, ErrRejected)
	}
	b, err := c.do(ctx, http.MethodGet, c.base+"/payments?idempotency_key="+url.QueryEscape(idempotencyKey), "", nil, maxResponseBody)
	switch {
	case errors.Is(err, errNotFound):
		return Result{}, false, nil
	case err != nil:
		return Result{}, false, fmt.Errorf("cards: lookup %s: %w", idempotencyKey, err)
	}
	if res, err = decodeResult(b); err != nil {
		return Result{}, false, fmt.Errorf("cards: lookup %s: %w: %w", idempotencyKey, ErrUnavailable, err)
	}
	return res, true, nil
}

// errNotFound is the acquirer's 404 for a key or reference it has no
// payment under, as opposed to a 404 from a wrong URL, which must not read
// as "never charged".
var errNotFound = errors.New("cards: not found at the acquirer")

// errPaymentNotFound is the acquirer's 404 for an operation on a payment it
// does not know.
var errPaymentNotFound = errors.New("cards: no such payment at the acquirer")

// do sends one request, with retries, and returns the body of a 2xx answer
// of at most limit bytes. A GET changes nothing at the acquirer, so where a
// POST's outcome would be unknown a GET merely failed: ErrUnavailable. The
// caller decodes the body; a body it cannot decode leaves a POST's outcome
// unknown.
func (c *Client) do(ctx context.Context, method, u, key string, body []byte, limit int64) ([]byte, error) {
	unknown := ErrUnknownOutcome
	if method == http.MethodGet {
		unknown = ErrUnavailable
	}
	if c.baseErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, c.baseErr)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	rec := &attempts{}
	ctx = context.WithValue(ctx, attemptsKey{}, rec)
	ctx = httptrace.WithClientTrace(ctx, rec.trace())

	var rb any
	if body != nil {
		rb = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u, rb)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Accept", "application/json, text/csv")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		if rec.maybeDelivered() {
			return nil, fmt.Errorf("%w after %d attempts: %w", unknown, rec.count(), err)
		}
		return nil, fmt.Errorf("%w after %d attempts: %w", ErrUnavailable, rec.count(), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read answer (HTTP %d): %w", unknown, resp.StatusCode, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: answer (HTTP %d) over %d bytes", unknown, resp.StatusCode, limit)
	}
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return b, nil
	case s == http.StatusNotFound && errorCode(b) == RefusalPaymentNotFound:
		return nil, errPaymentNotFound
	case s == http.StatusNotFound && method == http.MethodGet && errorCode(b) == "not_found":
		return nil, errNotFound
	case s == http.StatusConflict:
		return nil, fmt.Errorf("%w (HTTP 409 %s)", ErrIdempotencyConflict, errorCode(b))
	case (s == http.StatusTooManyRequests || notProcessed(s, b)) && !rec.maybeDelivered():
		return nil, fmt.Errorf("%w: HTTP %d after %d attempts", ErrUnavailable, s, rec.count())
	case s >= 400 && s < 500 && s != http.StatusTooManyRequests:
		return nil, fmt.Errorf("%w: HTTP %d %s", ErrRejected, s, errorCode(b))
	default:
		return nil, fmt.Errorf("%w: HTTP %d after %d attempts", unknown, s, rec.count())
	}
}

// notProcessed reports whether an answer says the acquirer did not process
// the request: a 503 with error code not_processed. Any other 5xx may come
// after the acquirer acted.
func notProcessed(status int, body []byte) bool {
	return status == http.StatusServiceUnavailable && errorCode(body) == codeNotProcessed
}

// decodeResult reads an acquirer's payment. An answer that is not a clear
// approval or decline is an error: the outcome stays unknown.
func decodeResult(b []byte) (Result, error) {
	var pr paymentResponse
	if err := json.Unmarshal(b, &pr); err != nil {
		return Result{}, fmt.Errorf("undecodable answer: %w", err)
	}
	if pr.ID == "" || (pr.Status != statusApproved && pr.Status != statusDeclined) {
		return Result{}, fmt.Errorf("answer has id %q and status %q", pr.ID, pr.Status)
	}
	return Result{ID: pr.ID, Approved: pr.Status == statusApproved, DeclineCode: pr.DeclineCode, Amount: pr.Amount, Currency: pr.Currency}, nil
}

// errorCode returns the code of an {"error": {"code"}} body, or "".
func errorCode(b []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) != nil {
		return ""
	}
	return e.Error.Code
}

// attempts records, across the attempts of one call, whether any of them
// may have reached the acquirer without a definite answer coming back. It is
// what separates ErrUnavailable from ErrUnknownOutcome.
type attempts struct {
	mu      sync.Mutex
	n       int
	getConn bool // this attempt asked the transport for a connection (so it reports httptrace events)
	gotConn bool // this attempt got one: from here on bytes may have been sent
	unknown bool // some attempt may have been delivered and its outcome is unknown
}

type attemptsKey struct{}

func attemptsFrom(ctx context.Context) *attempts {
	a, _ := ctx.Value(attemptsKey{}).(*attempts)
	return a
}

func (a *attempts) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(string) { a.mu.Lock(); a.getConn = true; a.mu.Unlock() },
		GotConn: func(httptrace.GotConnInfo) { a.mu.Lock(); a.gotConn = true; a.mu.Unlock() },
	}
}

// begin is called before every attempt.
func (a *attempts) begin() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	a.getConn, a.gotConn = false, false
}

// observe classifies the attempt that just ended.
func (a *attempts) observe(resp *http.Response, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == nil {
		// An answer: definite (2xx, 4xx) or "not processed" (429), else
		// the acquirer may have done something before failing.
		s := resp.StatusCode
		if s == http.StatusServiceUnavailable && notProcessed(s, peek(resp)) {
			return
		}
		if s < 200 || (s >= 300 && s < 400) || s >= 500 {
			a.unknown = true
		}
		return
	}
	switch {
	case a.gotConn:
		a.unknown = true
	case a.getConn:
		// The transport traces, and it never had a connection: nothing was sent.
	case neverSent(err):
	default:
		a.unknown = true
	}
}

// peek returns the start of resp's body and leaves the body to be read
// again from its beginning.
func peek(resp *http.Response) []byte {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	return b
}

func (a *attempts) maybeDelivered() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.unknown
}

func (a *attempts) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// neverSent reports whether err proves that the request was not sent: the
// connection was never made (DNS, refused, unreachable) or never secured.
func neverSent(err error) bool {
	if op, ok := errors.AsType[*net.OpError](err); ok && op.Op == "dial" {
		return true
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true
	}
	return false
}

func beforeAttempt(_ retryablehttp.Logger, r *http.Request, _ int) {
	if a := attemptsFrom(r.Context()); a != nil {
		a.begin()
	}
}

// checkRetry records each attempt and retries connection failures, 429 and
// 5xx except 501. Retrying a payment is safe only because it carries an
// idempotency key.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if a := attemptsFrom(ctx); a != nil {
		a.observe(resp, err)
	}
	if err != nil {
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	// An answer that came as time ran out is still the answer.
	s := resp.StatusCode
	retry := s == http.StatusTooManyRequests || (s >= 500 && s != http.StatusNotImplemented)
	return retry && ctx.Err() == nil, nil
}

// backoff is retryablehttp's exponential backoff, with a Retry-After capped
// at retryWaitMax so that one header cannot use up the call's time.
func backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	return min(retryablehttp.DefaultBackoff(lo, hi, attempt, resp), hi)
}
