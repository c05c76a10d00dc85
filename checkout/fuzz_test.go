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

// FuzzMerchantAPI sends arbitrary bodies to every POST of the merchant API.
// The API answers 2xx or 4xx (402 for declines), never 5xx; and a 4xx
// changes nothing in the ledger.
func FuzzMerchantAPI(f *testing.F) {
	rs := startRegions(f, 1, nil)
	r1 := rs[0]
	s := call(f, "POST", r1.url+"/v1/sessions", "fz-s", sessionBody(5000, "fz"))
	o := authorized(f, r1.url, "fz-o", 9000)
	paths := []string{"/v1/sessions", "/v1/sessions/" + s.str("id") + "/authorize", "/v1/orders/" + o + "/captures",
		"/v1/orders/" + o + "/refunds", "/v1/orders/" + o + "/cancel", "/v1/orders/" + o + "/extend", "/v1/orders/" + o + "/release"}
	f.Add(uint8(0), `{"amount":100,"currency":"SEK","country":"SE","merchant_reference":"x","lines":[{"name":"a","quantity":1,"unit_price":100,"total":100}],"urls":{"confirmation":"https://a.b/","cancel":"https://a.b/"}}`, "k1")
	f.Add(uint8(1), `{"method":"card","consumer":{"email":"a@b.c","given_name":"A","family_name":"B","postal_code":"1","country":"SE"},"card":{"number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123"}}`, "k2")
	f.Add(uint8(2), `{"amount":100}`, "k3")
	f.Add(uint8(2), `{"amount":-1}`, "k4")
	f.Add(uint8(3), `{"amount":1e99}`, "k5")
	f.Add(uint8(4), ``, "k6")
	f.Add(uint8(0), `{"lines":[{"quantity":9223372036854775807,"unit_price":9223372036854775807,"total":1}]}`, "k7")
	f.Add(uint8(0), `[]`, "")
	f.Fuzz(func(t *testing.T, which uint8, body, key string) {
		before := r1.r.Ledger().Digest()
		req, _ := http.NewRequest("POST", r1.url+paths[int(which)%len(paths)], strings.NewReader(body))
		req.SetBasicAuth("demo", "sk_test_demo")
		if key != "" && !strings.ContainsAny(key, "\r\n\x00") {
			req.Header.Set("Idempotency-Key", key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return // a header the client refuses to send
		}
		res.Body.Close()
		if res.StatusCode >= 500 && res.StatusCode != 503 {
			t.Fatalf("got %d for %q", res.StatusCode, body)
		}
		if res.StatusCode >= 400 && res.StatusCode != 402 && r1.r.Ledger().Digest() != before {
			t.Fatalf("a %d changed the ledger", res.StatusCode)
		}
	})
}

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
