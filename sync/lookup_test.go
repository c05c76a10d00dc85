package sync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kassa/ledger"
	regionsync "kassa/sync"
)

const lookupURI = "/sync/v1/lookup"

// lookupAnswer decodes a 200 answer to a lookup, and the seqs of r1 it
// carries.
func lookupAnswer(t *testing.T, r reply) (regionsync.LookupResponse, []uint64) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("got status %d, want 200 (body %s)", r.status, r.body)
	}
	resp, err := regionsync.DecodeLookupResponse(r.body)
	if err != nil {
		t.Fatalf("got body %s: %v", r.body, err)
	}
	var seqs []uint64
	for _, b := range resp.Entries {
		e, err := ledger.DecodeEntry(b)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, e.Seq)
	}
	return resp, seqs
}

// TestLookupServed asks r2 for entries it holds and does not: the answer
// carries each origin's history from the asker's vector up to the latest
// entry about the key, stops at the batch limit saying so, and a bad or
// unsigned request is refused with a 4xx and changes nothing.
func TestLookupServed(t *testing.T) {
	rc := mustOpenReceiver(t, func(c *regionsync.Config) { c.BatchSize = 4 })
	r1 := mustChain(t, "r1", 10)
	if _, err := rc.store.Apply(bg, r1); err != nil {
		t.Fatal(err)
	}
	own, err := rc.store.Append(bg, ledger.Draft{Kind: "order.captured", Subject: "r2-order", Data: []byte(`{"ref":"ref:demo:A"}`),
		Postings: []ledger.Posting{{Account: "consumer:c:receivable", Amount: 1, Currency: "SEK"}, {Account: "merchant:demo:payable", Amount: -1, Currency: "SEK"}}})
	if err != nil {
		t.Fatal(err)
	}
	before := stateOf(rc.store)

	for _, tc := range []struct {
		name     string
		body     string
		held     bool
		complete bool
		seqs     string
	}{
		{"history from the asker's vector", `{"from":"r1","subjects":["r1-order-2"],"vector":{}}`, true, true, "[1 2 3]"},
		{"only what the asker lacks", `{"from":"r1","subjects":["r1-order-2"],"vector":{"r1":1}}`, true, true, "[2 3]"},
		{"held, nothing lacking", `{"from":"r1","subjects":["r1-order-2"],"vector":{"r1":5}}`, true, true, "[]"},
		{"not held", `{"from":"r1","subjects":["nobody"],"vector":{}}`, false, true, "[]"},
		{"past the batch limit", `{"from":"r1","subjects":["r1-order-9"],"vector":{"r1":2}}`, true, false, "[3 4 5 6]"},
		{"by ref", `{"from":"r1","refs":["ref:demo:A"],"vector":{"r1":10}}`, true, true, "[1]"},
		{"subject or ref", `{"from":"r1","subjects":["nobody","r1-order-0"],"refs":["ref:none"],"vector":{"r1":0,"r2":1}}`, true, true, "[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, seqs := lookupAnswer(t, rc.do(t, fromR1("POST", lookupURI, []byte(tc.body))))
			if resp.Held != tc.held || resp.Complete != tc.complete || fmt.Sprint(seqs) != tc.seqs {
				t.Fatalf("got held %v complete %v seqs %v, want %v %v %s", resp.Held, resp.Complete, seqs, tc.held, tc.complete, tc.seqs)
			}
		})
	}
	if _, seqs := lookupAnswer(t, rc.do(t, fromR1("POST", lookupURI, []byte(`{"from":"r1","refs":["ref:demo:A"],"vector":{"r1":10}}`)))); seqs[0] != own.Seq {
		t.Fatalf("ref lookup: got seqs %v, want r2's %d", seqs, own.Seq)
	}

	refusal(t, rc.do(t, call{method: "POST", uri: lookupURI, body: []byte(`{"from":"r1","subjects":["x"]}`), header: http.Header{}}), 403, "unknown_peer", "unknown peer")
	long := strings.Repeat("x", regionsync.MaxLookupKeyLen+1)
	for _, bad := range []string{
		`{"from":"r1","vector":{}}`,                               // no key
		`{"from":"r1","subjects":["a","b","c"],"refs":["d","e"]}`, // too many
		`{"from":"r1","subjects":[""]}`,                           // empty key
		`{"from":"r1","refs":["` + long + `"]}`,                   // too long
		`{"from":"r3","subjects":["a"]}`,                          // not the signer
		`{"from":"r1","subjects":["a"],"x":1}`,                    // unknown field
		`{"from":"r1","subjects":["a"]}{}`,                        // trailing data
		`{"from":"r1","subjects":["a"],"vector":{"":1}}`,          // bad origin
		`{"from":"r1","subjects":"a"}`,                            // not a list
		``,
	} {
		refusal(t, rc.do(t, fromR1("POST", lookupURI, []byte(bad))), 400, "malformed", "not a lookup")
	}
	unchanged(t, rc.store, before)
}

