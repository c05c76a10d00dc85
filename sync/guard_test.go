package sync_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	regionsync "kassa/sync"
)

// countingBody is a request body of zeros that counts what the receiver
// reads of it.
type countingBody struct {
	left, read int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > b.left {
		n = b.left
	}
	clear(p[:n])
	b.left -= n
	b.read += n
	return int(n), nil
}

func (b *countingBody) Close() error { return nil }

// direct serves c on rc's handler with a body of size zeros (size -1: of
// unknown length, as a chunked body is) and returns the answer and how many
// bytes of the body the receiver read.
func (rc *receiver) direct(c call, size int64) (reply, int64) {
	req := httptest.NewRequest(c.method, c.uri, nil)
	body := &countingBody{left: max(size, 0)}
	req.Body, req.ContentLength = body, size
	for k, v := range c.header {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	rc.h.ServeHTTP(w, req)
	return reply{w.Code, w.Header(), w.Body.Bytes()}, body.read
}

// forged is a request claiming region with well-formed, fresh headers whose
// signature verifies with no key.
func forged(region string) http.Header {
	sig := make([]byte, 64)
	rand.Read(sig)
	return http.Header{
		"Kassa-Region":    {region},
		"Kassa-Timestamp": {strconv.FormatInt(time.Now().UnixMilli(), 10)},
		"Kassa-Nonce":     {fmt.Sprintf("%024x", nonceCounter.Add(1))},
		"Kassa-Signature": {base64.StdEncoding.EncodeToString(sig)},
	}
}

// TestRefusedBeforeBody sends requests that the headers alone show to be
// bad, each with a large body: each is refused with its reason and not one
// byte of the body is read.
func TestRefusedBeforeBody(t *testing.T) {
	rc := mustOpenReceiver(t, func(c *regionsync.Config) { c.MaxBodyBytes = 1 << 20 })
	const size = 1 << 20
	with := func(h http.Header, k, v string) http.Header {
		h.Set(k, v)
		return h
	}
	without := func(h http.Header, k string) http.Header {
		h.Del(k)
		return h
	}
	// A good push, then its headers again: a replay.
	r1 := mustChain(t, "r1", 1)
	first := fromR1("POST", entriesURI, pushOf(t, "r1", r1...))
	accepted(t, rc.do(t, first))

	cases := []struct {
		name   string
		header http.Header
		size   int64
		status int
		code   string
		reason string
	}{
		{"no headers", http.Header{}, size, 403, "unknown_peer", `unknown peer ""`},
		{"unknown peer", forged("r9"), size, 403, "unknown_peer", `unknown peer "r9"`},
		{"no timestamp", without(forged("r1"), "Kassa-Timestamp"), size, 401, "unauthenticated", "Kassa-Timestamp"},
		{"signature not base64", with(forged("r1"), "Kassa-Signature", "not base64!"), size, 401, "unauthenticated", "Kassa-Signature"},
		{"signature too short", with(forged("r1"), "Kassa-Signature", base64.StdEncoding.EncodeToString(make([]byte, 32))), size, 401, "unauthenticated", "Kassa-Signature"},
		{"nonce too short", with(forged("r1"), "Kassa-Nonce", "abc"), size, 401, "unauthenticated", "Kassa-Nonce"},
		{"stale", with(forged("r1"), "Kassa-Timestamp", strconv.FormatInt(time.Now().Add(-time.Hour).UnixMilli(), 10)), size, 401, "stale", "replay window"},
		{"replayed", first.header, size, 409, "replayed", "replayed"},
		{"unknown length", forged("r1"), -1, 411, "length_required", "Content-Length"},
		{"too long", forged("r1"), size + 1, 413, "body_too_large", "exceeds 1048576 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := stateOf(rc.store)
			r, read := rc.direct(call{method: "POST", uri: entriesURI, header: tc.header}, tc.size)
			refusal(t, r, tc.status, tc.code, tc.reason)
			if read != 0 {
				t.Errorf("got %d bytes of the body read, want 0", read)
			}
			unchanged(t, rc.store, before)
		})
	}
}

