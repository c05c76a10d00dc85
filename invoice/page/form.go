package page

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"kassa/cards"
)

// The pay form's field names, those of the hosted checkout's card fields.
const (
	fNumber   = "card_number"
	fExpMonth = "card_exp_month"
	fExpYear  = "card_exp_year"
	fCVC      = "card_cvc"
	fCSRF     = "csrf_token"
)

// formOrder is the order of the fields on the page, and so of the errors
// in the summary.
var formOrder = []string{fNumber, fExpMonth, fExpYear, fCVC}

var cardFields = map[string]string{
	cards.FieldNumber: fNumber, cards.FieldExpMonth: fExpMonth, cards.FieldExpYear: fExpYear, cards.FieldCVC: fCVC,
}

// maxField bounds every field read: longer input is not a card.
const maxField = 64

// payForm is what the shopper posted. The number and CVC are held only to
// make the payment: the page never writes them back.
type payForm struct {
	ExpMonth, ExpYear string
	number, cvc       string
	csrf              string
}

// decodeForm reads the pay form from its posted values.
func decodeForm(v url.Values) payForm {
	get := func(name string) string {
		s := strings.TrimSpace(v.Get(name))
		if len(s) > maxField {
			s = s[:maxField]
		}
		return s
	}
	return payForm{ExpMonth: get(fExpMonth), ExpYear: get(fExpYear), number: get(fNumber), cvc: get(fCVC), csrf: v.Get(fCSRF)}
}

// card is the card as typed, a two-digit year meaning 20xx; a field that
// is not a number reads as 0, which cards.Check refuses.
func (f payForm) card() cards.Card {
	month, _ := strconv.Atoi(f.ExpMonth)
	year, _ := strconv.Atoi(f.ExpYear)
	if len(f.ExpYear) == 2 {
		year += 2000
	}
	return cards.Card{Number: f.number, ExpMonth: month, ExpYear: year, CVC: f.cvc}
}

// check finds every problem with the form at once, so the shopper can fix
// them in one go, by cards.Check's own rules (Luhn, expiry, CVC length):
// after each error it puts a valid stand-in into the failing field and
// asks again. The result maps a field to a message id; empty means the
// card may be sent.
func (f payForm) check(now time.Time) map[string]string {
	problems := map[string]string{}
	for key, value := range map[string]string{fNumber: f.number, fExpMonth: f.ExpMonth, fExpYear: f.ExpYear, fCVC: f.cvc} {
		if value == "" {
			problems[key] = key + ".missing"
		}
	}
	var skip []string
	for field, key := range cardFields {
		if problems[key] != "" {
			skip = append(skip, field)
		}
	}
	for _, fe := range cards.CheckAll(f.card(), now, skip...) {
		key := cardFields[fe.Field]
		if key == "" {
			break
		}
		problems[key] = key + ".invalid"
		if fe.Code == cards.CodeExpiredCard {
			problems[key] = "card_exp.expired"
		}
	}
	return problems
}
