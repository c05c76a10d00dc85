package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// Line is one line of the acquirer's settlement file for a day: a
// succeeded capture or refund. Line is its 1-based line number in the file
// and Raw its text, so staff can find it.
type Line struct {
	Line           int    `json:"line"`
	Raw            string `json:"raw"`
	Type           string `json:"type"`
	OperationID    string `json:"operation_id"`
	Payment        string `json:"payment"`
	Reference      string `json:"reference"`
	IdempotencyKey string `json:"idempotency_key"`
	Amount         int64  `json:"amount"`
	Currency       string `json:"currency"`
}

// Operation is one card capture or refund as kassa's ledger records it.
type Operation struct {
	// Entry is the id of the order.captured or order.refunded entry.
	Entry string `json:"entry"`
	// Key is the idempotency key kassa sent the acquirer.
	Key       string `json:"key"`
	Type      string `json:"type"` // capture or refund
	Order     string `json:"order"`
	Operation string `json:"operation,omitempty"` // the acquirer's operation id
	Payment   string `json:"payment,omitempty"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
}

// Kind is what a difference is.
type Kind string

// The kinds of difference.
const (
	// MissingInLedger: a file line that no ledger operation matches.
	MissingInLedger Kind = "missing_in_ledger"
	// MissingAtAcquirer: a ledger operation that no file line matches.
	MissingAtAcquirer Kind = "missing_at_acquirer"
	// AmountMismatch, CurrencyMismatch, TypeMismatch: a line and an
	// operation with the same key that disagree.
	AmountMismatch   Kind = "amount_mismatch"
	CurrencyMismatch Kind = "currency_mismatch"
	TypeMismatch     Kind = "type_mismatch"
	// DuplicateLine: a second line with a key an earlier line has.
	DuplicateLine Kind = "duplicate_line"
)

// Difference is one disagreement between the file and the ledger.
// Expected is what kassa's ledger holds and Actual what the acquirer's file
// says: amounts in minor units of Currency ("1000"), an operation as its
// type and amount ("capture 1000"), a currency or a type as such, and for a
// duplicate line the line numbers ("line 3", "line 7"). Empty is nothing.
type Difference struct {
	ID       string `json:"id"`
	Kind     Kind   `json:"kind"`
	Line     int    `json:"line,omitempty"`
	Raw      string `json:"raw,omitempty"`
	Key      string `json:"key,omitempty"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
	Currency string `json:"currency,omitempty"`
}

// Totals are the money of one currency on one side.
type Totals struct {
	Captures int   `json:"captures"`
	Captured int64 `json:"captured"`
	Refunds  int   `json:"refunds"`
	Refunded int64 `json:"refunded"`
}

// Result is what matching a day found.
type Result struct {
	Lines       int               `json:"lines"`
	Matched     int               `json:"matched"`
	Differences []Difference      `json:"differences"`
	File        map[string]Totals `json:"file"`
	Ledger      map[string]Totals `json:"ledger"`
}

// MaxRaw is how much of a line's text a difference keeps.
const MaxRaw = 512

// Match compares a day's settlement lines with the ledger's operations of
// that day, one to one by idempotency key. Lines are taken in file order
// and operations in the order given (the ledger's fold order), so the
// result, the order of its differences and their ids are a function of
// its inputs. Differences about lines come first, in line order, then
// the operations no line matched.
func Match(day string, lines []Line, ops []Operation) Result {
	res := Result{Lines: len(lines), Differences: []Difference{}, File: map[string]Totals{}, Ledger: map[string]Totals{}}
	byKey := map[string][]int{} // key -> indexes into ops, in order
	for i, op := range ops {
		addTotals(res.Ledger, op.Type, op.Currency, op.Amount)
		if op.Key != "" {
			byKey[op.Key] = append(byKey[op.Key], i)
		}
	}
	used := make([]bool, len(ops))
	firstLine := map[string]int{}
	ids := newIDs(day)
	for _, l := range lines {
		addTotals(res.File, l.Type, l.Currency, l.Amount)
		raw := l.Raw
		if len(raw) > MaxRaw {
			raw = raw[:MaxRaw]
		}
		diff := func(kind Kind, expected, actual, currency, about string) {
			res.Differences = append(res.Differences, Difference{ID: ids.next(kind, l.IdempotencyKey, about, expected, actual),
				Kind: kind, Line: l.Line, Raw: raw, Key: l.IdempotencyKey, Expected: expected, Actual: actual, Currency: currency})
		}
		if first, seen := firstLine[l.IdempotencyKey]; seen && l.IdempotencyKey != "" {
			diff(DuplicateLine, "line "+strconv.Itoa(first), "line "+strconv.Itoa(l.Line), l.Currency, l.OperationID)
			continue
		}
		if l.IdempotencyKey != "" {
			firstLine[l.IdempotencyKey] = l.Line
		}
		idx := byKey[l.IdempotencyKey]
		if len(idx) == 0 {
			diff(MissingInLedger, "", describe(l.Type, l.Amount), l.Currency, "op:"+l.OperationID)
			continue
		}
		op := ops[idx[0]]
		used[idx[0]] = true
		ok := true
		if op.Type != l.Type {
			diff(TypeMismatch, op.Type, l.Type, op.Currency, op.Entry)
			ok = false
		}
		if op.Currency != l.Currency {
			diff(CurrencyMismatch, op.Currency, l.Currency, op.Currency, op.Entry)
			ok = false
		}
		if op.Amount != l.Amount {
			diff(AmountMismatch, strconv.FormatInt(op.Amount, 10), strconv.FormatInt(l.Amount, 10), op.Currency, op.Entry)
			ok = false
		}
		if ok {
			res.Matched++
		}
	}
	for i, op := range ops {
		if used[i] {
			continue
		}
		res.Differences = append(res.Differences, Difference{ID: ids.next(MissingAtAcquirer, op.Key, op.Entry, describe(op.Type, op.Amount), ""),
			Kind: MissingAtAcquirer, Key: op.Key, Expected: describe(op.Type, op.Amount), Currency: op.Currency})
	}
	return res
}

func describe(typ string, amount int64) string { return typ + " " + strconv.FormatInt(amount, 10) }

func addTotals(m map[string]Totals, typ, currency string, amount int64) {
	t := m[currency]
	switch typ {
	case "capture":
		t.Captures++
		t.Captured += amount
	case "refund":
		t.Refunds++
		t.Refunded += amount
	default:
		return // neither: counted nowhere, reported by the match
	}
	m[currency] = t
}

// ids derives difference ids. Two differences with the same description
// (a key listed three times with the same operation) are told apart by
// how many came before them, so the ids of a day's run are distinct and
// the same in every run over the same inputs.
type ids struct {
	day  string
	seen map[string]int
}

func newIDs(day string) *ids { return &ids{day: day, seen: map[string]int{}} }

func (d *ids) next(kind Kind, key, about, expected, actual string) string {
	desc := strings.Join([]string{d.day, string(kind), key, about, expected, actual}, "\x00")
	n := d.seen[desc]
	d.seen[desc] = n + 1
	sum := sha256.Sum256([]byte(desc + "\x00" + strconv.Itoa(n)))
	return "rd_" + hex.EncodeToString(sum[:10])
}
