package sync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"kassa/ledger"
	regionsync "kassa/sync"
)

// TestAwaitPeer: AwaitPeer returns once a peer answered that it holds the
// entry (and it does), returns ErrNotHeld while no peer can be reached
// (the entry stays committed here), and returns once the link is back.
func TestAwaitPeer(t *testing.T) {
	c := newCluster(t, 2, 1, nil)
	r1, r2 := c.members[0], c.members[1]
	e, err := r1.store.Append(bg, draft("r1", 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := r1.node.AwaitPeer(bg, "r1", e.Seq); err != nil {
		t.Fatalf("a reachable peer: got %v, want nil", err)
	}
	if got := r2.store.Vector()["r1"]; got < e.Seq {
		t.Fatalf("AwaitPeer returned while r2 holds r1 up to %d, want %d", got, e.Seq)
	}

	c.f.partition("r1", "r2", true)
	e, err = r1.store.Append(bg, draft("r1", 2))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel()
	if err := r1.node.AwaitPeer(ctx, "r1", e.Seq); !errors.Is(err, regionsync.ErrNotHeld) {
		t.Fatalf("a cut-off peer: got %v, want ErrNotHeld", err)
	}
	if got := r1.store.Vector()["r1"]; got != e.Seq {
		t.Fatalf("r1 holds its own chain up to %d, want %d", got, e.Seq)
	}

	c.f.partition("r1", "r2", false)
	if err := r1.node.AwaitPeer(bg, "r1", e.Seq); err != nil {
		t.Fatalf("after healing: got %v, want nil", err)
	}
	if got := r2.store.Vector()[ledger.RegionID("r1")]; got < e.Seq {
		t.Fatalf("r2 holds r1 up to %d, want %d", got, e.Seq)
	}
}

// TestAwaitPeerTimeout: AwaitPeer gives up after Settings.AckTimeout
// without a context deadline of its own.
func TestAwaitPeerTimeout(t *testing.T) {
	c := newCluster(t, 2, 2, func(cfg *regionsync.Config) { cfg.AckTimeout = 100 * time.Millisecond })
	c.f.partition("r1", "r2", true)
	e, err := c.members[0].store.Append(bg, draft("r1", 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.members[0].node.AwaitPeer(bg, "r1", e.Seq); !errors.Is(err, regionsync.ErrNotHeld) {
		t.Fatalf("got %v, want ErrNotHeld", err)
	}
}
