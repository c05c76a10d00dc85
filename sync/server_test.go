package sync_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"kassa/ledger"
	regionsync "kassa/sync"
)

const entriesURI = "/sync/v1/entries"

// receiver is region r2 serving the sync endpoints, without pushing: what
// it holds changes only through the requests a test sends it. It knows r1
// and r3 as peers and their keys; r9 is a stranger.
type receiver struct {
	path  string
	store *ledger.Store
	node  *regionsync.Node
	h     http.Handler
	srv   *httptest.Server
}

// syncKeys holds the public keys every store in these tests knows.
func syncKeys() ledger.Keys {
	ks := ledger.Keys{}
	for _, id := range []string{"r1", "r2", "r3"} {
		ks[ledger.RegionID(id)] = keyFor(id).Public().(ed25519.PublicKey)
	}
	return ks
}

func mustOpenReceiver(tb testing.TB, tune func(*regionsync.Config)) *receiver {
	tb.Helper()
	return openReceiverAt(tb, filepath.Join(tb.TempDir(), "r2.db"), tune)
}

// openReceiverAt is mustOpenReceiver on the database at path, which may
// hold entries already: those are not in the new store's memory.
func openReceiverAt(tb testing.TB, path string, tune func(*regionsync.Config)) *receiver {
	tb.Helper()
	rc := &receiver{path: path}
	var err error
	rc.store, err = ledger.Open(bg, ledger.Options{Path: rc.path, Region: "r2", Key: keyFor("r2"), Keys: syncKeys(), Logger: quiet()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rc.store.Close() })
	cfg := regionsync.Config{
		Key:      keyFor("r2"),
		Settings: regionsync.Settings{BatchSize: 64, MaxBodyBytes: 1 << 20},
		Logger:   quiet(),
		// Nothing dials these: the node never runs its push loops here.
		Peers: []regionsync.Peer{
			{ID: "r1", URL: "http://127.0.0.1:1", PublicKey: keyFor("r1").Public().(ed25519.PublicKey)},
			{ID: "r3", URL: "http://127.0.0.1:3", PublicKey: keyFor("r3").Public().(ed25519.PublicKey)},
		},
	}
	if tune != nil {
		tune(&cfg)
	}
	rc.node, err = regionsync.New(rc.store, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	r := mux.NewRouter()
	rc.node.Routes(r)
	rc.h = r
	if _, ok := tb.(*testing.T); ok {
		rc.srv = httptest.NewServer(r)
		tb.Cleanup(rc.srv.Close)
	}
	return rc
}

// mustChain returns the first n entries region writes, from a store of its
// own that is closed again.
func mustChain(tb testing.TB, region string, n int) []ledger.Entry {
	tb.Helper()
	ks := syncKeys()
	ks[ledger.RegionID(region)] = keyFor(region).Public().(ed25519.PublicKey)
	s, err := ledger.Open(bg, ledger.Options{Path: filepath.Join(tb.TempDir(), region+".db"), Region: ledger.RegionID(region), Key: keyFor(region), Keys: ks, Logger: quiet()})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < n; i++ {
		if _, err := s.Append(bg, draft(region, i)); err != nil {
			tb.Fatal(err)
		}
	}
	es, err := s.EntriesAfter(bg, ledger.RegionID(region), 0, n)
	if err != nil || len(es) != n {
		tb.Fatalf("got %d entries of %s, %v; want %d", len(es), region, err, n)
	}
	return es
}

// pushWire is a push body as docs/sync.md describes it, encoded here rather
// than by the package so that the tests pin the wire format.
type pushWire struct {
	From       string
	Vector     map[string]uint64
	Seq, After uint64
	Entries    [][]byte
}

// bytes writes "kassa-push-v1\n", then uvarint-prefixed from, the vector's
// (origin, seq) pairs in origin order, seq, after and the entries.
func (p pushWire) bytes() []byte {
	b := []byte("kassa-push-v1\n")
	str := func(s []byte) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str([]byte(p.From))
	origins := make([]string, 0, len(p.Vector))
	for o := range p.Vector {
		origins = append(origins, o)
	}
	sort.Strings(origins)
	b = binary.AppendUvarint(b, uint64(len(origins)))
	for _, o := range origins {
		str([]byte(o))
		b = binary.AppendUvarint(b, p.Vector[o])
	}
	b = binary.AppendUvarint(b, p.Seq)
	b = binary.AppendUvarint(b, p.After)
	b = binary.AppendUvarint(b, uint64(len(p.Entries)))
	for _, e := range p.Entries {
		str(e)
	}
	return b
}

func wire(es ...ledger.Entry) [][]byte {
	out := make([][]byte, len(es))
	for i := range es {
		out[i], _ = es[i].MarshalBinary()
	}
	return out
}

func pushOf(tb testing.TB, from string, es ...ledger.Entry) []byte {
	tb.Helper()
	v := map[string]uint64{}
	for _, e := range es {
		v[string(e.Origin)] = max(v[string(e.Origin)], e.Seq)
	}
	return pushWire{From: from, Vector: v, Entries: wire(es...)}.bytes()
}

// nonceCounter gives every signed test request its own nonce.
var nonceCounter atomic.Uint64

// signHeaders signs a request the way DESIGN.md and protocol.go document it,
// reimplemented so that a change to the scheme breaks these tests.
func signHeaders(h http.Header, method, uri, region string, key ed25519.PrivateKey, at time.Time, body []byte) {
	sum := sha256.Sum256(body)
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	nonce := fmt.Sprintf("%024x", nonceCounter.Add(1))
	msg := "kassa-sync-v1\n" + method + "\n" + uri + "\n" + ts + "\n" + nonce + "\n" + hex.EncodeToString(sum[:])
	h.Set("Kassa-Region", region)
	h.Set("Kassa-Timestamp", ts)
	h.Set("Kassa-Nonce", nonce)
	h.Set("Kassa-Signature", base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(msg))))
}

