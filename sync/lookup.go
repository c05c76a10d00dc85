package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"kassa/ledger"
)

// Limits of a lookup request, beyond which it is malformed: a lookup is
// for one object (a session and its order, an order, a merchant
// reference), not a query.
const (
	MaxLookupKeys   = 4
	MaxLookupKeyLen = 256
)

// LookupRequest is the body of POST /sync/v1/lookup: a region that was
// asked for an object it does not hold asks a peer for the entries about
// it. Subjects name entries by their subject, Refs by their data's indexed
// "ref" or "refs"; together at least one and at most MaxLookupKeys keys.
// Vector is what the requester holds, so that the answer carries only
// what it lacks.
type LookupRequest struct {
	From     string            `json:"from"`
	Subjects []string          `json:"subjects,omitempty"`
	Refs     []string          `json:"refs,omitempty"`
	Vector   map[string]uint64 `json:"vector"`
}

// DecodeLookupRequest decodes and checks a lookup body: strict JSON, one
// to MaxLookupKeys non-empty keys of at most MaxLookupKeyLen bytes, and a
// vector of at most as many origins as a push may carry.
func DecodeLookupRequest(body []byte) (LookupRequest, error) {
	var req LookupRequest
	if err := decodeStrict(body, &req); err != nil {
		return LookupRequest{}, err
	}
	if err := req.check(); err != nil {
		return LookupRequest{}, err
	}
	if len(req.Vector) > maxPushVector {
		return LookupRequest{}, fmt.Errorf("vector: %d origins exceeds %d", len(req.Vector), maxPushVector)
	}
	for o := range req.Vector {
		if o == "" || len(o) > ledger.MaxOriginLen {
			return LookupRequest{}, fmt.Errorf("vector: bad origin %q", o)
		}
	}
	return req, nil
}

// check reports whether the keys are within the limits.
func (req LookupRequest) check() error {
	keys := len(req.Subjects) + len(req.Refs)
	if keys == 0 || keys > MaxLookupKeys {
		return fmt.Errorf("want 1 to %d subjects and refs, got %d", MaxLookupKeys, keys)
	}
	for _, ks := range [][]string{req.Subjects, req.Refs} {
		for _, k := range ks {
			if k == "" || len(k) > MaxLookupKeyLen {
				return fmt.Errorf("a subject or ref must be 1 to %d bytes", MaxLookupKeyLen)
			}
		}
	}
	return nil
}

// LookupResponse answers a lookup. Held says whether the answering region
// holds any entry about the keys. Entries are, for every origin that wrote
// one, that origin's entries from the requester's vector on up to its
// latest such entry (a chain applies only in order, so the history the
// requester lacks comes with it), in origin and seq order. Complete is
// false when the answer stopped at its size limit: the requester applies
// what came and asks again.
type LookupResponse struct {
	Held     bool     `json:"held"`
	Complete bool     `json:"complete"`
	Entries  [][]byte `json:"entries"`
}

// DecodeLookupResponse decodes a lookup answer, refusing one with more
// entries than a push may carry or any larger than an entry may be. The
// entries themselves are checked when they are applied.
func DecodeLookupResponse(body []byte) (LookupResponse, error) {
	var resp LookupResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return LookupResponse{}, err
	}
	if len(resp.Entries) > maxPushEntries {
		return LookupResponse{}, fmt.Errorf("%d entries exceeds %d", len(resp.Entries), maxPushEntries)
	}
	for i, e := range resp.Entries {
		if len(e) == 0 || len(e) > ledger.MaxEncodedSize {
			return LookupResponse{}, fmt.Errorf("entry %d: %d bytes", i, len(e))
		}
	}
	if !resp.Held && len(resp.Entries) > 0 {
		return LookupResponse{}, errors.New("entries in an answer that holds nothing")
	}
	return resp, nil
}

