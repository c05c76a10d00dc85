package scoring

import (
	"context"

	"kassa/checkout"
)

// Policy is the operator-set rule for pay-later decisions.
type Policy struct {
	// MaxPayLater is the largest order (minor units) approved for pay later.
	MaxPayLater int64
	// MinInstalments is the smallest order that may be split in three.
	MinInstalments int64
	// Countries lists where pay later is offered (empty: everywhere).
	Countries []string
	// PayLaterOff makes every pay-later request card-only (an operator
	// switch for degraded operation).
	PayLaterOff bool
}

// Basic decides from the order alone. It is safe for concurrent use.
type Basic struct{ Policy Policy }

// Decide implements checkout.Scorer.
func (b Basic) Decide(_ context.Context, in checkout.DecisionInput) (checkout.Decision, error) {
	p := b.Policy
	switch {
	case p.PayLaterOff:
		return checkout.Decision{Outcome: "card_only", Reasons: []string{"pay_later_switched_off"}}, nil
	case len(p.Countries) > 0 && !contains(p.Countries, in.Country):
		return checkout.Decision{Outcome: "card_only", Reasons: []string{"country_not_offered"}}, nil
	case in.Method == "instalments" && in.Amount < p.MinInstalments:
		return checkout.Decision{Outcome: "declined", Reasons: []string{"amount_below_instalment_minimum"}}, nil
	case in.Amount > p.MaxPayLater:
		return checkout.Decision{Outcome: "card_only", Reasons: []string{"amount_over_pay_later_limit"}}, nil
	}
	return checkout.Decision{Outcome: "approved", Reasons: []string{"within_policy"}}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
