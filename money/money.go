package money

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"
)

// nonTwo are the currencies whose ISO 4217 minor unit is not a hundredth.
// CLDR's display digits (golang.org/x/text/currency) differ from these for
// about twenty currencies (IQD, IDR, COP, ...), so they cannot define
// what an API amount of 1 means.
var nonTwo = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
}

// Digits returns how many decimals currency's minor unit has (ISO 4217):
// 2 for SEK and EUR, 0 for JPY, 3 for KWD; 2 for a code it does not know.
func Digits(currency string) int {
	if d, ok := nonTwo[currency]; ok {
		return d
	}
	return 2
}

// style is how a locale writes an amount of money.
type style struct {
	tag         language.Tag      // CLDR's grouping and decimal separator
	symbolFirst bool              // "£1.00", "€ 1,00" rather than "1,00 €"
	spaced      bool              // a space between symbol and number
	symbols     map[string]string // currency -> symbol; others show their code
}

const nbsp = "\u00a0"

// styles are the locales kassa's pages are written for, by locale or
// language.
var styles = map[string]style{
	"sv":    {tag: language.Swedish, spaced: true, symbols: map[string]string{"SEK": "kr", "EUR": "€", "GBP": "£", "USD": "US$"}},
	"nb":    {tag: language.MustParse("nb"), spaced: true, symbols: map[string]string{"NOK": "kr", "EUR": "€", "GBP": "£", "USD": "USD"}},
	"da":    {tag: language.Danish, spaced: true, symbols: map[string]string{"DKK": "kr.", "EUR": "€", "GBP": "£", "USD": "US$"}},
	"fi":    {tag: language.Finnish, spaced: true, symbols: map[string]string{"EUR": "€", "GBP": "£", "USD": "$"}},
	"de":    {tag: language.German, spaced: true, symbols: map[string]string{"EUR": "€", "GBP": "£", "USD": "$"}},
	"de-AT": {tag: language.MustParse("de-AT"), symbolFirst: true, spaced: true, symbols: map[string]string{"EUR": "€", "GBP": "£", "USD": "$"}},
	"nl":    {tag: language.Dutch, symbolFirst: true, spaced: true, symbols: map[string]string{"EUR": "€", "GBP": "£", "USD": "US$"}},
	"en-GB": {tag: language.BritishEnglish, symbolFirst: true, symbols: map[string]string{"GBP": "£", "EUR": "€", "USD": "US$"}},
	"en":    {tag: language.English, symbolFirst: true, symbols: map[string]string{"USD": "$", "EUR": "€", "GBP": "£"}},
}

// styleOf finds locale's style: the locale's own ("de-AT"), else its
// language's ("sv" for "sv-FI"), else English.
func styleOf(locale string) style {
	if s, ok := styles[locale]; ok {
		return s
	}
	lang, _, _ := strings.Cut(locale, "-")
	if s, ok := styles[lang]; ok {
		return s
	}
	return styles["en"]
}

// Format writes amount, in currency's minor units, as locale writes money:
// Format(25900, "SEK", "sv-SE") is "259,00 kr" and Format(25900, "GBP",
// "en-GB") is "£259.00". A currency without a symbol in the locale shows
// its code ("SEK 12,345.00" in en-US). Spaces inside are non-breaking, so
// an amount never wraps across lines.
func Format(amount int64, currency, locale string) string {
	st := styleOf(locale)
	sign, n := "", magnitude(amount, currency, st.tag)
	if amount < 0 {
		sign = "-"
	}
	symbol, ok := st.symbols[currency]
	if !ok {
		symbol = currency
	}
	space := ""
	if st.spaced || !ok {
		space = nbsp
	}
	if st.symbolFirst {
		return sign + symbol + space + n
	}
	return sign + n + space + symbol
}

// Number writes amount, in currency's minor units, in the major unit as
// locale writes numbers, without the currency: Number(123456, "SEK", "en")
// is "1,234.56" and Number(123456, "SEK", "sv") is "1 234,56" (with a
// non-breaking space).
func Number(amount int64, currency, locale string) string {
	n := magnitude(amount, currency, styleOf(locale).tag)
	if amount < 0 {
		return "-" + n
	}
	return n
}

// Plain writes amount, in currency's minor units, in the major unit with a
// decimal point and nothing else ("1234.56"): a form field's value, which
// Parse reads back as it is.
func Plain(amount int64, currency string) string {
	return strings.ReplaceAll(Number(amount, currency, "en"), ",", "")
}

// magnitude writes the magnitude of amount in the major unit with tag's
// grouping and decimal separator. The whole part goes through CLDR as an
// integer and the fraction is appended as digits, so no amount is ever
// rounded through a float.
func magnitude(amount int64, currency string, tag language.Tag) string {
	u := uint64(amount)
	if amount < 0 {
		u = -u // also right for math.MinInt64
	}
	d := Digits(currency)
	unit := uint64(1)
	for range d {
		unit *= 10
	}
	p := message.NewPrinter(tag)
	whole := p.Sprint(number.Decimal(u / unit))
	if d == 0 {
		return whole
	}
	frac := strconv.FormatUint(u%unit, 10)
	return whole + decimalSeparator(p) + strings.Repeat("0", d-len(frac)) + frac
}

// decimalSeparator is what p writes between the whole and the fraction,
// read from how it writes 1.0.
func decimalSeparator(p *message.Printer) string {
	s := p.Sprint(number.Decimal(1, number.Scale(1)))
	return strings.TrimSuffix(strings.TrimPrefix(s, "1"), "0")
}

// ErrSyntax is returned by Parse for what is not an amount of the
// currency.
var ErrSyntax = errors.New("money: not an amount")

// Parse reads an amount typed in currency's major unit into minor units:
// "12", "12.5", "12.50" or, with a decimal comma, "12,50" are 1250 for
// SEK; spaces (plain, non-breaking, thin) and underscores between digit
// groups are ignored. A thousands separator is refused rather than
// guessed at ("1,000" is not 1000 and not 1.000), as is a sign, an
// exponent, more decimals than the currency has, and an amount that does
// not fit an int64; each returns ErrSyntax. Zero is an amount: callers
// that need a positive one check.
func Parse(s, currency string) (int64, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\u00a0', '\u202f', '\u2009', '_':
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if strings.Contains(s, ",") {
		if strings.Contains(s, ".") || strings.Count(s, ",") > 1 {
			return 0, ErrSyntax
		}
		s = strings.Replace(s, ",", ".", 1)
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	d := Digits(currency)
	if whole == "" && frac == "" || len(frac) > d || (hasFrac && frac == "") {
		return 0, ErrSyntax
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, ErrSyntax
		}
	}
	var n int64
	add := func(digit int64) bool {
		if n > (math.MaxInt64-digit)/10 {
			return false
		}
		n = n*10 + digit
		return true
	}
	for _, r := range whole {
		if !add(int64(r - '0')) {
			return 0, ErrSyntax
		}
	}
	for i := range d {
		var digit int64
		if i < len(frac) {
			digit = int64(frac[i] - '0')
		}
		if !add(digit) {
			return 0, ErrSyntax
		}
	}
	return n, nil
}
