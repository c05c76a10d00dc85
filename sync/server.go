package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"kassa/httperr"
	"kassa/ledger"
)

// Routes registers the sync endpoints on r: GET /sync/v1/status, and the
// authenticated POST (push) and GET (pull) /sync/v1/entries, POST
// /sync/v1/rights and POST /sync/v1/lookup.
func (n *Node) Routes(r *mux.Router) {
	r.HandleFunc("/sync/v1/status", n.serveStatus).Methods(http.MethodGet)
	r.HandleFunc("/sync/v1/entries", n.signed(n.servePush)).Methods(http.MethodPost)
	r.HandleFunc("/sync/v1/entries", n.signed(n.servePull)).Methods(http.MethodGet)
	r.HandleFunc(rightsPath, n.signed(n.serveRights)).Methods(http.MethodPost)
	r.HandleFunc("/sync/v1/lookup", n.signed(n.serveLookup)).Methods(http.MethodPost)
}

// signed serves h only for a request a known peer signed, within the
// per-peer concurrency cap, with the body it signed; any other is refused
// with the reason.
func (n *Node) signed(h func(w http.ResponseWriter, r *http.Request, from string, body []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		from, body, release, rerr := n.authenticate(w, r)
		if rerr != nil {
			n.refuse(w, r, from, rerr)
			return
		}
		defer release()
		h(w, r, from, body)
	}
}

func (n *Node) serveStatus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, n.Status())
}

// requestError is a refused request: its status, a stable code for metrics
// and a message for the peer's operator.
type requestError struct {
	status int
	code   string
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func (n *Node) refuse(w http.ResponseWriter, r *http.Request, from string, e *requestError) {
	n.m.refused(e.code)
	if from != "" {
		n.mu.Lock()
		if p := n.peers[from]; p != nil {
			p.rejections++
		}
		n.mu.Unlock()
	}
	n.log.Warn("sync request refused", "from", r.Header.Get(HeaderRegion), "remote", r.RemoteAddr,
		"method", r.Method, "status", e.status, "code", e.code, "reason", e.msg)
	he := httperr.Error{Status: e.status, Code: e.code, Message: e.msg}
	if e.status == http.StatusTooManyRequests || e.status == http.StatusServiceUnavailable {
		he.RetryAfter = 1
	}
	httperr.Write(w, he)
}

// readBudgetBodies is how many bodies of sync.max_body_bytes may be read at
// once, across all peers, before they are authenticated: the memory an
// unauthenticated sender can make this region hold.
const readBudgetBodies = 4

// authenticate checks what it can of the request before reading its body:
// the declared length, the signature headers, the timestamp and the
// claimed peer, whose concurrency slot it then takes. It reads the body
// within the read budget and sync.timeout, hashing it as it arrives, and
// verifies the signature over that hash. release must be called when done.
func (n *Node) authenticate(w http.ResponseWriter, r *http.Request) (from string, body []byte, release func(), rerr *requestError) {
	// Until the body is in, a refusal closes an HTTP/1 connection: the
	// server would otherwise read what is left of the body before
	// answering. (HTTP/2 resets just the stream.)
	if r.ContentLength != 0 && r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	switch {
	case r.ContentLength < 0:
		return "", nil, nil, &requestError{http.StatusLengthRequired, "length_required", "send the body with a Content-Length"}
	case r.ContentLength > n.cfg.MaxBodyBytes:
		return "", nil, nil, &requestError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("body exceeds %d bytes; send smaller batches", n.cfg.MaxBodyBytes)}
	}
	c, err := n.auth.check(r)
	if rerr := authError(err); rerr != nil {
		return "", nil, nil, rerr
	}
	// The claim is not proven yet, so a refusal from here on is not held
	// against the peer in its status.
	size := r.ContentLength
	// Rights requests have a lane of their own: a shopper waits on each,
	// and pushes and pulls must never take all of a peer's slots from them.
	lane, limit, what := n.inbound, n.cfg.MaxConcurrentPerPeer, "requests"
	if r.URL.Path == rightsPath {
		if size > MaxRightsBodyBytes {
			return "", nil, nil, &requestError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("a rights request is at most %d bytes", MaxRightsBodyBytes)}
		}
		lane, limit, what = n.rights, n.cfg.MaxRightsPerPeer, "rights requests"
	}
	n.mu.Lock()
	if lane[c.from] >= limit {
		n.mu.Unlock()
		return "", nil, nil, &requestError{http.StatusTooManyRequests, "too_many_requests", fmt.Sprintf("more than %d concurrent %s from %s", limit, what, c.from)}
	}
	if budget := readBudgetBodies * n.cfg.MaxBodyBytes; n.reading+size > budget {
		n.mu.Unlock()
		return "", nil, nil, &requestError{http.StatusServiceUnavailable, "busy", fmt.Sprintf("this region is already reading all the request bodies it reads at once (%d bytes); retry later", budget)}
	}
	lane[c.from]++
	n.reading += size
	n.mu.Unlock()
	release = func() {
		n.mu.Lock()
		lane[c.from]--
		n.mu.Unlock()
	}
	body, sum, rerr := n.readBody(w, r)
	n.mu.Lock()
	n.reading -= size
	n.mu.Unlock()
	if rerr == nil {
		w.Header().Del("Connection")
		rerr = authError(n.auth.verify(r, c, sum))
	}
	if rerr != nil {
		release()
		return "", nil, nil, rerr
	}
	n.heardFrom(c.from)
	return c.from, body, release, nil
}

