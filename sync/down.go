package sync

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"kassa/ledger"
)

// DownProbeBudget bounds a rights request to a peer that is down: one such
// probe goes out per Settings.Interval, and a frozen peer costs the
// decision that carries it at most this long, or twice the peer's usual
// answer time when that is longer, up to SilentAfter (see probeBudget). A
// peer that is up but slower than the probe's budget is brought back by
// the push loop instead (see docs/credit.md).
const DownProbeBudget = 50 * time.Millisecond

// PeerDownError is the answer to a rights request that was not sent because
// the owner is down: its last exchange with this region failed, and no
// probe is due yet. The caller degrades as if the peer had not answered,
// without waiting.
type PeerDownError struct {
	Peer string
	// LastError is what the last failed exchange reported.
	LastError string
}

func (e *PeerDownError) Error() string {
	return fmt.Sprintf("sync: %s is down (last exchange: %s); not asked", e.Peer, e.LastError)
}

// PeerDown reports that the request was skipped, not sent.
func (e *PeerDownError) PeerDown() bool { return true }

// Down reports whether this region's last exchange with peer (a push, a
// pull or a rights request) failed without an answer, and none has
// succeeded since. A peer that has not been reached since this region
// started is not down until an exchange with it fails; a peer that
// answered, even with a refusal, is up.
func (n *Node) Down(peer string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.peers[peer]
	return p != nil && p.down
}

// exchanged records the outcome of an exchange with p: err nil or a
// PeerError (the peer answered) brings it up; any other error takes it
// down. The caller holds n.mu.
func (n *Node) exchanged(p *peerState, err error) {
	var pe *PeerError
	switch {
	case err == nil || errors.As(err, &pe):
		if p.down {
			n.log.Info("peer answers again", "peer", p.ID)
			n.backAgain(p)
		}
		p.down = false
		n.m.peerDown.WithLabelValues(p.ID).Set(0)
	default:
		if !p.down {
			n.log.Warn("peer down: its requests are skipped until it answers again", "peer", p.ID, "err", err)
			p.probed = n.cfg.Now() // the first probe is one interval later
		}
		p.down, p.lastErr = true, err.Error()
		n.m.peerDown.WithLabelValues(p.ID).Set(1)
	}
}

// backAgain holds back, for relayHold, relaying to p (which answers
// again after being down: a partition healed, it was restarted or
// resumed) the entries of every origin this region reaches: those origins
// push to p themselves now. Relaying at once as well sent the entries a
// cut-off region lacked about twice, once from their origin and once from
// each relay, and the region took its backlog in at about half the rate.
// An origin this region cannot reach (down, or never heard) is relayed at
// once; so is one p still lacks once the hold is over. The caller holds
// n.mu.
func (n *Node) backAgain(p *peerState) {
	now := n.cfg.Now()
	for o := range n.reachable(p) {
		if p.direct == nil {
			p.direct = map[ledger.RegionID]time.Time{}
		}
		p.direct[o] = now
	}
}

// reachable yields the peers other than p that this region has heard and
// that are not down. The caller holds n.mu.
func (n *Node) reachable(p *peerState) iter.Seq[ledger.RegionID] {
	return func(yield func(ledger.RegionID) bool) {
		for _, q := range n.peers {
			if q != p && !q.down && !q.heard.IsZero() && !yield(ledger.RegionID(q.ID)) {
				return
			}
		}
	}
}

// SilentAfter is how long a peer may leave every request this region has
// sent it unanswered before rights requests treat it as down. A frozen
// process (its listener still accepting) fails no exchange until a timeout
// runs out, a second or more; meanwhile every decision asking it would
// wait that long. A busy peer answers some request (pushes go to it after
// every commit) well within this. A peer whose answers take longer (both
// regions' machines saturated) is given silentTimes its usual answer
// time, up to maxSilentAfter (see silentAfter).
const SilentAfter = 250 * time.Millisecond

// silentTimes and maxSilentAfter bound the silence a slow peer is
// allowed: silentTimes its smoothed answer time, at most maxSilentAfter.
const (
	silentTimes    = 4
	maxSilentAfter = 4 * SilentAfter
)

// noteAnswer folds the time one request to p took to be answered into
// p.answer, an average that weighs the newest answer an eighth. The caller
// holds n.mu.
func (n *Node) noteAnswer(p *peerState, d time.Duration) {
	if d < 0 {
		return
	}
	if p.answer == 0 {
		p.answer = d
		return
	}
	p.answer += (d - p.answer) / 8
}

// silentAfter is how long p may leave this region's requests unanswered
// before it counts as silent: SilentAfter, or silentTimes its usual answer
// time when that is longer, at most maxSilentAfter. The caller holds n.mu.
func (n *Node) silentAfter(p *peerState) time.Duration {
	return min(max(SilentAfter, silentTimes*p.answer), maxSilentAfter)
}

// probeBudget is how long a probe of a silent or down peer may wait:
// DownProbeBudget, or twice p's usual answer time when that is longer, at
// most SilentAfter. The caller holds n.mu.
func (n *Node) probeBudget(p *peerState) time.Duration {
	return min(max(DownProbeBudget, 2*p.answer), SilentAfter)
}

// awaiting counts requests to p in flight (d is +1 or -1).
func (n *Node) awaiting(p *peerState, d int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p.pending == 0 && d > 0 {
		p.waiting = n.cfg.Now()
	}
	p.pending += d
}

// silent reports whether p has had a request in flight, and answered
// none, for SilentAfter. The caller holds n.mu.
func (n *Node) silent(p *peerState) bool {
	if p.pending == 0 {
		return false
	}
	since := p.waiting
	if p.heard.After(since) {
		since = p.heard
	}
	return n.cfg.Now().Sub(since) >= n.silentAfter(p)
}

// rightsGate decides whether a rights request may go to p now: always if
// p is up and not silent; if p is down or silent, one probe per Interval
// with DownProbeBudget, and otherwise a *PeerDownError without sending. It
// returns the context to send with.
func (n *Node) rightsGate(ctx context.Context, p *peerState) (context.Context, context.CancelFunc, bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !p.down && !n.silent(p) {
		return ctx, func() {}, false, nil
	}
	now := n.cfg.Now()
	if d := now.Sub(p.probed); d >= 0 && d < n.cfg.Interval {
		n.m.rightsSkipped.WithLabelValues(p.ID).Inc()
		last := p.lastErr
		if !p.down {
			since := p.waiting
			if p.heard.After(since) {
				since = p.heard
			}
			last = fmt.Sprintf("no request answered for %s", now.Sub(since).Round(time.Millisecond))
		}
		return nil, nil, false, &PeerDownError{Peer: p.ID, LastError: last}
	}
	p.probed = now
	ctx, cancel := context.WithTimeout(ctx, n.probeBudget(p))
	return ctx, cancel, true, nil
}

// rightsAnswered records how a rights request to p went. A request cut
// short by its caller (cancelled, or given less than DownProbeBudget) says
// nothing about the peer.
func (n *Node) rightsAnswered(ctx context.Context, p *peerState, budget time.Duration, probe bool, err error) {
	if err != nil && ctx.Err() != nil && !probe && (errors.Is(ctx.Err(), context.Canceled) || budget < DownProbeBudget) {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.exchanged(p, err)
}
