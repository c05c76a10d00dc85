package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"kassa/checkout"
	"kassa/ledger"
	"kassa/netguard"
	"kassa/outbox"
)

// Entry kinds of webhook bookkeeping, written by the outbox. Their subject
// is the event id and their data carries the order as "order" and "ref",
// so EntriesByRef finds every one of an order's.
const (
	// KindResend asks for one more delivery of an event; the region that
	// writes it delivers it.
	KindResend = "webhook.resend"
	// KindDelivered records that the merchant's endpoint accepted an
	// event; every region that holds it stops trying.
	KindDelivered = "webhook.delivered"
	// KindFailed records that a delivery was given up after MaxAge.
	KindFailed = "webhook.failed"
)

// ErrNoNotificationURL: the order's session has no urls.notification, so
// the order has no webhooks. It is an outbox.ErrNoRoute.
var ErrNoNotificationURL error = &routeError{"webhook: the order's session has no notification URL", outbox.ErrNoRoute}

// errNotHeld: the order's session has not reached this region yet. It is
// an outbox.ErrNotHeld.
var errNotHeld error = &routeError{"webhook: the order's session is not held in this region yet", outbox.ErrNotHeld}

// routeError is a webhook error that the outbox reads as one of its own.
type routeError struct {
	msg string
	is  error
}

func (e *routeError) Error() string        { return e.msg }
func (e *routeError) Is(target error) bool { return target == e.is }

const (
	markName    = "webhooks.cursor"
	maxTargets  = 10000
	maxReadBody = 64 << 10
)

// isEvent reports whether an entry kind is an order state change that
// merchants are told about.
func isEvent(kind string) bool {
	switch kind {
	case checkout.KindOrderAuthorized, checkout.KindOrderDeclined, checkout.KindOrderCaptured, checkout.KindOrderRefunded,
		checkout.KindOrderCancelled, checkout.KindOrderReleased, checkout.KindOrderVoided, checkout.KindOperationFailed:
		return true
	}
	return false
}

// Event is the body of a webhook.
type Event struct {
	ID      string    `json:"id"`
	Object  string    `json:"object"`
	Type    string    `json:"type"`
	Created int64     `json:"created"`
	Region  string    `json:"region"`
	Data    EventData `json:"data"`
}

// EventData is an event's payload: the order as the API showed it right
// after the change.
type EventData struct {
	Order checkout.Order `json:"order"`
}

// recordBatch is the most deliveries one webhook.delivered entry records:
// each delivered event used to be an entry of its own, a third of what a
// checkout with webhooks wrote and every region took in.
const recordBatch = ledger.MaxRefs

// Dispatcher delivers signed webhooks for order state changes, at least
// once, through an outbox: every order entry of an event kind is an event,
// and its id is the event id. The region that wrote an event delivers it
// and records the outcome (webhook.delivered, or after MaxAge
// webhook.failed); a region that has seen no such record TakeoverAfter
// after the event delivers it itself. The deliveries of a quarter of a
// second share one webhook.delivered entry, up to recordBatch of them.
// A Dispatcher is safe for concurrent use.
type Dispatcher struct {
	store  *ledger.Store
	orders *checkout.Service
	cfg    Config
	box    *outbox.Outbox
	client *retryablehttp.Client

	mu      sync.Mutex
	targets map[checkout.OrderID]checkout.Notification
}