// call is one request to the receiver.
type call struct {
	method string
	uri    string
	body   []byte
	header http.Header
}

// signed is a request from region signed with key at time at.
func signed(region string, key ed25519.PrivateKey, at time.Time, method, uri string, body []byte) call {
	c := call{method: method, uri: uri, body: body, header: http.Header{}}
	signHeaders(c.header, method, uri, region, key, at, body)
	return c
}

// fromR1 is a push or pull signed by r1 now.
func fromR1(method, uri string, body []byte) call {
	return signed("r1", keyFor("r1"), time.Now(), method, uri, body)
}

// reply is the receiver's answer to one call.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// send makes c over HTTP; it may be called from any goroutine.
func (rc *receiver) send(c call) (reply, error) {
	req, err := http.NewRequest(c.method, rc.srv.URL+c.uri, bytes.NewReader(c.body))
	if err != nil {
		return reply{}, err
	}
	maps.Copy(req.Header, c.header)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, b}, err
}

func (rc *receiver) do(t *testing.T, c call) reply {
	t.Helper()
	r, err := rc.send(c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// storeState is what a refused request must leave alone.
type storeState struct {
	digest ledger.Digest
	count  int64
	vector map[ledger.RegionID]uint64
}

func stateOf(s *ledger.Store) storeState {
	return storeState{digest: s.Digest(), count: s.Count(), vector: s.Vector()}
}

func (a storeState) equal(b storeState) bool {
	return a.digest == b.digest && a.count == b.count && maps.Equal(a.vector, b.vector)
}

func (a storeState) String() string {
	return fmt.Sprintf("digest %s count %d vector %v", a.digest.String()[:12], a.count, a.vector)
}

func unchanged(t *testing.T, s *ledger.Store, before storeState) {
	t.Helper()
	if after := stateOf(s); !after.equal(before) {
		t.Errorf("store changed: got %v, want %v", after, before)
	}
}

// refusal checks a 4xx answer: status, JSON error code and a reason.
func refusal(t *testing.T, r reply, status int, code, reason string) {
	t.Helper()
	body := r.body
	if r.status != status {
		t.Errorf("got status %d, want %d (body %s)", r.status, status, body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("got Content-Type %q, want application/json", ct)
	}
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == nil {
		t.Fatalf("got body %s (%v), want {\"error\":{\"code\",\"message\"}}", body, err)
	}
	if e.Error.Code != code {
		t.Errorf("got code %q, want %q (message %q)", e.Error.Code, code, e.Error.Message)
	}
	if !strings.Contains(e.Error.Message, reason) {
		t.Errorf("got message %q, want it to say %q", e.Error.Message, reason)
	}
}

type pushAnswer struct {
	Region      string            `json:"region"`
	Incarnation string            `json:"incarnation"`
	Vector      map[string]uint64 `json:"vector"`
	Applied     int               `json:"applied"`
	Duplicates  int               `json:"duplicates"`
	Rejected    []struct {
		Origin  string `json:"origin"`
		Seq     uint64 `json:"seq"`
		ID      string `json:"id"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"rejected"`
}

func accepted(t *testing.T, r reply) pushAnswer {
	t.Helper()
	body := r.body
	if r.status != http.StatusOK {
		t.Fatalf("got status %d, want 200 (body %s)", r.status, body)
	}
	var a pushAnswer
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("got body %s: %v", body, err)
	}
	if a.Rejected == nil {
		t.Errorf("got rejected null, want a list (body %s)", body)
	}
	if a.Incarnation == "" {
		t.Errorf("got no incarnation (body %s)", body)
	}
	return a
}

// TestPushRefused sends one bad push per case: each is refused with a 4xx,
// a stable code and a reason, and changes nothing.
func TestPushRefused(t *testing.T) {
	rc := mustOpenReceiver(t, func(c *regionsync.Config) {
		c.BatchSize = 4
		c.MaxBodyBytes = 8 << 10
		c.ReplayWindow = time.Minute
	})
	r1 := mustChain(t, "r1", 5)
	good := pushOf(t, "r1", r1[:3]...)
	now := time.Now()

	corrupt := wire(r1[:3]...)
	corrupt[1] = append([]byte(nil), corrupt[1]...)
	corrupt[1][0] ^= 0xff // the encoding tag
	oneBad := pushWire{From: "r1", Entries: corrupt}.bytes()
	truncated := wire(r1[:3]...)
	truncated[2] = truncated[2][:len(truncated[2])/2]
	oneShort := pushWire{From: "r1", Entries: truncated}.bytes()
	big := pushWire{From: "r1", Entries: [][]byte{bytes.Repeat([]byte("x"), 9<<10)}}.bytes()
	head := []byte("kassa-push-v1\n\x02r1")

	cases := []struct {
		name   string
		call   call
		status int
		code   string
		reason string
	}{
		{"no headers", call{method: "POST", uri: entriesURI, body: good}, 403, "unknown_peer", `unknown peer ""`},
		{"region only", call{method: "POST", uri: entriesURI, body: good, header: http.Header{"Kassa-Region": {"r1"}}}, 401, "unauthenticated", "Kassa-Timestamp"},
		{"no signature", func() call {
			c := fromR1("POST", entriesURI, good)
			c.header.Del("Kassa-Signature")
			return c
		}(), 401, "unauthenticated", "Kassa-Signature"},
		{"signature not base64", func() call {
			c := fromR1("POST", entriesURI, good)
			c.header.Set("Kassa-Signature", "not base64!")
			return c
		}(), 401, "unauthenticated", "Kassa-Signature"},
		{"signature too short", func() call {
			c := fromR1("POST", entriesURI, good)
			c.header.Set("Kassa-Signature", base64.StdEncoding.EncodeToString(make([]byte, 32)))
			return c
		}(), 401, "unauthenticated", "Kassa-Signature"},
		{"timestamp not a number", func() call {
			c := fromR1("POST", entriesURI, good)
			c.header.Set("Kassa-Timestamp", "yesterday")
			return c
		}(), 401, "unauthenticated", "Kassa-Timestamp"},
		{"signed by another key", signed("r1", keyFor("r3"), now, "POST", entriesURI, good), 401, "unauthenticated", "does not verify with r1's key"},
		{"body changed after signing", func() call {
			c := fromR1("POST", entriesURI, pushOf(t, "r1", r1[:2]...))
			c.body = good
			return c
		}(), 401, "unauthenticated", "does not verify"},
		{"signed for another uri", func() call {
			c := fromR1("POST", entriesURI+"?x=1", good)
			c.uri = entriesURI
			return c
		}(), 401, "unauthenticated", "does not verify"},
		{"signed for another method", func() call {
			c := fromR1("PUT", entriesURI, good)
			c.method = "POST"
			return c
		}(), 401, "unauthenticated", "does not verify"},
		{"timestamp changed after signing", func() call {
			c := fromR1("POST", entriesURI, good)
			ts, _ := strconv.ParseInt(c.header.Get("Kassa-Timestamp"), 10, 64)
			c.header.Set("Kassa-Timestamp", strconv.FormatInt(ts+1, 10))
			return c
		}(), 401, "unauthenticated", "does not verify"},
		{"unknown peer", signed("r9", keyFor("r9"), now, "POST", entriesURI, pushOf(t, "r9", r1[:3]...)), 403, "unknown_peer", `unknown peer "r9"`},
		{"this region as peer", signed("r2", keyFor("r2"), now, "POST", entriesURI, pushOf(t, "r2", r1[:3]...)), 403, "unknown_peer", `unknown peer "r2"`},
		{"timestamp too old", signed("r1", keyFor("r1"), now.Add(-2*time.Minute), "POST", entriesURI, good), 401, "stale", "replay window"},
		{"timestamp in the future", signed("r1", keyFor("r1"), now.Add(2*time.Minute), "POST", entriesURI, good), 401, "stale", "replay window"},
		{"body too large", fromR1("POST", entriesURI, big), 413, "body_too_large", "exceeds 8192 bytes"},
		// The size is checked before the signature: the receiver reads no more
		// than MaxBodyBytes+1 from anyone.
		{"body too large unsigned", call{method: "POST", uri: entriesURI, body: big}, 413, "body_too_large", "exceeds 8192 bytes"},
		{"batch too large", fromR1("POST", entriesURI, pushOf(t, "r1", r1...)), 413, "batch_too_large", "5 entries exceeds the batch limit 4"},
		{"empty body", fromR1("POST", entriesURI, nil), 400, "malformed", "body is not a push"},
		{"truncated", fromR1("POST", entriesURI, good[:len(good)/2]), 400, "malformed", "body is not a push"},
		{"json", fromR1("POST", entriesURI, []byte(`{"from":"r1","entries":[]}`)), 400, "malformed", "not a push body (want application/vnd.kassa.push"},
		{"another version", fromR1("POST", entriesURI, append([]byte("kassa-push-v2\n"), good[14:]...)), 400, "malformed", "not a push body"},
		{"bytes after the entries", fromR1("POST", entriesURI, append(append([]byte(nil), good...), 0)), 400, "malformed", "1 bytes after the last entry"},
		{"vector out of order", fromR1("POST", entriesURI, append(append([]byte(nil), head...), "\x02\x02r3\x01\x02r1\x01\x00"...)), 400, "malformed", `vector origins out of order at "r1"`},
		{"vector too large", fromR1("POST", entriesURI, append(append([]byte(nil), head...), "\xff\xff\x7f"...)), 400, "malformed", "vector: 2097151 exceeds 1024"},
		{"seq not a number", fromR1("POST", entriesURI, append(append([]byte(nil), head...), "\x01\x02r1\xff"...)), 400, "malformed", "vector seq: bad or missing number"},
		{"entry longer than the body", fromR1("POST", entriesURI, append(append([]byte(nil), head...), "\x00\x00\x00\x01\x40abc"...)), 400, "malformed", "entry 0: 64 bytes, 3 left"},
		{"empty entry", fromR1("POST", entriesURI, append(append([]byte(nil), head...), "\x00\x00\x00\x01\x00"...)), 400, "malformed", "entry 0:"},
		{"no from", fromR1("POST", entriesURI, []byte("kassa-push-v1\n\x00\x00\x00\x00\x00")), 400, "malformed", `body says from ""`},
		{"no seq", fromR1("POST", entriesURI, append(append([]byte(nil), head...), "\x00"...)), 400, "malformed", "seq: bad or missing number"},
		{"from another region", fromR1("POST", entriesURI, pushOf(t, "r3", r1[:3]...)), 400, "malformed", `body says from "r3", signed by "r1"`},
		{"one malformed entry", fromR1("POST", entriesURI, oneBad), 400, "malformed", "entry 1:"},
		{"one truncated entry", fromR1("POST", entriesURI, oneShort), 400, "malformed", "entry 2:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := stateOf(rc.store)
			refusal(t, rc.do(t, tc.call), tc.status, tc.code, tc.reason)
			unchanged(t, rc.store, before)
		})
	}
	if t.Failed() {
		return
	}
	// After all that, the good push still goes through: nothing above was
	// half-applied or poisoned the receiver.
	a := accepted(t, rc.do(t, fromR1("POST", entriesURI, good)))
	if a.Applied != 3 || a.Vector["r1"] != 3 {
		t.Fatalf("got applied %d vector %v, want 3 and r1:3", a.Applied, a.Vector)
	}
}

// TestPushReplayed sends an accepted push again byte for byte: the copy is
// refused and changes nothing.
func TestPushReplayed(t *testing.T) {
	rc := mustOpenReceiver(t, nil)
	r1 := mustChain(t, "r1", 3)
	c := fromR1("POST", entriesURI, pushOf(t, "r1", r1...))
	if a := accepted(t, rc.do(t, c)); a.Applied != 3 {
		t.Fatalf("got applied %d, want 3", a.Applied)
	}
	before := stateOf(rc.store)
	refusal(t, rc.do(t, c), http.StatusConflict, "replayed", "replayed")
	unchanged(t, rc.store, before)

	// A pull is a request like any other: its signature is good once.
	p := fromR1("GET", entriesURI+"?origin=r1", nil)
	if r := rc.do(t, p); r.status != http.StatusOK {
		t.Fatalf("got status %d, want 200 (body %s)", r.status, r.body)
	}
	refusal(t, rc.do(t, p), http.StatusConflict, "replayed", "replayed")
}

// TestPipelinedPushes sends a peer's pipelined pushes out of order: the
// second batch, which says it continues the first, arrives before it. The
// receiver verifies it at once but hands it to the ledger only after the
// first, so both apply whole. A push whose predecessor never arrives waits
// only sync.timeout, then its entries are refused as a gap.
func TestPipelinedPushes(t *testing.T) {
	rc := mustOpenReceiver(t, func(c *regionsync.Config) { c.Timeout = 200 * time.Millisecond })
	r1 := mustChain(t, "r1", 6)
	first := pushWire{From: "r1", Vector: map[string]uint64{"r1": 3}, Seq: 41, Entries: wire(r1[:3]...)}.bytes()
	second := pushWire{From: "r1", Vector: map[string]uint64{"r1": 6}, Seq: 42, After: 41, Entries: wire(r1[3:6]...)}.bytes()

	answered := make(chan reply, 1)
	go func() {
		r, err := rc.send(fromR1("POST", entriesURI, second))
		if err != nil {
			t.Error(err)
		}
		answered <- r
	}()
	// The second push cannot be answered before the first is sent: it waits
	// for it (up to far longer than this test takes).
	a1 := accepted(t, rc.do(t, fromR1("POST", entriesURI, first)))
	a2 := accepted(t, <-answered)
	if a1.Applied != 3 || a2.Applied != 3 || len(a2.Rejected) != 0 {
		t.Fatalf("got %+v and %+v, want 3 applied by each", a1, a2)
	}
	if got := stateOf(rc.store).vector["r1"]; got != 6 {
		t.Fatalf("got r1 up to %d, want 6", got)
	}

	// A continuation of a push that never comes: refused as a gap once the
	// bound passes, and nothing changes.
	r1 = mustChain(t, "r1", 9)
	before := stateOf(rc.store)
	orphan := pushWire{From: "r1", Vector: map[string]uint64{"r1": 9}, Seq: 44, After: 43, Entries: wire(r1[7:9]...)}.bytes()
	a := accepted(t, rc.do(t, fromR1("POST", entriesURI, orphan)))
	if a.Applied != 0 || len(a.Rejected) != 2 || a.Rejected[0].Reason != "gap" {
		t.Fatalf("got %+v, want both entries refused as a gap", a)
	}
	unchanged(t, rc.store, before)
}

// TestPushApplies sends a good push with relayed entries, then the same
// entries again under a new signature.
func TestPushApplies(t *testing.T) {
	rc := mustOpenReceiver(t, nil)
	r1, r3 := mustChain(t, "r1", 3), mustChain(t, "r3", 2)
	es := append(append([]ledger.Entry(nil), r1...), r3...)
	before := stateOf(rc.store)
	want := before.digest
	for _, e := range es {
		want = want.Add(e.ID())
	}
	body := pushOf(t, "r1", es...)
	at := time.Now()
	a := accepted(t, rc.do(t, signed("r1", keyFor("r1"), at, "POST", entriesURI, body)))
	if a.Region != "r2" || a.Applied != 5 || a.Duplicates != 0 || len(a.Rejected) != 0 {
		t.Fatalf("got %+v, want region r2, 5 applied, nothing else", a)
	}
	if a.Vector["r1"] != 3 || a.Vector["r3"] != 2 {
		t.Fatalf("got vector %v, want r1:3 r3:2", a.Vector)
	}
	if got := rc.store.Digest(); got != want {
		t.Fatalf("got digest %s, want %s", got, want)
	}
	if got := rc.store.Count(); got != before.count+5 {
		t.Fatalf("got %d entries, want %d", got, before.count+5)
	}

	// The same body, signed a millisecond later, is a new request: its
	// entries are duplicates, counted and not applied.
	after := stateOf(rc.store)
	a = accepted(t, rc.do(t, signed("r1", keyFor("r1"), at.Add(time.Millisecond), "POST", entriesURI, body)))
	if a.Applied != 0 || a.Duplicates != 5 || len(a.Rejected) != 0 {
		t.Fatalf("got %+v, want 5 duplicates and nothing applied", a)
	}
	if a.Vector["r1"] != 3 || a.Vector["r3"] != 2 {
		t.Fatalf("got vector %v, want r1:3 r3:2", a.Vector)
	}
	unchanged(t, rc.store, after)

	// An empty push is the vector exchange: 200 and the vector.
	a = accepted(t, rc.do(t, fromR1("POST", entriesURI, pushWire{From: "r1", Vector: map[string]uint64{"r1": 3}}.bytes())))
	if a.Applied != 0 || a.Vector["r1"] != 3 || a.Vector["r3"] != 2 {
		t.Fatalf("got %+v, want nothing applied and vector r1:3 r3:2", a)
	}
	unchanged(t, rc.store, after)
}

// TestPushRejectsEntries sends well-formed pushes whose entries the ledger
// refuses one by one: the push is answered 200, each refused entry is named
// with its reason, and only the good entries are applied.
func TestPushRejectsEntries(t *testing.T) {
	r1, r3 := mustChain(t, "r1", 4), mustChain(t, "r3", 2)
	r4 := mustChain(t, "r4", 1)

	// r1 relays r3's first entry, re-signed with its own key.
	forged := r3[0]
	forged.Sign(keyFor("r1"))
	// r1 relays r3's second entry with the amount changed and r3's signature kept.
	tampered := r3[1]
	tampered.Postings = append([]ledger.Posting(nil), tampered.Postings...)
	tampered.Postings[0].Amount, tampered.Postings[1].Amount = 1_000_000, -1_000_000

	type rej struct {
		origin string
		seq    uint64
		reason string
	}
	cases := []struct {
		name    string
		entries []ledger.Entry
		applied int
		rejects []rej
	}{
		{"forged relay", []ledger.Entry{forged}, 0, []rej{{"r3", 1, "signature"}}},
		{"tampered relay", []ledger.Entry{r3[0], tampered}, 1, []rej{{"r3", 2, "signature"}}},
		{"forged among good", []ledger.Entry{r1[0], forged, r1[1]}, 2, []rej{{"r3", 1, "signature"}}},
		{"unknown origin", []ledger.Entry{r4[0]}, 0, []rej{{"r4", 1, "unknown_origin"}}},
		{"gap", []ledger.Entry{r1[2], r1[3]}, 0, []rej{{"r1", 3, "gap"}, {"r1", 4, "gap"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := mustOpenReceiver(t, nil)
			before := stateOf(rc.store)
			want := before.digest
			rejected := map[ledger.Hash]bool{}
			for _, e := range tc.entries {
				for _, r := range tc.rejects {
					if string(e.Origin) == r.origin && e.Seq == r.seq {
						rejected[e.ID()] = true
					}
				}
				if !rejected[e.ID()] {
					want = want.Add(e.ID())
				}
			}
			a := accepted(t, rc.do(t, fromR1("POST", entriesURI, pushOf(t, "r1", tc.entries...))))
			if a.Applied != tc.applied || a.Duplicates != 0 || len(a.Rejected) != len(tc.rejects) {
				t.Fatalf("got %+v, want %d applied and %d rejected", a, tc.applied, len(tc.rejects))
			}
			for i, r := range tc.rejects {
				got := a.Rejected[i]
				if got.Origin != r.origin || got.Seq != r.seq || got.Reason != r.reason || got.Message == "" {
					t.Errorf("got rejection %+v, want %s/%d for %s with a message", got, r.origin, r.seq, r.reason)
				}
				if id, err := ledger.ParseHash(got.ID); err != nil || !rejected[id] {
					t.Errorf("got rejected id %q (%v), want the id of %s/%d", got.ID, err, r.origin, r.seq)
				}
			}
			if got := rc.store.Digest(); got != want {
				t.Errorf("got digest %s, want %s", got, want)
			}
			if got := rc.store.Count(); got != before.count+int64(tc.applied) {
				t.Errorf("got %d entries, want %d", got, before.count+int64(tc.applied))
			}
			if tc.applied == 0 {
				unchanged(t, rc.store, before)
			}
		})
	}
}

// TestPull asks for r1's chain in pages.
func TestPull(t *testing.T) {
	rc := mustOpenReceiver(t, func(c *regionsync.Config) { c.BatchSize = 6 })
	r1 := mustChain(t, "r1", 7)
	if res, err := rc.store.Apply(bg, r1); err != nil || res.Applied != 7 {
		t.Fatalf("got %+v, %v; want 7 applied", res, err)
	}
	ok := []struct {
		query      string
		first, num int
	}{
		{"origin=r1&after=0&limit=5", 1, 5},
		{"origin=r1&after=5&limit=5", 6, 2},
		{"origin=r1&after=2&limit=1", 3, 1},
		{"origin=r1", 1, 6},                     // limit defaults to BatchSize
		{"origin=r1&after=0&limit=100", 1, 6},   // and never exceeds it
		{"origin=r1&after=7", 0, 0},             // nothing after the head
		{"origin=r1&after=99&limit=5", 0, 0},    // nor beyond it
		{"origin=r3&after=0&limit=5", 0, 0},     // a known origin with nothing held
		{"origin=zz&after=0&limit=5", 0, 0},     // an origin nobody knows
		{"limit=5&after=0&origin=r1", 1, 5},     // parameters in any order
		{"origin=r1&after=&limit=2", 1, 2},      // empty after is 0
		{"origin=r1&after=0&limit=5&x=1", 1, 5}, // other parameters ignored
	}
	for _, tc := range ok {
		t.Run(tc.query, func(t *testing.T) {
			before := stateOf(rc.store)
			r := rc.do(t, fromR1("GET", entriesURI+"?"+tc.query, nil))
			body := r.body
			if r.status != http.StatusOK {
				t.Fatalf("got status %d, want 200 (body %s)", r.status, body)
			}
			var p struct {
				Region  string            `json:"region"`
				Vector  map[string]uint64 `json:"vector"`
				Entries [][]byte          `json:"entries"`
			}
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&p); err != nil {
				t.Fatalf("got body %s: %v", body, err)
			}
			if p.Region != "r2" || p.Vector["r1"] != 7 {
				t.Errorf("got region %q vector %v, want r2 and r1:7", p.Region, p.Vector)
			}
			if p.Entries == nil {
				t.Errorf("got entries null, want a list")
			}
			if len(p.Entries) != tc.num {
				t.Fatalf("got %d entries, want %d", len(p.Entries), tc.num)
			}
			for i, b := range p.Entries {
				e, err := ledger.DecodeEntry(b)
				if err != nil {
					t.Fatalf("entry %d: %v", i, err)
				}
				if want := uint64(tc.first + i); e.Origin != "r1" || e.Seq != want {
					t.Errorf("entry %d: got %s/%d, want r1/%d", i, e.Origin, e.Seq, want)
				}
				if want, _ := r1[e.Seq-1].MarshalBinary(); !bytes.Equal(b, want) {
					t.Errorf("entry %d: got other bytes than r1 wrote", i)
				}
			}
			unchanged(t, rc.store, before)
		})
	}

	bad := []struct {
		name   string
		call   call
		status int
		code   string
		reason string
	}{
		{"after not a number", fromR1("GET", entriesURI+"?origin=r1&after=abc&limit=5", nil), 400, "malformed", "after must be a sequence number"},
		{"after negative", fromR1("GET", entriesURI+"?origin=r1&after=-1", nil), 400, "malformed", "after must be a sequence number"},
		{"limit zero", fromR1("GET", entriesURI+"?origin=r1&limit=0", nil), 400, "malformed", "limit must be a positive number"},
		{"limit not a number", fromR1("GET", entriesURI+"?origin=r1&limit=all", nil), 400, "malformed", "limit must be a positive number"},
		{"origin missing", fromR1("GET", entriesURI+"?after=0&limit=5", nil), 400, "malformed", "origin is required"},
		{"unsigned", call{method: "GET", uri: entriesURI + "?origin=r1"}, 403, "unknown_peer", "unknown peer"},
		{"unknown peer", signed("r9", keyFor("r9"), time.Now(), "GET", entriesURI+"?origin=r1", nil), 403, "unknown_peer", `unknown peer "r9"`},
		{"query changed after signing", func() call {
			c := fromR1("GET", entriesURI+"?origin=r3", nil)
			c.uri = entriesURI + "?origin=r1"
			return c
		}(), 401, "unauthenticated", "does not verify"},
		{"stale", signed("r1", keyFor("r1"), time.Now().Add(-time.Hour), "GET", entriesURI+"?origin=r1", nil), 401, "stale", "replay window"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			before := stateOf(rc.store)
			refusal(t, rc.do(t, tc.call), tc.status, tc.code, tc.reason)
			unchanged(t, rc.store, before)
		})
	}
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// TestStatus reads the status page a region serves to anyone: its vector,
// digest and what it knows of each peer, and no secret.
func TestStatus(t *testing.T) {
	rc := mustOpenReceiver(t, nil)
	r1 := mustChain(t, "r1", 2)
	get := func(t *testing.T) ([]byte, map[string]any) {
		t.Helper()
		r := rc.do(t, call{method: "GET", uri: "/sync/v1/status"})
		body := r.body
		if r.status != http.StatusOK {
			t.Fatalf("got status %d, want 200 (body %s)", r.status, body)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("got Content-Type %q, want application/json", ct)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("got Cache-Control %q, want no-store", cc)
		}
		var st map[string]any
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatalf("got body %s: %v", body, err)
		}
		return body, st
	}
	peers := func(t *testing.T, st map[string]any) map[string]map[string]any {
		t.Helper()
		list, ok := st["peers"].([]any)
		if !ok {
			t.Fatalf("got peers %#v, want a list", st["peers"])
		}
		out := map[string]map[string]any{}
		for _, p := range list {
			p := p.(map[string]any)
			for _, k := range []string{"id", "reachable", "last_ok", "behind"} {
				if _, ok := p[k]; !ok {
					t.Errorf("peer %v has no %q field", p, k)
				}
			}
			out[p["id"].(string)] = p
		}
		if len(out) != 2 || out["r1"] == nil || out["r3"] == nil {
			t.Fatalf("got peers %v, want r1 and r3", st["peers"])
		}
		return out
	}

	_, st := get(t)
	if st["region"] != "r2" {
		t.Errorf("got region %v, want r2", st["region"])
	}
	if d, _ := st["digest"].(string); !hex64.MatchString(d) || d != rc.store.Digest().String() {
		t.Errorf("got digest %v, want the store's, 64 hex digits", st["digest"])
	}
	if _, ok := st["vector"].(map[string]any); !ok {
		t.Errorf("got vector %#v, want an object", st["vector"])
	}
	for id, p := range peers(t, st) {
		if p["reachable"] != false || p["last_ok"] != nil || p["behind"] != nil {
			t.Errorf("peer %s before any exchange: got %v, want unreachable with null last_ok and behind", id, p)
		}
	}

	// r1 pushes its first entry and says it holds both; then sends one bad push.
	body := pushWire{From: "r1", Vector: map[string]uint64{"r1": 2}, Entries: wire(r1[0])}.bytes()
	accepted(t, rc.do(t, fromR1("POST", entriesURI, body)))
	refusal(t, rc.do(t, fromR1("POST", entriesURI, []byte(`{"from":"r1","oops":1}`))), 400, "malformed", "not a push body")

	raw, st := get(t)
	if v, _ := st["vector"].(map[string]any); v["r1"] != 1.0 {
		t.Errorf("got vector %v, want r1:1", st["vector"])
	}
	if d, _ := st["digest"].(string); !hex64.MatchString(d) || d != rc.store.Digest().String() {
		t.Errorf("got digest %v, want %s", st["digest"], rc.store.Digest())
	}
	if st["entries"] != 1.0 {
		t.Errorf("got entries %v, want 1", st["entries"])
	}
	ps := peers(t, st)
	if ps["r1"]["behind"] != 0.0 {
		t.Errorf("got r1 behind %v, want 0: it holds more than r2", ps["r1"]["behind"])
	}
	if ps["r1"]["rejections"] != 1.0 {
		t.Errorf("got r1 rejections %v, want 1", ps["r1"]["rejections"])
	}
	if ps["r3"]["behind"] != nil {
		t.Errorf("got r3 behind %v, want null: r3 never answered", ps["r3"]["behind"])
	}

	for _, id := range []string{"r1", "r2", "r3"} {
		k := keyFor(id)
		for _, secret := range []string{
			base64.StdEncoding.EncodeToString(k),
			base64.RawURLEncoding.EncodeToString(k),
			base64.StdEncoding.EncodeToString(k.Seed()),
			base64.RawStdEncoding.EncodeToString(k.Seed()),
			hex.EncodeToString(k.Seed()),
		} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("status shows %s's private key", id)
			}
		}
	}
	if bytes.Contains(raw, []byte("sk_")) {
		t.Errorf("status shows something like a secret key: %s", raw)
	}
}

