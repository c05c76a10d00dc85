package admin

import (
	"errors"
	"kassa/checkout"
	"net/http"
	"strconv"
	"strings"

	// Imported under another name: admin's own money writes an amount
	// with its currency code.
	kassamoney "kassa/money"
)

// Staff read and type amounts in the currency's major unit ("12.50 SEK"),
// as on a receipt, written the English way whatever the currency (the UI
// is in English); the API and the ledger count minor units. The money
// package converts between the two, without floats, with the same minor
// units the shoppers' pages use.

// formatAmount writes minor units in the major unit without the currency:
// 123456 SEK is "1,234.56".
func formatAmount(amount int64, currency string) string {
	return kassamoney.Number(amount, currency, "en")
}

// money is formatAmount with the currency code after it.
func money(amount int64, currency string) string {
	return formatAmount(amount, currency) + "\u00a0" + currency
}

// plainAmount is an amount as a form field's value: no thousands
// separators, so it parses back as it is.
func plainAmount(amount int64, currency string) string { return kassamoney.Plain(amount, currency) }

// maxAmount bounds what a form may ask for, as the merchant API does.
const maxAmount = checkout.MaxAmount

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

// parseAmount reads an amount typed in the major unit (kassamoney.Parse)
// that a form may ask for: more than zero and at most maxAmount.
func parseAmount(s, currency string) (int64, error) {
	n, err := kassamoney.Parse(s, currency)
	if err != nil || n <= 0 || n > maxAmount {
		return 0, errAmount
	}
	return n, nil
}
