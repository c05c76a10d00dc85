package checkout_test

import (
	"crypto/sha256"
	"encoding/base32"
	"io"
	"net/http"
	"strings"
	"testing"

	"kassa/checkout"
	"kassa/region"
)

// unkeyedSessionID is how session ids were derived before they were keyed:
// a plain SHA-256 of (merchant, Idempotency-Key) that anyone can compute.
func unkeyedSessionID(merchant, key string) string {
	h := sha256.New()
	for _, p := range []string{"session", merchant, key} {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "ses_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h.Sum(nil))[:24])
}

// TestSessionIDsNeedTheKey: a session's id is derived from (merchant,
// Idempotency-Key) under the id key the regions share, so a retry in
// another region finds the same session, while someone who guesses a
// merchant's key scheme but lacks the id key cannot compute the address of
// its checkout page.
func TestSessionIDsNeedTheKey(t *testing.T) {
	const idKey = "id-key-of-this-test-deployment"
	rs := startRegions(t, 2, func(c *region.Config) { c.Checkout.IDKey = idKey })
	r1, r2 := rs[0], rs[1]

	s := call(t, "POST", r1.url+"/v1/sessions", "order-1001", sessionBody(25900, "order-1001"))
	if s.status != 201 {
		t.Fatalf("create: got %d %s", s.status, s.raw)
	}
	id := s.str("id")

	// The page is there under the keyed id...
	get := func(url string) int {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if code := get(r1.url + "/checkout/" + id); code != 200 {
		t.Fatalf("checkout page under the keyed id: got %d, want 200", code)
	}
	// ... and not under the id anyone could compute from the merchant and
	// its key.
	guessed := unkeyedSessionID("demo", "order-1001")
	for _, r := range rs {
		if code := get(r.url + "/checkout/" + guessed); code != 404 {
			t.Fatalf("%s: checkout page under the unkeyed id: got %d, want 404", r.id, code)
		}
		if res := call(t, "GET", r.url+"/v1/sessions/"+guessed, "", nil); res.status != 404 {
			t.Fatalf("%s: session under the unkeyed id: got %d, want 404", r.id, res.status)
		}
	}
	if want := string(checkout.SessionIDs{Key: []byte(idKey)}.ID("demo", "order-1001")); id != want {
		t.Fatalf("got id %s, want %s (the id key's)", id, want)
	}
	if demo := string(checkout.SessionIDs{Key: []byte(checkout.DemoIDKey)}.ID("demo", "order-1001")); id == demo {
		t.Fatalf("got the development key's id %s with another id key configured", id)
	}

	// The same key in the other region, cut off from the first: the same
	// id, whether or not the first region's entry got there before the cut
	// (the id is computed, not looked up).
	partition(r1, r2, true)
	again := call(t, "POST", r2.url+"/v1/sessions", "order-1001", sessionBody(25900, "order-1001"))
	partition(r1, r2, false)
	if again.status != 201 || again.str("id") != id {
		t.Fatalf("same key in r2: got %d %s, want 201 with id %s", again.status, again.raw, id)
	}
}