// TestPushConcurrencyLimit holds one push from r1 inside the receiver (its
// commit waits on a SQLite write lock the test holds) and checks that a
// second request from r1 is turned away while one from r3 is served.
func TestPushConcurrencyLimit(t *testing.T) {
	rc := mustOpenReceiver(t, func(c *regionsync.Config) { c.MaxConcurrentPerPeer = 1 })
	r1 := mustChain(t, "r1", 3)
	db, err := sql.Open("sqlite", "file:"+rc.path+"?_pragma=busy_timeout(5000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lock, err := db.BeginTx(bg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()

	type answer struct {
		r   reply
		err error
	}
	held := make(chan answer, 1)
	send := func() {
		c := fromR1("POST", entriesURI, pushOf(t, "r1", r1...))
		go func() {
			r, err := rc.send(c)
			held <- answer{r, err}
		}()
	}
	send()
	empty := pushWire{From: "r1"}.bytes()
	deadline := time.Now().Add(3 * time.Second) // well inside the store's busy timeout
	for {
		select {
		case a := <-held:
			// The probe below took the slot first; send the held push again.
			if a.err != nil || a.r.status != http.StatusTooManyRequests {
				t.Fatalf("held push: got status %d (%v), want it to wait (body %s)", a.r.status, a.err, a.r.body)
			}
			send()
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no request was refused for concurrency while a push was held")
		}
		r := rc.do(t, fromR1("POST", entriesURI, empty))
		if r.status == http.StatusTooManyRequests {
			refusal(t, r, 429, "too_many_requests", "more than 1 concurrent requests from r1")
			if got := r.header.Get("Retry-After"); got == "" {
				t.Errorf("got no Retry-After on a 429")
			}
			break
		}
		if r.status != http.StatusOK {
			t.Fatalf("probe: got status %d, want 200 or 429 (body %s)", r.status, r.body)
		}
		time.Sleep(time.Millisecond) // polling the observable state, not standing in for an event
	}
	// The limit is per peer: r3 is served meanwhile.
	accepted(t, rc.do(t, signed("r3", keyFor("r3"), time.Now(), "POST", entriesURI, pushWire{From: "r3"}.bytes())))

	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	a := <-held
	if a.err != nil {
		t.Fatal(a.err)
	}
	if got := accepted(t, a.r); got.Applied != 3 {
		t.Fatalf("held push: got %d applied, want 3", got.Applied)
	}
	// The slot is free again.
	accepted(t, rc.do(t, fromR1("POST", entriesURI, empty)))
}

// serveGone serves c, a JSON request, as if its asker had already stopped
// waiting: its context has ended before the handler runs.
func (rc *receiver) serveGone(c call) *httptest.ResponseRecorder {
	ctx, cancel := context.WithCancel(bg)
	cancel()
	return rc.serveWith(ctx, c)
}

// serveWith serves c, a JSON request, under ctx.
func (rc *receiver) serveWith(ctx context.Context, c call) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, c.method, c.uri, bytes.NewReader(c.body))
	maps.Copy(req.Header, c.header)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	rc.h.ServeHTTP(rec, req)
	return rec
}

