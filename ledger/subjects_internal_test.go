package ledger

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"testing"
)

// TestCompleteFromTail: a database read whose snapshot ended before the
// latest commits is completed with the entries about its subject that the
// tail holds after the snapshot, in subject order, and kept; a read the
// tail cannot complete (the tail was trimmed past it, or it saw a commit
// the tail has not taken yet) is answered as read and not kept.
func TestCompleteFromTail(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	entry := func(seq uint64, wall int64, subject string) (*Entry, tailItem) {
		e := &Entry{Origin: "r1", Seq: seq, HLC: HLC{Wall: wall}, Kind: "k", Subject: subject, Data: []byte(`{}`)}
		e.Sign(key)
		body, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return e, tailItem{kind: e.Kind, subject: subject, origin: e.Origin, seq: seq, body: body}
	}
	subjectsOf := []string{"a", "b", "a", "a", "b", "a"}
	walls := []int64{10, 11, 12, 9, 13, 14} // the fourth folds first
	tl := tail{subjects: newSubjects(0)}
	tl.subjects.learn(nil, true)
	var all []*Entry
	for i, s := range subjectsOf {
		e, it := entry(uint64(i+1), walls[i], s)
		// Nothing is kept for a subject until it is read (learned later).
		tl.subjects.ready = false
		tl.add([]tailItem{it}, []*Entry{e})
		all = append(all, e)
	}
	seqs := func(es []Entry) string {
		var b bytes.Buffer
		for _, e := range es {
			fmt.Fprintf(&b, "%d ", e.Seq)
		}
		return b.String()
	}
	// The read saw positions 1 and 2: entry 1 about "a".
	got, err := tl.complete("a", []Entry{*all[0]}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := "4 1 3 6 "; seqs(got) != want {
		t.Fatalf("completed %q, want %q", seqs(got), want)
	}
	if l, ok := tl.subjects.get("a"); !ok || seqs(l) != "4 1 3 6 " {
		t.Fatalf("kept %q (%v)", seqs(l), ok)
	}
	// A read that saw a commit the tail has not taken (position 7).
	got, _ = tl.complete("b", []Entry{*all[1], *all[4]}, 7)
	if seqs(got) != "2 5 " {
		t.Fatalf("b: %q", seqs(got))
	}
	if _, ok := tl.subjects.get("b"); ok {
		t.Fatal("kept a read the tail could not complete")
	}
	// The tail trimmed past the read's snapshot.
	tl.floor, tl.items = 3, tl.items[3:]
	if _, ok := tl.subjects.get("b"); ok {
		t.Fatal("b known before any read")
	}
	got, _ = tl.complete("b", []Entry{*all[1]}, 1)
	if seqs(got) != "2 " {
		t.Fatalf("b: %q", seqs(got))
	}
	if _, ok := tl.subjects.get("b"); ok {
		t.Fatal("kept a read the tail could not complete")
	}
}

// TestSeenFilterGrows: once a filter holds what it was sized for, another
// twice its size joins the chain; no subject marked is ever reported
// unseen, and subjects never marked are taken for seen about once in a
// hundred per filter.
func TestSeenFilterGrows(t *testing.T) {
	c := &subjects{}
	c.grow(1000)
	// 1,000 + 2,000 + 4,000 fill three filters (fewer, by the subjects
	// taken for seen already), and the rest go into a fourth.
	const n = 7500
	for i := range n {
		c.markLocked(fmt.Sprintf("ord_%d", i))
	}
	if len(c.seen) != 4 || c.last != 8000 {
		t.Fatalf("%d filters, the last for %d subjects; want 4, the last for 8000", len(c.seen), c.last)
	}
	for i := range n {
		if !c.seenLocked(fmt.Sprintf("ord_%d", i)) {
			t.Fatalf("ord_%d was marked and is reported unseen", i)
		}
	}
	taken := 0
	for i := range 20000 {
		if c.seenLocked(fmt.Sprintf("ses_%d", i)) {
			taken++
		}
	}
	if rate := float64(taken) / 20000; rate > 0.01*float64(len(c.seen))*1.5 {
		t.Fatalf("%.2f%% of subjects never marked taken for seen, with %d filters", 100*rate, len(c.seen))
	}
}
