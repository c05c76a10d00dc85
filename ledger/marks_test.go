package ledger_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"kassa/ledger"
)

func TestMarks(t *testing.T) {
	ctx := context.Background()
	r := newRegion("r1")
	path := filepath.Join(t.TempDir(), "kassa.db")
	s := MustOpenPath(t, path, r)
	if v, err := s.Mark(ctx, "webhooks.cursor"); err != nil || v != 0 {
		t.Fatalf("unset mark: got %d, %v, want 0, nil", v, err)
	}
	if _, err := s.Append(ctx, sale(1, 100)); err != nil {
		t.Fatal(err)
	}
	count := s.Count()

	// Marks written while entries are appended share the write connection
	// with the writer: both succeed.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := s.SetMark(ctx, "webhooks.cursor", int64(i)); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := s.Append(ctx, sale(i+2, 10)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if s.Count() != count+20 {
		t.Fatalf("got %d entries, want %d", s.Count(), count+20)
	}
	if err := s.SetMark(ctx, "webhooks.cursor", 42); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMark(ctx, "Bad Name", 1); err == nil {
		t.Fatal("a mark name with spaces and capitals was accepted")
	}

	// A mark is not a fact: the digest of the entries ignores it.
	digest := s.Digest()
	if err := s.SetMark(ctx, "other", 8); err != nil {
		t.Fatal(err)
	}
	if s.Digest() != digest {
		t.Fatal("setting a mark changed the digest")
	}

	s.Close()
	if err := s.SetMark(ctx, "webhooks.cursor", 1); !errors.Is(err, ledger.ErrClosed) {
		t.Fatalf("after close: got %v, want ErrClosed", err)
	}
	s = MustOpenPath(t, path, r)
	if s.Digest() != digest {
		t.Fatal("the digest changed across a reopen")
	}
	for name, want := range map[string]int64{"webhooks.cursor": 42, "other": 8} {
		if v, err := s.Mark(ctx, name); err != nil || v != want {
			t.Fatalf("%s after reopening: got %d, %v, want %d", name, v, err, want)
		}
	}
}