// watch serves a receiver's handler and reports on settled the Test-Hold
// header of each request that carries one, once the receiver has either
// read all of its body but the last byte or answered it.
type watch struct {
	h       http.Handler
	settled chan string
}

func (wt *watch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("Test-Hold")
	if id == "" {
		wt.h.ServeHTTP(w, r)
		return
	}
	done := false
	settle := func() {
		if !done {
			done = true
			wt.settled <- id
		}
	}
	r.Body = &watchedBody{ReadCloser: r.Body, left: r.ContentLength - 1, reached: settle}
	wt.h.ServeHTTP(w, r)
	settle()
}

// watchedBody calls reached once left bytes have been read.
type watchedBody struct {
	io.ReadCloser
	left    int64
	reached func()
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left <= 0 {
		b.reached()
	}
	return n, err
}

// serveWatched serves rc's handler on loopback through a watch.
func serveWatched(tb testing.TB, rc *receiver, holds int) (*httptest.Server, *watch) {
	tb.Helper()
	wt := &watch{h: rc.h, settled: make(chan string, holds)}
	srv := httptest.NewServer(wt)
	tb.Cleanup(srv.Close)
	return srv, wt
}

// zeros is what held requests send, shared so that the senders hold no
// bodies of their own in this process's heap.
var zeros = make([]byte, 64<<10)

// held is a request whose sender sends its headers and all of its body but
// the last byte, then waits until finish.
type held struct {
	conn  net.Conn
	wrote chan struct{}
	reply chan reply
}

// hold sends a push of size bytes to addr with header, marked id for the
// watch.
func hold(tb testing.TB, addr, id string, header http.Header, size int64) *held {
	tb.Helper()
	return holdAt(tb, addr, entriesURI, id, header, size)
}

// holdAt sends a POST of size bytes to uri at addr with header, marked id
// for the watch.
func holdAt(tb testing.TB, addr, uri, id string, header http.Header, size int64) *held {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	h := &held{conn: conn, wrote: make(chan struct{}), reply: make(chan reply, 1)}
	// The answer may come before the body is sent (a refusal), so it is
	// read from the start.
	go func() {
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			h.reply <- reply{body: []byte(err.Error())}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		h.reply <- reply{res.StatusCode, res.Header, b}
	}()
	go func() {
		defer close(h.wrote)
		var head strings.Builder
		fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: receiver\r\nContent-Type: %s\r\nContent-Length: %d\r\nTest-Hold: %s\r\n",
			uri, regionsync.PushContentType, size, id)
		for k, v := range header {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v[0])
		}
		head.WriteString("\r\n")
		if _, err := io.WriteString(conn, head.String()); err != nil {
			return
		}
		for left := size - 1; left > 0; {
			n, err := conn.Write(zeros[:min(left, int64(len(zeros)))])
			if err != nil {
				return // refused: the receiver closed the connection
			}
			left -= int64(n)
		}
	}()
	return h
}

// answer waits for the receiver's answer.
func (h *held) answer(tb testing.TB) reply {
	tb.Helper()
	select {
	case r := <-h.reply:
		return r
	case <-time.After(10 * time.Second):
		tb.Fatal("no answer within 10s")
		return reply{}
	}
}

// finish sends the last byte and returns the answer.
func (h *held) finish(tb testing.TB) reply {
	tb.Helper()
	<-h.wrote
	h.conn.Write([]byte{0})
	return h.answer(tb)
}

// settle waits until n held requests have settled.
func (wt *watch) settle(tb testing.TB, n int) {
	tb.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-wt.settled:
		case <-time.After(10 * time.Second):
			tb.Fatalf("%d of %d held requests settled within 10s", i, n)
		}
	}
}

