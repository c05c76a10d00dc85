package sync_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	regionsync "kassa/sync"
)

// loseFirstPush fails the first push that carries entries (and every retry
// of it), the first time only once the push continuing it is on its way,
// and notes how that successor ended.
type loseFirstPush struct {
	next http.RoundTripper

	mu        sync.Mutex
	armed     bool
	first     uint64        // seq of the push that is lost
	firstSet  chan struct{} // closed when first is known
	sent      chan struct{} // closed when its successor has been sent
	successor error         // how the successor's round trip ended
	done      chan struct{} // closed when it has
}

func (l *loseFirstPush) RoundTrip(r *http.Request) (*http.Response, error) {
	var req regionsync.PushRequest
	if r.URL.Path != "/sync/v1/entries" || r.Method != http.MethodPost || r.GetBody == nil {
		return l.next.RoundTrip(r)
	}
	b, _ := r.GetBody()
	body, _ := io.ReadAll(b)
	if req.UnmarshalBinary(body) != nil || len(req.Entries) == 0 {
		return l.next.RoundTrip(r)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	l.mu.Lock()
	if l.armed && l.first == 0 && req.After != 0 {
		// A successor may be sent before the push it continues.
		l.mu.Unlock()
		select {
		case <-l.firstSet:
		case <-time.After(5 * time.Second):
		}
		l.mu.Lock()
	}
	switch {
	case !l.armed:
	case l.first != 0 && req.Seq == l.first:
		l.mu.Unlock()
		return nil, errors.New("injected: push lost on the way, again")
	case l.first == 0 && req.After == 0:
		l.first = req.Seq
		close(l.firstSet)
		l.mu.Unlock()
		select {
		case <-l.sent:
		case <-time.After(5 * time.Second):
		}
		return nil, errors.New("injected: push lost on the way")
	case req.After == l.first && l.sent != nil:
		sent := l.sent
		l.sent = nil
		l.mu.Unlock()
		close(sent)
		res, err := l.next.RoundTrip(r)
		l.mu.Lock()
		l.successor = err
		l.mu.Unlock()
		close(l.done)
		return res, err
	}
	l.mu.Unlock()
	return l.next.RoundTrip(r)
}

// TestLostPushCallsOffItsSuccessor: when a pipelined push is lost, the
// push continuing it (which the peer would hold for a quarter of
// sync.timeout, waiting for the lost one) is called off at once, and the
// peer is caught up from its vector.
func TestLostPushCallsOffItsSuccessor(t *testing.T) {
	var lose *loseFirstPush
	c := newCluster(t, 2, 23, func(cfg *regionsync.Config) {
		cfg.PushesInFlight = 2
		cfg.Timeout = 20 * time.Second // the peer would hold the successor 5 s
		if cfg.Transport.(*transport).from == "r1" {
			lose = &loseFirstPush{next: cfg.Transport, sent: make(chan struct{}), done: make(chan struct{}), firstSet: make(chan struct{})}
			cfg.Transport = lose
		}
	})
	r1, r2 := c.members[0], c.members[1]
	c.stop(r2)
	for i := 0; i < 300; i++ {
		if _, err := r1.store.Append(bg, draft("r1", i)); err != nil {
			t.Fatal(err)
		}
	}
	lose.mu.Lock()
	lose.armed = true
	lose.mu.Unlock()
	c.start(r2)
	select {
	case <-lose.done:
	case <-time.After(10 * time.Second):
		t.Fatal("no push continued the lost one within 10 s")
	}
	lose.mu.Lock()
	err := lose.successor
	lose.mu.Unlock()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the push continuing the lost one ended with %v; want it called off (context canceled)", err)
	}
	c.converged(10 * time.Second)
}
