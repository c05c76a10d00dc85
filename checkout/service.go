package checkout

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"kassa/cards"
	"kassa/ledger"
)

// Errors the service returns; the API maps each to a status and code.
var (
	ErrNotFound            = errors.New("checkout: not found")
	ErrIdempotencyConflict = errors.New("checkout: idempotency key reused with a different request")
	ErrSessionExpired      = errors.New("checkout: session expired")
	ErrSessionComplete     = errors.New("checkout: session already has an order")
	ErrInvalidState        = errors.New("checkout: not allowed in the order's status")
	ErrRightsUnavailable   = errors.New("checkout: the region holding this order's rights cannot be reached")
	ErrUnauthorized        = errors.New("checkout: unknown merchant or wrong secret")
	ErrNotReady            = errors.New("checkout: region not ready")
	ErrAcquirerUnavailable = errors.New("checkout: card acquirer unavailable")
	// ErrAcquirerRefused: the acquirer refused a card operation (a
	// *RefusedError says which and why); nothing moved.
	ErrAcquirerRefused = errors.New("checkout: the card acquirer refused the operation")
	// ErrNotReplicated: the write is committed in this region but no peer
	// confirmed holding it in time (durability: peer); it replicates as
	// usual, and a retry with the same Idempotency-Key replays it.
	ErrNotReplicated = errors.New("checkout: committed here, not yet confirmed by a peer")
)

// Scorer decides whether to grant pay-later credit. The scoring package
// implements it; Decide must be deterministic for the same input.
type Scorer interface {
	Decide(ctx context.Context, in DecisionInput) (Decision, error)
}

// DecisionInput is what a credit decision is made from.
type DecisionInput struct {
	Consumer ConsumerID
	Country  string // the shopper's
	Method   string
	Amount   int64
	Currency string
	Merchant string
	Lines    []Line
	// OrderCountry is the session's country; NamesGiven says whether the
	// shopper filled in both given and family name.
	OrderCountry string
	NamesGiven   bool
	// LocalOnly asks for a decision from this region's own rights and
	// budget, without asking other regions (a retry after a lost race: the
	// first attempt already waited for them).
	LocalOnly bool
}

// CreditHold is the exposure an approved credit decision took on: which
// account carries it and where it goes back when the order is released,
// refunded or repaid. Return is either a rights prefix
// (account.Rights.Prefix), completed with the id of the region recording
// the return (rights come back to the region that records them), or one
// fixed account (an unsecured budget goes back to the region that spent
// it); account.Resolve tells them apart.
type CreditHold struct {
	Consumer ConsumerID `json:"consumer"`
	Source   string     `json:"source"` // rights or unsecured
	Region   string     `json:"region"` // whose rights or budget were spent
	Exposure string     `json:"exposure"`
	Return   string     `json:"return"`
}

// Acquirer authorizes card payments and captures, refunds and voids them.
// An error wrapping cards.ErrUnknownOutcome means the call may or may not
// have done something; an authorization is settled later with Lookup under
// the same idempotency key, an operation by the same call again under its
// key, which the acquirer does at most once.
type Acquirer interface {
	Authorize(ctx context.Context, p cards.Payment) (cards.Result, error)
	Lookup(ctx context.Context, idempotencyKey string) (cards.Result, bool, error)
	Capture(ctx context.Context, op cards.Operation) (cards.OperationResult, error)
	Refund(ctx context.Context, op cards.Operation) (cards.OperationResult, error)
	Void(ctx context.Context, op cards.Operation) (cards.OperationResult, error)
}

// RightsSource asks another region to transfer rights on an order to this
// one, and brings back the entries that carry the transfer.
type RightsSource interface {
	RequestRights(ctx context.Context, owner, subject, account string, amount int64) error
}

// MerchantConfig is a merchant as configured.
type MerchantConfig struct {
	ID, Name, APISecret, WebhookSecret string
}

