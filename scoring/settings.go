package scoring

import (
	"strings"
	"time"

	"kassa/checkout"
	"kassa/config"
)

// The defaults of Settings besides the scorecard and the per-currency
// amounts (see DefaultSettings): what the embedded config.yaml documents
// under scoring.
const (
	DefaultMaxPayLater        = 5_000_000
	DefaultMinInstalments     = 10_000
	DefaultBaseScore          = 620
	DefaultApproveScore       = 600
	DefaultReferScore         = 500
	DefaultConservativeMargin = 40
	DefaultUnsecuredMaxOrder  = 300_000
	DefaultUnsecuredMinScore  = 630
	DefaultRightsTimeout      = time.Second
	DefaultGrantShare         = 0.5
	DefaultRebalanceShare     = 0.3
	DefaultRebalanceWindow    = 90 * 24 * time.Hour
	DefaultRebalanceInterval  = 2 * time.Second
	DefaultGraceDays          = 5
)

// Settings are what an operator sets in the scoring section of the config
// file: the credit policy and the schedules around it.
type Settings struct {
	// Policy is the credit policy. Its MerchantCategories come from the
	// merchants, not from this section.
	Policy `mapstructure:",squash"`
	// PayLaterOff is the older name of mode pay_later_off.
	PayLaterOff bool `mapstructure:"pay_later_off"`
	// RebalanceInterval is how often the region moves rights toward where
	// consumers shop (Engine.Rebalance); 0 turns it off.
	RebalanceInterval time.Duration `mapstructure:"rebalance_interval"`
	// InvoiceDays is how many days after capture a pay-later invoice falls
	// due (checkout.DefaultInvoiceDays if zero); pay in 3 falls due at 1x,
	// 2x and 3x.
	InvoiceDays int `mapstructure:"invoice_days"`
}

// DefaultSettings returns the default policy: the scorecard, cut-offs,
// limits and budgets a region has when its config file sets none.
func DefaultSettings() Settings {
	upTo := func(v int64) *int64 { return &v }
	band := func(max int64, points int, reason string) Band {
		return Band{UpTo: upTo(max), Points: points, Reason: reason}
	}
	above := func(points int, reason string) Band { return Band{Points: points, Reason: reason} }
	return Settings{
		Policy: Policy{
			Mode:        ModeNormal,
			MaxPayLater: DefaultMaxPayLater, MinInstalments: DefaultMinInstalments,
			Countries: []string{},
			BaseScore: DefaultBaseScore, ApproveScore: DefaultApproveScore, ReferScore: DefaultReferScore,
			ConservativeMargin: DefaultConservativeMargin,
			Scorecard: []Characteristic{
				{Feature: "overdue_amount", Bands: []Band{band(0, 0, ""), above(-250, "overdue_balance")}},
				{Feature: "days_past_due", Bands: []Band{band(0, 0, ""), band(30, -30, "past_due_under_30_days"), above(-150, "past_due_over_30_days")}},
				{Feature: "account_age_days", Bands: []Band{band(0, -10, "new_consumer"), band(89, 10, ""), above(30, "established_consumer")}},
				{Feature: "repaid_amount", Bands: []Band{band(0, 0, ""), band(100_000, 10, "repaid_before"), above(25, "good_repayment_history")}},
				{Feature: "utilization_pct", Bands: []Band{band(50, 0, ""), band(80, -15, "high_utilization"), band(100, -40, "near_credit_limit"), above(-200, "over_credit_limit")}},
				{Feature: "amount", Bands: []Band{band(1_000_000, 0, ""), above(-30, "large_order")}},
				{Feature: "country_match", Bands: []Band{band(0, -40, "country_mismatch"), above(0, "")}},
				{Feature: "names_given", Bands: []Band{band(0, -20, "name_missing"), above(0, "")}},
				{Feature: "merchant_category_risk", Bands: []Band{band(0, 0, ""), band(1, -10, "merchant_category_elevated_risk"), above(-40, "merchant_category_high_risk")}},
			},
			CategoryRisk: map[string]int64{"electronics": 1, "gift_cards": 2},
			CreditLimit:  map[string]int64{"SEK": 2_000_000, "NOK": 2_000_000, "DKK": 1_500_000, "EUR": 200_000, "GBP": 170_000, "USD": 200_000},
			UnsecuredBudget: map[string]int64{"SEK": 5_000_000, "NOK": 5_000_000, "DKK": 4_000_000, "EUR": 500_000, "GBP": 400_000,
				"USD": 500_000},
			UnsecuredMaxOrder: DefaultUnsecuredMaxOrder, UnsecuredMinScore: DefaultUnsecuredMinScore,
			RightsTimeout: DefaultRightsTimeout, GrantShare: DefaultGrantShare,
			RebalanceShare: DefaultRebalanceShare, RebalanceWindow: DefaultRebalanceWindow,
			GraceDays: DefaultGraceDays,
		},
		RebalanceInterval: DefaultRebalanceInterval,
		InvoiceDays:       checkout.DefaultInvoiceDays,
	}
}

// PolicyFor returns the policy the settings describe, with merchantCategories
// (merchant id to category) for the merchant_category_risk feature. The
// older pay_later_off turns mode normal into pay_later_off, and currencies
// are upper-cased (config keys are case-insensitive).
func (s *Settings) PolicyFor(merchantCategories map[string]string) Policy {
	p := s.Policy
	if mode, err := ParseMode(string(p.Mode)); err == nil {
		p.Mode = mode // Validate names a bad one
	}
	if s.PayLaterOff && p.Mode == ModeNormal {
		p.Mode = ModePayLaterOff
	}
	p.MerchantCategories = merchantCategories
	p.CreditLimit, p.UnsecuredBudget = upperKeys(p.CreditLimit), upperKeys(p.UnsecuredBudget)
	return p
}

// Validate returns a *config.Error naming the first bad setting, its key
// relative to the scoring section.
func (s *Settings) Validate() error {
	p := s.PolicyFor(nil)
	if err := p.Validate(); err != nil {
		return err
	}
	if s.RebalanceInterval < 0 {
		return config.Errorf("rebalance_interval", "must not be negative")
	}
	if s.InvoiceDays < 0 || s.InvoiceDays > 365 {
		return config.Errorf("invoice_days", "must be 0 (the default, %d) to 365, got %d", checkout.DefaultInvoiceDays, s.InvoiceDays)
	}
	return nil
}

// upperKeys returns m with upper-case keys.
func upperKeys(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[strings.ToUpper(k)] = v
	}
	return out
}