// readBody reads exactly the declared body within sync.timeout (a sender
// gets no longer for its whole attempt), hashing it as it arrives.
func (n *Node) readBody(w http.ResponseWriter, r *http.Request) ([]byte, [sha256.Size]byte, *requestError) {
	var sum [sha256.Size]byte
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(n.cfg.Timeout)) == nil {
		// Once the body is in, nothing more is read for this request; a
		// deadline left behind would cut the connection under the handler.
		defer rc.SetReadDeadline(time.Time{})
	}
	h := sha256.New()
	body := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(io.TeeReader(r.Body, h), body); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, sum, &requestError{http.StatusRequestTimeout, "read_timeout", fmt.Sprintf("body not received within %s", n.cfg.Timeout)}
		}
		return nil, sum, &requestError{http.StatusBadRequest, "read_failed", fmt.Sprintf("could not read the %d-byte body: %v", r.ContentLength, err)}
	}
	h.Sum(sum[:0])
	return body, sum, nil
}

// authError maps an authentication failure to its refusal, or nil to nil.
func authError(err error) *requestError {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUnknownPeer):
		return &requestError{http.StatusForbidden, "unknown_peer", err.Error()}
	case errors.Is(err, ErrReplayed):
		return &requestError{http.StatusConflict, "replayed", err.Error()}
	case errors.Is(err, ErrStale):
		return &requestError{http.StatusUnauthorized, "stale", err.Error()}
	default:
		return &requestError{http.StatusUnauthorized, "unauthenticated", err.Error()}
	}
}

