package checkout_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"kassa/account"
	"kassa/ledger"
	"kassa/scoring"
)

// TestNewConsumerCheckoutWrites checks what a new consumer's first
// checkout writes: at home, the session and the authorization and nothing
// else (the authorization grants the line); elsewhere, the same two at the
// approving region and one entry at home that grants the line and gives
// the approving region its share.
func TestNewConsumerCheckoutWrites(t *testing.T) {
	rs := startRegions(t, 2, creditTune)
	r1, r2 := rs[0], rs[1]
	ctx := context.Background()
	regions := []string{"r1", "r2"}
	emailHomed := func(home string) string {
		for i := 0; ; i++ {
			e := fmt.Sprintf("writes%d@example.com", i)
			if scoring.Home(r1.r.Checkout().ConsumerID(e), regions) == home {
				return e
			}
		}
	}
	for _, tc := range []struct {
		name, email string
		homeWrites  []string // kinds the home region writes on the line
	}{
		{"at home", emailHomed("r1"), nil},
		{"away from home", emailHomed("r2"), []string{scoring.KindCreditGranted}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := r1.r.Ledger().Vector()["r1"]
			res := shop(r1.url, tc.email, "writes-"+tc.name[:2], 30_000)
			if res.outcome != "approved" {
				t.Fatalf("authorize: %+v", res)
			}
			if n := r1.r.Ledger().Vector()["r1"] - before; n != 2 {
				t.Errorf("r1 wrote %d entries for the checkout, want 2 (session and authorization)", n)
			}
			cid := r1.r.Checkout().ConsumerID(tc.email)
			// Everything r1 wrote about the order and the line, and
			// everything the home region wrote about the line.
			var r1Kinds, homeKinds []string
			order, err := r1.r.Ledger().EntriesBySubject(ctx, res.order)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range order {
				r1Kinds = append(r1Kinds, e.Kind)
			}
			home := r1
			if scoring.Home(cid, regions) == "r2" {
				home = r2
			}
			line, err := home.r.Ledger().EntriesBySubject(ctx, account.LineSubject(string(cid), "SEK"))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range line {
				if e.Origin == ledger.RegionID(home.id) && !rebalance(e) {
					homeKinds = append(homeKinds, e.Kind)
				}
			}
			if fmt.Sprint(r1Kinds) != "[order.authorized]" {
				t.Errorf("r1 wrote %v for the order, want only the authorization", r1Kinds)
			}
			if fmt.Sprint(homeKinds) != fmt.Sprint(tc.homeWrites) {
				t.Errorf("home %s wrote %v on the line, want %v", home.id, homeKinds, tc.homeWrites)
			}
			if l := lineOf(t, r1, tc.email); l.Limit != simLimit || l.Exposure != 30_000 {
				t.Errorf("line at r1: limit %d exposure %d, want %d and 30000", l.Limit, l.Exposure, simLimit)
			}
		})
	}
}

// rebalance reports whether e is a transfer the rebalancer wrote ahead of
// demand (not part of a checkout).
func rebalance(e ledger.Entry) bool {
	return e.Kind == "rights.transferred" && strings.Contains(string(e.Data), `"cause":"rebalance"`)
}