// TestSlotsTakenBeforeBody holds requests in the middle of their bodies:
// the claimed peer's concurrency slot, and the budget for bodies being
// read, are taken before the body is read, so a further request is refused
// without reading its body; a request with no body needs no budget; and
// once the held requests end, peers are served again.
func TestSlotsTakenBeforeBody(t *testing.T) {
	const limit = 64 << 10
	rc := mustOpenReceiver(t, func(c *regionsync.Config) {
		c.MaxBodyBytes = limit
		c.MaxConcurrentPerPeer = 3
		c.Timeout = time.Minute
	})
	srv, wt := serveWatched(t, rc, 4)
	addr := srv.Listener.Addr().String()
	// Three from r1 fill its slots; one from r3 fills the budget of four
	// bodies of max bytes.
	var hs []*held
	for i, from := range []string{"r1", "r1", "r1", "r3"} {
		hs = append(hs, hold(t, addr, strconv.Itoa(i), forged(from), limit))
	}
	wt.settle(t, len(hs))

	r, read := rc.direct(call{method: "POST", uri: entriesURI, header: forged("r1")}, limit)
	refusal(t, r, 429, "too_many_requests", "more than 3 concurrent requests from r1")
	if read != 0 || r.header.Get("Retry-After") == "" {
		t.Errorf("r1 over its slots: got %d bytes read and Retry-After %q, want 0 and a value", read, r.header.Get("Retry-After"))
	}
	r, read = rc.direct(call{method: "POST", uri: entriesURI, header: forged("r3")}, 1)
	refusal(t, r, 503, "busy", "retry later")
	if read != 0 || r.header.Get("Retry-After") == "" {
		t.Errorf("r3 over the budget: got %d bytes read and Retry-After %q, want 0 and a value", read, r.header.Get("Retry-After"))
	}
	// A pull has no body and still goes through.
	if r := rc.do(t, signed("r3", keyFor("r3"), time.Now(), "GET", entriesURI+"?origin=r2", nil)); r.status != http.StatusOK {
		t.Errorf("pull while the budget is spent: got status %d, want 200 (body %s)", r.status, r.body)
	}

	for _, h := range hs {
		refusal(t, h.finish(t), 401, "unauthenticated", "does not verify")
	}
	accepted(t, rc.do(t, fromR1("POST", entriesURI, pushWire{From: "r1"}.bytes())))
	accepted(t, rc.do(t, signed("r3", keyFor("r3"), time.Now(), "POST", entriesURI, pushWire{From: "r3"}.bytes())))
}

// TestRightsHaveTheirOwnLane: pushes filling all of a peer's slots (a
// region being caught up) leave its rights requests, on which shoppers
// wait, a lane of their own; that lane has its own bound, and a rights
// request's body is small or refused unread.
func TestRightsHaveTheirOwnLane(t *testing.T) {
	rc := mustOpenReceiver(t, func(c *regionsync.Config) {
		c.MaxConcurrentPerPeer = 2
		c.MaxRightsPerPeer = 2
		c.Timeout = time.Minute
	})
	srv, wt := serveWatched(t, rc, 4)
	addr := srv.Listener.Addr().String()
	const rightsURI = "/sync/v1/rights"
	rights := func() call {
		b, _ := json.Marshal(regionsync.RightsRequest{From: "r1", Subject: "credit:c1:SEK", Account: "credit:c1:rights:", Amount: 100})
		return fromR1("POST", rightsURI, b)
	}
	pushes := []*held{hold(t, addr, "p0", forged("r1"), 1024), hold(t, addr, "p1", forged("r1"), 1024)}
	wt.settle(t, len(pushes))
	r, _ := rc.direct(call{method: "POST", uri: entriesURI, header: forged("r1")}, 1024)
	refusal(t, r, 429, "too_many_requests", "more than 2 concurrent requests from r1")
	// The rights request reaches the granter (this receiver has none).
	refusal(t, rc.do(t, rights()), 409, "rights_unavailable", "grants no rights")

	held := []*held{holdAt(t, addr, rightsURI, "q0", forged("r1"), 512), holdAt(t, addr, rightsURI, "q1", forged("r1"), 512)}
	wt.settle(t, len(held))
	refusal(t, rc.do(t, rights()), 429, "too_many_requests", "more than 2 concurrent rights requests from r1")
	r, read := rc.direct(call{method: "POST", uri: rightsURI, header: forged("r3")}, regionsync.MaxRightsBodyBytes+1)
	refusal(t, r, 413, "body_too_large", "a rights request is at most")
	if read != 0 {
		t.Errorf("an oversized rights request: %d bytes read, want none", read)
	}
	for _, h := range append(pushes, held...) {
		refusal(t, h.finish(t), 401, "unauthenticated", "does not verify")
	}
	refusal(t, rc.do(t, rights()), 409, "rights_unavailable", "grants no rights")
	accepted(t, rc.do(t, fromR1("POST", entriesURI, pushWire{From: "r1"}.bytes())))
}