// New returns a dispatcher for the orders of svc, whose entries are in
// store. Start it with Run. Outside development (cfg.AllowLoopback false)
// it sends only to https URLs whose every address is public, and connects
// to the address it checked.
func New(store *ledger.Store, svc *checkout.Service, cfg Config) (*Dispatcher, error) {
	cfg = cfg.withDefaults()
	d := &Dispatcher{store: store, orders: svc, cfg: cfg, targets: map[checkout.OrderID]checkout.Notification{}}
	box, err := outbox.New(store, channel{d}, outbox.Config{
		Name: "webhook", Kinds: outbox.Kinds{Resend: KindResend, Delivered: KindDelivered, Failed: KindFailed},
		Mark: markName, Region: cfg.Region, Regions: append([]string{cfg.Region}, cfg.Peers...),
		MaxAge: cfg.MaxAge, TakeoverAfter: cfg.TakeoverAfter, Concurrency: cfg.Concurrency, RecordBatch: recordBatch,
		RetryMin: cfg.RetryMin, RetryMax: cfg.RetryMax, Now: cfg.Now, Rand: cfg.Rand, Poll: cfg.Poll, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	d.box = box
	d.client = d.newClient()
	return d, nil
}

// Run delivers webhooks until ctx is done; call it once. Attempts in
// flight are abandoned when ctx ends (the merchant may still have received
// them: they are delivered again later, which at least once allows). Run
// returns when they have all stopped.
func (d *Dispatcher) Run(ctx context.Context) {
	defer d.client.HTTPClient.CloseIdleConnections()
	d.box.Run(ctx)
}

// Deliveries lists the webhook deliveries of an order, oldest event first
// (see outbox.Outbox.Deliveries). An order whose session has no
// notification URL has none. It returns checkout.ErrNotFound for an
// unknown order.
func (d *Dispatcher) Deliveries(ctx context.Context, order checkout.OrderID) ([]outbox.Delivery, error) {
	ds, err := d.box.Deliveries(ctx, string(order))
	if errors.Is(err, outbox.ErrNotFound) {
		return nil, checkout.ErrNotFound
	}
	return ds, err
}

// Resend asks for one more delivery of an event (its id, as in the
// webhook's "id"). A delivery of it that this region is still retrying is
// tried at once instead; otherwise a webhook.resend entry is written and
// this region delivers it, with the same id and body, retried like any
// other. It returns checkout.ErrNotFound for an unknown event and
// ErrNoNotificationURL when the order has no webhooks.
func (d *Dispatcher) Resend(ctx context.Context, eventID string) error {
	err := d.box.Resend(ctx, eventID)
	if errors.Is(err, outbox.ErrNotFound) {
		return fmt.Errorf("%w (%w)", checkout.ErrNotFound, err)
	}
	return err
}

// channel is the dispatcher as the outbox sees it.
type channel struct{ d *Dispatcher }

func (c channel) Carries(kind string) bool { return isEvent(kind) }

func (c channel) Observe(e *ledger.Entry) {
	if n, ok := checkout.NotificationOf(e); ok {
		c.d.cacheTarget(checkout.OrderID(e.Subject), n)
	}
}

func (c channel) Route(ctx context.Context, group string) error {
	_, err := c.d.target(ctx, checkout.OrderID(group))
	return err
}

func (c channel) Send(ctx context.Context, m outbox.Message) (*outbox.Receipt, error) {
	return nil, c.send(ctx, m)
}

// send posts m's event to its order's notification URL.
func (c channel) send(ctx context.Context, m outbox.Message) error {
	d := c.d
	t, err := d.target(ctx, checkout.OrderID(m.Group))
	if err != nil {
		return outbox.Unsent(err)
	}
	body, err := d.body(ctx, m.ID)
	if err != nil {
		return outbox.Unsent(fmt.Errorf("build event: %w", err))
	}
	secret, ok := d.orders.WebhookSecret(t.Merchant)
	if !ok || secret == "" {
		return errors.New("no webhook secret configured for merchant " + t.Merchant)
	}
	return d.post(ctx, t.URL, secret, m.ID.String(), m.Kind, body)
}

// target finds where an order's events go. It returns ErrNoNotificationURL
// for a session without one and errNotHeld while the session (or the
// order's authorization) has not reached this region.
func (d *Dispatcher) target(ctx context.Context, order checkout.OrderID) (checkout.Notification, error) {
	d.mu.Lock()
	t, ok := d.targets[order]
	d.mu.Unlock()
	if !ok {
		var err error
		t, err = d.orders.Notification(ctx, order)
		if errors.Is(err, checkout.ErrNotHeld) {
			return t, errNotHeld
		}
		if err != nil {
			return t, err
		}
		d.cacheTarget(order, t)
	}
	if t.URL == "" {
		return t, ErrNoNotificationURL
	}
	return t, nil
}

func (d *Dispatcher) cacheTarget(order checkout.OrderID, t checkout.Notification) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.targets) >= maxTargets {
		clear(d.targets)
	}
	d.targets[order] = t
}

