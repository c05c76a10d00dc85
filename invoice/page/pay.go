package page

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"kassa/cards"
	"kassa/checkout"
	"kassa/invoice"
	"kassa/ledger"
)

// Entry kinds of a card payment of an invoice (docs/invoicepage.md). A
// payment is written in two steps, as card
// operations on orders are: a request, written before the acquirer is
// called and naming the idempotency key the call carries, and exactly one
// outcome, written by the same region: paid (the card was charged and the
// repayment recorded) or failed (nothing was charged).
const (
	KindCardRequested = "invoice.card_requested"
	KindCardPaid      = "invoice.card_paid"
	KindCardFailed    = "invoice.card_failed"
)

// The statuses of an Attempt.
const (
	AttemptPending = "pending" // requested, no outcome yet: the reconciler settles it
	AttemptPaid    = "paid"
	AttemptFailed  = "failed"
)

// Codes an Attempt fails with besides the acquirer's decline codes.
const (
	CodeUnavailable = "acquirer_unavailable" // never reached the acquirer: nothing charged
	CodeRejected    = "acquirer_rejected"    // the acquirer refused the request as malformed
	CodeNotCharged  = "card_not_charged"     // an unknown outcome the acquirer says never happened
)

// ErrNothingOwed is a payment of an invoice on which nothing is owed.
var ErrNothingOwed = errors.New("invoice page: nothing is owed on this invoice")

// ErrNotReady is an invoice whose order's authorization has not reached
// this region yet (its consumer is unknown here): nothing is charged, and
// the shopper is asked to try again in a moment.
var ErrNotReady = errors.New("invoice page: the invoice's order is not fully known here yet")

// Ledger is what card payments need of the region's ledger.
type Ledger interface {
	Append(ctx context.Context, d ledger.Draft) (ledger.Entry, error)
	EntriesBySubject(ctx context.Context, subject string) ([]ledger.Entry, error)
	EntriesByKind(ctx context.Context, kind string) ([]ledger.Entry, error)
}

// Acquirer is the card acquirer's client (*cards.Client).
type Acquirer interface {
	Authorize(ctx context.Context, p cards.Payment) (cards.Result, error)
	Lookup(ctx context.Context, idempotencyKey string) (cards.Result, bool, error)
	Capture(ctx context.Context, op cards.Operation) (cards.OperationResult, error)
	Void(ctx context.Context, op cards.Operation) (cards.OperationResult, error)
}

// Debts records what a card payment settled (*checkout.Service).
type Debts interface {
	Repay(ctx context.Context, oid checkout.OrderID, p checkout.Repayment) (checkout.Order, bool, error)
	Repaid(ctx context.Context, oid checkout.OrderID, reference string) (int64, bool, error)
	CreditBalance(ctx context.Context, p checkout.Overpayment) (bool, error)
}

// Attempt is one card payment of an invoice as its entries tell it.
type Attempt struct {
	Key      string // the idempotency key the acquirer knows it by
	Invoice  string
	Order    checkout.OrderID
	Consumer checkout.ConsumerID
	Region   string // the region that called the acquirer
	Amount   int64
	Currency string
	Brand    string
	Last4    string
	Status   string
	Code     string // why it failed
	Payment  string // the acquirer's payment id, once paid
	At       time.Time
}

// cardData is the data of the payment entries. It holds the card's brand
// and last four digits, never its number or security code.
type cardData struct {
	Invoice  string              `json:"invoice"`
	Order    checkout.OrderID    `json:"order"`
	Consumer checkout.ConsumerID `json:"consumer,omitempty"`
	Key      string              `json:"key"`
	Amount   int64               `json:"amount"`
	Currency string              `json:"currency"`
	Brand    string              `json:"brand,omitempty"`
	Last4    string              `json:"last4,omitempty"`
	Payment  string              `json:"payment,omitempty"`
	Capture  string              `json:"capture,omitempty"`
	Applied  int64               `json:"applied,omitempty"`
	Code     string              `json:"code,omitempty"`
	// Day, Acquirer and the ref "acquirer-day:<day>" place a paid
	// attempt's capture in the acquirer's settlement file.
	Day      string                 `json:"day,omitempty"`
	Acquirer *checkout.AcquirerCall `json:"acquirer,omitempty"`
	Refs     []string               `json:"refs,omitempty"`
}

// Payments charges cards for invoices through the acquirer and records
// what they paid. It is safe for concurrent use.
type Payments struct {
	region   string
	ledger   Ledger
	acquirer Acquirer
	debts    Debts
	now      func() time.Time
	log      *slog.Logger
	// settleAfter is how long an unanswered authorization is left alone
	// before the acquirer's "no such payment" is believed: a request still
	// in flight may arrive after a lookup.
	settleAfter time.Duration

	mu       sync.Mutex
	locks    map[string]*lockRef // per invoice
	inflight map[string]bool     // keys being called by this process
	owed     map[string]bool     // invoices with an attempt of this region to settle
	loaded   bool                // owed holds what was pending before this process
}

