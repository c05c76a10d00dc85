package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"kassa/ceiling"
	"kassa/sync"
)

// ceilingResult is kassa bench --ceiling's measure of this machine: the
// most checkouts per second the targets could do on it if a checkout cost
// nothing but its HTTP requests, the entries it writes (appended where
// written) and the same entries taken in by every other target region.
type ceilingResult struct {
	HTTPRequestsPerS    float64 `json:"http_requests_per_s"`
	AppendsPerS         float64 `json:"appends_per_s"`
	AppliesPerS         float64 `json:"applies_per_s"`
	RequestsPerCheckout float64 `json:"requests_per_checkout"`
	EntriesPerCheckout  float64 `json:"entries_per_checkout"`
	OtherRegions        int     `json:"other_regions"`
	CheckoutsPerS       float64 `json:"checkouts_per_s"`
	// Ratio is the run's checkouts per second over CheckoutsPerS.
	Ratio float64 `json:"ratio"`
}

// Sizes of the ceiling's parts: each takes about a second here.
const (
	ceilingRequests = 30_000
	ceilingEntries  = 15_000 // appended in each of two ledgers, then applied into a third
)

// measureCeiling measures this machine's ceiling for the run's checkouts
// (res must carry the entries they wrote), with clients HTTP clients as
// the run had, and returns it with the run's ratio to it.
func measureCeiling(ctx context.Context, res benchResult, clients int, capture bool, regions int) (*ceilingResult, error) {
	if res.EntriesPerCheckout == nil || res.Operations["checkout"].Count == 0 {
		return nil, fmt.Errorf("bench: --ceiling needs completed checkouts and every target's /metrics (entries written)")
	}
	c := &ceilingResult{RequestsPerCheckout: 2, EntriesPerCheckout: res.EntriesPerCheckout.Total, OtherRegions: regions - 1}
	if capture {
		c.RequestsPerCheckout = 3
	}
	// A session request's body and answer, about the sizes bench sends and gets.
	body, _ := json.Marshal(map[string]any{"amount": 25900, "currency": "SEK", "country": "SE", "locale": "sv-SE",
		"reference": "bench-0123456789abcdef", "return_url": "https://shop.example/return", "cancel_url": "https://shop.example/cart",
		"lines": []map[string]any{{"name": "Shoes", "quantity": 1, "unit_price": 25900, "total": 25900}}})
	reply := append(append([]byte(`{"id":"ses_0123456789abcdefghijklmn","status":"open","payment_url":"http://127.0.0.1:19080/pay/ses_0123456789abcdefghijklmn",`),
		body[1:len(body)-1]...), '}')
	var err error
	if c.HTTPRequestsPerS, err = ceiling.HTTP(clients, ceilingRequests, body, reply); err != nil {
		return nil, fmt.Errorf("bench: ceiling: http: %w", err)
	}
	lr, err := ceiling.Ledger(ctx, os.TempDir(), ceilingEntries, sync.DefaultBatchSize)
	if err != nil {
		return nil, fmt.Errorf("bench: ceiling: ledger: %w", err)
	}
	c.AppendsPerS, c.AppliesPerS = lr.Appends, lr.Applies
	perCheckout := c.RequestsPerCheckout/c.HTTPRequestsPerS + c.EntriesPerCheckout/c.AppendsPerS +
		float64(c.OtherRegions)*c.EntriesPerCheckout/c.AppliesPerS
	c.CheckoutsPerS = 1 / perCheckout
	c.Ratio = res.Operations["checkout"].PerSecond / c.CheckoutsPerS
	return c, nil
}
