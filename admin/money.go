package admin

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"kassa/checkout"
)

// Staff read and type amounts in the currency's major unit ("12.50 SEK"),
// as on a receipt; the API and the ledger count minor units. These helpers
// convert between the two without floats.

// digits is how many decimals the currency's minor unit has (checkout's
// table, so staff and shoppers see the same amounts).
func digits(currency string) int { return checkout.MinorDigits(currency) }

// formatAmount writes minor units in the major unit without the currency:
// 123456 SEK is "1,234.56".
func formatAmount(amount int64, currency string) string {
	d := digits(currency)
	sign := ""
	if amount < 0 {
		sign = "-"
		amount = -amount // an int64 minimum never comes from the ledger's sums of bounded amounts
	}
	unit := int64(1)
	for range d {
		unit *= 10
	}
	whole := strconv.FormatInt(amount/unit, 10)
	var b strings.Builder
	b.WriteString(sign)
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if d > 0 {
		frac := strconv.FormatInt(amount%unit, 10)
		b.WriteByte('.')
		b.WriteString(strings.Repeat("0", d-len(frac)))
		b.WriteString(frac)
	}
	return b.String()
}

// money is formatAmount with the currency code after it.
func money(amount int64, currency string) string {
	return formatAmount(amount, currency) + "\u00a0" + currency
}

// plainAmount is an amount as a form field's value: no thousands
// separators, so it parses back as it is.
func plainAmount(amount int64, currency string) string {
	return strings.ReplaceAll(formatAmount(amount, currency), ",", "")
}

// maxAmount bounds what a form may ask for: 10^10 minor units, as the
// merchant API does.
const maxAmount = 10_000_000_000

var errAmount = errors.New("admin: not an amount")

// formAmount reads a form's amount. The pages' forms say amount_unit=major
// and take what staff type ("12.50"); a form posted without it (a script)
// gives minor units, as everywhere else in kassa's interface.
func formAmount(r *http.Request, raw, currency string) (int64, error) {
	if r.PostForm.Get("amount_unit") == "major" {
		return parseAmount(raw, currency)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil || n <= 0 || n > maxAmount {
		return 0, errAmount
	}
	return n, nil
}

// parseAmount reads an amount typed in the major unit: "12", "12.5",
// "12.50" or, with a decimal comma, "12,50"; spaces between digit groups
// are ignored. A thousands separator is refused rather than guessed at
// ("1,000" is not 1000 and not 1.000), as is anything with more decimals
// than the currency has, a sign, or zero.
func parseAmount(s, currency string) (int64, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\u00a0', '\u202f', '\u2009', '_':
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if strings.Contains(s, ",") {
		if strings.Contains(s, ".") || strings.Count(s, ",") > 1 {
			return 0, errAmount
		}
		s = strings.Replace(s, ",", ".", 1)
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	d := digits(currency)
	if whole == "" && frac == "" || len(whole) > 11 || len(frac) > d || (hasFrac && frac == "") {
		return 0, errAmount
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, errAmount
		}
	}
	var n int64
	for _, r := range whole {
		n = n*10 + int64(r-'0')
	}
	for i := range d {
		n *= 10
		if i < len(frac) {
			n += int64(frac[i] - '0')
		}
	}
	if n <= 0 || n > maxAmount {
		return 0, errAmount
	}
	return n, nil
}
