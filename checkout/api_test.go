package checkout_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"kassa/checkout"
	"kassa/ledger"
)

func TestSessions(t *testing.T) {
	r1 := startRegions(t, 1, nil)[0]
	base := r1.url + "/v1/sessions"
	s := call(t, "POST", base, "k1", sessionBody(25900, "A-1001"))
	if s.status != 201 || s.str("status") != "open" || !strings.HasPrefix(s.str("id"), "ses_") ||
		s.str("checkout_url") != r1.url+"/checkout/"+s.str("id") || s.str("expires_at") == "" {
		t.Fatalf("create: got %d %s", s.status, s.raw)
	}
	if g := call(t, "GET", base+"/"+s.str("id"), "", nil); g.status != 200 || g.str("id") != s.str("id") || g.num("amount") != 25900 {
		t.Fatalf("get: got %d %s", g.status, g.raw)
	}
	again := call(t, "POST", base, "k1", sessionBody(25900, "A-1001"))
	if again.status != 201 || again.str("id") != s.str("id") || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: got %d %s (replayed %q)", again.status, again.raw, again.header.Get("Idempotent-Replayed"))
	}
	if c := call(t, "POST", base, "k1", sessionBody(100, "A-1001")); c.status != 409 || c.str("error", "code") != "idempotency_conflict" {
		t.Fatalf("conflict: got %d %s", c.status, c.raw)
	}

	bad := func(mutate func(m map[string]any)) map[string]any {
		b := sessionBody(1000, "B-1")
		mutate(b)
		return b
	}
	tests := []struct {
		name   string
		user   string
		secret string
		key    string
		body   any
		status int
		code   string
		field  string
	}{
		{"no auth", "", "", "x1", sessionBody(1, "r"), 401, "unauthorized", ""},
		{"wrong secret", "demo", "sk_wrong", "x2", sessionBody(1, "r"), 401, "unauthorized", ""},
		{"no idempotency key", "demo", "sk_test_demo", "", sessionBody(1, "r"), 400, "invalid_request", "Idempotency-Key"},
		{"lines do not add up", "demo", "sk_test_demo", "x3", bad(func(m map[string]any) { m["amount"] = 999 }), 400, "invalid_request", "amount"},
		{"bad line total", "demo", "sk_test_demo", "x4", bad(func(m map[string]any) {
			m["lines"] = []map[string]any{{"name": "A", "quantity": 2, "unit_price": 500, "total": 999}}
		}), 400, "invalid_request", "lines[0].total"},
		{"zero quantity", "demo", "sk_test_demo", "x5", bad(func(m map[string]any) {
			m["lines"] = []map[string]any{{"name": "A", "quantity": 0, "unit_price": 500, "total": 0}}
		}), 400, "invalid_request", "lines[0].quantity"},
		{"bad currency", "demo", "sk_test_demo", "x6", bad(func(m map[string]any) { m["currency"] = "sek" }), 400, "invalid_request", "currency"},
		{"unknown currency", "demo", "sk_test_demo", "x6b", bad(func(m map[string]any) { m["currency"] = "XYZ" }), 400, "invalid_request", "currency"},
		{"control character in a line name", "demo", "sk_test_demo", "x6c", bad(func(m map[string]any) {
			m["lines"] = []map[string]any{{"name": "Shoes\u0000\u0007", "quantity": 1, "unit_price": 1000, "total": 1000}}
		}), 400, "invalid_request", "lines[0].name"},
		{"bidi override in a line name", "demo", "sk_test_demo", "x6d", bad(func(m map[string]any) {
			m["lines"] = []map[string]any{{"name": "Gift card \u202e0001", "quantity": 1, "unit_price": 1000, "total": 1000}}
		}), 400, "invalid_request", "lines[0].name"},
		{"bad country", "demo", "sk_test_demo", "x7", bad(func(m map[string]any) { m["country"] = "Sweden" }), 400, "invalid_request", "country"},
		{"negative amount", "demo", "sk_test_demo", "x8", bad(func(m map[string]any) { m["amount"] = -5 }), 400, "invalid_request", "amount"},
		{"unknown field", "demo", "sk_test_demo", "x9", bad(func(m map[string]any) { m["amont"] = 5 }), 400, "invalid_request", "amont"},
		{"wrong type", "demo", "sk_test_demo", "x10", bad(func(m map[string]any) { m["amount"] = "lots" }), 400, "invalid_request", "amount"},
		{"bad url", "demo", "sk_test_demo", "x11", bad(func(m map[string]any) {
			m["urls"] = map[string]any{"confirmation": "javascript:alert(1)", "cancel": "https://x"}
		}), 400, "invalid_request", "urls.confirmation"},
		{"not json", "demo", "sk_test_demo", "x12", "{nope", 400, "invalid_request", "body"},
		{"trailing data", "demo", "sk_test_demo", "x13", `{"amount":1}{}`, 400, "invalid_request", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := r1.r.Ledger().Digest()
			res := callAs(t, tt.user, tt.secret, "POST", base, tt.key, tt.body)
			if res.status != tt.status || res.str("error", "code") != tt.code || (tt.field != "" && res.str("error", "field") != tt.field) {
				t.Fatalf("got %d %s, want %d %s field %q", res.status, res.raw, tt.status, tt.code, tt.field)
			}
			if res.str("error", "message") == "" || res.str("error", "correlation_id") == "" {
				t.Fatalf("error lacks a message or correlation id: %s", res.raw)
			}
			if r1.r.Ledger().Digest() != before {
				t.Fatal("a refused request changed the ledger")
			}
		})
	}
	if res := call(t, "GET", base+"/ses_nope", "", nil); res.status != 404 {
		t.Fatalf("unknown session: got %d", res.status)
	}
}

