package scoring_test

import (
	"errors"
	"fmt"

	"kassa/config"
	"kassa/scoring"
)

// An operator tightens the default policy: a higher approval cut-off and
// credit only in the Nordics. Validate names the key of a bad setting, and
// Score shows what the change does to a shopper before the region runs it.
func ExampleSettings() {
	s := scoring.DefaultSettings()
	s.ApproveScore = 620
	s.Countries = []string{"SE", "NO", "DK", "FI"}

	// A cut-off for card only above the one for approval is refused.
	bad := s
	bad.ReferScore = 700
	var ce *config.Error
	if err := bad.Validate(); errors.As(err, &ce) {
		fmt.Println("refused:", err)
	}

	if err := s.Validate(); err != nil {
		panic(err)
	}
	// The region passes its merchants' categories; none are needed here.
	p := s.PolicyFor(nil)

	// A first-time shopper in their own country, with names given.
	first := scoring.Features{Amount: 50_000, UtilizationPct: 3, CountryMatch: 1, NamesGiven: 1}
	v := p.Score(first, false)
	fmt.Println(v.Score, v.Outcome, v.Reasons)

	// A consumer two months in who has repaid an order.
	regular := first
	regular.AccountAgeDays, regular.CreditOrders, regular.RepaidAmount = 60, 1, 40_000
	v = p.Score(regular, false)
	fmt.Println(v.Score, v.Outcome, v.Reasons)

	// The same consumer while a peer is out of reach: the cut-offs rise by
	// the conservative margin.
	v = p.Score(regular, true)
	fmt.Println(v.Score, v.Outcome, v.Reasons)
	// Output:
	// refused: config: refer_score: must not exceed approve_score (700 > 620)
	// 610 card_only [score_below_approval_cutoff new_consumer]
	// 640 approved [score_approved repaid_before]
	// 640 card_only [score_below_approval_cutoff repaid_before]
}