type lockRef struct {
	sync.Mutex
	n int
}

// DefaultSettleAfter is how long an unanswered card payment waits before
// the reconciler trusts the acquirer's "not found".
const DefaultSettleAfter = time.Minute

// PaymentsConfig configures Payments. Region, Ledger, Acquirer and Debts
// are required.
type PaymentsConfig struct {
	Region      string
	Ledger      Ledger
	Acquirer    Acquirer
	Debts       Debts
	Now         func() time.Time // nil: time.Now
	Logger      *slog.Logger     // nil: slog.Default()
	SettleAfter time.Duration    // zero: DefaultSettleAfter
}

// NewPayments returns the card payments of invoices.
func NewPayments(cfg PaymentsConfig) *Payments {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SettleAfter <= 0 {
		cfg.SettleAfter = DefaultSettleAfter
	}
	return &Payments{region: cfg.Region, ledger: cfg.Ledger, acquirer: cfg.Acquirer, debts: cfg.Debts, now: cfg.Now,
		log: cfg.Logger, settleAfter: cfg.SettleAfter,
		locks: map[string]*lockRef{}, inflight: map[string]bool{}, owed: map[string]bool{}}
}

func (p *Payments) lock(invoiceID string) func() {
	p.mu.Lock()
	l := p.locks[invoiceID]
	if l == nil {
		l = &lockRef{}
		p.locks[invoiceID] = l
	}
	l.n++
	p.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		p.mu.Lock()
		if l.n--; l.n == 0 {
			delete(p.locks, invoiceID)
		}
		p.mu.Unlock()
	}
}

// Attempts returns the card payments of an invoice, oldest first.
func (p *Payments) Attempts(ctx context.Context, invoiceID string) ([]Attempt, error) {
	es, err := p.ledger.EntriesBySubject(ctx, invoiceID)
	if err != nil {
		return nil, err
	}
	var out []Attempt
	index := map[string]int{}
	for _, e := range es {
		var d cardData
		switch e.Kind {
		case KindCardRequested, KindCardPaid, KindCardFailed:
			if json.Unmarshal(e.Data, &d) != nil || d.Key == "" {
				continue
			}
		default:
			continue
		}
		i, ok := index[d.Key]
		if !ok {
			i = len(out)
			index[d.Key] = i
			out = append(out, Attempt{Key: d.Key, Invoice: d.Invoice, Order: d.Order, Consumer: d.Consumer, Region: string(e.Origin),
				Amount: d.Amount, Currency: d.Currency, Brand: d.Brand, Last4: d.Last4, Status: AttemptPending, At: e.HLC.Time()})
		}
		a := &out[i]
		switch e.Kind {
		case KindCardPaid:
			a.Status, a.Payment, a.Code = AttemptPaid, d.Payment, ""
		case KindCardFailed:
			if a.Status != AttemptPaid {
				a.Status, a.Code = AttemptFailed, d.Code
			}
		}
	}
	return out, nil
}

// Attempt returns the attempt with key on the invoice.
func (p *Payments) Attempt(ctx context.Context, invoiceID, key string) (Attempt, bool, error) {
	as, err := p.Attempts(ctx, invoiceID)
	if err != nil {
		return Attempt{}, false, err
	}
	for _, a := range as {
		if a.Key == key {
			return a, true, nil
		}
	}
	return Attempt{}, false, nil
}

