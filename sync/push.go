package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"kassa/ledger"
)

// Run pushes to every peer until ctx is done, then makes one last attempt
// to flush what peers lack (bounded by the request timeout) and returns.
func (n *Node) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range n.peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.pushLoop(ctx, p)
		}()
	}
	wg.Wait()
}

// Pushes to a peer that is down are probes: sent without retries, the
// first firstRetryWait after the failure, then at doubling intervals up to
// maxRetryWait. A probe to a peer cut off costs one refused or reset
// connection, microseconds; to a frozen peer it waits out sync.timeout, so
// such a peer is probed no more often than that. What the short bound buys
// is a heal noticed within about maxRetryWait, not a second or more later:
// until one side's probe gets through, nothing flows either way.
const (
	firstRetryWait = 25 * time.Millisecond
	maxRetryWait   = 200 * time.Millisecond
)

// heardFrom notes an authenticated request from peer: if this region's
// pushes to it are waiting after a failure, they try again now.
func (n *Node) heardFrom(peer string) {
	n.mu.Lock()
	p := n.peers[peer]
	n.mu.Unlock()
	if p == nil {
		return
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// pushLoop keeps one peer up to date: on every local commit, and every
// Interval even without one (the vector exchange), it sends what the peer's
// last reported vector lacks until the peer has it all.
func (n *Node) pushLoop(ctx context.Context, p *peerState) {
	ticker := time.NewTicker(n.cfg.Interval)
	defer ticker.Stop()
	failures := 0
	probe := true // the first push, and every tick, is a vector exchange
	for {
		changed := n.store.Changed()
		if err := n.drain(ctx, p, probe); err != nil {
			failures++
		} else {
			failures = 0
		}
		if failures > 0 {
			// A peer that is down is probed with backoff, not on every
			// commit, but at least every maxRetryWait: a partition's heal
			// must not wait out a long backoff. A request from the peer
			// ends the wait at once.
			wait := min(firstRetryWait<<min(failures-1, 5), maxRetryWait)
			select {
			case <-ctx.Done():
				n.flush(p)
				return
			case <-time.After(wait):
			case <-p.wake:
			}
			continue
		}
		probe = false
		select {
		case <-ctx.Done():
			n.flush(p)
			return
		case <-changed:
		case <-ticker.C:
			probe = true
			n.saveCursor(ctx, p)
		}
	}
}

// cursorName names the mark that keeps what peer is known to hold of origin.
func cursorName(peer, origin string) string { return "sync." + peer + "." + origin }

// loadCursors restores each peer's last known vector, so that status shows
// how far behind a peer is even before it answers after a restart. A cursor
// is only a starting point: the first push to a peer is a vector exchange
// whose answer replaces it.
func (n *Node) loadCursors(ctx context.Context) {
	origins := []string{string(n.store.Region())}
	for id := range n.peers {
		origins = append(origins, id)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, p := range n.peers {
		if p.vector != nil {
			continue
		}
		v := map[ledger.RegionID]uint64{}
		for _, o := range origins {
			if seq, err := n.store.Mark(ctx, cursorName(id, o)); err == nil && seq > 0 {
				v[ledger.RegionID(o)] = uint64(seq)
			}
		}
		if len(v) > 0 {
			p.vector, p.saved = v, maps.Clone(v)
		}
	}
}

// saveCursor persists what the peer was last known to hold, if it changed.
func (n *Node) saveCursor(ctx context.Context, p *peerState) {
	n.mu.Lock()
	var changed map[ledger.RegionID]uint64
	for o, seq := range p.vector {
		if p.saved[o] != seq {
			if changed == nil {
				changed = map[ledger.RegionID]uint64{}
			}
			changed[o] = seq
		}
	}
	n.mu.Unlock()
	for o, seq := range changed {
		if err := n.store.SetMark(ctx, cursorName(p.ID, string(o)), int64(seq)); err != nil {
			n.log.Warn("save sync cursor", "peer", p.ID, "err", err)
			return
		}
		n.mu.Lock()
		if p.saved == nil {
			p.saved = map[ledger.RegionID]uint64{}
		}
		p.saved[o] = seq
		n.mu.Unlock()
	}
}

// flush makes one last bounded attempt to hand the peer what it lacks, and
// keeps what the peer is known to hold for the next start.
func (n *Node) flush(p *peerState) {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.Timeout)
	defer cancel()
	n.drain(ctx, p, false)
	n.saveCursor(ctx, p)
}

// widenAfter is how long a peer that answered a pipelined push 429 gets one
// push at a time before the whole window is tried again: its slots may have
// been full for a moment (this region's pulls and lookups share them, and a
// peer that was frozen holds this region's abandoned requests for a while
// after it resumes), not only configured fewer than sync.pushes_in_flight.
// At a minute, a narrowing after a pause outlasted the partition that came
// next, and the catch-up at its heal went one push at a time. A peer
// configured fewer costs one refused push every widenAfter.
const widenAfter = 10 * time.Second

// drain pushes batches until the peer holds everything this region holds,
// stops making progress, or a request fails. Without probe, a peer already
// known to hold everything gets no (empty) push.
//
// Up to the peer's window of pushes (PushesInFlight) await their answers at
// once, each batch continuing the one before (PushRequest.After names it):
// the peer verifies one batch while it commits the previous, and hands them
// to its ledger in order whatever order they arrive in. An answer showing
// that the peer did not take a whole batch (it held some entries, found a
// gap, or refused one) ends the round: what is in flight is answered first,
// then drain starts again from the vector the peer reported, unless that
// round took nothing and the peer's vector did not move, when it waits for
// the next change or tick rather than spin. A peer that answers a pipelined
// push 429 gets one push at a time for widenAfter, then the whole window
// again.
func (n *Node) drain(ctx context.Context, p *peerState, probe bool) error {
	n.mu.Lock()
	if p.window < n.cfg.PushesInFlight && n.cfg.Now().Sub(p.narrowed) >= widenAfter {
		p.window = n.cfg.PushesInFlight
		n.m.window(p.ID, p.window)
	}
	window := p.window
	n.mu.Unlock()
	type answer struct {
		seq       uint64
		size      int
		applied   int
		err       error
		pipelined bool
	}
	// The cancel of each push in flight: a push that fails dooms the ones
	// continuing it (the peer would hold each for its lost predecessor for
	// a quarter of sync.timeout), so they are called off at once.
	cancels := map[uint64]context.CancelFunc{}
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	calledOff := map[uint64]bool{}
	answers := make(chan answer, window)
	var (
		start    map[ledger.RegionID]uint64 // the peer's vector when this round began
		sent     map[ledger.RegionID]uint64 // what the peer holds once the pushes in flight land; nil: start a round
		inflight int
		last     uint64 // the latest push in flight, which the next one continues
		pushes   int
		applied  int // entries the peer took in this round
		failed   error
		resync   bool // start a new round once every push is answered
		idle     bool // nothing (more) to send
	)
	for {
		for failed == nil && !idle && !resync && inflight < window && pushes < 1000 {
			if sent == nil {
				n.mu.Lock()
				// A copy: a push received from the peer raises its vector in
				// place, under the lock, while batches are read.
				start, sent = maps.Clone(p.vector), maps.Clone(p.vector)
				n.mu.Unlock()
			}
			var batch []ledger.Wire
			if sent != nil {
				// What the peer was seen holding since the round began (its
				// own pushes carry its vector) need not be sent: without
				// this, a long round sent the peer back its own entries.
				// Which relays to hold back is decided for each batch too:
				// the peer may have answered again after being down
				// (backAgain).
				n.mu.Lock()
				for o, s := range p.vector {
					sent[o] = max(sent[o], s)
				}
				hold := n.relayHeld(p)
				n.mu.Unlock()
				var err error
				if batch, err = n.missing(ctx, sent, hold); err != nil {
					failed = err
					break
				}
			}
			empty := len(batch) == 0
			if empty && (pushes > 0 || (!probe && sent != nil)) {
				idle = true
				break
			}
			n.mu.Lock()
			for _, e := range batch {
				sent[e.Origin] = max(sent[e.Origin], e.Seq)
				if e.Origin != n.store.Region() {
					if p.relayed == nil {
						p.relayed = map[ledger.RegionID]uint64{}
					}
					p.relayed[e.Origin] = max(p.relayed[e.Origin], e.Seq)
				}
			}
			n.mu.Unlock()
			seq := n.nextPush(p)
			after := last
			if inflight == 0 {
				after = 0
			}
			pushes++
			inflight++
			last = seq
			pctx, cancel := context.WithCancel(ctx)
			cancels[seq] = cancel
			pipelined := window > 1
			if pipelined {
				pctx = context.WithValue(pctx, pipelinedKey{}, true)
			}
			if n.Down(p.ID) {
				pctx = context.WithValue(pctx, probeKey{}, true)
			}
			go func() {
				resp, err := n.push(pctx, p, batch, seq, after)
				answers <- answer{seq, len(batch), resp.Applied, err, pipelined}
			}()
			if empty {
				// A vector exchange: what to send next depends on its answer.
				resync = true
			}
		}
		if inflight == 0 {
			if resync && failed == nil && pushes < 1000 {
				n.mu.Lock()
				now := maps.Clone(p.vector)
				n.mu.Unlock()
				if pushes > 1 && applied == 0 && maps.Equal(now, start) {
					return nil
				}
				resync, idle, sent, applied = false, false, nil, 0
				continue
			}
			return failed
		}
		a := <-answers
		inflight--
		applied += a.applied
		cancels[a.seq]()
		delete(cancels, a.seq)
		if a.err != nil && !calledOff[a.seq] {
			for seq, c := range cancels {
				if seq > a.seq {
					calledOff[seq] = true
					c()
				}
			}
		}
		var pe *PeerError
		switch {
		case calledOff[a.seq] && ctx.Err() == nil:
			// Called off above: the failure of the push it continued is
			// what counts.
			resync = true
		case errors.As(a.err, &pe) && pe.Status == http.StatusTooManyRequests && a.pipelined:
			// The peer serves fewer requests at once than this region
			// sends: one at a time for now (push narrowed the window).
			window = 1
			resync = true
		case a.err != nil:
			failed = a.err
		case a.applied < a.size || a.size == 0:
			resync = true
		}
	}
}

// nextPush numbers the next push to p.
func (n *Node) nextPush(p *peerState) uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	p.pushSeq++
	return p.pushSeq
}

// relayHeld returns the origins whose entries are not relayed to p now:
// p was seen getting them from another region within relayHold, or p is
// down and they are origins this region reaches. This
// region's own entries, and p's own (p may have been restored from an
// older backup), are always sent. The caller holds n.mu.
func (n *Node) relayHeld(p *peerState) map[ledger.RegionID]bool {
	var hold map[ledger.RegionID]bool
	now := n.cfg.Now()
	if p.down {
		// The pushes that find it back carry no relays of what its
		// origins will push to it themselves (see backAgain).
		for o := range n.reachable(p) {
			if hold == nil {
				hold = map[ledger.RegionID]bool{}
			}
			hold[o] = true
		}
	}
	for o, at := range p.direct {
		if o != n.store.Region() && string(o) != p.ID && now.Sub(at) < n.relayHold() {
			if hold == nil {
				hold = map[ledger.RegionID]bool{}
			}
			hold[o] = true
		}
	}
	return hold
}

// missing returns up to BatchSize entries this region holds and theirs lacks,
// each origin's in seq order, leaving out the origins in hold.
func (n *Node) missing(ctx context.Context, theirs map[ledger.RegionID]uint64, hold map[ledger.RegionID]bool) ([]ledger.Wire, error) {
	mine := n.store.Vector()
	origins := make([]ledger.RegionID, 0, len(mine))
	for o, s := range mine {
		if s > theirs[o] && !hold[o] {
			origins = append(origins, o)
		}
	}
	sort.Slice(origins, func(i, j int) bool { return origins[i] < origins[j] })
	var out []ledger.Wire
	for _, o := range origins {
		room := n.cfg.BatchSize - len(out)
		if room <= 0 {
			break
		}
		// Share the batch between origins so one busy origin cannot starve
		// the relay of the others.
		share := max(room/len(origins), 1)
		es, err := n.store.WireAfter(ctx, o, theirs[o], share)
		if err != nil {
			return nil, fmt.Errorf("sync: read %s entries: %w", o, err)
		}
		out = append(out, es...)
	}
	return out, nil
}

// push sends one batch to p and records the outcome in p's state.
//
// seq numbers the push; after is the push in flight whose batch this one
// continues, or 0.
func (n *Node) push(ctx context.Context, p *peerState, batch []ledger.Wire, seq, after uint64) (PushResponse, error) {
	req := PushRequest{From: string(n.store.Region()), Vector: toVector(n.store.Vector()), Seq: seq, After: after, Entries: make([][]byte, len(batch))}
	for i := range batch {
		req.Entries[i] = batch[i].Body
	}
	body, _ := req.MarshalBinary()
	var resp PushResponse
	start := time.Now()
	err := n.call(ctx, p, http.MethodPost, "/sync/v1/entries", PushContentType, body, &resp)
	n.mu.Lock()
	defer n.mu.Unlock()
	if pe := (*PeerError)(nil); errors.As(err, &pe) && pe.Status == http.StatusTooManyRequests && ctx.Value(pipelinedKey{}) != nil {
		// Not a failure of the peer: it serves fewer requests from this
		// region at once than this region sends.
		if p.window > 1 {
			n.log.Info("peer serves fewer pushes at once than sync.pushes_in_flight; sending one at a time for a while", "peer", p.ID, "pushes_in_flight", p.window, "for", widenAfter)
			p.window, p.narrowed = 1, n.cfg.Now()
			n.m.window(p.ID, p.window)
		}
		return resp, err
	}
	var lag int64
	if err == nil {
		lag = behind(n.store.Vector(), fromVector(resp.Vector))
	}
	n.m.pushed(p.ID, len(batch), time.Since(start), lag, err)
	if err == nil || ctx.Err() == nil || !errors.Is(ctx.Err(), context.Canceled) {
		n.exchanged(p, err)
	}
	if err != nil {
		if p.reachable || p.lastErr == "" {
			n.log.Warn("peer unreachable", "peer", p.ID, "err", err)
		}
		p.reachable, p.lastErr = false, err.Error()
		return resp, err
	}
	if !p.reachable && !p.lastOK.IsZero() {
		n.log.Info("peer reachable again", "peer", p.ID)
	}
	p.reachable, p.lastOK, p.lastErr = true, n.cfg.Now(), ""
	if p.learn(fromVector(resp.Vector), resp.Incarnation, seq, n.cfg.Now()) {
		// A process heard for the first time gets the origins this region
		// reaches from them directly, as one that answers again does.
		n.backAgain(p)
	}
	// Wake AwaitPeer's waiters: the peer may now hold what they wait for.
	close(n.learned)
	n.learned = make(chan struct{})
	for _, rj := range resp.Rejected {
		if rj.Reason != "gap" {
			p.rejections++
			n.log.Warn("peer rejected an entry", "peer", p.ID, "origin", rj.Origin, "seq", rj.Seq, "reason", rj.Reason, "message", rj.Message)
		}
	}
	return resp, nil
}

// pipelinedKey marks the context of a push sent while others are in flight.
type pipelinedKey struct{}

// probeKey marks the context of a push to a peer that is down: it is not
// retried, the push loop's next probe is (see maxRetryWait).
type probeKey struct{}

// bodyKey carries a request's body to the signing hook.
type bodyKey struct{}

// signHook signs every attempt anew (retryablehttp calls it before each
// one), so that a retry is not refused as a replay of the first attempt.
func (n *Node) signHook(_ retryablehttp.Logger, r *http.Request, _ int) {
	body, _ := r.Context().Value(bodyKey{}).([]byte)
	now := n.cfg.Now()
	signRequest(r, string(n.store.Region()), n.cfg.Key, now, body)
	if sent, ok := r.Context().Value(sentKey{}).(*time.Time); ok {
		*sent = now
	}
}

// sentKey carries where call wants the time its request's last attempt
// went out: the answer's time is measured from there, not from before
// the retries and their waits.
type sentKey struct{}

// call sends one signed request to p, with a body of type contentType (or
// none), and decodes a 200 answer into out; an out of type *[]byte gets the
// answer's bytes as they came, for a caller that decodes them itself.
func (n *Node) call(ctx context.Context, p *peerState, method, uri, contentType string, body []byte, out any) error {
	u := strings.TrimRight(p.URL, "/") + uri
	sent := n.cfg.Now()
	ctx = context.WithValue(context.WithValue(ctx, bodyKey{}, body), sentKey{}, &sent)
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	n.awaiting(p, 1)
	res, err := n.client.Do(req)
	n.awaiting(p, -1)
	if err != nil {
		return err
	}
	n.mu.Lock()
	p.heard = n.cfg.Now()
	n.noteAnswer(p, p.heard.Sub(sent))
	n.mu.Unlock()
	defer res.Body.Close()
	// Sized from Content-Length when it is given, so that a large answer
	// (a lookup's history) is not copied again each time the buffer grows.
	buf := bytes.NewBuffer(make([]byte, 0, min(max(res.ContentLength, 0), n.cfg.MaxBodyBytes)+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(res.Body, n.cfg.MaxBodyBytes+1)); err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	b := buf.Bytes()
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string }
		}
		json.Unmarshal(b, &e)
		return &PeerError{Peer: p.ID, Status: res.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = b
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s answered a malformed body: %w", p.ID, err)
	}
	return nil
}

