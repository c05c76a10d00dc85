package merchantapi_test

import (
	"net/http"
	"strings"
	"testing"

	"kassa/region"
)

// FuzzMerchantAPI sends arbitrary bodies to every POST of the merchant API.
// The API answers 2xx or 4xx (402 for declines), never 5xx; and a 4xx
// changes nothing in the ledger.
func FuzzMerchantAPI(f *testing.F) {
	// Captures of credit orders are invoiced by email, and a delivery to
	// the development mailbox writes entries of its own while the next
	// input runs: an SMTP server that is not there keeps the mail outbox
	// from writing anything (failed attempts live in memory), so what
	// the ledger holds changes only by the request.
	r1 := startRegion(f, func(c *region.Config) {
		c.Mail.Transport, c.Mail.From = "smtp", "invoices@shop.example"
		c.Mail.SMTP.Host, c.Mail.SMTP.Port, c.Mail.SMTP.TLS = "127.0.0.1", 1, "none"
	})
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
	f.Add(uint8(0), `{"amount":100,"currency":"XYZ","country":"SE","merchant_reference":"x","lines":[{"name":"a","quantity":1,"unit_price":100,"total":100}],"urls":{"confirmation":"https://a.b/","cancel":"https://a.b/"}}`, "k8")
	f.Add(uint8(0), `{"amount":100,"currency":"SEK","country":"SE","merchant_reference":"x","lines":[{"name":"a\u0000\u202e","quantity":1,"unit_price":100,"total":100}],"urls":{"confirmation":"https://a.b/","cancel":"https://a.b/"}}`, "k9")
	f.Add(uint8(1), `{"method":"pay_later","consumer":{"email":"a@b.c","given_name":"A\u2066","family_name":"B\u0007","postal_code":"1","country":"SE"}}`, "k10")
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
