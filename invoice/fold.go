package invoice

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"time"

	"kassa/checkout"
	"kassa/ledger"
)

// Entry kinds written by the reminder schedule.
const (
	// KindReminder asks for a reminder email about one instalment of an
	// invoice (subject: the order); with a fee, its postings add the fee
	// to the order's debt.
	KindReminder = "invoice.reminder"
	// KindReminderReversed takes back the fee of a duplicate reminder
	// (two regions wrote the same one during a partition).
	KindReminderReversed = "invoice.reminder_reversed"
)

// The reminder steps, in the order they are sent.
const (
	StepBefore  = "before"
	StepDue     = "due"
	StepOverdue = "overdue"
)

// reminderData is the payload of KindReminder and KindReminderReversed.
type reminderData struct {
	Invoice    string `json:"invoice"`
	Instalment int    `json:"instalment"`
	Step       string `json:"step"`
	// Fee is what the entry adds to the order's debt (checkout counts it);
	// negative in a reversal.
	Fee      int64  `json:"fee,omitempty"`
	Currency string `json:"currency,omitempty"`
	// Ref is the reminder (ReminderRef); the ledger indexes it, so the
	// copies of one reminder are found in one lookup. A reversal's ref is
	// the reminder's too, and Reverses names the copy it takes back.
	Ref      string `json:"ref"`
	Reverses string `json:"reverses,omitempty"`
}

// ReminderRef names one reminder: the same in every region, so two
// copies of it written during a partition are found together.
func ReminderRef(invoice string, instalment int, step string) string {
	return "reminder:" + invoice + ":" + strconv.Itoa(instalment) + ":" + step
}

// authFact is what an order's authorization says about whom to invoice.
type authFact struct {
	pos       ledger.Position
	merchant  string
	consumer  checkout.ConsumerID
	given     string
	masked    string
	contact   string // sealed
	locale    string
	method    string
	currency  string
	reference string // the merchant's
}

// fact is one entry that moves an order's invoices.
type fact struct {
	pos    ledger.Position
	id     ledger.Hash
	kind   string
	op     string // a capture's operation
	amount int64  // captured; debt a refund or repayment settled; a fee
	due    []checkout.Due
	rem    reminderData
	cur    string
	method string
}

// orderBook is what the book keeps of one credit order: the facts, and the
// invoices derived from them whenever they change.
type orderBook struct {
	id       checkout.OrderID
	auth     *authFact
	facts    map[ledger.Hash]fact
	invoices []Invoice
	// reminders: the copies of each reminder (by ref), lowest id first;
	// reversed: the copies whose fee a reversal took back.
	reminders map[string][]fact
	reversed  map[ledger.Hash]bool
}

// factOf reads what e says about an order's invoices, if anything.
func factOf(e *ledger.Entry) (fact, *authFact, bool) {
	f := fact{pos: e.Position(), id: e.ID(), kind: e.Kind}
	switch e.Kind {
	case checkout.KindOrderAuthorized:
		var a struct {
			Merchant          string                 `json:"merchant"`
			MerchantReference string                 `json:"merchant_reference"`
			Method            string                 `json:"method"`
			Currency          string                 `json:"currency"`
			Consumer          *checkout.ConsumerView `json:"consumer"`
			Credit            *checkout.CreditHold   `json:"credit"`
			Contact           string                 `json:"contact"`
			Locale            string                 `json:"locale"`
		}
		if json.Unmarshal(e.Data, &a) != nil || a.Credit == nil || a.Consumer == nil {
			return f, nil, false
		}
		return f, &authFact{pos: f.pos, merchant: a.Merchant, consumer: a.Consumer.ID, given: a.Consumer.GivenName,
			masked: a.Consumer.Email, contact: a.Contact, locale: a.Locale, method: a.Method, currency: a.Currency,
			reference: a.MerchantReference}, true
	case checkout.KindOrderCaptured, checkout.KindOrderRefunded, checkout.KindOrderRepaid:
		var d struct {
			ID       string         `json:"id"`
			Amount   int64          `json:"amount"`
			Consumer string         `json:"consumer"`
			Due      []checkout.Due `json:"due"`
			Debt     int64          `json:"debt"`
			Method   string         `json:"method"`
			Currency string         `json:"currency"`
		}
		if json.Unmarshal(e.Data, &d) != nil || d.Consumer == "" {
			return f, nil, false // not a credit order
		}
		f.op, f.cur, f.method = d.ID, d.Currency, d.Method
		if e.Kind == checkout.KindOrderCaptured {
			if len(d.Due) == 0 || d.Amount <= 0 {
				return f, nil, false
			}
			f.amount, f.due = d.Amount, d.Due
		} else {
			f.amount = d.Debt
		}
		return f, nil, true
	case KindReminder, KindReminderReversed:
		if json.Unmarshal(e.Data, &f.rem) != nil || f.rem.Invoice == "" || f.rem.Ref == "" {
			return f, nil, false
		}
		f.amount = f.rem.Fee
		return f, nil, true
	}
	return f, nil, false
}

