package ledger_test

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"reflect"
	"testing"

	"kassa/ledger"
)

func TestBalancesByPrefix(t *testing.T) {
	r1 := newRegion("r1")
	s := MustOpen(t, r1)
	ctx := context.Background()
	for _, p := range [][2]ledger.Posting{
		{{Account: "credit:a:limit", Amount: -100, Currency: "SEK"}, {Account: "credit:a:rights:r1", Amount: 100, Currency: "SEK"}},
		{{Account: "credit:ab:limit", Amount: -7, Currency: "SEK"}, {Account: "credit:ab:rights:r1", Amount: 7, Currency: "SEK"}},
		{{Account: "credit:a:rights:r1", Amount: -30, Currency: "SEK"}, {Account: "credit:a:exposure", Amount: 30, Currency: "SEK"}},
		{{Account: "credit:a:limit", Amount: -5, Currency: "EUR"}, {Account: "credit:a:rights:r1", Amount: 5, Currency: "EUR"}},
		{{Account: "credit:a.", Amount: -1, Currency: "SEK"}, {Account: "credit:a9", Amount: 1, Currency: "SEK"}},
	} {
		if _, err := s.Append(ctx, ledger.Draft{Kind: "test", Postings: p[:]}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.BalancesByPrefix(ctx, "credit:a:", "SEK")
	want := map[string]ledger.Amount{"credit:a:limit": -100, "credit:a:rights:r1": 70, "credit:a:exposure": 30}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v %v, want %v", got, err, want)
	}
	if got, err := s.BalancesByPrefix(ctx, "credit:zz:", "SEK"); err != nil || len(got) != 0 {
		t.Fatalf("unknown prefix: %v %v", got, err)
	}
	if _, err := s.BalancesByPrefix(ctx, "", "SEK"); err == nil {
		t.Fatal("an empty prefix was accepted")
	}
}

// TestVerifyWithRecordedKeys: a database remembers the keys its entries
// were checked with, so it verifies without its region's config, and a
// tampered entry is still named.
func TestVerifyWithRecordedKeys(t *testing.T) {
	r1, r2 := newRegion("r1"), newRegion("r2")
	path := filepath.Join(t.TempDir(), "kassa.db")
	s := MustOpenPath(t, path, r2, r1)
	remote := MustOpen(t, r1, r2)
	e, err := remote.Append(ctx, ledger.Draft{Kind: "test", Subject: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, []ledger.Entry{e}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, ledger.Draft{Kind: "test", Subject: "y"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	region, _, err := ledger.Identity(ctx, path)
	if err != nil || region != "r2" {
		t.Fatalf("identity %q %v", region, err)
	}
	rep, err := ledger.Verify(ctx, path, nil)
	if err != nil || rep.Entries != 2 || rep.Region != "r2" || len(rep.StoredKeys) != 2 {
		t.Fatalf("verify with recorded keys: %+v %v", rep, err)
	}
	// A wrong key given for r1 is used, not the recorded one.
	other := newRegion("r9")
	if _, err := ledger.Verify(ctx, path, ledger.Keys{"r1": other.key.Public().(ed25519.PublicKey)}); err == nil {
		t.Fatal("a wrong configured key passed")
	}
}
