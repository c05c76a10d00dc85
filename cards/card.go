package cards

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Brands returned by Card.Brand and kept in Facts.
const (
	BrandVisa       = "visa"
	BrandMastercard = "mastercard"
	BrandAmex       = "amex"
	BrandDiscover   = "discover"
	BrandUnknown    = "unknown"
)

// Codes of a FieldError. The Simulator declines a card that fails Check with
// the same code.
const (
	CodeInvalidNumber = "invalid_number"
	CodeInvalidExpiry = "invalid_expiry"
	CodeExpiredCard   = "expired_card"
	CodeInvalidCVC    = "invalid_cvc"
)

// Fields named by a FieldError, as the merchant API spells them.
const (
	FieldNumber   = "card.number"
	FieldExpMonth = "card.exp_month"
	FieldExpYear  = "card.exp_year"
	FieldCVC      = "card.cvc"
)

// ErrInvalidCard is what every FieldError unwraps to, so a caller can map
// any validation failure to one HTTP status with errors.Is.
var ErrInvalidCard = errors.New("cards: invalid card")

// maxExpiryYears is how far ahead an expiry may be. Issuers print at most
// about ten years; further than this is a typing mistake.
const maxExpiryYears = 20

// Card is a card as the shopper typed it. It exists only for the length of
// the request that carries it: it must never be stored or logged. To keep a
// slip from leaking it, every way of printing it (fmt with any verb, slog,
// encoding/json) shows only the brand and the last four digits. Decoding
// from JSON works as usual, with the merchant API's field names.
type Card struct {
	Number   string `json:"number"`
	ExpMonth int    `json:"exp_month"`
	ExpYear  int    `json:"exp_year"`
	CVC      string `json:"cvc"`
}

// Brand returns the card's brand from its leading digits: one of BrandVisa,
// BrandMastercard, BrandAmex, BrandDiscover or BrandUnknown.
func (c Card) Brand() string { return brandOf(digitsOf(c.Number)) }

// String returns the brand and last four digits, such as "visa ****4242".
// The last four are left out when the number is too short or malformed for
// them to be safe to show.
func (c Card) String() string {
	d := digitsOf(c.Number)
	return brandOf(d) + " ****" + last4(d)
}

// GoString is String, so %#v does not print the fields.
func (c Card) GoString() string { return c.String() }

// Format writes String for every verb, so that neither %v, %+v, %#v, %d nor
// %x can print the number or CVC.
func (c Card) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// LogValue makes slog record only the brand and last four.
func (c Card) LogValue() slog.Value {
	d := digitsOf(c.Number)
	return slog.GroupValue(slog.String("brand", brandOf(d)), slog.String("last4", last4(d)))
}

// MarshalJSON encodes only the brand and last four, so a Card embedded in a
// logged or stored structure cannot carry the number or CVC with it.
func (c Card) MarshalJSON() ([]byte, error) {
	d := digitsOf(c.Number)
	return json.Marshal(struct {
		Brand string `json:"brand"`
		Last4 string `json:"last4"`
	}{brandOf(d), last4(d)})
}

// FieldError says which card field is wrong and why. Code is stable and
// meant for programs; Message is a sentence that may be shown to a shopper.
// Neither contains any digit of the card. It unwraps to ErrInvalidCard.
type FieldError struct {
	Field   string // FieldNumber, FieldExpMonth, FieldExpYear or FieldCVC
	Code    string // CodeInvalidNumber, CodeInvalidExpiry, CodeExpiredCard or CodeInvalidCVC
	Message string
}

func (e *FieldError) Error() string { return "cards: " + e.Field + ": " + e.Code }

func (e *FieldError) Unwrap() error { return ErrInvalidCard }