type merchant struct {
	id, name      string
	secretHash    [32]byte
	webhookSecret string

	// Merchants from the ledger only: replaced API secrets in their grace
	// period, whether disabled, and where they come from.
	old       []oldSecret
	disabled  bool
	created   ledger.Hash // the merchant.created entry
	region    string
	createdAt time.Time
	createdBy string
	rotatedAt time.Time
	conflicts int
}

// Config configures a Service. A zero SessionTTL, AuthTTL or InvoiceDays
// takes its default (DefaultSessionTTL and so on), and an empty
// SessionIDs.Key the development key DemoIDKey; a region fills the rest
// from its Settings.
type Config struct {
	Region         string
	Peers          []string // the other regions' ids
	PublicURL      string
	SiteURL        string // the deployment's address for shoppers, which checkout links name; empty: PublicURL
	AllowLoopback  bool   // development: http and loopback URLs accepted
	SessionTTL     time.Duration
	AuthTTL        time.Duration
	Merchants      []MerchantConfig
	SessionIDs     SessionIDs
	Consumers      Consumers
	InvoiceDays    int // a pay-later invoice falls due this many days after capture
	FingerprintKey cards.FingerprintKey
	// SecretKey seals the webhook secrets of merchants created through
	// the admin API in their ledger entries; every region must share it.
	// Empty: the development key DemoSecretKey.
	SecretKey string
	// Acknowledge, when set, waits after a write until it is as durable as
	// the region promises (durability: peer waits for a peer to hold it);
	// nil acknowledges on commit.
	Acknowledge func(ctx context.Context) error
	// ReadThrough, when set, is asked for a session or order a request
	// names that this region does not hold; nil: such a request is 404.
	ReadThrough ReadThrough
	Now         func() time.Time
	Logger      *slog.Logger
}

// Service is checkout's domain logic over the ledger. It is safe for
// concurrent use.
type Service struct {
	cfg       Config
	store     *ledger.Store
	scorer    Scorer
	acquirer  Acquirer
	rights    RightsSource
	merchants map[string]*merchant // configured; never changes
	table     merchantTable        // from the ledger
	locks     [256]sync.Mutex
	log       *slog.Logger

	pendingMu     sync.Mutex
	pending       map[OrderID]bool // card outcomes this region must settle
	pendingLoaded bool
	owed          map[OrderID]bool // orders with card operations this region must see answered
	owedLoaded    bool
	inflight      map[string]bool // card operations being performed now, by operation id

	sweep sweepState
}

// sweepState is what Sweep follows of the ledger between runs: only what
// it may still have to act on, never every order the region authorized.
type sweepState struct {
	mu       sync.Mutex
	loaded   bool                   // pos was read from the ledger's mark
	pos      int64                  // the ledger position read up to
	marked   int64                  // the restart position last stored
	open     map[OrderID]sweepOrder // this region's credit authorizations with something left to release
	suspects map[OrderID]int64      // orders authorized here and elsewhere, to void: the position to read again from
	touched  map[OrderID]bool       // open orders with entries since the last run: settled, perhaps
}

// sweepOrder is one open credit authorization the sweep follows.
type sweepOrder struct {
	expires int64 // unix ms
	from    int64 // a ledger position before its authorization
}

