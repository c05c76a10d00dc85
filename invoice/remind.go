package invoice

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"kassa/account"
	"kassa/checkout"
	"kassa/ledger"
)

// RemindersConfig configures Reminders.
type RemindersConfig struct {
	// Region is this region's id; Regions lists every region, this one
	// among them, for the takeover line.
	Region  string
	Regions []string
	// Schedule, Fee, Interval and TakeoverAfter are the invoice settings'.
	Schedule      Schedule
	Fee           func(currency string) int64
	Interval      time.Duration
	TakeoverAfter time.Duration
	// Grace is scoring's grace_days: the overdue reminder goes out when
	// the instalment counts as overdue.
	Grace  time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// Reminders writes the reminder entries the mail outbox carries, each once
// across regions: the region that wrote an invoice's capture writes its
// reminders when they fall due; another region writes one only after
// waiting its place in a per-reminder line of regions times TakeoverAfter
// without seeing it. Two copies written during a partition are both kept
// (the composer sends one) and the fee counts once: the copy with the
// lowest entry id wins, and the region that wrote another copy writes a
// reversal of its fee when it sees both. It is safe for concurrent use,
// but one region runs one.
type Reminders struct {
	book  *Book
	store *ledger.Store
	cfg   RemindersConfig
	log   *slog.Logger
}

// NewReminders returns the reminder schedule of the invoices in book.
func NewReminders(book *Book, store *ledger.Store, cfg RemindersConfig) *Reminders {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.TakeoverAfter <= 0 {
		cfg.TakeoverAfter = DefaultTakeoverAfter
	}
	if cfg.Fee == nil {
		cfg.Fee = func(string) int64 { return 0 }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Reminders{book: book, store: store, cfg: cfg, log: cfg.Logger.With("component", "reminders")}
}

// Run writes reminders every Interval until ctx is done.
func (r *Reminders) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := r.Tick(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("write reminders", "err", err)
		} else if n > 0 {
			r.log.Info("wrote reminders", "entries", n)
		}
	}
}

// plan is one entry to write: a reminder, or the reversal of a duplicate
// reminder's fee.
type plan struct {
	order    checkout.OrderID
	consumer checkout.ConsumerID
	data     reminderData
}

// Tick writes the reminders that have fallen due at now and the reversals
// this region owes, and returns how many entries it wrote. It returns the
// first error; a reversal refused because the fee's debt rights left this
// region is logged and tried again on the next tick.
func (r *Reminders) Tick(ctx context.Context) (int, error) {
	if err := r.book.CatchUp(ctx); err != nil {
		return 0, err
	}
	plans := r.plan(r.cfg.Now())
	n := 0
	for _, p := range plans {
		e, err := r.store.Append(context.WithoutCancel(ctx), r.draft(p))
		var ge *ledger.GuardError
		switch {
		case errors.As(err, &ge):
			r.log.Warn("cannot reverse a duplicate reminder's fee: its debt rights are no longer here", "order", p.order, "reminder", p.data.Ref)
			continue
		case err != nil:
			return n, fmt.Errorf("invoice: write %s: %w", p.data.Ref, err)
		}
		r.book.Add(&e)
		n++
	}
	return n, nil
}

// draft is the entry of a plan. A fee is debt: it raises the order's debt
// rights here (so a repayment in this region can settle it) and what the
// consumer owes, as a capture does; a reversal undoes exactly that.
func (r *Reminders) draft(p plan) ledger.Draft {
	d := ledger.Draft{Kind: KindReminder, Subject: string(p.order), Data: mustJSON(p.data)}
	if p.data.Reverses != "" {
		d.Kind = KindReminderReversed
	}
	if fee := ledger.Amount(p.data.Fee); fee != 0 {
		debt := account.DebtRights(string(p.order)).In(r.cfg.Region)
		d.Postings = []ledger.Posting{
			{Account: debt, Amount: fee, Currency: p.data.Currency},
			{Account: account.Owed(string(p.order)), Amount: -fee, Currency: p.data.Currency},
			{Account: account.ConsumerReceivable(string(p.consumer)), Amount: fee, Currency: p.data.Currency},
			{Account: account.Revenue, Amount: -fee, Currency: p.data.Currency},
		}
		if fee < 0 {
			d.Guards = []ledger.Guard{{Account: debt, Currency: p.data.Currency}}
		}
	}
	return d
}

