package scoring

import (
	"sort"
)

// Features are what one decision is made from: the order, the consumer's
// history as this region knows it, and signals from the shopper's input.
// Amounts are minor units of the order's currency.
type Features struct {
	Amount         int64 `json:"amount"`
	AccountAgeDays int64 `json:"account_age_days"`
	CreditOrders   int64 `json:"credit_orders"`
	RepaidAmount   int64 `json:"repaid_amount"`
	OverdueAmount  int64 `json:"overdue_amount"`
	DaysPastDue    int64 `json:"days_past_due"`
	// UtilizationPct is the share of the credit limit in use after this
	// order, in percent.
	UtilizationPct       int64 `json:"utilization_pct"`
	CountryMatch         int64 `json:"country_match"` // 1 when the shopper's country is the order's
	NamesGiven           int64 `json:"names_given"`   // 1 when given and family name are both filled in
	MerchantCategoryRisk int64 `json:"merchant_category_risk"`
}

var features = map[string]func(f *Features) int64{
	"amount":                 func(f *Features) int64 { return f.Amount },
	"account_age_days":       func(f *Features) int64 { return f.AccountAgeDays },
	"credit_orders":          func(f *Features) int64 { return f.CreditOrders },
	"repaid_amount":          func(f *Features) int64 { return f.RepaidAmount },
	"overdue_amount":         func(f *Features) int64 { return f.OverdueAmount },
	"days_past_due":          func(f *Features) int64 { return f.DaysPastDue },
	"utilization_pct":        func(f *Features) int64 { return f.UtilizationPct },
	"country_match":          func(f *Features) int64 { return f.CountryMatch },
	"names_given":            func(f *Features) int64 { return f.NamesGiven },
	"merchant_category_risk": func(f *Features) int64 { return f.MerchantCategoryRisk },
}

func knownFeature(name string) bool { _, ok := features[name]; return ok }

// FeatureNames lists the features a scorecard may use.
func FeatureNames() []string { return sortedKeys(features) }

// Outcomes of a decision.
const (
	Approved = "approved"
	CardOnly = "card_only"
	Declined = "declined"
)

// Reason codes the scorer itself gives (bands add their own).
const (
	ReasonScoreApproved      = "score_approved"
	ReasonScoreRefer         = "score_below_approval_cutoff"
	ReasonScoreDecline       = "score_below_decline_cutoff"
	ReasonHistoryIncomplete  = "history_may_be_incomplete"
	ReasonConservativeMode   = "conservative_mode"
	ReasonCardOnlyMode       = "card_only_mode"
	ReasonPayLaterOff        = "pay_later_switched_off"
	ReasonCountryNotOffered  = "country_not_offered"
	ReasonCurrencyNotOffered = "currency_not_offered"
	ReasonOverOrderLimit     = "amount_over_pay_later_limit"
	ReasonBelowInstalments   = "amount_below_instalment_minimum"
	ReasonLimitReached       = "credit_limit_reached"
	ReasonRightsUnavailable  = "credit_rights_unavailable"
	ReasonUnsecured          = "approved_from_unsecured_budget"
	ReasonBudgetExhausted    = "unsecured_budget_exhausted"
)

// Scored is the scorecard's verdict.
type Scored struct {
	Score   int      `json:"score"`
	Outcome string   `json:"outcome"`
	Reasons []string `json:"reasons"`
	// Points per feature, for the record.
	Points map[string]int `json:"points"`
}

// Score applies the scorecard to f. It is a pure function of the policy and
// its arguments. careful raises the cut-offs by the conservative margin
// (conservative mode, or history that may be incomplete). Reasons start
// with the verdict's own code, then the bands' codes, most negative first.
func (p *Policy) Score(f Features, careful bool) Scored {
	s := Scored{Score: p.BaseScore, Points: make(map[string]int, len(p.Scorecard))}
	type fired struct {
		points int
		order  int
		reason string
	}
	var notes []fired
	for i, c := range p.Scorecard {
		v := features[c.Feature](&f)
		for _, b := range c.Bands {
			if b.UpTo == nil || v <= *b.UpTo {
				s.Score += b.Points
				s.Points[c.Feature] += b.Points
				if b.Reason != "" {
					notes = append(notes, fired{b.Points, i, b.Reason})
				}
				break
			}
		}
	}
	approve, refer := p.ApproveScore, p.ReferScore
	if careful {
		approve += p.ConservativeMargin
		refer += p.ConservativeMargin
	}
	switch {
	case s.Score >= approve:
		s.Outcome, s.Reasons = Approved, []string{ReasonScoreApproved}
	case s.Score >= refer:
		s.Outcome, s.Reasons = CardOnly, []string{ReasonScoreRefer}
	default:
		s.Outcome, s.Reasons = Declined, []string{ReasonScoreDecline}
	}
	sort.SliceStable(notes, func(i, j int) bool {
		if notes[i].points != notes[j].points {
			return notes[i].points < notes[j].points
		}
		return notes[i].order < notes[j].order
	})
	for _, n := range notes {
		s.Reasons = append(s.Reasons, n.reason)
	}
	return s
}