func TestOrderLifecycle(t *testing.T) {
	r1 := startRegions(t, 1, nil)[0]
	oid := authorized(t, r1.url, "life", 30000)
	o := r1.url + "/v1/orders/" + oid
	step := func(name, method, url, key string, body any, status int, want string) response {
		t.Helper()
		res := call(t, method, url, key, body)
		if res.status != status || (want != "" && res.str("status") != want) {
			t.Fatalf("%s: got %d %s, want %d %s", name, res.status, res.raw, status, want)
		}
		return res
	}
	step("get", "GET", o, "", nil, 200, "authorized")
	step("capture part", "POST", o+"/captures", "c1", map[string]any{"amount": 10000}, 201, "part_captured")
	step("capture replay", "POST", o+"/captures", "c1", map[string]any{"amount": 10000}, 201, "part_captured")
	if r := step("capture conflict", "POST", o+"/captures", "c1", map[string]any{"amount": 5}, 409, ""); r.str("error", "code") != "idempotency_conflict" {
		t.Fatal(r.raw)
	}
	if r := step("capture too much", "POST", o+"/captures", "c2", map[string]any{"amount": 20001}, 400, ""); r.str("error", "field") != "amount" {
		t.Fatal(r.raw)
	}
	step("refund before more capture", "POST", o+"/refunds", "f1", map[string]any{"amount": 4000}, 201, "part_captured")
	if r := step("refund too much", "POST", o+"/refunds", "f2", map[string]any{"amount": 6001}, 400, ""); r.str("error", "code") != "invalid_amount" {
		t.Fatal(r.raw)
	}
	step("cancel with captures", "POST", o+"/cancel", "x1", nil, 409, "")
	step("extend", "POST", o+"/extend", "e1", nil, 200, "part_captured")
	step("capture rest", "POST", o+"/captures", "c3", nil, 201, "captured")
	step("capture more", "POST", o+"/captures", "c4", map[string]any{"amount": 1}, 409, "")
	final := step("refund rest", "POST", o+"/refunds", "f3", nil, 201, "closed")
	if final.num("captured") != 30000 || final.num("refunded") != 30000 {
		t.Fatalf("got %s", final.raw)
	}
	if caps, _ := final.body["captures"].([]any); len(caps) != 2 {
		t.Fatalf("got %d captures, want 2 (a replay is not a capture)", len(caps))
	}
	list := call(t, "GET", r1.url+"/v1/orders?merchant_reference=ref-life", "", nil)
	if data, _ := list.body["data"].([]any); list.status != 200 || len(data) != 1 {
		t.Fatalf("list: got %d %s", list.status, list.raw)
	}

	c := authorized(t, r1.url, "cancel", 5000)
	step("cancel", "POST", r1.url+"/v1/orders/"+c+"/cancel", "x2", nil, 200, "cancelled")
	step("capture cancelled", "POST", r1.url+"/v1/orders/"+c+"/captures", "c5", nil, 409, "")
	rel := authorized(t, r1.url, "release", 5000)
	step("capture before release", "POST", r1.url+"/v1/orders/"+rel+"/captures", "c6", map[string]any{"amount": 2000}, 201, "part_captured")
	r := step("release", "POST", r1.url+"/v1/orders/"+rel+"/release", "x3", nil, 200, "captured")
	if r.num("released") != 3000 {
		t.Fatalf("got %s", r.raw)
	}
	if res := call(t, "GET", r1.url+"/v1/orders/ord_nope", "", nil); res.status != 404 {
		t.Fatalf("unknown order: got %d", res.status)
	}
	if res := callAs(t, "demo", "sk_test_demo", "POST", o+"/captures", "", nil); res.status != 400 {
		t.Fatalf("capture without key: got %d", res.status)
	}
}

