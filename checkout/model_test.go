package checkout_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode"

	"kassa/checkout"
	"kassa/money"
)

func validSession() checkout.SessionRequest {
	return checkout.SessionRequest{
		Amount: 25_900, Currency: "SEK", Country: "SE", MerchantReference: "A-1001",
		Lines: []checkout.Line{{Name: "Shoes", Quantity: 1, UnitPrice: 25_900, Total: 25_900}},
		URLs:  checkout.URLs{Confirmation: "https://shop.example/ok", Cancel: "https://shop.example/cart"},
	}
}

func validAuthorize() checkout.AuthorizeRequest {
	return checkout.AuthorizeRequest{Method: "pay_later", Consumer: checkout.Consumer{
		Email: "ada@example.com", GivenName: "Ada", FamilyName: "Lovelace", PostalCode: "11122", Country: "SE"}}
}

// TestValidateRefusesLooseInput: a currency must be a current ISO 4217
// code, and text shown to shoppers and staff may hold no control
// characters and no bidi embeddings, overrides or isolates; each is a
// FieldError naming the field.
func TestValidateRefusesLooseInput(t *testing.T) {
	session := []struct {
		name   string
		change func(*checkout.SessionRequest)
		field  string
	}{
		{"three capitals that are no currency", func(r *checkout.SessionRequest) { r.Currency = "XYZ" }, "currency"},
		{"no currency at all", func(r *checkout.SessionRequest) { r.Currency = "XXX" }, "currency"},
		{"a metal", func(r *checkout.SessionRequest) { r.Currency = "XAU" }, "currency"},
		{"a withdrawn currency", func(r *checkout.SessionRequest) { r.Currency = "HRK" }, "currency"},
		{"lowercase", func(r *checkout.SessionRequest) { r.Currency = "sek" }, "currency"},
		{"NUL in a line name", func(r *checkout.SessionRequest) { r.Lines[0].Name = "Sho\x00es" }, "lines[0].name"},
		{"BEL in a line name", func(r *checkout.SessionRequest) { r.Lines[0].Name = "Shoes\a" }, "lines[0].name"},
		{"newline in a line name", func(r *checkout.SessionRequest) { r.Lines[0].Name = "Shoes\nRefund: call +46..." }, "lines[0].name"},
		{"C1 control in a line name", func(r *checkout.SessionRequest) { r.Lines[0].Name = "Shoes\u0085" }, "lines[0].name"},
		{"right-to-left override in a line name", func(r *checkout.SessionRequest) { r.Lines[0].Name = "Gift card \u202e0001 KES" }, "lines[0].name"},
		{"left-to-right embedding in a line name", func(r *checkout.SessionRequest) { r.Lines[0].Name = "\u202aShoes" }, "lines[0].name"},
		{"isolate in a line name", func(r *checkout.SessionRequest) { r.Lines[0].Name = "Shoes \u2067x\u2069" }, "lines[0].name"},
		{"invalid UTF-8 in a line name", func(r *checkout.SessionRequest) { r.Lines[0].Name = "Sho\xffes" }, "lines[0].name"},
		{"control in the second line", func(r *checkout.SessionRequest) {
			r.Lines = append(r.Lines, checkout.Line{Name: "Socks\x1b[2J", Quantity: 1, UnitPrice: 0, Total: 0})
		}, "lines[1].name"},
		{"override in the merchant reference", func(r *checkout.SessionRequest) { r.MerchantReference = "A-\u202e1001" }, "merchant_reference"},
	}
	for _, tt := range session {
		t.Run(tt.name, func(t *testing.T) {
			r := validSession()
			tt.change(&r)
			var fe *checkout.FieldError
			if err := r.Validate(false); !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("got %v, want a FieldError naming %s", err, tt.field)
			}
		})
	}
	authorize := []struct {
		name   string
		change func(*checkout.Consumer)
		field  string
	}{
		{"override in the given name", func(c *checkout.Consumer) { c.GivenName = "Ada\u202e" }, "consumer.given_name"},
		{"NUL in the family name", func(c *checkout.Consumer) { c.FamilyName = "Love\x00lace" }, "consumer.family_name"},
		{"isolate in the postal code", func(c *checkout.Consumer) { c.PostalCode = "\u2066111 22" }, "consumer.postal_code"},
		{"BEL in the email", func(c *checkout.Consumer) { c.Email = "ada\a@example.com" }, "consumer.email"},
	}
	for _, tt := range authorize {
		t.Run(tt.name, func(t *testing.T) {
			r := validAuthorize()
			tt.change(&r.Consumer)
			var fe *checkout.FieldError
			if err := r.Validate(); !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("got %v, want a FieldError naming %s", err, tt.field)
			}
		})
	}

	// What stays accepted: every ISO 4217 currency kassa formats, names in
	// any script, and the plain direction marks right-to-left names use.
	for _, c := range []string{"SEK", "EUR", "NOK", "DKK", "GBP", "USD", "JPY", "KWD", "CHF"} {
		r := validSession()
		r.Currency = c
		if err := r.Validate(false); err != nil {
			t.Errorf("currency %s: got %v, want valid", c, err)
		}
	}
	for _, name := range []string{"Skor, storlek 42 – svarta", "Schuhe „Größe 42“", "靴", "נעליים\u200f 42", "حذاء\u061c 42", "Shoes\u200e (42)"} {
		r := validSession()
		r.Lines[0].Name = name
		if err := r.Validate(false); err != nil {
			t.Errorf("line name %q: got %v, want valid", name, err)
		}
		a := validAuthorize()
		a.Consumer.GivenName = name
		if err := a.Validate(); err != nil {
			t.Errorf("given name %q: got %v, want valid", name, err)
		}
	}
}

