package checkout_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// FuzzCheckoutForm posts arbitrary form fields to the hosted page: it answers
// a page, never a 5xx, and never echoes a card number back.
func FuzzCheckoutForm(f *testing.F) {
	rs := startRegions(f, 1, nil)
	r1 := rs[0]
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	n := 0
	f.Add("pay_later", "a@b.c", "4242424242424242", "12", "2030", "123")
	f.Add("card", "", "4000000000000002", "13", "20", "")
	f.Add("", "\x00", "", "-1", "99999999999999999999", "1")
	f.Fuzz(func(t *testing.T, method, email, number, month, year, cvc string) {
		// A fresh session each time, and the CSRF token its page hands out,
		// so the fuzzed fields reach the form's decoder.
		n++
		s := call(t, "POST", r1.url+"/v1/sessions", fmt.Sprintf("fz-page-%d", n), sessionBody(5000, "fz"))
		page := r1.url + "/checkout/" + s.str("id")
		get, err := client.Get(page)
		if err != nil {
			t.Fatal(err)
		}
		var pb bytes.Buffer
		pb.ReadFrom(get.Body)
		get.Body.Close()
		m := csrfField.FindStringSubmatch(pb.String())
		if m == nil {
			t.Fatalf("no CSRF field on the page")
		}
		form := url.Values{"method": {method}, "email": {email}, "given_name": {"A"}, "family_name": {"B"},
			"postal_code": {"1"}, "country": {"SE"}, "card_number": {number}, "card_exp_month": {month},
			"card_exp_year": {year}, "card_cvc": {cvc}, "csrf_token": {m[1]}}
		res, err := client.Post(page, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		res.Body.Close()
		if res.StatusCode >= 500 && res.StatusCode != 503 {
			t.Fatalf("got %d", res.StatusCode)
		}
		if res.StatusCode == http.StatusForbidden {
			t.Fatalf("the CSRF token was refused")
		}
		if len(number) >= 12 && strings.Contains(b.String(), number) {
			t.Fatalf("the page echoed the card number")
		}
	})
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