func TestDecisions(t *testing.T) {
	r1 := startRegions(t, 1, nil)[0]
	s := call(t, "POST", r1.url+"/v1/sessions", "big", sessionBody(9_000_000, "big"))
	res := call(t, "POST", r1.url+"/v1/sessions/"+s.str("id")+"/authorize", "a1", map[string]any{"method": "pay_later", "consumer": consumer("big@example.com")})
	if res.status != 402 || res.str("decision", "outcome") != "card_only" {
		t.Fatalf("got %d %s, want 402 card_only", res.status, res.raw)
	}
	// The session stays open for a card.
	card := map[string]any{"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": time.Now().Year() + 2, "cvc": "123"}
	res = call(t, "POST", r1.url+"/v1/sessions/"+s.str("id")+"/authorize", "a2", map[string]any{"method": "card", "consumer": consumer("big@example.com"), "card": card})
	if res.status != 201 || res.str("status") != "authorized" || res.str("card", "last4") != "4242" || strings.Contains(res.raw, "4242424242424242") {
		t.Fatalf("card: got %d %s", res.status, res.raw)
	}
	if again := call(t, "POST", r1.url+"/v1/sessions/"+s.str("id")+"/authorize", "a3", map[string]any{"method": "pay_later", "consumer": consumer("x@example.com")}); again.status != 409 {
		t.Fatalf("second order for one session: got %d %s", again.status, again.raw)
	}

	for _, tc := range []struct {
		name, number, cvc string
		status            int
		field, code       string
	}{
		{"declined", "4000 0000 0000 0002", "123", 402, "", ""},
		{"luhn", "4242 4242 4242 4241", "123", 400, "card.number", "invalid_request"},
		{"cvc", "4242 4242 4242 4242", "1", 400, "card.cvc", "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := call(t, "POST", r1.url+"/v1/sessions", "card-"+tc.name, sessionBody(1000, "c"))
			c := map[string]any{"number": tc.number, "exp_month": 12, "exp_year": time.Now().Year() + 2, "cvc": tc.cvc}
			res := call(t, "POST", r1.url+"/v1/sessions/"+s.str("id")+"/authorize", "a-"+tc.name, map[string]any{"method": "card", "consumer": consumer("c@example.com"), "card": c})
			if res.status != tc.status || res.str("error", "field") != tc.field || res.str("error", "code") != tc.code {
				t.Fatalf("got %d %s", res.status, res.raw)
			}
			if tc.status == 402 && res.str("decision", "outcome") != "declined" {
				t.Fatalf("got %s", res.raw)
			}
		})
	}
}