// foldKinds are the entry kinds the book reads.
var foldKinds = []string{checkout.KindOrderAuthorized, checkout.KindOrderCaptured, checkout.KindOrderRefunded,
	checkout.KindOrderRepaid, KindReminder, KindReminderReversed}

// add folds in one fact; it reports whether anything changed.
func (ob *orderBook) add(f fact, a *authFact) bool {
	if a != nil {
		// The first authorization wins, as in checkout's fold.
		if ob.auth == nil || a.pos.Less(ob.auth.pos) {
			ob.auth = a
			return true
		}
		return false
	}
	if _, dup := ob.facts[f.id]; dup {
		return false
	}
	ob.facts[f.id] = f
	switch f.kind {
	case KindReminder:
		cs := ob.reminders[f.rem.Ref]
		i := sort.Search(len(cs), func(i int) bool { return string(f.id[:]) < string(cs[i].id[:]) })
		ob.reminders[f.rem.Ref] = slices.Insert(cs, i, f)
	case KindReminderReversed:
		if h, err := ledger.ParseHash(f.rem.Reverses); err == nil {
			ob.reversed[h] = true
		}
	}
	return true
}

// item is one amount an order's invoices ask for: an instalment's
// principal or the fees charged on it.
type item struct {
	inv, inst int
	fee       bool
	due       int64
	amount    int64
	credited  int64
	paid      int64
}

func (it *item) open() int64 { return it.amount - it.credited - it.paid }