// plan lists what is to be written at now.
func (r *Reminders) plan(now time.Time) []plan {
	b := r.book
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []plan
	for oid, ob := range b.orders {
		if ob.auth == nil {
			continue // whom to remind is not known here yet
		}
		for _, inv := range ob.invoices {
			if inv.Owed <= 0 {
				continue
			}
			origin := ob.captureOrigin(inv.Capture)
			for _, in := range inv.Instalments {
				if in.Paid >= in.Amount {
					continue
				}
				step, at := r.step(in.DueAt, now)
				if step == "" {
					continue
				}
				ref := ReminderRef(inv.ID, in.Number, step)
				if len(ob.reminders[ref]) > 0 {
					continue
				}
				if origin != r.cfg.Region {
					at = at.Add(time.Duration(takeoverRank(ref, origin, r.cfg.Region, r.cfg.Regions)) * r.cfg.TakeoverAfter)
				}
				if now.Before(at) {
					continue
				}
				d := reminderData{Invoice: inv.ID, Instalment: in.Number, Step: step, Ref: ref, Currency: inv.Currency}
				if step == StepOverdue {
					d.Fee = r.cfg.Fee(inv.Currency)
				}
				out = append(out, plan{order: oid, consumer: ob.auth.consumer, data: d})
			}
		}
		// Duplicates: every copy but the one with the lowest id gives its
		// fee back, each by the region that wrote it.
		for _, copies := range ob.reminders {
			for _, c := range copies[min(1, len(copies)):] {
				if string(c.pos.Origin) != r.cfg.Region || c.rem.Fee <= 0 || ob.reversed[c.id] {
					continue
				}
				d := c.rem
				d.Fee, d.Reverses = -c.rem.Fee, c.id.String()
				out = append(out, plan{order: oid, consumer: ob.auth.consumer, data: d})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].order != out[j].order {
			return out[i].order < out[j].order
		}
		return out[i].data.Ref+out[i].data.Reverses < out[j].data.Ref+out[j].data.Reverses
	})
	return out
}

// step returns the latest reminder of the schedule whose time has come at
// now for an instalment due at due, and that time: a reminder superseded
// by a later one (a region that was down through it) is not sent late.
func (r *Reminders) step(due, now time.Time) (string, time.Time) {
	s := r.cfg.Schedule
	day := 24 * time.Hour
	// Overdue once past the grace period, as the score counts it.
	if at := due.Add(r.cfg.Grace + time.Millisecond); s.Overdue && !now.Before(at) {
		return StepOverdue, at
	}
	if s.AtDue && !now.Before(due) {
		return StepDue, due
	}
	if at := due.Add(-time.Duration(s.DaysBefore) * day); s.DaysBefore > 0 && !now.Before(at) && now.Before(due) {
		return StepBefore, at
	}
	return "", time.Time{}
}

// captureOrigin is the region that wrote the capture of op (the first, if
// two did).
func (ob *orderBook) captureOrigin(op string) string {
	var first *fact
	for _, f := range ob.facts {
		if f.kind == checkout.KindOrderCaptured && f.op == op && (first == nil || f.pos.Less(first.pos)) {
			f := f
			first = &f
		}
	}
	if first == nil {
		return ""
	}
	return string(first.pos.Origin)
}

// takeoverRank is self's place in the line of regions that write the
// reminder ref when origin has not: 1 for the first. The line is a
// deterministic shuffle of the regions other than origin, different for
// every reminder, as the outbox's takeover line is for every message.
func takeoverRank(ref, origin, self string, regions []string) int {
	type cand struct {
		region string
		key    [32]byte
	}
	var cs []cand
	for _, r := range regions {
		if r != origin {
			cs = append(cs, cand{r, sha256.Sum256([]byte(ref + "\x00" + r))})
		}
	}
	sort.Slice(cs, func(i, j int) bool { return string(cs[i].key[:]) < string(cs[j].key[:]) })
	for i, c := range cs {
		if c.region == self {
			return i + 1
		}
	}
	return len(cs) + 1
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("invoice: marshal %T: %v", v, err)) // only our own plain structs
	}
	return b
}