func TestConcurrentCapturesNeverExceed(t *testing.T) {
	r1 := startRegions(t, 1, nil)[0]
	oid := authorized(t, r1.url, "conc", 10000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := call(t, "POST", r1.url+"/v1/orders/"+oid+"/captures", fmt.Sprintf("cc%d", i), map[string]any{"amount": 3000})
			mu.Lock()
			defer mu.Unlock()
			if res.status == 201 {
				ok++
			} else if res.status != 400 && res.status != 409 {
				t.Errorf("got %d %s", res.status, res.raw)
			}
		}()
	}
	wg.Wait()
	o := call(t, "GET", r1.url+"/v1/orders/"+oid, "", nil)
	if ok != 3 || o.num("captured") != 9000 {
		t.Fatalf("got %d captures totalling %d, want 3 totalling 9000", ok, o.num("captured"))
	}
}

func TestAcrossRegions(t *testing.T) {
	rs := startRegions(t, 2, nil)
	r1, r2 := rs[0], rs[1]
	// The same key in two regions gives one session.
	a := call(t, "POST", r1.url+"/v1/sessions", "same", sessionBody(20000, "X-1"))
	b := call(t, "POST", r2.url+"/v1/sessions", "same", sessionBody(20000, "X-1"))
	if a.str("id") != b.str("id") {
		t.Fatalf("got %s and %s, want one session", a.str("id"), b.str("id"))
	}
	res := call(t, "POST", r1.url+"/v1/sessions/"+a.str("id")+"/authorize", "auth", map[string]any{"method": "pay_later", "consumer": consumer("x@example.com")})
	oid := res.str("id")
	// r2 captures: it asks r1 (the owner) for the rights.
	eventually(t, func() bool { return call(t, "GET", r2.url+"/v1/orders/"+oid, "", nil).status == 200 })
	if c := call(t, "POST", r2.url+"/v1/orders/"+oid+"/captures", "cap1", map[string]any{"amount": 5000}); c.status != 201 || c.num("captured") != 5000 {
		t.Fatalf("capture in r2: got %d %s", c.status, c.raw)
	}
	// Cut off, r2 cannot capture more than the rights it holds; r1 can
	// capture what it still owns; together they never exceed the order.
	partition(r1, r2, true)
	c2 := call(t, "POST", r2.url+"/v1/orders/"+oid+"/captures", "cap2", map[string]any{"amount": 5000})
	if c2.status != 503 || c2.str("error", "code") != "rights_unavailable" || c2.header.Get("Retry-After") == "" {
		t.Fatalf("capture in r2 cut off: got %d %s", c2.status, c2.raw)
	}
	if c3 := call(t, "POST", r1.url+"/v1/orders/"+oid+"/captures", "cap3", map[string]any{"amount": 15000}); c3.status != 201 {
		t.Fatalf("capture rest in r1: got %d %s", c3.status, c3.raw)
	}
	partition(r1, r2, false)
	// The retry with the same key in r2 now finds nothing left to capture.
	eventually(t, func() bool {
		return call(t, "GET", r1.url+"/v1/orders/"+oid, "", nil).num("captured") == 20000 &&
			call(t, "GET", r2.url+"/v1/orders/"+oid, "", nil).num("captured") == 20000
	})
	if c4 := call(t, "POST", r2.url+"/v1/orders/"+oid+"/captures", "cap2", map[string]any{"amount": 5000}); c4.status == 201 {
		t.Fatalf("retry after heal captured beyond the authorization: %s", c4.raw)
	}
	for _, r := range rs {
		if o := call(t, "GET", r.url+"/v1/orders/"+oid, "", nil); o.num("captured") != 20000 || o.str("status") != "captured" {
			t.Fatalf("%s: got %s", r.id, o.raw)
		}
	}
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 15s")
		}
		time.Sleep(10 * time.Millisecond) // polling observable state
	}
}