// TestLookupAbandonedByTheAsker: a lookup whose asker stopped waiting
// (its request's context ended while the answer was read) is not an
// error of this region: nothing is answered, no refusal is counted or
// logged, and a debug line says what happened.
func TestLookupAbandonedByTheAsker(t *testing.T) {
	var logs bytes.Buffer
	rc := mustOpenReceiver(t, func(c *regionsync.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	before := stateOf(rc.store)
	// A ref is always read from the database, which the ended context stops.
	rec := rc.serveGone(fromR1("POST", lookupURI, []byte(`{"from":"r1","refs":["ref:demo:A"],"vector":{}}`)))
	if rec.Body.Len() != 0 {
		t.Fatalf("answered %d %s to an asker that had gone", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "lookup abandoned by the asker") || strings.Contains(logs.String(), "level=ERROR") || strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("logged:\n%s\nwant only the debug line of an abandoned lookup", logs.String())
	}
	unchanged(t, rc.store, before)
}

// holdPushesFrom makes m refuse pushes from region from, as if they were
// lost on the way; every other request is served.
func holdPushesFrom(m *member, from string) {
	next := *m.handler.Load()
	setHandler(m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/sync/v1/entries" && r.Header.Get(regionsync.HeaderRegion) == from {
			http.Error(w, "held back", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// TestLookup reads entries through from peers: found and applied, absent
// when every peer says so, unknown when the peer that holds them cannot be
// asked (a peer answering a lookup never asks its own peers), and found
// without waiting for a peer that hangs.
func TestLookup(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	r1, r2, r3 := c.members[0], c.members[1], c.members[2]
	holdPushesFrom(r2, "r1")
	holdPushesFrom(r3, "r1")
	for i := range 5 {
		if _, err := r1.store.Append(bg, draft("r1", i)); err != nil {
			t.Fatal(err)
		}
	}
	lookup := func(subjects ...string) regionsync.LookupResult {
		t.Helper()
		res, err := r2.node.Lookup(bg, subjects, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if got := r2.store.Vector()["r1"]; got != 0 {
		t.Fatalf("r2 holds r1's entries up to %d before any lookup: pushes were not held back", got)
	}
	if res := lookup("r1-order-2"); res != regionsync.LookupFound {
		t.Fatalf("lookup of an entry r1 holds: got %v, want found", res)
	}
	if got := r2.store.Vector()["r1"]; got != 3 {
		t.Fatalf("after the lookup r2 holds r1 up to %d, want 3 (the entry and its history)", got)
	}
	if res := lookup("nobody"); res != regionsync.LookupAbsent {
		t.Fatalf("lookup of what no one holds: got %v, want absent", res)
	}
	if _, err := r2.node.Lookup(bg, nil, nil); err == nil {
		t.Fatal("a lookup of no key: got no error")
	}

	// r3 can reach r1, but answers from its own ledger only.
	c.f.partition("r1", "r2", true)
	start := time.Now()
	if res := lookup("r1-order-4"); res != regionsync.LookupUnknown {
		t.Fatalf("lookup with its holder cut off: got %v, want unknown", res)
	}
	if took := time.Since(start); took > regionsync.DefaultLookupTimeout+time.Second {
		t.Fatalf("lookup with its holder cut off took %s, want about sync.lookup_timeout at most", took)
	}
	// (r2 relays to r3 the r1 entries it read through, up to seq 3.)
	if got := r3.store.Vector()["r1"]; got >= 5 {
		t.Fatalf("r3 answered a lookup by reading through itself: it holds r1's entries up to %d", got)
	}
	c.f.partition("r1", "r2", false)

	// A peer that hangs does not hold up the answer another peer has.
	hang := make(chan struct{})
	defer close(hang)
	next := *r3.handler.Load()
	setHandler(r3, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sync/v1/lookup" {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
		next.ServeHTTP(w, r)
	}))
	deadline := time.Now().Add(5 * time.Second)
	for r2.node.Down("r1") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling: r2's pushes find r1 healed
	}
	start = time.Now()
	if res := lookup("r1-order-4"); res != regionsync.LookupFound {
		t.Fatalf("lookup with one peer hanging: got %v, want found", res)
	}
	if took := time.Since(start); took >= regionsync.DefaultLookupTimeout {
		t.Fatalf("lookup with one peer hanging took %s: it waited for the hanging peer", took)
	}
}

// TestLookupsInFlight floods r2 with lookups while r3 is slow to answer
// them: they wait for one another, and r3 never has more than
// LookupsInFlight of them from r2 at once.
func TestLookupsInFlight(t *testing.T) {
	c := newCluster(t, 3, 2, func(cfg *regionsync.Config) { cfg.LookupTimeout = 10 * time.Second })
	r2, r3 := c.members[1], c.members[2]
	next := *r3.handler.Load()
	var inFlight, most atomic.Int64
	setHandler(r3, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sync/v1/lookup" {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-time.After(50 * time.Millisecond) // a slow peer
		}
		next.ServeHTTP(w, r)
	}))
	const n = 10
	var wg sync.WaitGroup
	results := make(chan regionsync.LookupResult, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, _ := r2.node.Lookup(bg, []string{fmt.Sprintf("flood-%d", i)}, nil)
			results <- res
		}()
	}
	wg.Wait()
	close(results)
	for res := range results {
		if res != regionsync.LookupAbsent {
			t.Fatalf("lookup of what no one holds: got %v, want absent", res)
		}
	}
	if m := most.Load(); m < 1 || m > regionsync.LookupsInFlight {
		t.Fatalf("r3 had %d lookups from r2 in flight at once, want 1 to %d", m, regionsync.LookupsInFlight)
	}
}

