package ledger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"kassa/ledger"
)

// TestEntriesByRefs finds entries by any string of their data's "refs" as
// well as by "ref", in the order EntriesBySubject uses, in the region that
// wrote them and in one that applied them.
func TestEntriesByRefs(t *testing.T) {
	ctx := context.Background()
	r1, r2 := newRegion("r1"), newRegion("r2")
	s1 := MustOpen(t, r1, r2)
	drafts := []ledger.Draft{
		{Kind: "order.authorized", Subject: "o1", Data: []byte(`{"ref":"ref:m:A","refs":["consumer:c1","reference:A"]}`)},
		{Kind: "order.authorized", Subject: "o2", Data: []byte(`{"ref":"ref:m:B","refs":["consumer:c1","consumer:c1","","reference:B"]}`)},
		{Kind: "order.authorized", Subject: "o3", Data: []byte(`{"ref":"consumer:c1"}`)},
		{Kind: "order.authorized", Subject: "o4", Data: []byte(`{"ref":"consumer:c1","refs":["consumer:c1"]}`)},
		{Kind: "order.authorized", Subject: "o5", Data: []byte(`{"refs":"consumer:c1"}`)}, // not an array: no refs
		{Kind: "order.authorized", Subject: "o6", Data: []byte(`{"nested":{"refs":["consumer:c1"]}}`)},
		{Kind: "order.authorized", Subject: "o7", Data: []byte(`{"ref":"ref:m:C","refs":"x"}`)}, // a bad refs hides no ref
		{Kind: "order.authorized", Subject: "o8", Data: capRefs()},
	}
	for _, d := range drafts {
		if _, err := s1.Append(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	es, err := s1.EntriesAfter(ctx, "r1", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	s2 := MustOpen(t, r2, r1)
	for range 2 { // a duplicate delivery indexes nothing twice
		if _, err := s2.Apply(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*ledger.Store{s1, s2} {
		for _, tc := range []struct{ ref, want string }{
			{"consumer:c1", "[o1 o2 o3 o4]"},
			{"reference:A", "[o1]"},
			{"ref:m:B", "[o2]"},
			{"consumer:c2", "[]"},
			{"ref:m:C", "[o7]"},
			{fmt.Sprintf("cap:%d", ledger.MaxRefs-1), "[o8]"},
			{fmt.Sprintf("cap:%d", ledger.MaxRefs), "[]"}, // beyond MaxRefs: written, not indexed
			{"", "[]"},
		} {
			got, err := s.EntriesByRef(ctx, tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			subjects := []string{}
			for _, e := range got {
				subjects = append(subjects, e.Subject)
			}
			if fmt.Sprint(subjects) != tc.want {
				t.Errorf("%s: EntriesByRef(%q): got %v, want %s", s.Region(), tc.ref, subjects, tc.want)
			}
		}
	}
}

// capRefs is an entry's data with one ref more than MaxRefs: cap:0 to
// cap:MaxRefs.
func capRefs() []byte {
	refs := make([]string, ledger.MaxRefs+1)
	for i := range refs {
		refs[i] = fmt.Sprintf("cap:%d", i)
	}
	b, _ := json.Marshal(map[string]any{"refs": refs})
	return b
}

// TestEntriesOfKindsSince: a reader following some kinds gets exactly
// those, page by page, and a position past everything it considered.
func TestEntriesOfKindsSince(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, newRegion("r1"))
	for i, kind := range []string{"a", "x", "b", "x", "a", "x"} {
		if _, err := s.Append(ctx, ledger.Draft{Kind: kind, Subject: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	pos := int64(0)
	for page := 0; page < 5; page++ {
		es, next, err := s.EntriesOfKindsSince(ctx, pos, []string{"a", "b"}, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			got = append(got, e.Kind+e.Subject)
		}
		if next <= pos && len(es) > 0 {
			t.Fatalf("page %d: position went from %d to %d", page, pos, next)
		}
		pos = next
		if len(es) < 2 {
			break
		}
	}
	if fmt.Sprint(got) != "[a0 b2 a4]" {
		t.Fatalf("got %v, want [a0 b2 a4]", got)
	}
	if pos != 6 {
		t.Fatalf("read up to %d, want 6 (every entry considered)", pos)
	}
	if es, next, _ := s.EntriesOfKindsSince(ctx, pos, []string{"a"}, 2); len(es) != 0 || next != 6 {
		t.Fatalf("at the head: got %d entries up to %d, want none up to 6", len(es), next)
	}
}