func TestAuthorizeIdempotency(t *testing.T) {
	r1 := startRegions(t, 1, nil)[0]
	s := call(t, "POST", r1.url+"/v1/sessions", "ai", sessionBody(1000, "ai"))
	url := r1.url + "/v1/sessions/" + s.str("id") + "/authorize"
	body := map[string]any{"method": "pay_later", "consumer": consumer("ai@example.com")}
	first := call(t, "POST", url, "k", body)
	again := call(t, "POST", url, "k", body)
	if first.status != 201 || again.status != 201 || again.str("id") != first.str("id") || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: got %d then %d %s", first.status, again.status, again.raw)
	}
	other := map[string]any{"method": "instalments", "consumer": consumer("ai@example.com")}
	if c := call(t, "POST", url, "k", other); c.status != 409 || c.str("error", "code") != "idempotency_conflict" {
		t.Fatalf("same key, other body: got %d %s", c.status, c.raw)
	}
	if c := call(t, "POST", url, "k2", body); c.status != 409 || c.str("error", "code") != "session_complete" {
		t.Fatalf("other key: got %d %s", c.status, c.raw)
	}
	// White space does not make a retry a different request.
	sess := `{"amount": 500, "currency": "SEK", "country": "SE", "merchant_reference": "ws",
		"lines": [{"name": "A", "quantity": 1, "unit_price": 500, "total": 500}],
		"urls": {"confirmation": "https://a.example/ok", "cancel": "https://a.example/c"}}`
	a := call(t, "POST", r1.url+"/v1/sessions", "ws", sess)
	b := call(t, "POST", r1.url+"/v1/sessions", "ws", strings.Join(strings.Fields(sess), ""))
	if a.status != 201 || b.status != 201 || b.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("got %d and %d %s", a.status, b.status, b.raw)
	}
}

func TestConcurrentRefundsNeverExceed(t *testing.T) {
	rs := startRegions(t, 2, nil)
	r1, r2 := rs[0], rs[1]
	oid := authorized(t, r1.url, "refunds", 10000)
	if c := call(t, "POST", r1.url+"/v1/orders/"+oid+"/captures", "cap", nil); c.status != 201 {
		t.Fatalf("capture: %d %s", c.status, c.raw)
	}
	eventually(t, func() bool { return call(t, "GET", r2.url+"/v1/orders/"+oid, "", nil).num("captured") == 10000 })
	// Refunds race in both regions, and then the regions are cut apart while
	// they keep refunding: the total never exceeds the capture.
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rs[i%2]
			if i == 8 {
				partition(r1, r2, true)
			}
			call(t, "POST", r.url+"/v1/orders/"+oid+"/refunds", fmt.Sprintf("rf%d", i), map[string]any{"amount": 1500})
		}()
	}
	wg.Wait()
	partition(r1, r2, false)
	eventually(t, func() bool { return r1.r.Ledger().Digest() == r2.r.Ledger().Digest() })
	for _, r := range rs {
		o := call(t, "GET", r.url+"/v1/orders/"+oid, "", nil)
		if o.num("refunded") > 10000 || o.num("refunded") < 1500 {
			t.Fatalf("%s: refunded %d of 10000 captured", r.id, o.num("refunded"))
		}
	}
}

func TestAdminOrderTimelineAcrossRegions(t *testing.T) {
	rs := startRegions(t, 2, nil)
	oid := authorized(t, rs[0].url, "adm", 5000)
	eventually(t, func() bool { return call(t, "GET", rs[1].url+"/v1/orders/"+oid, "", nil).status == 200 })
	if c := call(t, "POST", rs[1].url+"/v1/orders/"+oid+"/captures", "adm-c", nil); c.status != 201 {
		t.Fatalf("capture: %d %s", c.status, c.raw)
	}
	res := callAs(t, "admin", "admin-demo", "GET", rs[1].url+"/admin/api/orders/"+oid, "", nil)
	entries, _ := res.body["entries"].([]any)
	regions := map[string]bool{}
	for _, e := range entries {
		regions[e.(map[string]any)["region"].(string)] = true
	}
	if res.status != 200 || !regions["r1"] || !regions["r2"] {
		t.Fatalf("got %d %s, want entries written by r1 and r2", res.status, res.raw)
	}
	if res := callAs(t, "demo", "sk_test_demo", "GET", rs[1].url+"/admin/api/orders/"+oid, "", nil); res.status != 401 {
		t.Fatalf("merchant credentials on the admin API: got %d", res.status)
	}
}