// fakeGranter grants rights like checkout does: from its own balance.
type fakeGranter struct {
	store *ledger.Store
	calls int
	entry ledger.Entry // the transfer it answers with
	err   error
	then  func() // called before it answers
}

func (g *fakeGranter) GrantRights(ctx context.Context, subject, account, to string, amount int64) (ledger.Entry, error) {
	g.calls++
	if g.then != nil {
		g.then()
	}
	return g.entry, g.err
}

type grantErr struct{ none, later bool }

func (e grantErr) Error() string   { return "cannot grant" }
func (e grantErr) NoRights() bool  { return e.none }
func (e grantErr) Temporary() bool { return e.later }

func TestRightsRequests(t *testing.T) {
	rc := mustOpenReceiver(t, nil)
	uri := "/sync/v1/rights"
	body := []byte(`{"from":"r1","subject":"ord_x","account":"order:ord_x:capture:","amount":5,"vector":{}}`)
	before := stateOf(rc.store)
	// Without a granter, and unsigned or malformed requests: refused.
	refusal(t, rc.do(t, fromR1("POST", uri, body)), 409, "rights_unavailable", "grants no rights")
	refusal(t, rc.do(t, call{method: "POST", uri: uri, body: body, header: http.Header{}}), 403, "unknown_peer", "unknown peer")
	for _, bad := range []string{`{"from":"r3","subject":"s","account":"a","amount":5}`, `{"from":"r1","subject":"s","account":"a","amount":0}`,
		`{"from":"r1","subject":"","account":"a","amount":5}`, `{"from":"r1","subject":"s","account":"a","amount":5}{}`, `{"from":"r1","x":1}`} {
		refusal(t, rc.do(t, fromR1("POST", uri, []byte(bad))), 400, "malformed", "rights request")
	}
	// Only "none to give" is rights_unavailable (the asker takes it as the
	// limit); "not now" asks to try later; anything else is no answer.
	g := &fakeGranter{store: rc.store}
	rc.node.SetGranter(g)
	for i, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{grantErr{none: true}, 409, "rights_unavailable"},
		{fmt.Errorf("guard: %w", ledger.ErrInsufficient), 409, "rights_unavailable"},
		{grantErr{later: true}, 503, "try_later"},
		{errors.New("disk trouble"), 422, "cannot_grant"},
	} {
		g.err = tc.err
		r := rc.do(t, fromR1("POST", uri, body))
		var got struct{ Error struct{ Code string } }
		json.Unmarshal(r.body, &got)
		if r.status != tc.status || got.Error.Code != tc.code || g.calls != i+1 {
			t.Fatalf("%v: got %d %s after %d grant calls, want %d %s", tc.err, r.status, r.body, g.calls, tc.status, tc.code)
		}
	}
	unchanged(t, rc.store, before)
}

