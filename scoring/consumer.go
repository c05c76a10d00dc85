package scoring

import (
	"context"
	"sort"
	"time"

	"kassa/checkout"
)

// LineView is one consumer's credit in one currency as support staff see
// it. Exposure is what the consumer may owe now (secured plus unsecured).
type LineView struct {
	Currency     string           `json:"currency"`
	Limit        int64            `json:"limit"`
	Exposure     int64            `json:"exposure"`
	Secured      int64            `json:"secured"`
	Unsecured    int64            `json:"unsecured"`
	Available    int64            `json:"available"`
	Rights       map[string]int64 `json:"rights"`
	Overdue      int64            `json:"overdue"`
	DaysPastDue  int64            `json:"days_past_due"`
	Repaid       int64            `json:"repaid"`
	CreditOrders int64            `json:"credit_orders"`
	FirstSeen    *time.Time       `json:"first_seen,omitempty"`
	ShoppedIn    []string         `json:"shopped_in"`
	// Orders are the consumer's newest credit orders in this currency,
	// newest first: at most 50 (CreditOrders counts them all; the ledger
	// holds the rest).
	Orders       []checkout.OrderID `json:"orders"`
	LineGranted  bool               `json:"line_granted"`
	DefaultLimit int64              `json:"default_limit"`
}

// ConsumerView is a consumer's credit across currencies.
type ConsumerView struct {
	ID    checkout.ConsumerID `json:"id"`
	Home  string              `json:"home"`
	Mode  Mode                `json:"mode"`
	Lines []LineView          `json:"lines"`
}

// Consumer returns what this region knows of a consumer's credit: every
// currency with a line or history, the rights each region owns, and the
// history the scorecard uses.
func (e *Engine) Consumer(ctx context.Context, c checkout.ConsumerID) (ConsumerView, error) {
	if err := e.book.catchUp(ctx); err != nil {
		return ConsumerView{}, err
	}
	p := e.policy.Load()
	v := ConsumerView{ID: c, Home: Home(c, e.cfg.Regions), Mode: p.Mode, Lines: []LineView{}}
	curs := map[string]bool{}
	for _, cur := range e.book.currencies(c) {
		curs[cur] = true
	}
	for cur := range p.CreditLimit {
		curs[cur] = true
	}
	now := e.cfg.Now()
	for _, cur := range sortedKeys(curs) {
		l, err := e.line(ctx, c, cur)
		if err != nil {
			return v, err
		}
		h := e.book.get(line{c, cur}, now, time.Duration(p.GraceDays)*24*time.Hour)
		if !l.exists && !h.known && l.exposure == 0 && l.unsecured == 0 {
			continue
		}
		lv := LineView{Currency: cur, Limit: l.limit, Secured: l.exposure, Unsecured: l.unsecured,
			Exposure: l.exposure + l.unsecured, Available: l.rights, Rights: map[string]int64{},
			Overdue: h.overdue, DaysPastDue: h.daysPastDue, Repaid: h.repaid, CreditOrders: h.orders,
			LineGranted: l.exists, DefaultLimit: p.CreditLimit[cur], ShoppedIn: []string{}}
		for _, r := range e.cfg.Regions {
			lv.Rights[r] = l.byRegion[r]
		}
		if h.known {
			t := h.first
			lv.FirstSeen = &t
		}
		for r := range h.regions {
			lv.ShoppedIn = append(lv.ShoppedIn, r)
		}
		lv.Orders = append([]checkout.OrderID{}, h.orderIDs...)
		sort.Strings(lv.ShoppedIn)
		v.Lines = append(v.Lines, lv)
	}
	return v, nil
}