// TestDuplicateAuthorizationFromPartition: a shopper's session authorized in
// two regions cut off from each other yields one order; the authorization
// with the lower (hlc, origin) wins everywhere, the other is shown as a
// conflict until the region that wrote it voids it, and captures never
// exceed the order's amount.
func TestDuplicateAuthorizationFromPartition(t *testing.T) {
	rs := startRegions(t, 2, nil)
	r1, r2 := rs[0], rs[1]
	s := call(t, "POST", r1.url+"/v1/sessions", "dup", sessionBody(8000, "dup"))
	eventually(t, func() bool { return call(t, "GET", r2.url+"/v1/sessions/"+s.str("id"), "", nil).status == 200 })
	partition(r1, r2, true)
	a1 := call(t, "POST", r1.url+"/v1/sessions/"+s.str("id")+"/authorize", "a1", map[string]any{"method": "pay_later", "consumer": consumer("dup@example.com")})
	a2 := call(t, "POST", r2.url+"/v1/sessions/"+s.str("id")+"/authorize", "a2", map[string]any{"method": "pay_later", "consumer": consumer("dup@example.com")})
	if a1.status != 201 || a2.status != 201 || a1.str("id") != a2.str("id") {
		t.Fatalf("got %d %s and %d %s, want the same order authorized on both sides", a1.status, a1.str("id"), a2.status, a2.str("id"))
	}
	oid := a1.str("id")
	partition(r1, r2, false)
	eventually(t, func() bool { return r1.r.Ledger().Digest() == r2.r.Ledger().Digest() })
	o1 := call(t, "GET", r1.url+"/v1/orders/"+oid, "", nil)
	o2 := call(t, "GET", r2.url+"/v1/orders/"+oid, "", nil)
	winner := o1.str("authorized_in")
	if winner == "" || o2.str("authorized_in") != winner {
		t.Fatalf("got winners %q and %q, want one", winner, o2.str("authorized_in"))
	}
	if c, _ := o1.body["conflicts"].([]any); len(c) != 1 {
		t.Fatalf("got conflicts %v, want the losing authorization listed", o1.body["conflicts"])
	}
	loser := r2
	if winner == "r2" {
		loser = r1
	}
	// The loser captures: it first voids its duplicate, then asks the
	// winner for rights; the order is never captured beyond its amount.
	if c := call(t, "POST", loser.url+"/v1/orders/"+oid+"/captures", "cap-all", nil); c.status != 201 || c.num("captured") != 8000 {
		t.Fatalf("capture at the loser: got %d %s", c.status, c.raw)
	}
	if c := call(t, "POST", loser.url+"/v1/orders/"+oid+"/captures", "cap-more", map[string]any{"amount": 1}); c.status == 201 {
		t.Fatalf("captured beyond the amount: %s", c.raw)
	}
	eventually(t, func() bool { return r1.r.Ledger().Digest() == r2.r.Ledger().Digest() })
	for _, r := range rs {
		o := call(t, "GET", r.url+"/v1/orders/"+oid, "", nil)
		if o.num("captured") != 8000 || o.body["conflicts"] != nil {
			t.Fatalf("%s: got %s, want captured 8000 and the conflict resolved", r.id, o.raw)
		}
		var rights ledger.Amount
		for _, id := range []string{"r1", "r2"} {
			b, _ := r.r.Ledger().Balance(t.Context(), "order:"+oid+":capture:"+id, "SEK")
			rights += b
		}
		if rights != 0 {
			t.Fatalf("%s: %d capture rights left after a full capture", r.id, rights)
		}
	}
}

// TestValidOrderID accepts the ids kassa derives and nothing else.
func TestValidOrderID(t *testing.T) {
	id := string(checkout.OrderFor(checkout.SessionIDs{Key: []byte(checkout.DemoIDKey)}.ID("demo", "key-1")))
	if !checkout.ValidOrderID(id) {
		t.Fatalf("%q: got invalid, want valid", id)
	}
	for _, bad := range []string{"", "ord_", "page2", "ses_" + id[4:], id + "a", id[:len(id)-1], strings.ToUpper(id), id[:10] + "1" + id[11:], id[:10] + "_" + id[11:]} {
		if checkout.ValidOrderID(bad) {
			t.Errorf("%q: got valid, want invalid", bad)
		}
	}
}
