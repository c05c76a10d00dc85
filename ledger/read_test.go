package ledger_test

import (
	"context"
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