// Check validates a card as typed at time now and returns nil or a
// *FieldError for the first bad field, in the order number, expiry month,
// expiry year, CVC.
//
// The number may contain spaces and dashes; after removing them it must be
// 12 to 19 ASCII digits that pass the Luhn check. The month is 1 to 12 and
// the year has four digits and lies at most 20 years ahead. A card is valid
// through the last day of its expiry month wherever on earth that day still
// is (UTC-12): the acquirer, not kassa, is strict about expiry. The CVC is
// three digits, four for American Express.
func Check(c Card, now time.Time) error {
	d := digitsOf(c.Number)
	if !validNumber(d) {
		return &FieldError{FieldNumber, CodeInvalidNumber, "The card number is not valid."}
	}
	if c.ExpMonth < 1 || c.ExpMonth > 12 {
		return &FieldError{FieldExpMonth, CodeInvalidExpiry, "The expiry month must be between 1 and 12."}
	}
	// The last zone to leave a day is UTC-12; until the month ends there the
	// card is still good somewhere.
	ref := now.UTC().Add(-12 * time.Hour)
	if c.ExpYear < 1000 || c.ExpYear > 9999 {
		return &FieldError{FieldExpYear, CodeInvalidExpiry, "The expiry year must have four digits."}
	}
	if c.ExpYear > ref.Year()+maxExpiryYears {
		return &FieldError{FieldExpYear, CodeInvalidExpiry, "The expiry year is too far in the future."}
	}
	if c.ExpYear < ref.Year() {
		return &FieldError{FieldExpYear, CodeExpiredCard, "The card has expired."}
	}
	if c.ExpYear == ref.Year() && time.Month(c.ExpMonth) < ref.Month() {
		return &FieldError{FieldExpMonth, CodeExpiredCard, "The card has expired."}
	}
	want := 3
	if brandOf(d) == BrandAmex {
		want = 4
	}
	if len(c.CVC) != want || !allDigits(c.CVC) {
		return &FieldError{FieldCVC, CodeInvalidCVC, fmt.Sprintf("The security code must be %d digits.", want)}
	}
	return nil
}

// CheckAll returns every problem Check finds with c, not only the first,
// so a shopper can fix them in one go: after each, a valid stand-in takes
// the failing field's place and c is checked again. The fields in skip
// (known to be missing or unreadable already, named as FieldError names
// them) get a stand-in first and are not reported. A stand-in number keeps
// the brand of the typed one, so the CVC is held to the right length.
func CheckAll(c Card, now time.Time, skip ...string) []*FieldError {
	amex := c.Brand() == BrandAmex
	standIn := func(field string) {
		switch field {
		case FieldNumber:
			c.Number = "4242424242424242"
			if amex {
				c.Number = "378282246310005"
			}
		case FieldExpMonth:
			c.ExpMonth = 12
		case FieldExpYear:
			c.ExpYear = now.Year() + 1
		case FieldCVC:
			c.CVC = "123"
			if amex {
				c.CVC = "1234"
			}
		}
	}
	for _, f := range skip {
		standIn(f)
	}
	var out []*FieldError
	for range 4 { // one per field at most
		var fe *FieldError
		if !errors.As(Check(c, now), &fe) {
			break
		}
		out = append(out, fe)
		standIn(fe.Field)
	}
	return out
}

// digitsOf removes the spaces and dashes people type between digit groups.
// Anything else is kept, so that validNumber rejects it.
func digitsOf(number string) string {
	if !strings.ContainsAny(number, " -") {
		return number
	}
	var b strings.Builder
	b.Grow(len(number))
	for i := 0; i < len(number); i++ {
		if number[i] != ' ' && number[i] != '-' {
			b.WriteByte(number[i])
		}
	}
	return b.String()
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func validNumber(d string) bool {
	return len(d) >= 12 && len(d) <= 19 && allDigits(d) && luhn(d)
}

// luhn reports whether the digit string d passes the Luhn (mod 10) check.
func luhn(d string) bool {
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

// last4 returns the last four digits of a plausible card number, or "" when
// d is not one: of a short or malformed string the last four could be most
// of what was typed.
func last4(d string) string {
	if len(d) < 12 || !allDigits(d) {
		return ""
	}
	return d[len(d)-4:]
}

// brandOf names the brand from the issuer prefix of a digit string.
func brandOf(d string) string {
	prefix := func(n int) int { // the first n digits as a number, or -1
		if len(d) < n || !allDigits(d[:n]) {
			return -1
		}
		v := 0
		for i := 0; i < n; i++ {
			v = v*10 + int(d[i]-'0')
		}
		return v
	}
	switch p1, p2, p3, p4 := prefix(1), prefix(2), prefix(3), prefix(4); {
	case p1 == 4:
		return BrandVisa
	case p2 == 34 || p2 == 37:
		return BrandAmex
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return BrandMastercard
	case p4 == 6011, p2 == 65, p3 >= 644 && p3 <= 649:
		return BrandDiscover
	}
	return BrandUnknown
}
