package scoring

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"kassa/account"
	"kassa/checkout"
	"kassa/ledger"
)

// Entry kinds written by scoring.
const (
	KindCreditGranted = "credit.granted"
	KindModeSet       = "scoring.mode"
)

// ErrNoRights is the answer to a rights request this region cannot meet
// because it owns none of the consumer's rights.
var ErrNoRights error = noRights{}

type noRights struct{}

func (noRights) Error() string  { return "scoring: this region owns none of the consumer's rights" }
func (noRights) NoRights() bool { return true }

// ErrCatchingUp is the answer of a home region that may not grant a line
// yet because it is behind the others; asking again later may succeed.
var ErrCatchingUp error = catchingUp{}

type catchingUp struct{}

func (catchingUp) Error() string {
	return "scoring: catching up with the other regions before granting credit lines"
}
func (catchingUp) Temporary() bool { return true }

// RightsSource asks another region for rights and brings back the entries
// that carry the transfer (the sync node implements it). It should not
// wait on a region known to be down: an error with a PeerDown() bool
// method returning true says the owner was skipped.
type RightsSource interface {
	RequestRights(ctx context.Context, owner, subject, account string, amount int64) error
}

// Config configures an Engine.
type Config struct {
	Region string
	// Regions is every region of the deployment, this one included; every
	// region must list the same set, since a consumer's home is computed
	// from it.
	Regions []string
	Policy  Policy
	Rights  RightsSource
	// Stale reports whether this region may be missing recent entries (a
	// peer is out of reach); decisions are then more careful.
	Stale func() bool
	// MayGrant reports whether this region knows enough of the others'
	// history to grant a credit line as a consumer's home (every peer
	// reached, not far behind any): a region that just joined or was
	// restored could otherwise grant a line another region granted before.
	// Nil: always.
	MayGrant   func() bool
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Engine makes credit decisions and keeps credit lines: it implements
// checkout.Scorer and answers peers' rights requests for credit. It is safe
// for concurrent use.
type Engine struct {
	cfg    Config
	store  *ledger.Store
	policy atomic.Pointer[Policy]
	modeMu sync.Mutex // serializes mode switches: ledger entry, then memory
	book   *book
	log    *slog.Logger

	decisions *prometheus.CounterVec
	requests  *prometheus.CounterVec
	transfers *prometheus.CounterVec
}

// New returns an engine over store. The policy must have been validated.
func New(store *ledger.Store, cfg Config) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if !contains(cfg.Regions, cfg.Region) {
		cfg.Regions = append(cfg.Regions, cfg.Region)
	}
	cfg.Regions = append([]string(nil), cfg.Regions...)
	sort.Strings(cfg.Regions)
	e := &Engine{cfg: cfg, store: store, book: newBook(store), log: cfg.Logger,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kassa_credit_decisions_total",
			Help: "Credit decisions by outcome and by what secured them (rights, unsecured, none)."}, []string{"outcome", "source"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kassa_credit_rights_requests_total",
			Help: "Rights this region asked other regions for, by result (granted, refused, failed, skipped: the owner was down and not asked)."}, []string{"result"}),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kassa_credit_rights_transfers_total",
			Help: "Credit rights transfers this region wrote, by cause (request, rebalance)."}, []string{"cause"}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(e.decisions, e.requests, e.transfers)
	}
	p := cfg.Policy
	if p.Mode == "" {
		p.Mode = ModeNormal
	}
	e.policy.Store(&p)
	return e
}

// Start reads the ledger once (the consumers' history and the last mode an
// operator set for this region). Decisions work without it; it only moves
// the first read off the first checkout.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.book.catchUp(ctx); err != nil {
		return err
	}
	es, err := e.store.EntriesBySubject(ctx, modeSubject(e.cfg.Region))
	if err != nil {
		return err
	}
	for i := len(es) - 1; i >= 0; i-- {
		if string(es[i].Origin) != e.cfg.Region {
			continue
		}
		var d modeData
		if json.Unmarshal(es[i].Data, &d) == nil {
			if m, err := ParseMode(d.Mode); err == nil {
				e.setMode(m)
				e.log.Info("degradation mode from the ledger", "mode", m, "set_by", d.Staff)
			}
		}
		break
	}
	return nil
}