// Pay charges card with what is owed on inv and, when the acquirer
// approves and captures it, records the repayment. The answer is an
// Attempt: paid, failed (declined, with the code; nothing charged) or
// pending (the outcome is unknown; the reconciler settles it, and no new
// payment of the invoice starts here until it has). An earlier attempt of
// this region still pending is settled first and, if it stays pending, is
// the answer: a shopper who presses Pay twice is never charged twice. Pay
// returns ErrNothingOwed for an invoice that owes nothing; a card that
// fails cards.Check is a *cards.FieldError and nothing is written.
func (p *Payments) Pay(ctx context.Context, inv invoice.Invoice, card cards.Card) (Attempt, error) {
	ctx = context.WithoutCancel(ctx) // a shopper who hangs up must not leave a charge half recorded
	defer p.lock(inv.ID)()
	as, err := p.Attempts(ctx, inv.ID)
	if err != nil {
		return Attempt{}, err
	}
	mine := 0
	for _, a := range as {
		if a.Region != p.region {
			continue
		}
		mine++
		if a.Status == AttemptPending {
			if a, err = p.finish(ctx, a); err != nil || a.Status != AttemptFailed {
				return a, err
			}
		}
	}
	if inv.Owed <= 0 {
		return Attempt{}, ErrNothingOwed
	}
	if inv.Consumer == "" {
		// Whatever a payment settled beyond the debt would be the
		// consumer's balance: without the consumer it could not be
		// recorded, and a charged card would stay unsettled.
		return Attempt{}, ErrNotReady
	}
	if err := cards.Check(card, p.now()); err != nil {
		return Attempt{}, err
	}
	var facts struct{ Brand, Last4 string }
	b, _ := card.MarshalJSON() // brand and last four only
	json.Unmarshal(b, &facts)
	a := Attempt{
		Key:     fmt.Sprintf("invoice:%s:%s:%d", inv.ID, p.region, mine+1),
		Invoice: inv.ID, Order: inv.Order, Consumer: inv.Consumer, Region: p.region,
		Amount: inv.Owed, Currency: inv.Currency, Brand: facts.Brand, Last4: facts.Last4, Status: AttemptPending,
	}
	if err := p.write(ctx, KindCardRequested, a, cardData{}); err != nil {
		return Attempt{}, err
	}
	p.mu.Lock()
	p.owed[inv.ID] = true
	p.inflight[a.Key] = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.inflight, a.Key)
		p.mu.Unlock()
	}()
	res, err := p.acquirer.Authorize(ctx, cards.Payment{IdempotencyKey: a.Key, Amount: a.Amount, Currency: a.Currency, Reference: inv.ID, Card: card})
	switch {
	case errors.Is(err, cards.ErrUnknownOutcome):
		p.log.Warn("invoice card payment outcome unknown; the reconciler settles it", "invoice", inv.ID, "key", a.Key, "err", err)
		return a, nil
	case errors.Is(err, cards.ErrUnavailable):
		return p.fail(ctx, a, CodeUnavailable)
	case err != nil:
		p.log.Error("acquirer refused an invoice card payment", "invoice", inv.ID, "key", a.Key, "err", err)
		return p.fail(ctx, a, CodeRejected)
	case !res.Approved:
		return p.fail(ctx, a, res.DeclineCode)
	}
	return p.capture(ctx, a, res.ID)
}

// finish settles an attempt without an outcome: it asks the acquirer what
// became of the authorization under its key and carries on from there.
// Called under the invoice's lock.
func (p *Payments) finish(ctx context.Context, a Attempt) (Attempt, error) {
	p.mu.Lock()
	busy := p.inflight[a.Key]
	p.mu.Unlock()
	if busy {
		return a, nil
	}
	res, found, err := p.acquirer.Lookup(ctx, a.Key)
	switch {
	case err != nil:
		return a, nil // still unknown: the next run asks again
	case !found && p.now().Sub(a.At) < p.settleAfter:
		return a, nil // the call may still be on its way
	case !found:
		return p.fail(ctx, a, CodeNotCharged)
	case !res.Approved:
		return p.fail(ctx, a, res.DeclineCode)
	}
	return p.capture(ctx, a, res.ID)
}

// capture captures an approved authorization and records the repayment.
// The capture's key is derived from the attempt's, so repeating it (the
// reconciler after an unknown outcome) never captures twice.
func (p *Payments) capture(ctx context.Context, a Attempt, payment string) (Attempt, error) {
	op := cards.Operation{IdempotencyKey: a.Key + ":capture", Payment: payment, Amount: a.Amount, Currency: a.Currency, Reference: a.Invoice}
	res, err := p.acquirer.Capture(ctx, op)
	switch {
	case errors.Is(err, cards.ErrUnknownOutcome), errors.Is(err, cards.ErrUnavailable):
		p.log.Warn("invoice card capture unanswered; the reconciler repeats it", "invoice", a.Invoice, "key", a.Key, "err", err)
		return a, nil
	case err != nil:
		p.log.Error("acquirer refused an invoice card capture", "invoice", a.Invoice, "key", a.Key, "err", err)
		p.void(ctx, a, payment)
		return p.fail(ctx, a, CodeRejected)
	case !res.Succeeded:
		p.void(ctx, a, payment)
		return p.fail(ctx, a, res.RefusalCode)
	}
	return p.repay(ctx, a, payment, res)
}

// void gives back an authorization that will not be captured. A void that
// fails leaves the hold to expire at the issuer; nothing was charged.
func (p *Payments) void(ctx context.Context, a Attempt, payment string) {
	_, err := p.acquirer.Void(ctx, cards.Operation{IdempotencyKey: a.Key + ":void", Payment: payment, Amount: a.Amount, Currency: a.Currency, Reference: a.Invoice})
	if err != nil {
		p.log.Warn("void an invoice card authorization", "invoice", a.Invoice, "key", a.Key, "err", err)
	}
}