// body renders the event: the order as it was right after the entry, so
// every attempt, and a region taking over, sends the same document.
func (d *Dispatcher) body(ctx context.Context, event ledger.Hash) ([]byte, error) {
	ev, err := d.store.Entry(ctx, event)
	if err != nil {
		return nil, err
	}
	o, err := d.orders.OrderAfter(ctx, &ev)
	if err != nil {
		return nil, err
	}
	return json.Marshal(Event{
		ID: event.String(), Object: "event", Type: ev.Kind, Created: ev.HLC.Time().Unix(),
		Region: string(ev.Origin), Data: EventData{Order: o},
	})
}

// Signature returns the Kassa-Signature header value for body sent at t:
// "t=<unix>,v1=<hex HMAC-SHA256 of "<unix>.<body>" keyed with secret>".
func Signature(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

func (d *Dispatcher) newClient() *retryablehttp.Client {
	rt := d.cfg.Transport
	if !d.cfg.AllowLoopback {
		guard := &netguard.PublicDialer{Resolver: d.cfg.Resolver, Dial: d.cfg.Dial}
		if rt == nil {
			rt = d.transport(guard.DialContext)
		} else {
			rt = &netguard.CheckedTransport{Guard: guard, Next: rt}
		}
	} else if rt == nil {
		dial := d.cfg.Dial
		if dial == nil {
			dial = (&net.Dialer{Timeout: d.cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext
		}
		rt = d.transport(dial)
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{
		Transport: rt,
		Timeout:   d.cfg.Timeout,
		// A redirect would send the event (and its signature) somewhere the
		// merchant did not configure; it counts as a failed attempt.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	rc.Logger = nil
	// One quick retry after a connection failure inside an attempt; answers
	// (5xx included) wait for the outbox's backoff.
	rc.RetryMax = 1
	rc.RetryWaitMin, rc.RetryWaitMax = 100*time.Millisecond, time.Second
	rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if err == nil || resp != nil || ctx.Err() != nil || errors.Is(err, netguard.ErrInternalAddress) {
			return false, nil
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.PrepareRetry = func(r *http.Request) error {
		if sign, ok := r.Context().Value(signerKey{}).(signer); ok {
			sign(r)
		}
		return nil
	}
	return rc
}

func (d *Dispatcher) transport(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		// Never through an environment proxy: it would connect to whatever
		// the name resolves to there, unchecked.
		Proxy:                 nil,
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   min(d.cfg.Timeout, 10*time.Second),
		ResponseHeaderTimeout: d.cfg.Timeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   2,
	}
}

// post sends one event. Only the status and the kind of a failure come
// back, never the URL's path or query (which can hold the merchant's
// tokens) or the answer's body.
func (d *Dispatcher) post(ctx context.Context, target, secret, eventID, kind string, body []byte) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("notification URL is not an absolute http(s) URL")
	}
	if !d.cfg.AllowLoopback && u.Scheme != "https" {
		return errors.New("notification URL must use https in production")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*d.cfg.Timeout+2*time.Second)
	defer cancel()
	now := time.Now
	if d.cfg.Now != nil {
		now = d.cfg.Now
	}
	sign := signer(func(r *http.Request) { r.Header.Set("Kassa-Signature", Signature(secret, now(), body)) })
	ctx = context.WithValue(ctx, signerKey{}, sign)
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, target, body)
	if err != nil {
		return errors.New("notification URL is not usable")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kassa-webhooks/1")
	req.Header.Set("Kassa-Event-Id", eventID)
	req.Header.Set("Kassa-Event-Type", kind)
	sign(req.Request)
	resp, err := d.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxReadBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered HTTP %d", u.Host, resp.StatusCode)
	}
	return nil
}

// signer signs a request; a retry inside an attempt is signed afresh.
type signer func(*http.Request)

type signerKey struct{}