// pullOwn fetches this region's own entries after its head from p.
func (n *Node) pullOwn(ctx context.Context, p *peerState) (int, error) {
	total := 0
	for {
		after := n.store.Vector()[n.store.Region()]
		q := url.Values{"origin": {string(n.store.Region())}, "after": {strconv.FormatUint(after, 10)}, "limit": {strconv.Itoa(n.cfg.BatchSize)}}
		var resp PullResponse
		err := n.call(ctx, p, http.MethodGet, "/sync/v1/entries?"+q.Encode(), "", nil, &resp)
		if err == nil || ctx.Err() == nil {
			n.mu.Lock()
			n.exchanged(p, err)
			n.mu.Unlock()
		}
		if err != nil {
			return total, err
		}
		if len(resp.Entries) == 0 {
			return total, nil
		}
		res, err := n.store.ApplyWire(ctx, resp.Entries)
		var we *ledger.WireError
		if errors.As(err, &we) {
			return total, fmt.Errorf("%s sent a malformed entry: %w", p.ID, err)
		}
		if err != nil {
			return total, err
		}
		total += res.Applied
		if n.store.Vector()[n.store.Region()] == after {
			// Nothing of the page extends this region's chain (a fork
			// is quarantined, not applied): asking again would get the
			// same page.
			return total, nil
		}
		// The head moved, by this page or by a peer's push of the same
		// entries that landed first: ask for what follows it.
	}
}

