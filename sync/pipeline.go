package sync

import (
	"context"
	"sync"
	"time"
)

// pipelines keeps each peer's pipelined pushes in order at the receiver. A
// sender catching a peer up may have several pushes in flight, each batch
// continuing the one before (PushRequest.After); they can reach the receiver
// in any order. Each is verified as soon as it arrives, but hands its batch
// to the ledger only once the push it follows has handed over its own or has
// ended, so the batches are staged in chain order. A push that never arrives
// (lost on the way) holds its successor for at most a bound; the successor's
// entries are then refused as a gap and the sender starts again from this
// region's vector.
type pipelines struct {
	mu    sync.Mutex
	peers map[string]*peerPushes
}

// peerPushes are the recent pushes of one peer.
type peerPushes struct {
	handed map[uint64]chan struct{} // push seq -> closed once it has handed its batch over or ended
	order  []uint64                 // keys of handed, oldest first
}

// maxTrackedPushes bounds how many pushes per peer are remembered: far more
// than a sender keeps in flight (sync.pushes_in_flight is at most 16).
const maxTrackedPushes = 64

func newPipelines() *pipelines { return &pipelines{peers: map[string]*peerPushes{}} }

// signal returns the channel that closes when from's push seq has handed
// over its batch or ended. The caller holds mu.
func (p *pipelines) signal(from string, seq uint64) chan struct{} {
	pp := p.peers[from]
	if pp == nil {
		pp = &peerPushes{handed: map[uint64]chan struct{}{}}
		p.peers[from] = pp
	}
	if ch, ok := pp.handed[seq]; ok {
		return ch
	}
	ch := make(chan struct{})
	pp.handed[seq] = ch
	pp.order = append(pp.order, seq)
	for len(pp.order) > maxTrackedPushes {
		old := pp.order[0]
		pp.order = pp.order[1:]
		closeOnce(pp.handed[old]) // whoever still waits for it goes on
		delete(pp.handed, old)
	}
	return ch
}

// wait returns once from's push after has handed over its batch or ended,
// after bound, or when ctx ends.
func (p *pipelines) wait(ctx context.Context, from string, after uint64, bound time.Duration) {
	p.mu.Lock()
	ch := p.signal(from, after)
	p.mu.Unlock()
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
}

// handed records that from's push seq has handed its batch over, or ended;
// recording it again is harmless.
func (p *pipelines) handed(from string, seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	closeOnce(p.signal(from, seq))
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}
