package scoring_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"kassa/checkout"
	"kassa/ledger"
)

// TestBookKeepsTheNewestOrders: the book keeps a bounded number of a
// consumer's order ids (the newest), counts every order once, and counts a
// duplicate authorization of a kept order (another region's, after a
// partition) as the same order.
func TestBookKeepsTheNewestOrders(t *testing.T) {
	w := newWorld(t, nil, "r1", "r2")
	ctx := context.Background()
	c := homedAt(t, "r1", w.regions, 0)
	type kept struct {
		id checkout.OrderID
		at time.Time
	}
	var all []kept
	authorize := func(region string, i int) {
		t.Helper()
		data, _ := json.Marshal(map[string]any{"amount": 1000, "currency": "SEK",
			"credit": checkout.CreditHold{Consumer: c, Source: "rights", Region: region}})
		e, err := w.stores[region].Append(ctx, ledger.Draft{Kind: checkout.KindOrderAuthorized,
			Subject: fmt.Sprintf("ord_book%03d", i), Data: data})
		if err != nil {
			t.Fatal(err)
		}
		if region == "r1" {
			all = append(all, kept{checkout.OrderID(e.Subject), e.HLC.Time()})
		}
	}
	const orders = 120
	for i := range orders {
		authorize("r1", i)
	}
	// Newest first by authorization time, then by id.
	sort.Slice(all, func(i, j int) bool {
		if !all[i].at.Equal(all[j].at) {
			return all[i].at.After(all[j].at)
		}
		return all[i].id < all[j].id
	})
	// The same order written again by another region, within the newest.
	authorize("r2", orders-3)
	w.syncAll()
	for _, r := range w.regions {
		l := w.line(r, c)
		if l.CreditOrders != orders {
			t.Errorf("%s: got %d credit orders, want %d", r, l.CreditOrders, orders)
		}
		if len(l.Orders) != 50 {
			t.Fatalf("%s: got %d order ids, want the newest 50", r, len(l.Orders))
		}
		for i, id := range l.Orders {
			if want := all[i].id; id != want {
				t.Fatalf("%s: order %d: got %s, want %s (newest first)", r, i, id, want)
			}
		}
	}
}
