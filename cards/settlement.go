package cards

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SettlementLine is one line of an acquirer's settlement file: a capture
// or refund that succeeded on Date (UTC), which the acquirer pays out or
// takes back.
type SettlementLine struct {
	Date           string // YYYY-MM-DD, the UTC date of CreatedAt
	Type           string // OperationCapture or OperationRefund
	OperationID    string
	Payment        string
	Reference      string
	IdempotencyKey string
	Amount         int64 // minor units, positive
	Currency       string
	CreatedAt      time.Time // UTC
	Line           int       // 1-based line number in the file; the header is line 1
	Raw            string    // the line's text, without its line ending
}

// SettlementError says which line of a settlement file is wrong and why.
type SettlementError struct {
	Line   int    // 1-based
	Raw    string // the line's text
	Reason string
}

func (e *SettlementError) Error() string {
	return fmt.Sprintf("cards: settlement file line %d: %s", e.Line, e.Reason)
}

// maxSettlementBody bounds a settlement file the client reads: about
// 400,000 lines.
const maxSettlementBody = 64 << 20

// ParseSettlement reads a settlement file: the header
//
//	date,type,operation_id,payment_id,reference,idempotency_key,amount,currency,created_at
//
// then one CSV record per line (lines end in "\n", optionally "\r\n"; a
// quoted field may not span lines). Every field is checked: date a real
// YYYY-MM-DD, type capture or refund, the ids and key 1 to 255 printable
// ASCII characters without spaces, reference at most 255 printable
// characters, amount a positive integer without sign or leading zeros,
// currency three capital letters, created_at RFC 3339 in UTC on date. The
// first bad line ends the parse with a *SettlementError naming it. The
// same operation listed twice is not an error here: it is a difference for
// a reconciler to find.
func ParseSettlement(r io.Reader) ([]SettlementLine, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	var lines []SettlementLine
	n := 0
	for sc.Scan() {
		n++
		raw := strings.TrimSuffix(sc.Text(), "\r")
		if n == 1 {
			if raw != settlementHeader {
				return nil, &SettlementError{Line: 1, Raw: raw, Reason: "the header is not " + settlementHeader}
			}
			continue
		}
		l, reason := parseSettlementLine(raw)
		if reason != "" {
			return nil, &SettlementError{Line: n, Raw: raw, Reason: reason}
		}
		l.Line, l.Raw = n, raw
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		reason := err.Error()
		if errors.Is(err, bufio.ErrTooLong) {
			reason = "the line is over 64 KiB"
		}
		return nil, &SettlementError{Line: n + 1, Reason: reason}
	}
	if n == 0 {
		return nil, &SettlementError{Line: 1, Reason: "the file is empty; want the header " + settlementHeader}
	}
	return lines, nil
}

// parseSettlementLine parses one line, or says what is wrong with it.
func parseSettlementLine(raw string) (l SettlementLine, reason string) {
	if raw == "" {
		return l, "the line is empty"
	}
	cr := csv.NewReader(strings.NewReader(raw))
	cr.FieldsPerRecord = 9
	f, err := cr.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return l, "not a CSV record of 9 fields: " + err.Error()
	}
	if _, err := cr.Read(); err != io.EOF {
		return l, "a quoted field spans lines"
	}
	l = SettlementLine{Date: f[0], Type: f[1], OperationID: f[2], Payment: f[3], Reference: f[4], IdempotencyKey: f[5], Currency: f[7]}
	switch {
	case !isDay(l.Date):
		return l, fmt.Sprintf("date %q is not a YYYY-MM-DD date", l.Date)
	case l.Type != OperationCapture && l.Type != OperationRefund:
		return l, fmt.Sprintf("type %q is not capture or refund", l.Type)
	case checkIdempotencyKey(l.OperationID) != "":
		return l, "operation_id: " + checkIdempotencyKey(l.OperationID)
	case checkIdempotencyKey(l.Payment) != "":
		return l, "payment_id: " + checkIdempotencyKey(l.Payment)
	case checkReference(l.Reference) != "":
		return l, "reference: " + checkReference(l.Reference)
	case checkIdempotencyKey(l.IdempotencyKey) != "":
		return l, "idempotency_key: " + checkIdempotencyKey(l.IdempotencyKey)
	case !isCurrency(l.Currency):
		return l, fmt.Sprintf("currency %q is not three capital letters", l.Currency)
	}
	amount := f[6]
	if amount == "" || amount[0] == '0' || !allDigits(amount) {
		return l, fmt.Sprintf("amount %q is not a positive integer", amount)
	}
	if l.Amount, err = strconv.ParseInt(amount, 10, 64); err != nil {
		return l, fmt.Sprintf("amount %q is out of range", amount)
	}
	t, err := time.Parse(time.RFC3339Nano, f[8])
	if err != nil || !strings.HasSuffix(f[8], "Z") {
		return l, fmt.Sprintf("created_at %q is not an RFC 3339 time in UTC", f[8])
	}
	l.CreatedAt = t.UTC()
	if d := l.CreatedAt.Format(time.DateOnly); d != l.Date {
		return l, fmt.Sprintf("created_at is on %s, not on date %s", d, l.Date)
	}
	return l, ""
}

// Settlement fetches and parses the acquirer's settlement file for day
// (YYYY-MM-DD, UTC): every capture and refund that succeeded that day, in
// the order they happened. Errors wrap ErrUnavailable or ErrRejected when
// the file could not be fetched, or are a *SettlementError naming the first
// bad line (also a line of another day). It changes nothing. Safe for
// concurrent use.
func (c *Client) Settlement(ctx context.Context, day string) ([]SettlementLine, error) {
	if !isDay(day) {
		return nil, fmt.Errorf("cards: settlement: day %q is not YYYY-MM-DD: %w", day, ErrRejected)
	}
	b, err := c.do(ctx, http.MethodGet, c.base+"/settlements/"+day+".csv", "", nil, maxSettlementBody)
	if err != nil {
		return nil, fmt.Errorf("cards: settlement %s: %w", day, err)
	}
	lines, err := ParseSettlement(strings.NewReader(string(b)))
	if err != nil {
		return nil, fmt.Errorf("cards: settlement %s: %w", day, err)
	}
	for _, l := range lines {
		if l.Date != day {
			return nil, fmt.Errorf("cards: settlement %s: %w", day,
				&SettlementError{Line: l.Line, Raw: l.Raw, Reason: "the line is of " + l.Date})
		}
	}
	return lines, nil
}