// FuzzLookupRequest decodes fuzzed lookup bodies: never a panic, and what
// decodes is within the limits and survives encoding again.
func FuzzLookupRequest(f *testing.F) {
	for _, s := range []string{
		`{"from":"r1","subjects":["ses_x","ord_y"],"vector":{"r1":3}}`,
		`{"from":"r1","refs":["ref:demo:A"]}`,
		`{"from":"r1"}`, `{"from":"r1","subjects":[""]}`, `{}`, `null`, `[]`, ``,
		`{"from":"r1","subjects":["a"],"vector":{"r1":-1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := regionsync.DecodeLookupRequest(body)
		if err != nil {
			return
		}
		if n := len(req.Subjects) + len(req.Refs); n < 1 || n > regionsync.MaxLookupKeys {
			t.Fatalf("decoded %d keys", n)
		}
		b, _ := json.Marshal(req)
		if _, err := regionsync.DecodeLookupRequest(b); err != nil {
			t.Fatalf("a decoded request does not decode again: %v", err)
		}
	})
}

// FuzzLookupResponse decodes fuzzed lookup answers as an asker would, and
// applies what decodes to a store: never a panic, and a store changes only
// by entries that verify.
func FuzzLookupResponse(f *testing.F) {
	rc := mustOpenReceiver(f, nil)
	r1 := mustChain(f, "r1", 3)
	good, _ := json.Marshal(regionsync.LookupResponse{Held: true, Complete: true, Entries: wire(r1...)})
	for _, s := range [][]byte{good, []byte(`{"held":false,"complete":true,"entries":[]}`), []byte(`{"held":false,"entries":["AA=="]}`),
		[]byte(`{"held":true,"entries":[""]}`), []byte(`null`), []byte(``)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, err := regionsync.DecodeLookupResponse(body)
		if err != nil {
			return
		}
		if !resp.Held && len(resp.Entries) > 0 {
			t.Fatal("entries in an answer that holds nothing")
		}
		ctx, cancel := context.WithTimeout(bg, 5*time.Second)
		defer cancel()
		rc.store.ApplyWire(ctx, resp.Entries)
	})
}