// serveLookup answers a peer's lookup from this region's ledger alone: a
// region answering a lookup never asks its own peers, so a lookup costs
// one round of requests however many regions there are.
func (n *Node) serveLookup(w http.ResponseWriter, r *http.Request, from string, body []byte) {
	req, err := DecodeLookupRequest(body)
	if err == nil && req.From != from {
		err = fmt.Errorf("body says from %q, signed by %q", req.From, from)
	}
	if err != nil {
		n.refuse(w, r, from, &requestError{http.StatusBadRequest, "malformed", "body is not a lookup: " + err.Error()})
		return
	}
	resp, err := n.lookupAnswer(r.Context(), req)
	if err != nil && r.Context().Err() != nil {
		// The asker stopped waiting (its sync.lookup_timeout passed): no
		// one reads the answer, and nothing here failed.
		n.log.Debug("lookup abandoned by the asker", "from", from, "err", err)
		return
	}
	if err != nil {
		n.log.Error("answer lookup", "from", from, "err", err)
		n.refuse(w, r, from, &requestError{http.StatusServiceUnavailable, "storage", "could not read entries; retry later"})
		return
	}
	n.m.lookupServed(resp.Held)
	writeJSON(w, http.StatusOK, resp)
}

// lookupAnswer finds the latest entry of each origin about the keys and
// gathers each origin's chain from the requester's vector up to it, within
// sync.batch_size entries and half of sync.max_body_bytes (the wire form
// grows by a third in JSON).
func (n *Node) lookupAnswer(ctx context.Context, req LookupRequest) (LookupResponse, error) {
	top := map[ledger.RegionID]uint64{}
	add := func(es []ledger.Entry, err error) error {
		for i := range es {
			top[es[i].Origin] = max(top[es[i].Origin], es[i].Seq)
		}
		return err
	}
	for _, s := range req.Subjects {
		if err := add(n.store.EntriesBySubject(ctx, s)); err != nil {
			return LookupResponse{}, err
		}
	}
	for _, ref := range req.Refs {
		if err := add(n.store.EntriesByRef(ctx, ref)); err != nil {
			return LookupResponse{}, err
		}
	}
	resp := LookupResponse{Held: len(top) > 0, Complete: true, Entries: [][]byte{}}
	origins := make([]string, 0, len(top))
	for o := range top {
		origins = append(origins, string(o))
	}
	sort.Strings(origins)
	size, budget := int64(0), n.cfg.MaxBodyBytes/2
	for _, o := range origins {
		after, upto := req.Vector[o], top[ledger.RegionID(o)]
		if upto <= after {
			continue
		}
		room := n.cfg.BatchSize - len(resp.Entries)
		if room <= 0 {
			resp.Complete = false
			break
		}
		want := upto - after
		// The stored bytes are the wire form, and the latest entries are
		// in memory: nothing is decoded or encoded again.
		ws, err := n.store.WireAfter(ctx, ledger.RegionID(o), after, int(min(want, uint64(room))))
		if err != nil {
			return LookupResponse{}, err
		}
		if uint64(len(ws)) < want {
			resp.Complete = false
		}
		for _, w := range ws {
			if size += int64(len(w.Body))*4/3 + 8; size > budget {
				resp.Complete = false
				return resp, nil
			}
			resp.Entries = append(resp.Entries, w.Body)
		}
	}
	return resp, nil
}

// LookupResult is what a Lookup found out.
type LookupResult int

// The results of a Lookup.
const (
	// LookupUnknown: no peer that answered held the object, and some
	// peer could not be asked (down, unreachable, too slow, or it refused):
	// the object may exist there.
	LookupUnknown LookupResult = iota
	// LookupFound: a peer held entries about the object, and they are
	// applied here.
	LookupFound
	// LookupAbsent: every peer answered that it holds nothing about it.
	LookupAbsent
)

func (r LookupResult) String() string {
	switch r {
	case LookupFound:
		return "found"
	case LookupAbsent:
		return "absent"
	}
	return "unknown"
}

// LookupsInFlight is how many read-throughs a region has under way at once;
// more wait for a slot within their budget. Each asks every peer, and a
// peer serves sync.max_concurrent_per_peer requests from one region at
// once, pushes and rights requests included: this keeps lookups (which a
// shopper's page load with a well-formed but unknown id can start) from
// crowding out replication, and bounds what any flood of page loads can
// make this region ask of its peers.
const LookupsInFlight = 2

// maxLookupRounds bounds how often one peer is asked again for the rest
// of an answer that stopped at its size limit.
const maxLookupRounds = 8

