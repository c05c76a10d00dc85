package page

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"kassa/cards"
)

// FuzzPayForm feeds the pay form decoder any posted body: it never
// panics, names only the form's fields, and a form it finds no problem
// with is a card cards.Check accepts.
func FuzzPayForm(f *testing.F) {
	for _, s := range []string{
		"card_number=4242+4242+4242+4242&card_exp_month=12&card_exp_year=2030&card_cvc=123&csrf_token=x",
		"card_number=3782+822463+10005&card_exp_month=1&card_exp_year=30&card_cvc=1234",
		"card_number=&card_exp_month=13&card_exp_year=abc&card_cvc=1",
		"card_number=%00%ff&card_exp_month=-1&card_exp_year=99999999999999999999",
		"",
	} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	known := map[string]bool{fNumber: true, fExpMonth: true, fExpYear: true, fCVC: true}
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		form := decodeForm(v)
		problems := form.check(now)
		for key, id := range problems {
			if !known[key] {
				t.Fatalf("problem with unknown field %q", key)
			}
			if _, ok := pageTexts["en"][id]; !ok {
				t.Fatalf("problem %q has no text", id)
			}
		}
		if err := cards.Check(form.card(), now); len(problems) == 0 && err != nil {
			var fe *cards.FieldError
			errors.As(err, &fe)
			t.Fatalf("no problem found, but cards.Check says %v", err)
		}
	})
}
