package scoring_test

import (
	"context"
	"reflect"
	"testing"

	"kassa/checkout"
	"kassa/scoring"
)

func TestBasic(t *testing.T) {
	policy := scoring.Policy{MaxPayLater: 500000, MinInstalments: 10000, Countries: []string{"SE", "NO"}}
	tests := []struct {
		name    string
		policy  func(p *scoring.Policy)
		in      checkout.DecisionInput
		outcome string
		reasons []string
	}{
		{"within policy", nil, checkout.DecisionInput{Method: "pay_later", Amount: 25900, Country: "SE"}, "approved", []string{"within_policy"}},
		{"at the limit", nil, checkout.DecisionInput{Method: "pay_later", Amount: 500000, Country: "SE"}, "approved", []string{"within_policy"}},
		{"over the limit", nil, checkout.DecisionInput{Method: "pay_later", Amount: 500001, Country: "SE"}, "card_only", []string{"amount_over_pay_later_limit"}},
		{"instalments too small", nil, checkout.DecisionInput{Method: "instalments", Amount: 9999, Country: "SE"}, "declined", []string{"amount_below_instalment_minimum"}},
		{"instalments", nil, checkout.DecisionInput{Method: "instalments", Amount: 30000, Country: "NO"}, "approved", []string{"within_policy"}},
		{"country not offered", nil, checkout.DecisionInput{Method: "pay_later", Amount: 100, Country: "DE"}, "card_only", []string{"country_not_offered"}},
		{"switched off", func(p *scoring.Policy) { p.PayLaterOff = true }, checkout.DecisionInput{Method: "pay_later", Amount: 100, Country: "SE"}, "card_only", []string{"pay_later_switched_off"}},
		{"limit from config", func(p *scoring.Policy) { p.MaxPayLater = 100 }, checkout.DecisionInput{Method: "pay_later", Amount: 101, Country: "SE"}, "card_only", []string{"amount_over_pay_later_limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policy
			if tt.policy != nil {
				tt.policy(&p)
			}
			d, err := scoring.Basic{Policy: p}.Decide(context.Background(), tt.in)
			if err != nil || d.Outcome != tt.outcome || !reflect.DeepEqual(d.Reasons, tt.reasons) {
				t.Fatalf("got %+v, %v; want %s %v", d, err, tt.outcome, tt.reasons)
			}
		})
	}
}