// Policy returns the policy in force.
func (e *Engine) Policy() Policy { return *e.policy.Load() }

func (e *Engine) setMode(m Mode) {
	p := *e.policy.Load()
	p.Mode = m
	e.policy.Store(&p)
}

type modeData struct {
	Mode   string `json:"mode"`
	Staff  string `json:"staff"`
	Role   string `json:"role,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func modeSubject(region string) string { return "mode:" + region }

// SetMode switches this region's degradation mode; the scoring.mode entry
// names who did it (by) and why, and carries the mode across a restart.
func (e *Engine) SetMode(ctx context.Context, m Mode, by checkout.Actor) error {
	if m == "" {
		return errors.New("scoring: no mode given")
	}
	if _, err := ParseMode(string(m)); err != nil {
		return fmt.Errorf("scoring: %w", err)
	}
	e.modeMu.Lock()
	defer e.modeMu.Unlock()
	data, _ := json.Marshal(modeData{Mode: string(m), Staff: by.Staff, Role: by.Role, Reason: by.Reason})
	if _, err := e.store.Append(context.WithoutCancel(ctx), ledger.Draft{Kind: KindModeSet, Subject: modeSubject(e.cfg.Region), Data: data}); err != nil {
		return err
	}
	e.setMode(m)
	e.log.Warn("degradation mode switched", "mode", m, "staff", by.Staff, "role", by.Role, "reason", by.Reason)
	return nil
}

// Home is a consumer's home region: the region with the highest hash of
// (consumer, region), so every region computes the same home without
// asking, and adding or removing a region moves only the consumers homed
// there.
func Home(c checkout.ConsumerID, regions []string) string {
	best, bestH := "", uint64(0)
	for _, r := range regions {
		h := sha256.Sum256([]byte(string(c) + "\x00" + r))
		if v := binary.BigEndian.Uint64(h[:8]); best == "" || v > bestH || (v == bestH && r < best) {
			best, bestH = r, v
		}
	}
	return best
}

func (e *Engine) balance(ctx context.Context, account, cur string) (int64, error) {
	b, err := e.store.Balance(ctx, account, cur)
	return int64(b), err
}

// record is what a decision keeps with the order.
type record struct {
	Mode     Mode           `json:"mode"`
	Home     string         `json:"home"`
	Stale    bool           `json:"stale,omitempty"`
	Features *Features      `json:"features,omitempty"`
	Score    int            `json:"score,omitempty"`
	Points   map[string]int `json:"points,omitempty"`
	Source   string         `json:"source,omitempty"`
	Rights   int64          `json:"rights_here,omitempty"`
	// Granted is the limit of the line the decision's entry grants (a new
	// consumer at home).
	Granted int64 `json:"granted,omitempty"`
}

// Decide implements checkout.Scorer: policy checks, the scorecard, then
// securing the amount from rights this region owns (asking other regions
// within RightsTimeout), else from the unsecured budget, else card only.
func (e *Engine) Decide(ctx context.Context, in checkout.DecisionInput) (checkout.Decision, error) {
	p := e.policy.Load()
	rec := record{Mode: p.Mode, Home: Home(in.Consumer, e.cfg.Regions)}
	out := func(outcome string, reasons ...string) (checkout.Decision, error) {
		src := rec.Source
		if src == "" {
			src = "none"
		}
		e.decisions.WithLabelValues(outcome, src).Inc()
		b, _ := json.Marshal(rec)
		return checkout.Decision{Outcome: outcome, Reasons: reasons, Score: rec.Score, Record: b}, nil
	}
	limit, offered := p.CreditLimit[in.Currency]
	switch {
	case p.Mode == ModeCardOnly:
		return out(CardOnly, ReasonCardOnlyMode)
	case p.Mode == ModePayLaterOff && in.Method == "pay_later":
		return out(CardOnly, ReasonPayLaterOff)
	case len(p.Countries) > 0 && !contains(p.Countries, in.Country):
		return out(CardOnly, ReasonCountryNotOffered)
	case !offered || limit <= 0:
		return out(CardOnly, ReasonCurrencyNotOffered)
	case in.Method == "instalments" && in.Amount < p.MinInstalments:
		return out(Declined, ReasonBelowInstalments)
	case in.Amount > p.MaxPayLater:
		return out(CardOnly, ReasonOverOrderLimit)
	}

	f, line, err := e.features(ctx, p, in, limit)
	if err != nil {
		return checkout.Decision{}, err
	}
	rec.Features = &f
	rec.Stale = e.cfg.Stale != nil && e.cfg.Stale()
	sc := p.Score(f, p.Mode == ModeConservative || rec.Stale)
	rec.Score, rec.Points = sc.Score, sc.Points
	reasons := sc.Reasons
	if rec.Stale {
		reasons = append(reasons, ReasonHistoryIncomplete)
	}
	if p.Mode == ModeConservative {
		reasons = append(reasons, ReasonConservativeMode)
	}
	if sc.Outcome != Approved {
		return out(sc.Outcome, reasons...)
	}

	// Secure the amount: rights this region owns, asked for if short.
	cid, cur, amt := in.Consumer, in.Currency, in.Amount
	rights := account.CreditRights(string(cid))
	mine := rights.In(e.cfg.Region)
	have := line.byRegion[e.cfg.Region]
	if have < amt && !in.LocalOnly {
		have, line, err = e.acquire(ctx, p, cid, cur, amt, have, line)
		if err != nil {
			return checkout.Decision{}, err
		}
	}
	rec.Rights = have
	if have >= amt {
		rec.Source, rec.Granted = "rights", line.grant
		d, _ := out(Approved, reasons...)
		d.Credit = &checkout.CreditHold{Consumer: cid, Source: "rights", Region: e.cfg.Region, Exposure: account.CreditExposure(string(cid)), Return: rights.Prefix()}
		d.Postings = []ledger.Posting{
			{Account: mine, Amount: -ledger.Amount(amt), Currency: cur},
			{Account: account.CreditExposure(string(cid)), Amount: ledger.Amount(amt), Currency: cur},
		}
		d.Guards = []ledger.Guard{{Account: mine, Currency: cur}}
		if line.grant > 0 {
			// A new consumer at home: the authorization grants the line
			// too, so a checkout writes no entry of its own for it. The
			// limit's guard makes a second grant fail (a concurrent
			// checkout of the same consumer granted it first), and the
			// checkout then decides again on the line that exists.
			d.Postings = append(grantPostings(cid, cur, line.grant, e.cfg.Region), d.Postings...)
			d.Guards = append(d.Guards, ledger.Guard{Account: account.CreditLimit(string(cid)), Currency: cur, Min: -ledger.Amount(line.grant)})
		}
		return d, nil
	}
	if line.exists && line.rights < amt {
		// Every region's rights together do not cover it: the limit,
		// not the network, is the reason.
		return out(CardOnly, ReasonLimitReached)
	}

	// Degrade: the unsecured budget, for good scores and small orders.
	budget := p.UnsecuredBudget[cur]
	if p.Mode != ModeNormal || budget <= 0 || sc.Score < p.UnsecuredMinScore || amt > p.UnsecuredMaxOrder || f.OverdueAmount > 0 {
		return out(CardOnly, ReasonRightsUnavailable)
	}
	spent, err := e.balance(ctx, account.UnsecuredBudget(e.cfg.Region), cur)
	if err != nil {
		return checkout.Decision{}, err
	}
	if -spent+amt > budget {
		return out(CardOnly, ReasonRightsUnavailable, ReasonBudgetExhausted)
	}
	rec.Source = "unsecured"
	d, _ := out(Approved, append([]string{ReasonUnsecured, ReasonRightsUnavailable}, reasons[1:]...)...)
	d.Credit = &checkout.CreditHold{Consumer: cid, Source: "unsecured", Region: e.cfg.Region, Exposure: account.CreditUnsecured(string(cid)), Return: account.UnsecuredBudget(e.cfg.Region)}
	d.Postings = []ledger.Posting{
		{Account: account.UnsecuredBudget(e.cfg.Region), Amount: -ledger.Amount(amt), Currency: cur},
		{Account: account.CreditUnsecured(string(cid)), Amount: ledger.Amount(amt), Currency: cur},
	}
	d.Guards = []ledger.Guard{{Account: account.UnsecuredBudget(e.cfg.Region), Currency: cur, Min: -ledger.Amount(budget)}}
	return d, nil
}

// lineState is what this region knows of a credit line.
type lineState struct {
	exists    bool
	limit     int64
	exposure  int64 // secured
	unsecured int64
	rights    int64            // every region's, together
	byRegion  map[string]int64 // rights per region (only regions with any)
	// grant is the limit of a line this region, the consumer's home, is
	// about to grant in the decision's own entry (0: none).
	grant int64
}

func (e *Engine) line(ctx context.Context, c checkout.ConsumerID, cur string) (lineState, error) {
	var l lineState
	// Every account of the consumer's credit, in one range read.
	bs, err := e.store.BalancesByPrefix(ctx, account.CreditPrefix(string(c)), cur)
	if err != nil {
		return l, err
	}
	lim := int64(bs[account.CreditLimit(string(c))])
	l.exists, l.limit = lim != 0, -lim
	l.exposure, l.unsecured = int64(bs[account.CreditExposure(string(c))]), int64(bs[account.CreditUnsecured(string(c))])
	l.byRegion = map[string]int64{}
	for _, r := range e.cfg.Regions {
		n := int64(bs[account.CreditRights(string(c)).In(r)])
		if n != 0 {
			l.byRegion[r] = n
		}
		l.rights += n
	}
	return l, nil
}

// features computes the decision's inputs from the order, the ledger and
// the shopper's input.
func (e *Engine) features(ctx context.Context, p *Policy, in checkout.DecisionInput, limit int64) (Features, lineState, error) {
	if err := e.book.catchUp(ctx); err != nil {
		return Features{}, lineState{}, err
	}
	now := e.cfg.Now()
	h := e.book.figures(line{in.Consumer, in.Currency}, now, time.Duration(p.GraceDays)*24*time.Hour)
	l, err := e.line(ctx, in.Consumer, in.Currency)
	if err != nil {
		return Features{}, l, err
	}
	if l.exists {
		limit = l.limit
	}
	f := Features{Amount: in.Amount, CreditOrders: h.orders, RepaidAmount: h.repaid,
		OverdueAmount: h.overdue, DaysPastDue: h.daysPastDue,
		MerchantCategoryRisk: p.CategoryRisk[p.MerchantCategories[in.Merchant]]}
	if h.known && now.After(h.first) {
		f.AccountAgeDays = int64(now.Sub(h.first) / (24 * time.Hour))
	}
	if limit > 0 {
		f.UtilizationPct = (l.exposure + l.unsecured + in.Amount) * 100 / limit
	}
	if in.OrderCountry == "" || in.Country == in.OrderCountry {
		f.CountryMatch = 1
	}
	if in.NamesGiven {
		f.NamesGiven = 1
	}
	return f, l, nil
}

// acquire gets rights for amt from other regions within the policy's
// timeout: the home region first while no line exists (it grants the line
// on the way), otherwise the regions owning most. It returns this region's
// rights afterwards.
func (e *Engine) acquire(ctx context.Context, p *Policy, c checkout.ConsumerID, cur string, amt, have int64, l lineState) (int64, lineState, error) {
	mine := account.CreditRights(string(c)).In(e.cfg.Region)
	home := Home(c, e.cfg.Regions)
	if !l.exists && home == e.cfg.Region {
		if e.cfg.MayGrant != nil && !e.cfg.MayGrant() {
			e.log.Info("not granting a credit line while behind the other regions", "consumer", c)
			return have, l, nil
		}
		// The line is granted by the entry that spends it (see Decide):
		// what this region will own once it is.
		limit := p.CreditLimit[cur]
		if limit <= 0 {
			return have, l, nil
		}
		l.exists, l.limit, l.rights, l.grant = true, limit, limit, limit
		l.byRegion = map[string]int64{e.cfg.Region: limit}
		return limit, l, nil
	}
	var owners []string
	if !l.exists {
		owners = []string{home}
	} else {
		for r, n := range l.byRegion {
			if r != e.cfg.Region && n > 0 {
				owners = append(owners, r)
			}
		}
		sort.Slice(owners, func(i, j int) bool {
			a, b := l.byRegion[owners[i]], l.byRegion[owners[j]]
			if a != b {
				return a > b
			}
			if (owners[i] == home) != (owners[j] == home) {
				return owners[i] == home
			}
			return owners[i] < owners[j]
		})
	}
	if e.cfg.Rights == nil || len(owners) == 0 || p.RightsTimeout <= 0 {
		return have, l, nil
	}
	rctx, cancel := context.WithTimeout(ctx, p.RightsTimeout)
	defer cancel()
	refused := 0
	for _, owner := range owners {
		if rctx.Err() != nil {
			break
		}
		err := e.cfg.Rights.RequestRights(rctx, owner, account.LineSubject(string(c), cur), account.CreditRights(string(c)).Prefix(), amt-have)
		var r interface{ NoRights() bool }
		if errors.As(err, &r) && r.NoRights() {
			// Reached, and it has none to give: not a network problem.
			e.requests.WithLabelValues("refused").Inc()
			refused++
			continue
		}
		var down interface{ PeerDown() bool }
		if errors.As(err, &down) && down.PeerDown() {
			// Known to be down and not asked: no wait, no news.
			e.requests.WithLabelValues("skipped").Inc()
			continue
		}
		if err != nil {
			e.requests.WithLabelValues("failed").Inc()
			e.log.Info("credit rights request failed", "consumer", c, "owner", owner, "err", err)
			continue
		}
		e.requests.WithLabelValues("granted").Inc()
		var berr error
		if have, berr = e.balance(ctx, mine, cur); berr != nil {
			return have, l, berr
		}
		if have >= amt {
			break
		}
	}
	l2, err := e.line(ctx, c, cur)
	if err != nil {
		return have, l, err
	}
	if have < amt && refused == len(owners) && l2.exists {
		// Every owner answered that it has nothing more to give: what
		// this region knows of the others' rights is stale, and the limit
		// is the reason.
		l2.rights = have
	}
	return have, l2, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Errors of AdjustLimit.
var (
	ErrNotHome    = errors.New("scoring: only the consumer's home region changes a credit line")
	ErrNoLine     = errors.New("scoring: the consumer has no credit line in this currency")
	ErrLimitInUse = errors.New("scoring: the home region does not own enough unused rights to lower the limit that far")
)

// KindCreditAdjusted is a change of a granted line's limit.
const KindCreditAdjusted = "credit.adjusted"

// AdjustLimit changes a consumer's credit limit in cur to limit, as support
// staff decide; the credit.adjusted entry names who (by) and why. Only the home region does it: a
// raise adds rights to what the home owns; a cut takes back rights the home
// owns and has not lent out (ErrLimitInUse if there are not enough: the
// others' rights come home with rebalancing or by repayment).
func (e *Engine) AdjustLimit(ctx context.Context, c checkout.ConsumerID, cur string, limit int64, by checkout.Actor) error {
	if home := Home(c, e.cfg.Regions); home != e.cfg.Region {
		return fmt.Errorf("%w (the home is %s)", ErrNotHome, home)
	}
	if limit < 1 || limit > 1_000_000_000_000 {
		// A line is known by its limit, so it never goes to zero: the
		// smallest limit, one minor unit, blocks credit as well.
		return fmt.Errorf("scoring: a limit is 1 to 10^12 minor units, got %d", limit)
	}
	l, err := e.line(ctx, c, cur)
	if err != nil {
		return err
	}
	if !l.exists {
		return ErrNoLine
	}
	delta := limit - l.limit
	if delta == 0 {
		return nil
	}
	mine := account.CreditRights(string(c)).In(e.cfg.Region)
	d := ledger.Draft{Kind: KindCreditAdjusted, Subject: account.LineSubject(string(c), cur), Postings: []ledger.Posting{
		{Account: account.CreditLimit(string(c)), Amount: -ledger.Amount(delta), Currency: cur},
		{Account: mine, Amount: ledger.Amount(delta), Currency: cur},
	}}
	if delta < 0 {
		d.Guards = []ledger.Guard{{Account: mine, Currency: cur}}
	}
	d.Data, _ = json.Marshal(map[string]any{"consumer": c, "currency": cur, "from": l.limit, "to": limit,
		"staff": by.Staff, "role": by.Role, "reason": by.Reason})
	_, err = e.store.Append(context.WithoutCancel(ctx), d)
	if errors.Is(err, ledger.ErrInsufficient) {
		return ErrLimitInUse
	}
	return err
}