// derive computes the order's invoices from its facts. It is a function
// of the set of facts: captures are grouped by operation and amounts are
// sums, so neither arrival order nor duplicates change it.
//
// Refunds and repayments settle the debt oldest due first, as checkout's
// debt and scoring's overdue see it, so what the invoice page, the
// reminders and the score call overdue agree. Refunds credit principal
// before fees (a return takes back the goods' price, not the reminder
// fee) and then fees; repayments pay each instalment's principal, then its
// fees, oldest first. What is left of a repayment after everything is
// paid is not applied (Paid never exceeds what was invoiced with fees).
func (ob *orderBook) derive(cfg *BookConfig) []Invoice {
	facts := make([]fact, 0, len(ob.facts))
	for _, f := range ob.facts {
		facts = append(facts, f)
	}
	sort.Slice(facts, func(i, j int) bool { return facts[i].pos.Less(facts[j].pos) })
	var invs []Invoice
	byOp := map[string]int{}
	var credit, pay int64
	fees := map[[2]int]int64{}
	for _, f := range facts {
		switch f.kind {
		case checkout.KindOrderCaptured:
			i, ok := byOp[f.op]
			if !ok {
				i = len(invs)
				byOp[f.op] = i
				invs = append(invs, ob.newInvoice(cfg, f))
				continue
			}
			// One operation written twice (a capture retried in two
			// regions during a partition): checkout counts both, so the
			// invoice asks for both.
			inv := &invs[i]
			inv.Amount += f.amount
			for k, d := range f.due {
				if k < len(inv.Instalments) {
					inv.Instalments[k].Amount += d.Amount
				}
			}
		case checkout.KindOrderRefunded:
			credit += f.amount
		case checkout.KindOrderRepaid:
			pay += f.amount
		}
	}
	ids := map[string]int{}
	for i := range invs {
		ids[invs[i].ID] = i
	}
	for _, f := range facts {
		if f.kind != KindReminder && f.kind != KindReminderReversed {
			continue
		}
		if i, ok := ids[f.rem.Invoice]; ok && f.rem.Instalment >= 1 && f.rem.Instalment <= len(invs[i].Instalments) {
			fees[[2]int{i, f.rem.Instalment - 1}] += f.amount
		}
	}
	var items []item
	for i := range invs {
		for k, in := range invs[i].Instalments {
			items = append(items, item{inv: i, inst: k, due: in.DueAt.UnixMilli(), amount: in.Amount})
			if fee := fees[[2]int{i, k}]; fee > 0 {
				items = append(items, item{inv: i, inst: k, fee: true, due: in.DueAt.UnixMilli(), amount: fee})
			}
		}
	}
	sort.SliceStable(items, func(a, b int) bool {
		x, y := items[a], items[b]
		if x.due != y.due {
			return x.due < y.due
		}
		if invs[x.inv].ID != invs[y.inv].ID {
			return invs[x.inv].ID < invs[y.inv].ID
		}
		if x.inst != y.inst {
			return x.inst < y.inst
		}
		return !x.fee && y.fee
	})
	for _, fee := range []bool{false, true} {
		for k := range items {
			if it := &items[k]; it.fee == fee {
				c := min(credit, it.open())
				it.credited += c
				credit -= c
			}
		}
	}
	for k := range items {
		it := &items[k]
		p := min(pay, it.open())
		it.paid += p
		pay -= p
	}
	for _, it := range items {
		inv := &invs[it.inv]
		inv.Credited += it.credited
		inv.Paid += it.paid
		if it.fee {
			inv.Fees += it.amount
		} else {
			inv.Instalments[it.inst].Paid += it.credited + it.paid
		}
	}
	for i := range invs {
		inv := &invs[i]
		inv.Owed = inv.Amount + inv.Fees - inv.Credited - inv.Paid
	}
	sort.SliceStable(invs, func(a, b int) bool {
		x, y := invs[a].Instalments[0].DueAt, invs[b].Instalments[0].DueAt
		if !x.Equal(y) {
			return x.Before(y)
		}
		return invs[a].Number < invs[b].Number
	})
	return invs
}

// newInvoice starts the invoice of a capture.
func (ob *orderBook) newInvoice(cfg *BookConfig, f fact) Invoice {
	inv := Invoice{
		ID: ID(f.op), Number: Number(f.pos.Origin, f.pos.Seq), Order: ob.id, Capture: f.op,
		Method: f.method, Currency: f.cur, IssuedAt: f.pos.HLC.Time(), Amount: f.amount,
		Reference: Reference(f.op), Payee: cfg.Payee,
	}
	inv.Token = Token(cfg.LinkKey, inv.ID)
	var last time.Time
	for k, d := range f.due {
		at := time.UnixMilli(d.At).UTC()
		inv.Instalments = append(inv.Instalments, Instalment{Number: k + 1, DueAt: at, Amount: d.Amount})
		if at.After(last) {
			last = at
		}
	}
	inv.LinkExpiresAt = last.Add(time.Duration(cfg.LinkDays) * 24 * time.Hour)
	if a := ob.auth; a != nil {
		inv.Merchant, inv.Consumer, inv.GivenName, inv.Locale = a.merchant, a.consumer, a.given, a.locale
		if inv.Method == "" {
			inv.Method = a.method
		}
		if inv.Currency == "" {
			inv.Currency = a.currency
		}
	}
	return inv
}

// status says where inv stands at now: overdue once an instalment is
// unsettled grace after its due date.
func status(inv *Invoice, now time.Time, grace time.Duration) Status {
	if inv.Owed <= 0 {
		if inv.Credited > 0 {
			return Credited
		}
		return Paid
	}
	for _, in := range inv.Instalments {
		if in.Paid < in.Amount && now.Sub(in.DueAt) > grace {
			return Overdue
		}
	}
	return Open
}
