package hosted

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"kassa/cards"
	"kassa/checkout"
)

// The form's field names. Errors from the service name fields as the
// merchant API does ("consumer.email"); fieldKeys translates.
const (
	fEmail      = "email"
	fGivenName  = "given_name"
	fFamilyName = "family_name"
	fPostalCode = "postal_code"
	fCountry    = "country"
	fMethod     = "method"
	fNumber     = "card_number"
	fExpMonth   = "card_exp_month"
	fExpYear    = "card_exp_year"
	fCVC        = "card_cvc"
	fCSRF       = "csrf_token"
)

// formOrder is the order of the fields on the page, and so of the errors in
// the summary.
var formOrder = []string{fEmail, fGivenName, fFamilyName, fPostalCode, fCountry, fMethod, fNumber, fExpMonth, fExpYear, fCVC}

var fieldKeys = map[string]string{
	"consumer.email": fEmail, "consumer.given_name": fGivenName, "consumer.family_name": fFamilyName,
	"consumer.postal_code": fPostalCode, "consumer.country": fCountry, "method": fMethod,
	"card": fNumber, cards.FieldNumber: fNumber, cards.FieldExpMonth: fExpMonth,
	cards.FieldExpYear: fExpYear, cards.FieldCVC: fCVC,
}

var methods = []string{"pay_later", "instalments", "card"}

// shopperForm is what the shopper posted. The card number and CVC are held
// only to make the request: the page never writes them back.
type shopperForm struct {
	Email, GivenName, FamilyName, PostalCode, Country string
	Method, ExpMonth, ExpYear                         string
	number, cvc                                       string
}

func readForm(r *http.Request) shopperForm {
	v := func(name string) string { return strings.TrimSpace(r.PostForm.Get(name)) }
	return shopperForm{
		Email: v(fEmail), GivenName: v(fGivenName), FamilyName: v(fFamilyName), PostalCode: v(fPostalCode),
		Country: strings.ToUpper(v(fCountry)), Method: v(fMethod), ExpMonth: v(fExpMonth), ExpYear: v(fExpYear),
		number: v(fNumber), cvc: v(fCVC),
	}
}

func (f shopperForm) consumer() checkout.Consumer {
	return checkout.Consumer{Email: f.Email, GivenName: f.GivenName, FamilyName: f.FamilyName, PostalCode: f.PostalCode, Country: f.Country}
}

// expiry reads the month and year, a two-digit year meaning 20xx, and adds
// to problems when either is missing or not a number.
func (f shopperForm) expiry(problems map[string]string) (month, year int) {
	month, err := strconv.Atoi(f.ExpMonth)
	switch {
	case f.ExpMonth == "":
		problems[fExpMonth] = fExpMonth + ".missing"
	case err != nil:
		problems[fExpMonth] = fExpMonth + ".invalid"
	}
	year, err = strconv.Atoi(f.ExpYear)
	switch {
	case f.ExpYear == "":
		problems[fExpYear] = fExpYear + ".missing"
	case err != nil:
		problems[fExpYear] = fExpYear + ".invalid"
	case len(f.ExpYear) == 2:
		year += 2000
	}
	return month, year
}

// request builds the authorization request; card data only for a card.
func (f shopperForm) request(month, year int) checkout.AuthorizeRequest {
	req := checkout.AuthorizeRequest{Method: f.Method, Consumer: f.consumer()}
	if f.Method == "card" {
		req.Card = &checkout.CardInput{Number: f.number, ExpMonth: month, ExpYear: year, CVC: f.cvc}
	}
	return req
}

// check finds every problem with the form at once, so the shopper can fix
// them in one go; the service reports only the first. It applies the
// service's own rules (checkout.AuthorizeRequest.Validate and cards.Check) rather
// than a copy of them: after each error it puts a valid stand-in into the
// failing field and asks again, at most once per field. The result maps a
// form field to a message id.
func check(f shopperForm, now time.Time) map[string]string {
	problems := map[string]string{}
	kind := func(key, value string) string {
		if value == "" {
			return key + ".missing"
		}
		return key + ".invalid"
	}
	if !slices.Contains(methods, f.Method) {
		problems[fMethod] = kind(fMethod, f.Method)
	}
	probe := checkout.AuthorizeRequest{Method: "pay_later", Consumer: f.consumer()}
	stand := map[string]func(){
		"consumer.email":       func() { probe.Consumer.Email = "shopper@example.com" },
		"consumer.given_name":  func() { probe.Consumer.GivenName = "A" },
		"consumer.family_name": func() { probe.Consumer.FamilyName = "B" },
		"consumer.postal_code": func() { probe.Consumer.PostalCode = "1" },
		"consumer.country":     func() { probe.Consumer.Country = "SE" },
	}
	values := map[string]string{fEmail: f.Email, fGivenName: f.GivenName, fFamilyName: f.FamilyName, fPostalCode: f.PostalCode, fCountry: f.Country}
	for range stand {
		var fe *checkout.FieldError
		if !errors.As(probe.Validate(), &fe) || stand[fe.Field] == nil {
			break
		}
		key := fieldKeys[fe.Field]
		problems[key] = kind(key, values[key])
		stand[fe.Field]()
	}
	if f.Method != "card" {
		return problems
	}

	for key, value := range map[string]string{fNumber: f.number, fCVC: f.cvc} {
		if value == "" {
			problems[key] = kind(key, value)
		}
	}
	month, year := f.expiry(problems)
	card := cards.Card{Number: f.number, ExpMonth: month, ExpYear: year, CVC: f.cvc}
	var skip []string
	for field, key := range fieldKeys {
		if strings.HasPrefix(field, "card.") && problems[key] != "" {
			skip = append(skip, field)
		}
	}
	for _, fe := range cards.CheckAll(card, now, skip...) {
		key := fieldKeys[fe.Field]
		if key == "" {
			break // a rule this page does not know; the service will say
		}
		problems[key] = key + ".invalid"
		if fe.Code == cards.CodeExpiredCard {
			problems[key] = "card_exp.expired"
		}
	}
	return problems
}