func (n *Node) servePush(w http.ResponseWriter, r *http.Request, from string, body []byte) {
	var req PushRequest
	if err := req.UnmarshalBinary(body); err != nil {
		n.refuse(w, r, from, &requestError{http.StatusBadRequest, "malformed", "body is not a push: " + err.Error()})
		return
	}
	if req.Seq != 0 {
		// However this push ends, a push continuing it need not wait for it.
		defer n.pipes.handed(from, req.Seq)
	}
	if req.From != from {
		n.refuse(w, r, from, &requestError{http.StatusBadRequest, "malformed", fmt.Sprintf("body says from %q, signed by %q", req.From, from)})
		return
	}
	if len(req.Entries) > n.cfg.BatchSize {
		n.refuse(w, r, from, &requestError{http.StatusRequestEntityTooLarge, "batch_too_large", fmt.Sprintf("%d entries exceeds the batch limit %d", len(req.Entries), n.cfg.BatchSize)})
		return
	}
	// What the peer holds, before its batch is stored here: storing it
	// wakes this region's pushes, and a push to the peer that started from
	// the peer's previous vector sent its own entries back to it.
	n.peerHolds(from, req.Vector)
	// Verify now; hand the batch to the ledger after the push it continues.
	// Once verified, the entries are stored even if the sender hangs up:
	// they are good, and storing them is idempotent.
	ctx := context.WithoutCancel(r.Context())
	prepared, err := n.store.PrepareWire(ctx, req.Entries)
	var we *ledger.WireError
	if errors.As(err, &we) {
		n.refuse(w, r, from, &requestError{http.StatusBadRequest, "malformed", we.Error()})
		return
	}
	var res ledger.ApplyResult
	if err == nil {
		if req.After != 0 && req.Seq != 0 {
			// Well within the sender's own timeout, so that a push whose
			// predecessor was lost is answered (its entries as a gap) rather
			// than given up on and retried.
			n.pipes.wait(r.Context(), from, req.After, n.cfg.Timeout/4)
		}
		var wait func() (ledger.ApplyResult, error)
		wait, err = prepared.Submit(ctx)
		if req.Seq != 0 {
			n.pipes.handed(from, req.Seq)
		}
		if err == nil {
			res, err = wait()
		}
	}
	if err != nil {
		n.log.Error("apply pushed entries", "from", from, "err", err)
		n.refuse(w, r, from, &requestError{http.StatusServiceUnavailable, "storage", "this region could not store the entries; retry later"})
		return
	}
	n.m.received(res.Applied, res.Duplicates)
	resp := PushResponse{Region: string(n.store.Region()), Incarnation: n.incarnation, Applied: res.Applied, Duplicates: res.Duplicates, Rejected: []Rejection{}}
	n.mu.Lock()
	for _, rj := range res.Rejected {
		if errors.Is(rj, ledger.ErrFork) {
			n.forks[string(rj.Origin)]++
		}
	}
	n.mu.Unlock()
	for _, rj := range res.Rejected {
		resp.Rejected = append(resp.Rejected, Rejection{Origin: string(rj.Origin), Seq: rj.Seq, ID: rj.ID.String(), Reason: ledger.Reason(rj), Message: rj.Err.Error()})
	}
	resp.Vector = toVector(n.store.Vector())
	writeJSON(w, http.StatusOK, resp)
}

// peerHolds raises what this region knows the peer from holds to vector,
// the one its request carried. The peer's own vector only grows; an older
// request arriving late must not make this region resend what the peer
// already has.
func (n *Node) peerHolds(from string, vector map[string]uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.peers[from]
	if p == nil || vector == nil {
		return
	}
	if p.vector == nil {
		p.vector = map[ledger.RegionID]uint64{}
	}
	now := n.cfg.Now()
	for o, seq := range vector {
		p.raise(ledger.RegionID(o), seq, now)
	}
}

func (n *Node) servePull(w http.ResponseWriter, r *http.Request, from string, _ []byte) {
	q := r.URL.Query()
	origin := q.Get("origin")
	after, err := strconv.ParseUint(q.Get("after"), 10, 64)
	if q.Get("after") == "" {
		after, err = 0, nil
	}
	if err != nil {
		n.refuse(w, r, from, &requestError{http.StatusBadRequest, "malformed", "after must be a sequence number"})
		return
	}
	limit := n.cfg.BatchSize
	if s := q.Get("limit"); s != "" {
		l, err := strconv.Atoi(s)
		if err != nil || l < 1 {
			n.refuse(w, r, from, &requestError{http.StatusBadRequest, "malformed", "limit must be a positive number"})
			return
		}
		limit = min(l, n.cfg.BatchSize)
	}
	if origin == "" {
		n.refuse(w, r, from, &requestError{http.StatusBadRequest, "malformed", "origin is required"})
		return
	}
	es, err := n.store.EntriesAfter(r.Context(), ledger.RegionID(origin), after, limit)
	if err != nil {
		n.log.Error("read entries for pull", "origin", origin, "err", err)
		n.refuse(w, r, from, &requestError{http.StatusServiceUnavailable, "storage", "could not read entries; retry later"})
		return
	}
	resp := PullResponse{Region: string(n.store.Region()), Vector: toVector(n.store.Vector()), Entries: make([][]byte, len(es))}
	for i := range es {
		resp.Entries[i], _ = es[i].MarshalBinary()
	}
	writeJSON(w, http.StatusOK, resp)
}

// decodeStrict decodes one JSON value with no unknown fields and nothing
// after it.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
