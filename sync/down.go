package sync

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DownProbeBudget bounds a rights request to a peer that is down: one such
// probe goes out per Settings.Interval, and a frozen peer costs the
// decision that carries it at most this long. A peer that is up but slower
// than this is brought back by the push loop instead (see docs/credit.md).
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

// rightsGate decides whether a rights request may go to p now: always if
// p is up; if p is down, one probe per Interval with DownProbeBudget, and
// otherwise a *PeerDownError without sending. It returns the context to
// send with.
func (n *Node) rightsGate(ctx context.Context, p *peerState) (context.Context, context.CancelFunc, bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !p.down {
		return ctx, func() {}, false, nil
	}
	now := n.cfg.Now()
	if d := now.Sub(p.probed); d >= 0 && d < n.cfg.Interval {
		n.m.rightsSkipped.WithLabelValues(p.ID).Inc()
		return nil, nil, false, &PeerDownError{Peer: p.ID, LastError: p.lastErr}
	}
	p.probed = now
	ctx, cancel := context.WithTimeout(ctx, DownProbeBudget)
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
