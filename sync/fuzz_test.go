package sync_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"kassa/ledger"
	regionsync "kassa/sync"
)

// FuzzPushBody sends fuzzed bytes as the body of a push that r1 signed
// correctly. Whatever the body, the receiver answers 200 or a 4xx with an
// error body, never panics, and a 4xx leaves its store as it was; a 200
// accounts for every entry and moves the store by exactly what it applied.
func FuzzPushBody(f *testing.F) {
	rc := mustOpenReceiver(f, func(c *regionsync.Config) {
		c.BatchSize = 8
		c.MaxBodyBytes = 64 << 10
		// A push naming a predecessor that never comes waits a quarter of
		// this: keep it short, or the fuzzer spends its time waiting.
		c.Timeout = 20 * time.Millisecond
	})
	r1, r3 := mustChain(f, "r1", 10), mustChain(f, "r3", 2)
	good := pushOf(f, "r1", r1[:3]...)
	forged := r3[0]
	forged.Sign(keyFor("r1"))
	corrupt := wire(r1[3:5]...)
	corrupt[0] = append([]byte(nil), corrupt[0]...)
	corrupt[0][len(corrupt[0])/2] ^= 0x01
	withCorrupt := pushWire{From: "r1", Entries: corrupt}.bytes()
	raw, _ := r1[0].MarshalBinary()

	for _, seed := range [][]byte{
		// Seeds run in order against one store: these two come before the
		// entries they lack or imitate have landed.
		pushOf(f, "r1", r1[6:]...), // a gap
		pushOf(f, "r1", forged),    // a forged relay
		good,
		pushOf(f, "r1", append(append([]ledger.Entry(nil), r1[3:6]...), r3...)...), // with relayed entries
		pushOf(f, "r1", r1...),                  // over the batch limit
		pushOf(f, "r3", r1[:3]...),              // from another region
		withCorrupt,                             // one entry bit-flipped
		good[:len(good)/2],                      // truncated
		append(append([]byte(nil), good...), 0), // a byte too many
		pushWire{From: "r1", Vector: map[string]uint64{"r1": 1<<64 - 1}}.bytes(), // the largest seq
		pushWire{From: "r1", Entries: [][]byte{{}}}.bytes(),                      // an empty entry
		pushWire{From: "r1"}.bytes(),
		pushWire{}.bytes(),
		[]byte("kassa-push-v1\n"),
		[]byte(`{"from":"r1","entries":[]}`), // JSON
		[]byte(``),
		raw, // an entry, not a push
	} {
		f.Add(seed)
	}

	n := 0
	f.Fuzz(func(t *testing.T, body []byte) {
		before := stateOf(rc.store)
		// A query that differs per call keeps every signature fresh, so the
		// replay cache never answers instead of the code under test.
		n++
		uri := entriesURI + "?fuzz=" + strconv.Itoa(n)
		req := httptest.NewRequest(http.MethodPost, uri, bytes.NewReader(body))
		signHeaders(req.Header, http.MethodPost, uri, "r1", keyFor("r1"), time.Now(), body)
		w := httptest.NewRecorder()
		rc.h.ServeHTTP(w, req) // in-process, so a panic fails the fuzz run
		after := stateOf(rc.store)

		switch w.Code {
		case http.StatusOK:
			var a pushAnswer
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
				t.Fatalf("200 with body %q: %v", w.Body.Bytes(), err)
			}
			var req regionsync.PushRequest
			if err := req.UnmarshalBinary(body); err != nil {
				t.Fatalf("200 for a body that is not a push: %v", err)
			}
			if got := a.Applied + a.Duplicates + len(a.Rejected); got != len(req.Entries) {
				t.Fatalf("got %d applied + %d duplicates + %d rejected, want %d entries accounted for", a.Applied, a.Duplicates, len(a.Rejected), len(req.Entries))
			}
			if got := after.count - before.count; got != int64(a.Applied) {
				t.Fatalf("store grew by %d, answer says %d applied", got, a.Applied)
			}
			if a.Applied == 0 && !after.equal(before) {
				t.Fatalf("nothing applied but store changed: got %v, want %v", after, before)
			}
			for o, s := range after.vector {
				if a.Vector[string(o)] != s {
					t.Fatalf("got vector %v in the answer, store has %v", a.Vector, after.vector)
				}
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%d with body %q (%v), want an error code and message", w.Code, w.Body.Bytes(), err)
			}
			if !after.equal(before) {
				t.Fatalf("refused %d (%s) but store changed: got %v, want %v", w.Code, e.Error.Code, after, before)
			}
		default:
			t.Fatalf("got status %d (body %q), want 200, 400 or 413", w.Code, w.Body.Bytes())
		}
	})
}