// repay records what a captured card payment settled: a repayment of the
// order (reference "card:" and the payment id, so repeating it replays)
// and, for any part that met no debt (another payment settled it
// meanwhile), a credit balance the consumer is owed. Then the outcome.
func (p *Payments) repay(ctx context.Context, a Attempt, payment string, capture cards.OperationResult) (Attempt, error) {
	ref := "card:" + payment
	_, _, err := p.debts.Repay(ctx, a.Order, checkout.Repayment{Amount: a.Amount, PaidAt: p.now(), Reference: ref, CapAtOwed: true})
	switch {
	case errors.Is(err, checkout.ErrNothingOwed):
	case err != nil:
		// The card is charged; the repayment is recorded on the next
		// run, under the same reference.
		p.log.Warn("record an invoice card repayment; the reconciler tries again", "invoice", a.Invoice, "key", a.Key, "err", err)
		return a, nil
	}
	applied, _, err := p.debts.Repaid(ctx, a.Order, ref)
	if err != nil {
		return a, nil
	}
	if rest := a.Amount - applied; rest > 0 {
		_, err := p.debts.CreditBalance(ctx, checkout.Overpayment{Consumer: a.Consumer, Currency: a.Currency, Amount: rest,
			Reference: ref, Order: a.Order, PaidAt: p.now()})
		if err != nil {
			p.log.Warn("record an invoice card overpayment; the reconciler tries again", "invoice", a.Invoice, "key", a.Key, "err", err)
			return a, nil
		}
	}
	a.Status, a.Payment = AttemptPaid, payment
	// The capture is in the acquirer's settlement file of its day: the
	// entry says so the way card captures of orders do, so reconciliation
	// matches its line by the key.
	day := capture.Created.UTC().Format(time.DateOnly)
	return a, p.write(ctx, KindCardPaid, a, cardData{Payment: payment, Capture: capture.ID, Applied: applied,
		Day: day, Refs: []string{"acquirer-day:" + day},
		Acquirer: &checkout.AcquirerCall{Type: "capture", Key: a.Key + ":capture", Payment: payment, Operation: capture.ID, At: capture.Created.UnixMilli()}})
}

func (p *Payments) fail(ctx context.Context, a Attempt, code string) (Attempt, error) {
	if code == "" {
		code = cards.DeclineCardDeclined
	}
	a.Status, a.Code = AttemptFailed, code
	return a, p.write(ctx, KindCardFailed, a, cardData{Code: code})
}

// write appends one entry of attempt a, its fields over extra's.
func (p *Payments) write(ctx context.Context, kind string, a Attempt, d cardData) error {
	d.Invoice, d.Order, d.Consumer, d.Key = a.Invoice, a.Order, a.Consumer, a.Key
	d.Amount, d.Currency, d.Brand, d.Last4 = a.Amount, a.Currency, a.Brand, a.Last4
	d.Refs = append([]string{"order:" + string(a.Order)}, d.Refs...)
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if _, err := p.ledger.Append(ctx, ledger.Draft{Kind: kind, Subject: a.Invoice, Data: data}); err != nil {
		return fmt.Errorf("invoice page: record %s: %w", kind, err)
	}
	return nil
}

// Settle settles the card payments this region started and has no outcome
// for: it looks each one up at the acquirer under its key and captures,
// records or fails it from what the acquirer says; what is still unknown
// stays for the next run. It returns how many it settled. The first run
// finds what was pending before this process started.
func (p *Payments) Settle(ctx context.Context) (int, error) {
	p.mu.Lock()
	if !p.loaded {
		es, err := p.ledger.EntriesByKind(ctx, KindCardRequested)
		if err != nil {
			p.mu.Unlock()
			return 0, err
		}
		for _, e := range es {
			if string(e.Origin) == p.region {
				p.owed[e.Subject] = true
			}
		}
		p.loaded = true
	}
	var owed []string
	for id := range p.owed {
		owed = append(owed, id)
	}
	p.mu.Unlock()
	settled := 0
	for _, id := range owed {
		n, err := p.settle(ctx, id)
		if err != nil {
			return settled, err
		}
		settled += n
	}
	return settled, nil
}

func (p *Payments) settle(ctx context.Context, invoiceID string) (int, error) {
	defer p.lock(invoiceID)()
	as, err := p.Attempts(ctx, invoiceID)
	if err != nil {
		return 0, err
	}
	settled, open := 0, 0
	for _, a := range as {
		if a.Region != p.region || a.Status != AttemptPending {
			continue
		}
		a, err := p.finish(ctx, a)
		if err != nil {
			return settled, err
		}
		if a.Status == AttemptPending {
			open++
		} else {
			settled++
		}
	}
	if open == 0 {
		p.mu.Lock()
		delete(p.owed, invoiceID)
		p.mu.Unlock()
	}
	return settled, nil
}