// TestRightsRequestAbandonedByTheAsker: a rights request whose asker has
// stopped waiting is answered with nothing and logged only at debug level
// (neither a refusal nor a warning for the operator, since nothing here
// failed), whether granting failed because of it, or reading the chain to
// send with a committed transfer (from the database: a store just opened
// holds none of it in memory).
func TestRightsRequestAbandonedByTheAsker(t *testing.T) {
	body := []byte(`{"from":"r1","subject":"ord_x","account":"order:ord_x:capture:","amount":5,"vector":{}}`)
	debugTo := func(logs *bytes.Buffer) func(*regionsync.Config) {
		return func(c *regionsync.Config) {
			c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}
	check := func(t *testing.T, rec *httptest.ResponseRecorder, g *fakeGranter, logs *bytes.Buffer) {
		t.Helper()
		if g.calls != 1 {
			t.Fatalf("granter asked %d times, want 1", g.calls)
		}
		if rec.Body.Len() != 0 {
			t.Fatalf("answered %d %s to an asker that had gone", rec.Code, rec.Body)
		}
		if !strings.Contains(logs.String(), "rights request abandoned by the asker") || strings.Contains(logs.String(), "level=ERROR") || strings.Contains(logs.String(), "level=WARN") {
			t.Fatalf("logged:\n%s\nwant only the debug line of an abandoned rights request", logs.String())
		}
	}
	t.Run("granting", func(t *testing.T) {
		var logs bytes.Buffer
		rc := mustOpenReceiver(t, debugTo(&logs))
		g := &fakeGranter{store: rc.store, err: fmt.Errorf("append transfer: %w", context.Canceled)}
		rc.node.SetGranter(g)
		before := stateOf(rc.store)
		check(t, rc.serveGone(fromR1("POST", "/sync/v1/rights", body)), g, &logs)
		unchanged(t, rc.store, before)
	})
	t.Run("reading the chain", func(t *testing.T) {
		first := mustOpenReceiver(t, nil)
		for i := range 3 {
			if _, err := first.store.Append(bg, draft("r2", i)); err != nil {
				t.Fatal(err)
			}
		}
		first.store.Close()
		var logs bytes.Buffer
		rc := openReceiverAt(t, first.path, debugTo(&logs))
		es, err := rc.store.EntriesAfter(bg, "r2", 2, 1)
		if err != nil || len(es) != 1 {
			t.Fatalf("the transfer: %v, %d entries", err, len(es))
		}
		ctx, cancel := context.WithCancel(bg)
		g := &fakeGranter{store: rc.store, entry: es[0], then: cancel} // the asker leaves as it is granted
		rc.node.SetGranter(g)
		before := stateOf(rc.store)
		check(t, rc.serveWith(ctx, fromR1("POST", "/sync/v1/rights", body)), g, &logs)
		unchanged(t, rc.store, before)
	})
}
