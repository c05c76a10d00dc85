package settlement

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"time"

	"kassa/ledger"
)

// The kinds a report reads, as checkout writes them (checkout's
// KindOrderCaptured and KindOrderRefunded; not imported, so that checkout
// may import this package).
const (
	kindCaptured = "order.captured"
	kindRefunded = "order.refunded"
)

// MaxDays is the longest range a report covers, from and to included.
const MaxDays = 92

// MaxAmount bounds the amount of one entry a report adds up; an entry
// claiming more is malformed and skipped, so sums cannot overflow.
const MaxAmount = 1 << 50

// DateLayout is how days are written: "2006-01-02", in UTC.
const DateLayout = time.DateOnly

// Ref is the ledger ref under which the captures and refunds of merchant on
// day ("YYYY-MM-DD") are found.
func Ref(merchant, day string) string { return "settle:" + merchant + ":" + day }

// Row is a merchant's settlement for one day in one currency: amounts in
// minor units of Currency.
type Row struct {
	Object   string `json:"object"` // "settlement"
	Merchant string `json:"merchant"`
	Date     string `json:"date"` // YYYY-MM-DD
	Currency string `json:"currency"`
	// Captured and Refunded are the sums of the day's captures and
	// refunds; Captures and Refunds how many there were.
	Captured int64 `json:"captured"`
	Refunded int64 `json:"refunded"`
	Captures int   `json:"captures"`
	Refunds  int   `json:"refunds"`
	// Fees are the captures' fees, FeeVAT the VAT on them.
	Fees   int64 `json:"fees"`
	FeeVAT int64 `json:"fee_vat"`
	// Net is what is payable to the merchant: Captured - Refunded - Fees -
	// FeeVAT (negative when refunds exceed it).
	Net int64 `json:"net"`
}

// Cursor names the row within one merchant's report: "YYYY-MM-DD:CUR".
// Cursors of one merchant's rows sort as the rows do.
func (r Row) Cursor() string { return r.Date + ":" + r.Currency }

// Range is the days of a report, From and To included, UTC midnights.
type Range struct {
	From, To time.Time
}

// Days returns the range's days as "YYYY-MM-DD", in order.
func (rg Range) Days() []string {
	var days []string
	for d := rg.From; !d.After(rg.To); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(DateLayout))
	}
	return days
}

// RangeError says which query field of a report's range is wrong.
type RangeError struct {
	Field   string // "from", "to" or "starting_after"
	Message string
}

func (e *RangeError) Error() string { return "settlement: " + e.Field + ": " + e.Message }

// ParseDay reads a "YYYY-MM-DD" day; field names it in the error.
func ParseDay(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, &RangeError{field, "is required (YYYY-MM-DD)"}
	}
	d, err := time.Parse(DateLayout, s)
	if err != nil || d.Format(DateLayout) != s {
		return time.Time{}, &RangeError{field, "must be a date written YYYY-MM-DD"}
	}
	return d, nil
}

// ParseRange reads a report's from and to ("YYYY-MM-DD", both included).
// It returns a *RangeError naming the field when one is missing or
// malformed, when to is before from, or when the range is longer than
// MaxDays.
func ParseRange(from, to string) (Range, error) {
	f, err := ParseDay("from", from)
	if err != nil {
		return Range{}, err
	}
	t, err := ParseDay("to", to)
	if err != nil {
		return Range{}, err
	}
	if t.Before(f) {
		return Range{}, &RangeError{"to", "must not be before from"}
	}
	if t.Sub(f) >= MaxDays*24*time.Hour {
		return Range{}, &RangeError{"to", fmt.Sprintf("the range may be at most %d days, from and to included", MaxDays)}
	}
	return Range{From: f, To: t}, nil
}

var cursorRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}:[A-Z]{3}$`)

// ParseCursor checks a cursor as Row.Cursor writes it; it returns a
// *RangeError naming field otherwise.
func ParseCursor(field, s string) error {
	if !cursorRe.MatchString(s) {
		return &RangeError{field, "must be the cursor of a row, its date and currency (YYYY-MM-DD:SEK)"}
	}
	if _, err := ParseDay(field, s[:10]); err != nil {
		return &RangeError{field, "must be the cursor of a row, its date and currency (YYYY-MM-DD:SEK)"}
	}
	return nil
}

// Entries is what a report needs of the ledger.
type Entries interface {
	EntriesByRef(ctx context.Context, ref string) ([]ledger.Entry, error)
}

// Reports makes settlement reports from a region's ledger. It is safe for
// concurrent use.
type Reports struct {
	entries  Entries
	settings Settings
}

// New returns the reports over entries (a *ledger.Store) with the fees of
// s, which must be valid (Settings.Validate).
func New(entries Entries, s Settings) *Reports {
	return &Reports{entries: entries, settings: s}
}

// Settings returns the fee settings the reports use.
func (r *Reports) Settings() Settings { return r.settings }

// Report returns merchant's rows for every day of rg with a capture or a
// refund, sorted by day and currency. It reads one ledger ref per day and
// returns the ledger's error if a read fails.
func (r *Reports) Report(ctx context.Context, merchant string, rg Range) ([]Row, error) {
	var all []ledger.Entry
	for _, day := range rg.Days() {
		es, err := r.entries.EntriesByRef(ctx, Ref(merchant, day))
		if err != nil {
			return nil, fmt.Errorf("settlement: read %s: %w", Ref(merchant, day), err)
		}
		for _, e := range es {
			if d, ok := decode(e); ok && d.Day == day {
				all = append(all, e)
			}
		}
	}
	return r.settings.Rows(merchant, rg, all), nil
}

// entryData is the part of a capture's or refund's data a report reads.
type entryData struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Merchant string `json:"merchant"`
	Method   string `json:"method"`
	Day      string `json:"day"`
}

var currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)

// decode reads a capture's or refund's data, and false for an entry of
// another kind or without the documented fields.
func decode(e ledger.Entry) (entryData, bool) {
	if e.Kind != kindCaptured && e.Kind != kindRefunded {
		return entryData{}, false
	}
	var d entryData
	if json.Unmarshal(e.Data, &d) != nil || d.Amount <= 0 || d.Amount > MaxAmount || d.Merchant == "" ||
		!currencyRe.MatchString(d.Currency) {
		return entryData{}, false
	}
	if t, err := time.Parse(DateLayout, d.Day); err != nil || t.Format(DateLayout) != d.Day {
		return entryData{}, false
	}
	return d, true
}

// Rows folds entries into merchant's rows for the days of rg: entries of
// other merchants, of days outside rg, of other kinds or without the
// documented fields are left out, and so are captures of a method without
// fee settings. The result depends on the set of entries only (each entry
// counted once, by id), sorted by day and currency.
func (s Settings) Rows(merchant string, rg Range, entries []ledger.Entry) []Row {
	from, to := rg.From.Format(DateLayout), rg.To.Format(DateLayout)
	type key struct{ day, currency string }
	rows := map[key]*Row{}
	seen := map[ledger.Hash]bool{}
	for _, e := range entries {
		d, ok := decode(e)
		if !ok || d.Merchant != merchant || d.Day < from || d.Day > to {
			continue
		}
		var fee Fee
		if e.Kind == kindCaptured {
			if fee, ok = s.FeeFor(d.Method); !ok {
				continue
			}
		}
		id := e.ID()
		if seen[id] {
			continue
		}
		seen[id] = true
		k := key{d.Day, d.Currency}
		row := rows[k]
		if row == nil {
			row = &Row{Object: "settlement", Merchant: merchant, Date: d.Day, Currency: d.Currency}
			rows[k] = row
		}
		if e.Kind == kindCaptured {
			f := fee.On(d.Amount)
			row.Captured += d.Amount
			row.Captures++
			row.Fees += f
			row.FeeVAT += s.VAT(f)
		} else {
			row.Refunded += d.Amount
			row.Refunds++
		}
	}
	out := make([]Row, 0, len(rows))
	for _, row := range rows {
		row.Net = row.Captured - row.Refunded - row.Fees - row.FeeVAT
		out = append(out, *row)
	}
	Sort(out)
	return out
}

// Sort orders rows by merchant, day and currency: the order of every
// report.
func Sort(rows []Row) {
	slices.SortFunc(rows, func(a, b Row) int {
		return cmp.Or(cmp.Compare(a.Merchant, b.Merchant), cmp.Compare(a.Date, b.Date), cmp.Compare(a.Currency, b.Currency))
	})
}

// CSVHeader is the first line of WriteCSV's output.
var CSVHeader = []string{"merchant", "date", "currency", "captured", "refunded", "captures", "refunds", "fees", "fee_vat", "net"}

// WriteCSV writes rows as CSV: CSVHeader, then one line per row in the
// order given, amounts in minor units.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	cw.Write(CSVHeader)
	for _, r := range rows {
		cw.Write([]string{r.Merchant, r.Date, r.Currency,
			strconv.FormatInt(r.Captured, 10), strconv.FormatInt(r.Refunded, 10),
			strconv.Itoa(r.Captures), strconv.Itoa(r.Refunds),
			strconv.FormatInt(r.Fees, 10), strconv.FormatInt(r.FeeVAT, 10), strconv.FormatInt(r.Net, 10)})
	}
	cw.Flush()
	return cw.Error()
}
