package checkout_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"kassa/checkout"
	"kassa/region"
)

// holdPushes makes from's pushes to each of to fail (hold) or go through
// again: what from writes reaches them only by a read-through.
func holdPushes(from *testRegion, hold bool, to ...*testRegion) {
	from.net.mu.Lock()
	defer from.net.mu.Unlock()
	if from.net.held == nil {
		from.net.held = map[string]bool{}
	}
	for _, r := range to {
		from.net.held[strings.TrimPrefix(r.url, "http://")] = hold
	}
}

// page is a shopper's browser: it keeps the checkout cookie and does not
// follow redirects, so a test sees where the page sends the shopper.
type page struct {
	t      *testing.T
	client *http.Client
	lang   string
}

func newPage(t *testing.T) *page {
	jar, _ := cookiejar.New(nil)
	return &page{t: t, lang: "en", client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (p *page) do(method, u string, form url.Values) (*http.Response, string) {
	p.t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(form.Encode()))
	req.Header.Set("Accept-Language", p.lang)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return res, b.String()
}

// TestReadThrough is issue 17's first "done when": sessions and orders
// written in r1, with r1's replication held back, are opened and operated
// on through r2, every one through a read-through; an id no region holds
// is 404 once every region answered; and with r1 cut off, an object only
// r1 holds is a 503 "try again", from the API and the hosted page, never
// a 404.
func TestReadThrough(t *testing.T) {
	ctx := context.Background()
	// What is tested is the answer, not how fast it comes: a budget that
	// holds on a loaded machine under the race detector.
	rs := startRegions(t, 3, func(c *region.Config) { c.Sync.LookupTimeout = 3 * time.Second })
	r1, r2, r3 := rs[0], rs[1], rs[2]
	holdPushes(r1, true, r2, r3)

	// Written in r1 in the order r2 will first ask for them: a read-through
	// brings r1's chain up to the object asked for, so each later object is
	// still missing in r2 when its turn comes.
	sessA := call(t, "POST", r1.url+"/v1/sessions", "rt-a", sessionBody(10_000, "rt-a")).str("id")
	sessB := call(t, "POST", r1.url+"/v1/sessions", "rt-b", sessionBody(10_000, "rt-b")).str("id")
	sessH := call(t, "POST", r1.url+"/v1/sessions", "rt-h", sessionBody(10_000, "rt-h")).str("id")
	ordC := authorized(t, r1.url, "rt-c", 10_000)
	ordF := authorized(t, r1.url, "rt-f", 10_000)
	ordE := authorized(t, r1.url, "rt-e", 10_000)
	ordD := authorized(t, r1.url, "rt-d", 10_000)

	missing := func(ids ...string) {
		t.Helper()
		for _, id := range ids {
			es, err := r2.r.Ledger().EntriesBySubject(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(es) > 0 {
				t.Fatalf("r2 already holds %s: replication was not held back", id)
			}
		}
	}
	want := func(what string, got response, status int) {
		t.Helper()
		if got.status != status {
			t.Fatalf("%s through r2: got %d %s, want %d", what, got.status, got.raw, status)
		}
	}

	// An id no region holds: 404 once every region said so.
	nobody := string(checkout.SessionIDs{Key: []byte(checkout.DemoIDKey)}.ID("demo", "rt-nobody"))
	want("get a session no region holds", call(t, "GET", r2.url+"/v1/sessions/"+nobody, "", nil), 404)
	want("get an order no region holds", call(t, "GET", r2.url+"/v1/orders/"+string(checkout.OrderFor(checkout.SessionID(nobody))), "", nil), 404)
	if res, _ := newPage(t).do("GET", r2.url+"/checkout/"+nobody, nil); res.StatusCode != 404 {
		t.Fatalf("the page of a session no region holds: got %d, want 404", res.StatusCode)
	}

	missing(sessA)
	got := call(t, "GET", r2.url+"/v1/sessions/"+sessA, "", nil)
	want("get session", got, 200)
	if got.str("status") != "open" || got.str("region") != "r1" {
		t.Fatalf("session read through r2: got status %q region %q, want open r1", got.str("status"), got.str("region"))
	}

	// The hosted page and its form post, through r2, of a session r2 had
	// only by the read-through above; then of one it never held before.
	for i, sess := range []string{sessA, sessB} {
		if i == 1 {
			missing(sessB)
		}
		shopper := newPage(t)
		res, body := shopper.do("GET", r2.url+"/checkout/"+sess, nil)
		if res.StatusCode != 200 {
			t.Fatalf("checkout page through r2: got %d", res.StatusCode)
		}
		m := csrfField.FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no CSRF field on the checkout page")
		}
		if i == 1 {
			break // B is authorized through the API below
		}
		form := url.Values{"method": {"pay_later"}, "email": {"ada+rt-page@example.com"}, "given_name": {"Ada"}, "family_name": {"Lovelace"},
			"postal_code": {"11122"}, "country": {"SE"}, "csrf_token": {m[1]}}
		res, body = shopper.do("POST", r2.url+"/checkout/"+sess, form)
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "https://shop.example/ok?") {
			t.Fatalf("pay on the checkout page through r2: got %d to %q: %s", res.StatusCode, res.Header.Get("Location"), body)
		}
	}
	// B's page above read B through; the API authorizes it in r2.
	auth := call(t, "POST", r2.url+"/v1/sessions/"+sessB+"/authorize", "rt-b-auth", map[string]any{"method": "pay_later", "consumer": consumer("ada+rt-b@example.com")})
	want("authorize", auth, 201)

	// A shopper whose page came from r1 and whose form post goes to r2,
	// which has never seen the session (a load balancer switched).
	missing(sessH)
	shopper := newPage(t)
	res, body := shopper.do("GET", r1.url+"/checkout/"+sessH, nil)
	m := csrfField.FindStringSubmatch(body)
	if res.StatusCode != 200 || m == nil {
		t.Fatalf("checkout page in r1: got %d", res.StatusCode)
	}
	res, body = shopper.do("POST", r2.url+"/checkout/"+sessH, url.Values{"method": {"pay_later"}, "email": {"ada+rt-h@example.com"},
		"given_name": {"Ada"}, "family_name": {"Lovelace"}, "postal_code": {"11122"}, "country": {"SE"}, "csrf_token": {m[1]}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "https://shop.example/ok?") {
		t.Fatalf("pay through r2 on a page r1 served: got %d to %q: %s", res.StatusCode, res.Header.Get("Location"), body)
	}

	missing(ordC)
	list := call(t, "GET", r2.url+"/v1/orders?merchant_reference=ref-rt-c", "", nil)
	want("list by merchant_reference", list, 200)
	if data, _ := list.body["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != ordC {
		t.Fatalf("list by merchant_reference through r2: got %s, want [%s]", list.raw, ordC)
	}
	missing(ordF)
	want("get order", call(t, "GET", r2.url+"/v1/orders/"+ordF, "", nil), 200)
	missing(ordE)
	want("extend", call(t, "POST", r2.url+"/v1/orders/"+ordE+"/extend", "rt-e-extend", nil), 200)
	missing(ordD)
	want("cancel", call(t, "POST", r2.url+"/v1/orders/"+ordD+"/cancel", "rt-d-cancel", nil), 200)
	want("release", call(t, "POST", r2.url+"/v1/orders/"+ordE+"/release", "rt-e-release", nil), 200)
	capture := call(t, "POST", r2.url+"/v1/orders/"+ordC+"/captures", "rt-c-capture", map[string]any{"amount": 6_000})
	want("capture", capture, 201)
	want("refund", call(t, "POST", r2.url+"/v1/orders/"+ordC+"/refunds", "rt-c-refund", map[string]any{"amount": 1_000}), 201)

	// The same capture replayed in r3 gets the same answer, once r3 knows
	// where the order's rights went (until then it is the retryable
	// rights_unavailable, as for any replay that outruns replication).
	// r3 may hold r2's capture before r1's authorization (r1's pushes are
	// held, and r2 does not relay r1's chain while r1 reaches r3 as far as
	// r2 knows): an order here without its authorization is read through,
	// not a 404.
	var again response
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) { // polling replication
		again = call(t, "POST", r3.url+"/v1/orders/"+ordC+"/captures", "rt-c-capture", map[string]any{"amount": 6_000})
		if again.status != 503 || again.str("error", "code") != "rights_unavailable" || time.Now().After(deadline) {
			break
		}
	}
	if again.status != 201 || again.header.Get("Idempotent-Replayed") != "true" || again.num("captured") != capture.num("captured") {
		t.Fatalf("capture replayed in r3: got %d replayed=%q %s, want 201 replayed as %s", again.status, again.header.Get("Idempotent-Replayed"), again.raw, capture.raw)
	}

	// r1 cut off: what only r1 holds may exist, so r2 says "try again".
	partition(r1, r2, true)
	partition(r1, r3, true)
	sessG := call(t, "POST", r1.url+"/v1/sessions", "rt-g", sessionBody(10_000, "rt-g")).str("id")
	missing(sessG)
	for _, c := range []struct{ what, method, path string }{
		{"get session", "GET", "/v1/sessions/" + sessG},
		{"authorize", "POST", "/v1/sessions/" + sessG + "/authorize"},
		{"get order", "GET", "/v1/orders/" + string(checkout.OrderFor(checkout.SessionID(sessG)))},
		{"capture", "POST", "/v1/orders/" + string(checkout.OrderFor(checkout.SessionID(sessG))) + "/captures"},
	} {
		var body any
		if c.method == "POST" {
			body = map[string]any{"method": "pay_later", "consumer": consumer("ada+rt-g@example.com")}
			if strings.HasSuffix(c.path, "/captures") {
				body = map[string]any{}
			}
		}
		got := call(t, c.method, r2.url+c.path, "rt-g-"+c.what, body)
		if got.status != 503 || got.str("error", "code") != "object_unavailable" || got.header.Get("Retry-After") == "" {
			t.Fatalf("%s of a session only the cut-off r1 holds: got %d %s (Retry-After %q), want 503 object_unavailable with Retry-After",
				c.what, got.status, got.raw, got.header.Get("Retry-After"))
		}
	}
	shopper = newPage(t)
	for _, method := range []string{"GET", "POST"} {
		var form url.Values
		if method == "POST" {
			form = url.Values{"method": {"pay_later"}, "email": {"ada+rt-g@example.com"}}
		}
		res, body := shopper.do(method, r2.url+"/checkout/"+sessG, form)
		if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" ||
			!strings.Contains(body, "Please try again in a moment") || !strings.Contains(body, "Nothing was charged") || strings.Contains(body, "can&#39;t find") {
			t.Fatalf("%s the page of a session only the cut-off r1 holds: got %d (Retry-After %q), want 503 \"try again\": %s",
				method, res.StatusCode, res.Header.Get("Retry-After"), body)
		}
	}
	// Every read-through is counted by its result, and timed.
	res, err := http.Get(r2.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	metrics.ReadFrom(res.Body)
	res.Body.Close()
	for _, want := range []string{`kassa_sync_lookups_total{result="found"}`, `kassa_sync_lookups_total{result="absent"}`,
		`kassa_sync_lookups_total{result="unknown"}`, `kassa_sync_lookup_seconds_count`} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("r2's /metrics lacks %s", want)
		}
	}

	// In the shopper's language, saying so in its lang attribute.
	for lang, title := range map[string]string{"sv": "Försök igen om en stund", "de": "Bitte versuchen Sie es gleich noch einmal"} {
		shopper.lang = lang
		res, body := shopper.do("GET", r2.url+"/checkout/"+sessG, nil)
		if res.StatusCode != 503 || !strings.Contains(body, title) || !strings.Contains(body, `lang="`+lang+`"`) {
			t.Fatalf("the %s page of a session only the cut-off r1 holds: got %d, want 503 with %q: %s", lang, res.StatusCode, title, body)
		}
	}
}