// TestSlowSenderCutOff holds a request's last byte back: the receiver gives
// its body sync.timeout, answers 408 and frees the peer's slot.
func TestSlowSenderCutOff(t *testing.T) {
	rc := mustOpenReceiver(t, func(c *regionsync.Config) {
		c.MaxConcurrentPerPeer = 1
		c.Timeout = 300 * time.Millisecond
	})
	srv, _ := serveWatched(t, rc, 1)
	h := hold(t, srv.Listener.Addr().String(), "slow", forged("r1"), 4<<10)
	refusal(t, h.answer(t), 408, "read_timeout", "body not received within 300ms")
	accepted(t, rc.do(t, fromR1("POST", entriesURI, pushWire{From: "r1"}.bytes())))
}

// flood sends n pushes of size bytes to a receiver whose bodies may be that
// large, each claiming r1 or r3 with well-formed, fresh headers and a
// signature that does not verify, and each holding back its last byte. Once
// the receiver has answered each or read all of it but that byte, it
// measures the heap in use after a collection; then the senders finish. It
// returns the heap in use before and during the flood and how many requests
// were answered with each status.
func flood(tb testing.TB, rc *receiver, n int, size int64) (before, during uint64, statuses map[int]int) {
	tb.Helper()
	srv, wt := serveWatched(tb, rc, n)
	addr := srv.Listener.Addr().String()
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	before = heap()
	hs := make([]*held, n)
	for i := range hs {
		hs[i] = hold(tb, addr, strconv.Itoa(i), forged([]string{"r1", "r3"}[i%2]), size)
	}
	wt.settle(tb, n)
	during = heap()
	statuses = map[int]int{}
	for _, h := range hs {
		statuses[h.finish(tb).status]++
	}
	return before, during, statuses
}

// TestUnauthenticatedFlood sends 40 unauthenticated pushes of 8 MiB at once
// and holds them open: the receiver reads at most four such bodies at a time
// and turns the rest away unread, so the heap stays small.
func TestUnauthenticatedFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 320 MiB over loopback")
	}
	rc := mustOpenReceiver(t, func(c *regionsync.Config) {
		c.MaxBodyBytes = regionsync.DefaultMaxBodyBytes
		c.Timeout = time.Minute
	})
	before, during, statuses := flood(t, rc, 40, regionsync.DefaultMaxBodyBytes)
	t.Logf("heap in use: %.1f MB before, %.1f MB with 40 held; answers %v", float64(before)/1e6, float64(during)/1e6, statuses)
	if during >= 80e6 {
		t.Errorf("got %.1f MB of heap in use with 40 unauthenticated pushes held, want under 80 MB", float64(during)/1e6)
	}
	if statuses[401] != 4 || statuses[503] != 36 {
		t.Errorf("got answers %v, want 4 read and refused 401, 36 turned away 503", statuses)
	}
	accepted(t, rc.do(t, fromR1("POST", entriesURI, pushWire{From: "r1"}.bytes())))
}

// BenchmarkUnauthenticatedFlood reports the heap in use (after a
// collection) while 40 unauthenticated pushes of 8 MiB are held open.
func BenchmarkUnauthenticatedFlood(b *testing.B) {
	rc := mustOpenReceiver(b, func(c *regionsync.Config) {
		c.MaxBodyBytes = regionsync.DefaultMaxBodyBytes
		c.Timeout = time.Minute
	})
	var peak uint64
	for i := 0; i < b.N; i++ {
		_, during, _ := flood(b, rc, 40, regionsync.DefaultMaxBodyBytes)
		peak = max(peak, during)
	}
	b.ReportMetric(float64(peak)/1e6, "heap-MB")
}
