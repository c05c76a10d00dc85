package checkout_test

import (
	"testing"
	"time"

	"kassa/region"
)

// TestDurabilityPeer: under durability peer a write is acknowledged only
// once the other region holds it. Cut off, the API answers 503
// not_replicated with Retry-After, the write stays committed here, and a
// retry with the same Idempotency-Key replays it and waits again; once the
// link is back the retry is acknowledged and the peer holds the object.
func TestDurabilityPeer(t *testing.T) {
	rs := startRegions(t, 2, func(c *region.Config) {
		c.Durability = "peer"
		// Long enough for a loaded machine; the cut-off tries wait it out.
		c.Sync.AckTimeout = 2 * time.Second
	})
	r1, r2 := rs[0], rs[1]

	s := call(t, "POST", r1.url+"/v1/sessions", "dur-1", sessionBody(10_000, "dur-1"))
	if s.status != 201 {
		t.Fatalf("reachable peer: got %d %s, want 201", s.status, s.raw)
	}
	if got := call(t, "GET", r2.url+"/v1/sessions/"+s.str("id"), "", nil); got.status != 200 {
		t.Fatalf("the peer right after the acknowledgement: got %d %s, want 200", got.status, got.raw)
	}

	partition(r1, r2, true)
	for i := range 2 {
		s = call(t, "POST", r1.url+"/v1/sessions", "dur-2", sessionBody(10_000, "dur-2"))
		if s.status != 503 || s.str("error", "code") != "not_replicated" || s.header.Get("Retry-After") == "" {
			t.Fatalf("try %d with the peer cut off: got %d %s (Retry-After %q), want 503 not_replicated with Retry-After", i, s.status, s.raw, s.header.Get("Retry-After"))
		}
	}
	partition(r1, r2, false)
	deadline := time.Now().Add(15 * time.Second)
	for {
		// A client retrying with the same key, as the answer says.
		s = call(t, "POST", r1.url+"/v1/sessions", "dur-2", sessionBody(10_000, "dur-2"))
		if s.status == 201 {
			break
		}
		if s.status != 503 || time.Now().After(deadline) {
			t.Fatalf("retry after healing: got %d %s, want 201", s.status, s.raw)
		}
	}
	// A replay: the session was committed in r1 by the first try.
	if s.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the retry was not a replay: %v", s.header)
	}
	if got := call(t, "GET", r2.url+"/v1/sessions/"+s.str("id"), "", nil); got.status != 200 {
		t.Fatalf("the peer after the acknowledgement: got %d %s, want 200", got.status, got.raw)
	}
}
