package scoring

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"kassa/checkout"
	"kassa/ledger"
)

// line identifies one consumer's credit in one currency.
type line struct {
	consumer checkout.ConsumerID
	currency string
}

// history is what the ledger says about one line, as far as this region
// knows: every field is a sum, a minimum or a set over entries, so it is
// the same whatever order the entries arrived in.
type history struct {
	first   time.Time
	orders  int64
	repaid  int64
	settled int64 // debt settled by refunds and repayments
	due     []checkout.Due
	// where the consumer shopped on credit: region -> latest order time
	regions map[string]time.Time
	// the consumer's newest credit orders, for support staff: newest
	// first, at most maxRecentOrders
	recent []recentOrder
}

// recentOrder is one of a line's newest credit orders.
type recentOrder struct {
	id checkout.OrderID
	at time.Time // its earliest authorization
}

// newer orders recent orders newest first, then by id.
func (o recentOrder) newer(than recentOrder) bool {
	if !o.at.Equal(than.at) {
		return o.at.After(than.at)
	}
	return o.id < than.id
}

// maxRecentOrders bounds the order ids the book keeps per line, so its
// memory grows with consumers, not with orders: support finds older orders
// through the ledger (search by order id or merchant reference), and the
// consumer page shows this many.
//
// The ids also tell a duplicate authorization from a partition (one order
// written by two regions) from a new order, so the count of orders does not
// depend on arrival order. A duplicate of an order older than a line's
// newest maxRecentOrders counts as another order: that takes a partition
// through which one region wrote maxRecentOrders newer credit orders of the
// consumer, and it errs towards more history, which the scorecard weighs
// lightly.
const maxRecentOrders = 50

// book follows the ledger and keeps each consumer's history in memory, so a
// decision reads it without touching the disk. It is safe for concurrent
// use.
type book struct {
	store *ledger.Store
	mu    sync.Mutex
	pos   int64
	count int64 // the store's entry count when pos was read
	lines map[line]*history
	// touched collects lines with new orders, for the rebalancer.
	touched map[line]bool
}

func newBook(store *ledger.Store) *book {
	return &book{store: store, lines: map[line]*history{}, touched: map[line]bool{}}
}

// catchUp folds in every entry stored since the last call.
func (b *book) catchUp(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Nothing committed since the last call: nothing to read.
	count := b.store.Count()
	if count == b.count {
		return nil
	}
	for {
		es, pos, err := b.store.EntriesSince(ctx, b.pos, 4096)
		if err != nil {
			return err
		}
		for i := range es {
			if f, ok := checkout.CreditFactOf(&es[i]); ok {
				b.add(f)
			}
		}
		b.pos = pos
		if len(es) < 4096 {
			b.count = count
			return nil
		}
	}
}

func (b *book) add(f checkout.CreditFact) {
	k := line{f.Consumer, f.Currency}
	h := b.lines[k]
	if h == nil {
		h = &history{first: f.At, regions: map[string]time.Time{}}
		b.lines[k] = h
	}
	if f.At.Before(h.first) {
		h.first = f.At
	}
	switch f.Kind {
	case "order":
		// Every authorization says where the consumer shopped, a
		// duplicate from a partition too: the set does not depend on
		// which arrived first.
		if f.At.After(h.regions[f.Region]) {
			h.regions[f.Region] = f.At
		}
		b.touched[k] = true
		h.addOrder(recentOrder{f.Order, f.At})
	case "capture":
		for _, d := range f.Due {
			// Kept sorted by due time (then amount), whatever order the
			// captures arrive in.
			i := sort.Search(len(h.due), func(i int) bool {
				return h.due[i].At > d.At || h.due[i].At == d.At && h.due[i].Amount >= d.Amount
			})
			h.due = slices.Insert(h.due, i, d)
		}
	case "refund":
		h.settled += f.Amount
	case "repayment":
		h.settled += f.Amount
		h.repaid += f.Amount
	}
}