// Recover fetches this region's own entries that peers hold beyond its head,
// so that a region restored from an older backup (or an empty disk) never
// reuses a sequence number. It asks every peer and returns when each has
// answered with nothing new, or has gone RecoveryTimeout without sending
// anything: a peer that keeps sending is waited for however long the
// transfer takes (a region restored from a backup hours old has that many
// entries to fetch, and writing before it has them all would fork its
// chain). Peers that did not answer are named in the error, and what the
// others sent is kept.
func (n *Node) Recover(ctx context.Context) error {
	before := n.store.Vector()[n.store.Region()]
	var (
		mu     sync.Mutex
		failed []string
		wg     sync.WaitGroup
	)
	for _, p := range n.peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			progress := time.Now() // when p last sent something
			for {
				pctx, cancel := context.WithTimeout(ctx, n.cfg.RecoveryTimeout)
				head := n.store.Vector()[n.store.Region()]
				_, err := n.pullOwn(pctx, p)
				if err == nil {
					// One empty push learns what the peer holds, so this
					// region knows from the start whether it is behind.
					n.push(pctx, p, nil, n.nextPush(p), 0)
					cancel()
					return
				}
				cancel()
				if n.store.Vector()[n.store.Region()] > head {
					// The chain grew (by this pull, or by a push of the
					// same entries that landed first): keep going.
					progress = time.Now()
					continue
				}
				if time.Since(progress) >= n.cfg.RecoveryTimeout || ctx.Err() != nil {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("%s (%v)", p.ID, err))
					mu.Unlock()
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(n.cfg.RetryWaitMin):
				}
			}
		}()
	}
	wg.Wait()
	if after := n.store.Vector()[n.store.Region()]; after > before {
		n.log.Warn("recovered this region's own entries from peers", "from_seq", before+1, "to_seq", after)
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		return fmt.Errorf("sync: recovery incomplete, no answer from %s", strings.Join(failed, ", "))
	}
	return nil
}

// PeerError is a peer's answer refusing a request: it was reached and said
// no (unlike a transport failure, where the outcome is unknown).
type PeerError struct {
	Peer    string
	Status  int
	Code    string
	Message string
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("%s answered %d %s: %s", e.Peer, e.Status, e.Code, e.Message)
}

// NoRights reports whether the peer answered a rights request that it has
// none to give (as opposed to refusing the request itself, say as a replay).
func (e *PeerError) NoRights() bool {
	return e.Status == http.StatusConflict && e.Code == "rights_unavailable"
}