// New creates the service.
func New(store *ledger.Store, scorer Scorer, acquirer Acquirer, rights RightsSource, cfg Config) *Service {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.AuthTTL <= 0 {
		cfg.AuthTTL = DefaultAuthTTL
	}
	if cfg.InvoiceDays <= 0 {
		cfg.InvoiceDays = DefaultInvoiceDays
	}
	if len(cfg.SessionIDs.Key) == 0 {
		cfg.SessionIDs.Key = []byte(DemoIDKey)
	}
	if cfg.SecretKey == "" {
		cfg.SecretKey = DemoSecretKey
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SiteURL == "" {
		cfg.SiteURL = cfg.PublicURL
	}
	cfg.SiteURL = strings.TrimRight(cfg.SiteURL, "/")
	s := &Service{cfg: cfg, store: store, scorer: scorer, acquirer: acquirer, rights: rights, merchants: map[string]*merchant{}, log: cfg.Logger,
		pending: map[OrderID]bool{}, owed: map[OrderID]bool{}, inflight: map[string]bool{}}
	s.table.byID, s.table.entries = map[string]*merchant{}, map[string][]ledger.Entry{}
	for _, m := range cfg.Merchants {
		// Secrets are kept only as hashes: a memory dump or a log of the
		// config never shows them. SHA-256 suffices for high-entropy API
		// secrets and keeps authentication cheap on the hot path.
		s.merchants[m.ID] = &merchant{id: m.ID, name: m.Name, secretHash: sha256.Sum256([]byte(m.APISecret)), webhookSecret: m.WebhookSecret}
	}
	return s
}

// Acknowledge returns once what this region has written so far is as
// durable as Config.Acknowledge makes it, or an error wrapping
// ErrNotReplicated. The merchant API and the hosted pages call it after a
// write (or its replay) and before they answer: a retry under the same
// Idempotency-Key replays the write and waits again.
func (s *Service) Acknowledge(ctx context.Context) error {
	if s.cfg.Acknowledge == nil {
		return nil
	}
	if err := s.cfg.Acknowledge(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrNotReplicated, err)
	}
	return nil
}

// Authenticate checks a merchant's API secret in constant time: a
// configured merchant's, or a ledger merchant's current secret or one
// replaced less than its grace period ago. A disabled merchant is
// refused. An unknown id or a wrong secret first folds the merchant
// entries stored since the last look, so a merchant created or rotated
// elsewhere works as soon as its entry is here.
func (s *Service) Authenticate(id, secret string) (string, error) {
	h := sha256.Sum256([]byte(secret))
	now := s.cfg.Now()
	m, ok := s.lookupMerchant(id)
	if !ok || !m.secretOK(h, now) {
		if _, configured := s.merchants[id]; configured {
			return "", ErrUnauthorized
		}
		if err := s.foldMerchants(context.Background()); err != nil {
			s.log.Error("checkout: fold merchants", "err", err)
		}
		if m, ok = s.lookupMerchant(id); !ok {
			subtle.ConstantTimeCompare(h[:], h[:])
			return "", ErrUnauthorized
		}
		if !m.secretOK(h, now) {
			return "", ErrUnauthorized
		}
	}
	if m.disabled {
		return "", ErrUnauthorized
	}
	return m.id, nil
}

// MerchantName returns a merchant's display name.
func (s *Service) MerchantName(id string) string {
	if m, ok := s.lookupMerchant(id); ok && m.name != "" {
		return m.name
	}
	return id
}

// Now returns the time by the service's clock.
func (s *Service) Now() time.Time { return s.cfg.Now() }

// InvoiceDays returns how many days after capture a pay-later invoice falls
// due, and so how far apart the instalments of Pay in 3 are.
func (s *Service) InvoiceDays() int { return s.cfg.InvoiceDays }

// WebhookSecret returns the secret a merchant's webhooks are signed with.
// A ledger merchant's is the one its latest rotation set; "" and false if
// this region cannot open it (a different checkout.secret_key).
func (s *Service) WebhookSecret(id string) (string, bool) {
	m, ok := s.lookupMerchant(id)
	if !ok {
		if s.foldMerchants(context.Background()) == nil {
			m, ok = s.lookupMerchant(id)
		}
	}
	if !ok || m.webhookSecret == "" {
		return "", false
	}
	return m.webhookSecret, true
}