// FuzzSessionRequestValidate: Validate never panics, and what it accepts
// has a known currency and line names with neither control characters nor
// bidi embeddings, overrides or isolates.
func FuzzSessionRequestValidate(f *testing.F) {
	ok, _ := json.Marshal(validSession())
	f.Add(string(ok))
	for _, seed := range []string{
		`{"amount":100,"currency":"XYZ","country":"SE","merchant_reference":"x","lines":[{"name":"a","quantity":1,"unit_price":100,"total":100}],"urls":{"confirmation":"https://a.b/","cancel":"https://a.b/"}}`,
		`{"amount":100,"currency":"SEK","country":"SE","merchant_reference":"x","lines":[{"name":"a\u0000b","quantity":1,"unit_price":100,"total":100}],"urls":{"confirmation":"https://a.b/","cancel":"https://a.b/"}}`,
		`{"amount":100,"currency":"SEK","country":"SE","merchant_reference":"x","lines":[{"name":"a\u0007","quantity":1,"unit_price":100,"total":100}],"urls":{"confirmation":"https://a.b/","cancel":"https://a.b/"}}`,
		`{"amount":100,"currency":"SEK","country":"SE","merchant_reference":"x","lines":[{"name":"\u202egift","quantity":1,"unit_price":100,"total":100}],"urls":{"confirmation":"https://a.b/","cancel":"https://a.b/"}}`,
		`{"amount":100,"currency":"JPY","country":"JP","merchant_reference":"x","lines":[{"name":"\u2067x\u2069","quantity":1,"unit_price":100,"total":100}],"urls":{"confirmation":"https://a.b/","cancel":"https://a.b/"}}`,
		`{"amount":100,"currency":"KWD","country":"KW","merchant_reference":"x","lines":[{"name":"\u200fx","quantity":1,"unit_price":100,"total":100}],"urls":{"confirmation":"https://a.b/","cancel":"https://a.b/"}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var r checkout.SessionRequest
		if json.Unmarshal([]byte(body), &r) != nil {
			return
		}
		if r.Validate(false) != nil {
			return
		}
		if !money.Known(r.Currency) {
			t.Fatalf("accepted currency %q", r.Currency)
		}
		for _, l := range r.Lines {
			if strings.IndexFunc(l.Name, func(c rune) bool {
				return unicode.IsControl(c) || c >= 0x202a && c <= 0x202e || c >= 0x2066 && c <= 0x2069
			}) >= 0 {
				t.Fatalf("accepted line name %q", l.Name)
			}
		}
	})
}