// addOrder counts an authorization of o and keeps it among the newest
// orders (see maxRecentOrders).
func (h *history) addOrder(o recentOrder) {
	for i, r := range h.recent {
		if r.id != o.id {
			continue
		}
		// A duplicate authorization from a partition: one order, as old
		// as its first authorization.
		if o.at.Before(r.at) {
			h.recent = slices.Delete(h.recent, i, i+1)
			h.insertRecent(o)
		}
		return
	}
	h.orders++
	h.insertRecent(o)
}

func (h *history) insertRecent(o recentOrder) {
	i := sort.Search(len(h.recent), func(i int) bool { return o.newer(h.recent[i]) })
	if i == maxRecentOrders {
		return // older than every order kept
	}
	if len(h.recent) == maxRecentOrders {
		h.recent = h.recent[:maxRecentOrders-1]
	}
	h.recent = slices.Insert(h.recent, i, o)
}

// snapshot is a copy of one line's history with the derived figures.
type snapshot struct {
	known       bool
	first       time.Time
	orders      int64
	repaid      int64
	overdue     int64
	daysPastDue int64
	regions     map[string]time.Time
	orderIDs    []checkout.OrderID // the newest, newest first (at most maxRecentOrders)
}

// figures returns what a decision needs of the line's history at now,
// without copying its lists.
func (b *book) figures(k line, now time.Time, grace time.Duration) snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.lines[k]
	if h == nil {
		return snapshot{}
	}
	s := snapshot{known: true, first: h.first, orders: h.orders, repaid: h.repaid}
	s.overdue, s.daysPastDue = h.overdue(now, grace)
	return s
}

// get returns the line's history at now, with where the consumer shopped
// and its orders; amounts unpaid GraceDays after they fell due are overdue
// (debt settled pays the oldest first).
func (b *book) get(k line, now time.Time, grace time.Duration) snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.lines[k]
	if h == nil {
		return snapshot{}
	}
	s := snapshot{known: true, first: h.first, orders: h.orders, repaid: h.repaid, regions: make(map[string]time.Time, len(h.regions))}
	for r, t := range h.regions {
		s.regions[r] = t
	}
	s.orderIDs = make([]checkout.OrderID, len(h.recent))
	for i, o := range h.recent {
		s.orderIDs[i] = o.id
	}
	s.overdue, s.daysPastDue = h.overdue(now, grace)
	return s
}

// overdue is what is unpaid grace after it fell due, and the days since
// the oldest such amount fell due. Debt settled pays the oldest first; due
// amounts are kept in order as they are added.
func (h *history) overdue(now time.Time, grace time.Duration) (amount, days int64) {
	paid := h.settled
	for _, d := range h.due {
		open := d.Amount - min(paid, d.Amount)
		paid -= d.Amount - open
		if open <= 0 {
			continue
		}
		at := time.UnixMilli(d.At)
		if now.Sub(at) <= grace {
			break
		}
		amount += open
		if n := int64(now.Sub(at) / (24 * time.Hour)); n > days {
			days = n
		}
	}
	return amount, days
}

// currencies lists the currencies a consumer has history in.
func (b *book) currencies(c checkout.ConsumerID) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for k := range b.lines {
		if k.consumer == c {
			out = append(out, k.currency)
		}
	}
	sort.Strings(out)
	return out
}

// touch marks lines for the rebalancer's next run.
func (b *book) touch(ls ...line) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range ls {
		b.touched[k] = true
	}
}

// takeTouched returns and forgets the lines with new orders.
func (b *book) takeTouched() []line {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]line, 0, len(b.touched))
	for k := range b.touched {
		out = append(out, k)
	}
	b.touched = map[line]bool{}
	sort.Slice(out, func(i, j int) bool {
		if out[i].consumer != out[j].consumer {
			return out[i].consumer < out[j].consumer
		}
		return out[i].currency < out[j].currency
	})
	return out
}