// lock serialises work on one object in this region.
func (s *Service) lock(id string) func() {
	h := fnv.New32a()
	h.Write([]byte(id))
	m := &s.locks[h.Sum32()%uint32(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// RequestHash fingerprints a request body for idempotency checks.
func RequestHash(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// CreateSession creates the session for (merchant, key), or returns the one
// created before under that key if the request is the same (replayed true).
func (s *Service) CreateSession(ctx context.Context, merchantID, key string, req SessionRequest, hash string) (Session, bool, error) {
	id := s.cfg.SessionIDs.ID(merchantID, key)
	defer s.lock(string(id))()
	if sess, data, err := s.session(ctx, id); err == nil {
		if data.Merchant != merchantID || data.RequestHash != hash {
			return Session{}, false, ErrIdempotencyConflict
		}
		// The same answer as the first time: the session as created.
		sess.Status, sess.OrderID = "open", ""
		return sess, true, nil
	} else if !errors.Is(err, ErrNotFound) {
		return Session{}, false, err
	}
	if err := req.Validate(s.cfg.AllowLoopback); err != nil {
		return Session{}, false, err
	}
	if req.Locale == "" {
		req.Locale = defaultLocale(req.Country)
	}
	now := s.cfg.Now()
	data := sessionData{SessionRequest: req, Merchant: merchantID, ExpiresAt: now.Add(s.cfg.SessionTTL).UnixMilli(), RequestHash: hash}
	e, err := s.store.Append(ctx, ledger.Draft{Kind: KindSessionCreated, Subject: string(id), Data: mustJSON(data)})
	if err != nil {
		return Session{}, false, fmt.Errorf("checkout: record session: %w", err)
	}
	return s.sessionView(id, &e, &data, nil), false, nil
}

// Session returns a session; only its merchant (or the hosted page, with an
// empty merchant) may read it.
//
// A session this region does not hold is read through from the other
// regions; when not all of them can be asked, the error is
// ErrMaybeElsewhere.
func (s *Service) Session(ctx context.Context, merchantID string, id SessionID) (Session, error) {
	sess, data, _, err := s.sessionHere(ctx, id)
	if err != nil {
		return Session{}, err
	}
	if merchantID != "" && data.Merchant != merchantID {
		return Session{}, ErrNotFound
	}
	return sess, nil
}

func (s *Service) session(ctx context.Context, id SessionID) (Session, *sessionData, error) {
	sess, d, _, err := s.sessionAndOrder(ctx, id)
	return sess, d, err
}

// firstSession finds, among a session's entries, the one that created it
// (the first in fold order, should two regions both have written one) and
// decodes it. It returns ErrNotFound if there is none.
func firstSession(es []ledger.Entry) (*ledger.Entry, *sessionData, error) {
	var first *ledger.Entry
	for i := range es {
		if es[i].Kind == KindSessionCreated && (first == nil || es[i].Before(first)) {
			first = &es[i]
		}
	}
	if first == nil {
		return nil, nil, ErrNotFound
	}
	var d sessionData
	if err := jsonUnmarshal(first.Data, &d); err != nil {
		return nil, nil, err
	}
	return first, &d, nil
}

// sessionAndOrder returns a session and the state of its order (nil if it
// has none yet).
func (s *Service) sessionAndOrder(ctx context.Context, id SessionID) (Session, *sessionData, *orderState, error) {
	es, err := s.store.EntriesBySubject(ctx, string(id))
	if err != nil {
		return Session{}, nil, nil, err
	}
	first, d, err := firstSession(es)
	if err != nil {
		return Session{}, nil, nil, err
	}
	st, err := s.order(ctx, OrderFor(id))
	if errors.Is(err, ErrNotFound) {
		st, err = nil, nil
	}
	if err != nil {
		return Session{}, nil, nil, err
	}
	return s.sessionView(id, first, d, st), d, st, nil
}

// SiteURL returns the deployment's address for shoppers without a
// trailing slash (Config.SiteURL, else Config.PublicURL): the base of
// every link a shopper is given, such as a session's checkout_url.
func (s *Service) SiteURL() string { return s.cfg.SiteURL }

// sessionView shows a session from its creating entry and its order's state.
func (s *Service) sessionView(id SessionID, first *ledger.Entry, d *sessionData, st *orderState) Session {
	sess := Session{
		ID: id, Object: "session", Status: "open", Merchant: d.Merchant, Amount: d.Amount, Currency: d.Currency,
		Country: d.Country, Locale: d.Locale, MerchantReference: d.MerchantReference, Lines: d.Lines, URLs: d.URLs,
		CheckoutURL: s.SiteURL() + "/checkout/" + string(id), CreatedAt: first.HLC.Time(),
		ExpiresAt: time.UnixMilli(d.ExpiresAt).UTC(), Region: string(first.Origin),
	}
	switch {
	case st != nil && st.winner != nil:
		sess.Status, sess.OrderID = "complete", st.ID
	case st != nil && st.Status == "pending":
		sess.Status, sess.OrderID = "processing", st.ID
	case s.cfg.Now().After(sess.ExpiresAt):
		sess.Status = "expired"
	}
	return sess
}

// Order returns an order of merchantID (any merchant's if empty) as this
// region holds it: ErrNotFound if it holds no such order.
func (s *Service) Order(ctx context.Context, merchantID string, id OrderID) (Order, error) {
	st, err := s.order(ctx, id)
	if err != nil {
		return Order{}, err
	}
	return st.of(merchantID)
}

// FindOrder is Order for a request that names the order: one this region
// does not hold is read through from the other regions, and when not all
// of them can be asked, the error is ErrMaybeElsewhere.
func (s *Service) FindOrder(ctx context.Context, merchantID string, id OrderID) (Order, error) {
	st, err := s.orderHere(ctx, id)
	if err != nil {
		return Order{}, err
	}
	return st.of(merchantID)
}

// of returns the order if it is one of merchantID's (any merchant's if
// empty), and ErrNotFound if not or if it was never authorized.
func (st *orderState) of(merchantID string) (Order, error) {
	if st.Status == "" || (merchantID != "" && st.Merchant != merchantID) {
		return Order{}, ErrNotFound
	}
	return st.Order, nil
}

// OrdersByReference returns a merchant's orders with a merchant reference,
// ordered by id, after the id startingAfter, at most limit.
func (s *Service) OrdersByReference(ctx context.Context, merchantID, reference, startingAfter string, limit int) ([]Order, bool, error) {
	ref := orderRef(merchantID, reference)
	es, err := s.store.EntriesByRef(ctx, ref)
	if err != nil {
		return nil, false, err
	}
	if len(es) == 0 && referenceRe.MatchString(reference) {
		// None here: the orders may have been authorized elsewhere and
		// not be replicated yet.
		switch err := s.readThrough(ctx, nil, []string{ref}); {
		case errors.Is(err, ErrNotFound):
			return nil, false, nil
		case err != nil:
			return nil, false, err
		}
		if es, err = s.store.EntriesByRef(ctx, ref); err != nil {
			return nil, false, err
		}
	}
	ids := map[OrderID]bool{}
	for _, e := range es {
		ids[OrderID(e.Subject)] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		if string(id) > startingAfter {
			sorted = append(sorted, string(id))
		}
	}
	sortStrings(sorted)
	oids := make([]OrderID, len(sorted))
	for i, id := range sorted {
		oids[i] = OrderID(id)
	}
	return s.ordersOf(ctx, merchantID, oids, limit)
}

// ordersOf returns the orders of merchantID (any merchant's if empty) among
// ids, in that order, skipping those it does not hold, at most limit, and
// whether there are more.
func (s *Service) ordersOf(ctx context.Context, merchantID string, ids []OrderID, limit int) ([]Order, bool, error) {
	var out []Order
	for _, id := range ids {
		if len(out) == limit {
			return out, true, nil
		}
		st, err := s.order(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		o, err := st.of(merchantID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		out = append(out, o)
	}
	return out, false, nil
}

// order folds an order's entries; a duplicate authorization that this region
// wrote and lost is voided on the way.
func (s *Service) order(ctx context.Context, id OrderID) (*orderState, error) {
	es, err := s.store.EntriesBySubject(ctx, string(id))
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, ErrNotFound
	}
	return fold(id, es, s.cfg.Now())
}
