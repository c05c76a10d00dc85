package checkout_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyDir copies a replica that Litestream may be writing to: a file it
// is still writing (a .tmp, renamed when complete) or has just removed is
// not part of the replica and is left out.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) || strings.HasSuffix(p, ".tmp") {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRestoredFromOldReplica loses a region's disk and brings it back from a
// Litestream replica older than what it had pushed to its peer: on start it
// restores the replica, fetches the rest of its own chain from the peer
// before taking writes, and continues the chain: no fork, nothing lost.
func TestRestoredFromOldReplica(t *testing.T) {
	rs := startRegions(t, 2, nil)
	r1, r2 := rs[0], rs[1]
	var ids []string
	create := func(from, to int) {
		for i := from; i < to; i++ {
			s := call(t, "POST", r1.url+"/v1/sessions", fmt.Sprintf("old-%d", i), sessionBody(1000, "old"))
			if s.status != 201 {
				t.Fatalf("got %d %s", s.status, s.raw)
			}
			ids = append(ids, s.str("id"))
		}
	}
	create(0, 20)
	if err := r1.r.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(t.TempDir(), "old-backup")
	copyDir(t, filepath.Join(r1.dir, "backup"), old)
	create(20, 40)
	eventually(t, func() bool { return r2.r.Ledger().Vector()["r1"] == r1.r.Ledger().Vector()["r1"] })
	head := r1.r.Ledger().Vector()["r1"]

	// The disk is lost; only the key (kept apart, as operators are told) and
	// the old replica survive.
	r1.stop()
	key, _ := os.ReadFile(r1.cfg.KeyFile)
	os.RemoveAll(r1.dir)
	copyDir(t, old, filepath.Join(r1.dir, "backup"))
	os.WriteFile(r1.cfg.KeyFile, key, 0o600)
	r1.start(t, nil)
	waitReady(t, r1.url)
	if !r1.r.Restored() {
		t.Fatal("the region did not restore from its replica")
	}
	if got := r1.r.Ledger().Vector()["r1"]; got != head {
		t.Fatalf("got r1 at %d after recovery, want %d (what its peer held)", got, head)
	}
	create(40, 45)
	if got := r1.r.Ledger().Vector()["r1"]; got != head+5 {
		t.Fatalf("got r1 at %d, want %d: new writes must continue the chain", got, head+5)
	}
	eventually(t, func() bool { return r2.r.Ledger().Digest() == r1.r.Ledger().Digest() })
	for _, r := range rs {
		for _, id := range ids {
			if res := call(t, "GET", r.url+"/v1/sessions/"+id, "", nil); res.status != 200 {
				t.Fatalf("%s lost session %s", r.id, id)
			}
		}
		forks, _ := r.r.Ledger().Forks(t.Context())
		if len(forks) != 0 {
			t.Fatalf("%s quarantined %d forks", r.id, len(forks))
		}
	}
}
