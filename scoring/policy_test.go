package scoring_test

import (
	"errors"
	"testing"
	"time"

	"kassa/config"
	"kassa/scoring"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *scoring.Policy)
		key    string // "" when the policy is valid
	}{
		{"default", func(p *scoring.Policy) {}, ""},
		{"empty mode is normal", func(p *scoring.Policy) { p.Mode = "" }, ""},
		{"refer equals approve", func(p *scoring.Policy) { p.ReferScore = p.ApproveScore }, ""},
		{"no scorecard", func(p *scoring.Policy) { p.Scorecard = nil }, ""},
		{"one open band", func(p *scoring.Policy) { p.Scorecard[0].Bands = []scoring.Band{above(0, "")} }, ""},
		{"no limits", func(p *scoring.Policy) { p.CreditLimit, p.UnsecuredBudget = nil, nil }, ""},
		{"ten seconds for rights", func(p *scoring.Policy) { p.RightsTimeout = 10 * time.Second }, ""},
		{"whole shares", func(p *scoring.Policy) { p.GrantShare, p.RebalanceShare = 1, 0 }, ""},

		{"bad mode", func(p *scoring.Policy) { p.Mode = "relaxed" }, "mode"},
		{"negative max_pay_later", func(p *scoring.Policy) { p.MaxPayLater = -1 }, "max_pay_later"},
		{"negative min_instalments", func(p *scoring.Policy) { p.MinInstalments = -1 }, "min_instalments"},
		{"negative unsecured_max_order", func(p *scoring.Policy) { p.UnsecuredMaxOrder = -1 }, "unsecured_max_order"},
		{"refer_score above approve_score", func(p *scoring.Policy) { p.ApproveScore, p.ReferScore = 400, 500 }, "refer_score"},
		{"negative margin", func(p *scoring.Policy) { p.ConservativeMargin = -1 }, "conservative_margin"},
		{"four-letter currency", func(p *scoring.Policy) { p.CreditLimit["SEKK"] = 1 }, "credit_limit"},
		{"empty currency", func(p *scoring.Policy) { p.CreditLimit[""] = 1 }, "credit_limit"},
		{"negative limit", func(p *scoring.Policy) { p.CreditLimit["SEK"] = -1 }, "credit_limit"},
		{"limit over 10^12", func(p *scoring.Policy) { p.CreditLimit["SEK"] = 1_000_000_000_001 }, "credit_limit"},
		{"bad budget currency", func(p *scoring.Policy) { p.UnsecuredBudget["kr"] = 1 }, "unsecured_budget"},
		{"bad limit and budget", func(p *scoring.Policy) { p.UnsecuredBudget["kr"], p.CreditLimit["kr"] = 1, 1 }, "credit_limit"},
		{"grant_share over 1", func(p *scoring.Policy) { p.GrantShare = 1.5 }, "grant_share"},
		{"negative grant_share", func(p *scoring.Policy) { p.GrantShare = -0.1 }, "grant_share"},
		{"rebalance_share over 1", func(p *scoring.Policy) { p.RebalanceShare = 2 }, "rebalance_share"},
		{"rights_timeout over 10s", func(p *scoring.Policy) { p.RightsTimeout = 11 * time.Second }, "rights_timeout"},
		{"negative rights_timeout", func(p *scoring.Policy) { p.RightsTimeout = -time.Millisecond }, "rights_timeout"},
		{"negative grace_days", func(p *scoring.Policy) { p.GraceDays = -1 }, "grace_days"},
		{"unknown feature", func(p *scoring.Policy) { p.Scorecard[2].Feature = "income" }, "scorecard[2].feature"},
		{"feature in the wrong case", func(p *scoring.Policy) { p.Scorecard[0].Feature = "Amount" }, "scorecard[0].feature"},
		{"no bands", func(p *scoring.Policy) { p.Scorecard[1].Bands = nil }, "scorecard[1].bands"},
		{"bands not rising", func(p *scoring.Policy) {
			p.Scorecard[4].Bands = []scoring.Band{band(50, 0, ""), band(80, -15, ""), band(80, -40, ""), above(-200, "")}
		}, "scorecard[4].bands[2].up_to"},
		{"bands falling", func(p *scoring.Policy) {
			p.Scorecard[4].Bands = []scoring.Band{band(80, 0, ""), band(50, -15, "")}
		}, "scorecard[4].bands[1].up_to"},
		{"open-ended band not last", func(p *scoring.Policy) {
			p.Scorecard[5].Bands = []scoring.Band{above(-30, "large_order"), band(1_000_000, 0, "")}
		}, "scorecard[5].bands[1].up_to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := defaultPolicy()
			tt.change(&p)
			err := p.Validate()
			if tt.key == "" {
				if err != nil {
					t.Fatalf("got %v, want a valid policy", err)
				}
				return
			}
			var pe *config.Error
			if !errors.As(err, &pe) {
				t.Fatalf("got %v (%T), want a *config.Error", err, err)
			}
			if pe.Key != tt.key {
				t.Fatalf("got key %q (%v), want %q", pe.Key, err, tt.key)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want scoring.Mode
		ok   bool
	}{
		{"normal", scoring.ModeNormal, true},
		{"conservative", scoring.ModeConservative, true},
		{"card_only", scoring.ModeCardOnly, true},
		{"pay_later_off", scoring.ModePayLaterOff, true},
		{"", scoring.ModeNormal, true},
		{"Normal", "", false},
		{"card-only", "", false},
		{" normal", "", false},
		{"off", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := scoring.ParseMode(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("got %q, %v; want %q, ok %v", got, err, tt.want, tt.ok)
			}
		})
	}
}