// Lookup asks every peer at once, within Settings.LookupTimeout, for the
// entries about subjects and refs (together 1 to MaxLookupKeys keys), and
// applies the first answer that holds any, as it would a push: every
// entry's signature, chain and schema are checked, nothing is trusted.
// A peer that is Down is not asked and counts as not answering. An error
// is returned only for keys Lookup cannot ask about; whatever the peers
// do, the result says what is known. It is safe for concurrent use.
func (n *Node) Lookup(ctx context.Context, subjects, refs []string) (LookupResult, error) {
	req := LookupRequest{From: string(n.store.Region()), Subjects: subjects, Refs: refs}
	if err := req.check(); err != nil {
		return LookupUnknown, fmt.Errorf("sync: lookup: %w", err)
	}
	start := time.Now()
	res := n.lookup(ctx, req)
	n.m.looked(res, time.Since(start))
	return res, nil
}

func (n *Node) lookup(ctx context.Context, req LookupRequest) LookupResult {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.LookupTimeout)
	defer cancel()
	select {
	case n.lookups <- struct{}{}:
		defer func() { <-n.lookups }()
	case <-ctx.Done():
		return LookupUnknown
	}
	type answer struct {
		p    *peerState
		resp LookupResponse
		err  error
	}
	n.mu.Lock()
	var ask []*peerState
	unknown := false
	for _, p := range n.peers {
		if p.down {
			unknown = true // not waited on: it would most likely time out
			continue
		}
		ask = append(ask, p)
	}
	n.mu.Unlock()
	answers := make(chan answer, len(ask))
	for _, p := range ask {
		go func() {
			resp, err := n.askLookup(ctx, p, req)
			answers <- answer{p, resp, err}
		}()
	}
	for range ask {
		var a answer
		select {
		case a = <-answers:
		case <-ctx.Done():
			return LookupUnknown
		}
		switch {
		case a.err != nil:
			unknown = true
		case !a.resp.Held:
		case n.applyLookup(ctx, a.p, req, a.resp) == nil:
			return LookupFound
		default:
			unknown = true
		}
	}
	if unknown {
		return LookupUnknown
	}
	return LookupAbsent
}

// askLookup sends req to p with this region's current vector and records
// how p answered, unless the answer was cut short by the lookup's own
// budget (a peer slower than that is not down).
func (n *Node) askLookup(ctx context.Context, p *peerState, req LookupRequest) (LookupResponse, error) {
	req.Vector = toVector(n.store.Vector())
	var raw []byte // decoded once, below
	err := n.call(ctx, p, http.MethodPost, "/sync/v1/lookup", "application/json", mustJSON(req), &raw)
	var resp LookupResponse
	if err == nil {
		if resp, err = DecodeLookupResponse(raw); err != nil {
			err = fmt.Errorf("%s answered a malformed lookup: %w", p.ID, err)
		}
	}
	if err == nil || ctx.Err() == nil {
		n.mu.Lock()
		n.exchanged(p, err)
		n.mu.Unlock()
	}
	if err != nil && ctx.Err() == nil {
		n.log.Warn("lookup failed", "peer", p.ID, "err", err)
	}
	return resp, err
}

// applyLookup applies an answer's entries and, while the answer says it
// stopped at its size limit, asks p again from where this region now is.
func (n *Node) applyLookup(ctx context.Context, p *peerState, req LookupRequest, resp LookupResponse) error {
	for round := 0; ; round++ {
		// Verified entries are stored even if the lookup's budget runs out
		// meanwhile: they are good, and storing them is idempotent.
		res, err := n.store.ApplyWire(context.WithoutCancel(ctx), resp.Entries)
		if err != nil {
			n.log.Warn("lookup answer not applied", "peer", p.ID, "err", err)
			return err
		}
		if len(res.Rejected) > 0 {
			n.log.Warn("lookup answer had rejected entries", "peer", p.ID, "rejected", len(res.Rejected), "first", res.Rejected[0].Error())
			return fmt.Errorf("sync: %s's lookup answer had %d rejected entries", p.ID, len(res.Rejected))
		}
		if resp.Complete {
			return nil
		}
		if round == maxLookupRounds || res.Applied == 0 {
			return fmt.Errorf("sync: %s's lookup answer is still incomplete after %d rounds", p.ID, round+1)
		}
		if resp, err = n.askLookup(ctx, p, req); err != nil {
			return err
		}
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sync: marshal %T: %v", v, err)) // only our own plain structs
	}
	return b
}
