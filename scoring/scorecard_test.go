package scoring_test

import (
	"slices"
	"testing"
	"time"

	"kassa/scoring"
)

// band is a band matching values up to and including upTo.
func band(upTo int64, points int, reason string) scoring.Band {
	return scoring.Band{UpTo: &upTo, Points: points, Reason: reason}
}

// above is the open-ended last band.
func above(points int, reason string) scoring.Band {
	return scoring.Band{Points: points, Reason: reason}
}

// defaultPolicy is the default policy (the embedded config.yaml's, which
// main's tests hold equal to DefaultSettings) with a shorter wait for
// rights. Each call returns a fresh policy, so a test may change it freely.
func defaultPolicy() scoring.Policy {
	p := scoring.DefaultSettings().Policy
	p.RightsTimeout = 300 * time.Millisecond
	return p
}

// shopper is an unremarkable consumer on their first order: a name given,
// shopping in their own country, nothing owed.
func shopper() scoring.Features {
	return scoring.Features{Amount: 50_000, UtilizationPct: 3, CountryMatch: 1, NamesGiven: 1}
}

// with returns the shopper changed by fn.
func with(fn func(f *scoring.Features)) scoring.Features {
	f := shopper()
	fn(&f)
	return f
}

type scoreCase struct {
	name    string
	f       scoring.Features
	careful bool
	score   int
	outcome string
	reasons []string
}

func checkScore(t *testing.T, p *scoring.Policy, tt scoreCase) {
	t.Helper()
	got := p.Score(tt.f, tt.careful)
	if got.Score != tt.score || got.Outcome != tt.outcome || !slices.Equal(got.Reasons, tt.reasons) {
		t.Errorf("got %d %s %q, want %d %s %q", got.Score, got.Outcome, got.Reasons, tt.score, tt.outcome, tt.reasons)
	}
	sum := p.BaseScore
	for _, pts := range got.Points {
		sum += pts
	}
	if sum != got.Score {
		t.Errorf("points %v add up to %d, want the score %d", got.Points, sum, got.Score)
	}
	if len(got.Points) != len(p.Scorecard) {
		t.Errorf("got points for %d features, want all %d of the scorecard", len(got.Points), len(p.Scorecard))
	}
}

func TestScore(t *testing.T) {
	tests := []scoreCase{
		{name: "new consumer approved", f: shopper(),
			score: 610, outcome: scoring.Approved, reasons: []string{"score_approved", "new_consumer"}},
		{name: "established with repayment history", f: with(func(f *scoring.Features) {
			f.AccountAgeDays, f.CreditOrders, f.RepaidAmount = 400, 6, 250_000
			f.DaysPastDue = 10         // -30, characteristic 1
			f.Amount = 1_500_000       // -30, characteristic 5: the tie goes to the earlier characteristic
			f.MerchantCategoryRisk = 1 // -10
		}), score: 605, outcome: scoring.Approved,
			reasons: []string{"score_approved", "past_due_under_30_days", "large_order", "merchant_category_elevated_risk", "good_repayment_history", "established_consumer"}},
		{name: "overdue declined", f: with(func(f *scoring.Features) {
			f.AccountAgeDays, f.CreditOrders, f.RepaidAmount = 200, 3, 40_000
			f.OverdueAmount, f.DaysPastDue = 75_000, 45
		}), score: 260, outcome: scoring.Declined,
			reasons: []string{"score_below_decline_cutoff", "overdue_balance", "past_due_over_30_days", "repaid_before", "established_consumer"}},
		{name: "country mismatch referred to card", f: with(func(f *scoring.Features) {
			f.AccountAgeDays, f.CountryMatch = 30, 0
		}), score: 590, outcome: scoring.CardOnly, reasons: []string{"score_below_approval_cutoff", "country_mismatch"}},
		{name: "negative reasons by points before characteristic order", f: with(func(f *scoring.Features) {
			f.AccountAgeDays = 30      // +10
			f.DaysPastDue = 5          // -30, characteristic 1
			f.CountryMatch = 0         // -40, characteristic 6
			f.NamesGiven = 0           // -20, characteristic 7
			f.MerchantCategoryRisk = 2 // -40, characteristic 8
		}), score: 500, outcome: scoring.CardOnly,
			reasons: []string{"score_below_approval_cutoff", "country_mismatch", "merchant_category_high_risk", "past_due_under_30_days", "name_missing"}},

		// Utilization: up_to is inclusive at every edge.
		{name: "utilization 50", f: established(func(f *scoring.Features) { f.UtilizationPct = 50 }),
			score: 650, outcome: scoring.Approved, reasons: []string{"score_approved", "established_consumer"}},
		{name: "utilization 51", f: established(func(f *scoring.Features) { f.UtilizationPct = 51 }),
			score: 635, outcome: scoring.Approved, reasons: []string{"score_approved", "high_utilization", "established_consumer"}},
		{name: "utilization 80", f: established(func(f *scoring.Features) { f.UtilizationPct = 80 }),
			score: 635, outcome: scoring.Approved, reasons: []string{"score_approved", "high_utilization", "established_consumer"}},
		{name: "utilization 81", f: established(func(f *scoring.Features) { f.UtilizationPct = 81 }),
			score: 610, outcome: scoring.Approved, reasons: []string{"score_approved", "near_credit_limit", "established_consumer"}},
		{name: "utilization 100", f: established(func(f *scoring.Features) { f.UtilizationPct = 100 }),
			score: 610, outcome: scoring.Approved, reasons: []string{"score_approved", "near_credit_limit", "established_consumer"}},
		{name: "utilization 101", f: established(func(f *scoring.Features) { f.UtilizationPct = 101 }),
			score: 450, outcome: scoring.Declined, reasons: []string{"score_below_decline_cutoff", "over_credit_limit", "established_consumer"}},

		// careful raises both cut-offs by the margin (40): 640 and 540.
		{name: "careful turns approval into card", f: shopper(), careful: true,
			score: 610, outcome: scoring.CardOnly, reasons: []string{"score_below_approval_cutoff", "new_consumer"}},
		{name: "careful at the raised approval cut-off", f: established(func(f *scoring.Features) { f.MerchantCategoryRisk = 1 }), careful: true,
			score: 640, outcome: scoring.Approved, reasons: []string{"score_approved", "merchant_category_elevated_risk", "established_consumer"}},
		{name: "careful turns card into decline", f: with(func(f *scoring.Features) {
			f.AccountAgeDays, f.CountryMatch, f.NamesGiven, f.MerchantCategoryRisk = 30, 0, 0, 2
		}), careful: true, score: 530, outcome: scoring.Declined,
			reasons: []string{"score_below_decline_cutoff", "country_mismatch", "merchant_category_high_risk", "name_missing"}},
		{name: "not careful, the same consumer is offered card", f: with(func(f *scoring.Features) {
			f.AccountAgeDays, f.CountryMatch, f.NamesGiven, f.MerchantCategoryRisk = 30, 0, 0, 2
		}), score: 530, outcome: scoring.CardOnly,
			reasons: []string{"score_below_approval_cutoff", "country_mismatch", "merchant_category_high_risk", "name_missing"}},

		// Band boundaries: up_to is inclusive.
		{name: "account age 0 is new", f: with(func(f *scoring.Features) { f.AccountAgeDays = 0 }),
			score: 610, outcome: scoring.Approved, reasons: []string{"score_approved", "new_consumer"}},
		{name: "account age 1", f: with(func(f *scoring.Features) { f.AccountAgeDays = 1 }),
			score: 630, outcome: scoring.Approved, reasons: []string{"score_approved"}},
		{name: "account age 89", f: with(func(f *scoring.Features) { f.AccountAgeDays = 89 }),
			score: 630, outcome: scoring.Approved, reasons: []string{"score_approved"}},
		{name: "account age 90 is established", f: with(func(f *scoring.Features) { f.AccountAgeDays = 90 }),
			score: 650, outcome: scoring.Approved, reasons: []string{"score_approved", "established_consumer"}},
		{name: "repaid 100000", f: with(func(f *scoring.Features) { f.RepaidAmount = 100_000 }),
			score: 620, outcome: scoring.Approved, reasons: []string{"score_approved", "new_consumer", "repaid_before"}},
		{name: "repaid 100001", f: with(func(f *scoring.Features) { f.RepaidAmount = 100_001 }),
			score: 635, outcome: scoring.Approved, reasons: []string{"score_approved", "new_consumer", "good_repayment_history"}},
		{name: "amount 1000000", f: with(func(f *scoring.Features) { f.Amount = 1_000_000 }),
			score: 610, outcome: scoring.Approved, reasons: []string{"score_approved", "new_consumer"}},
		{name: "amount 1000001", f: with(func(f *scoring.Features) { f.Amount = 1_000_001 }),
			score: 580, outcome: scoring.CardOnly, reasons: []string{"score_below_approval_cutoff", "large_order", "new_consumer"}},
		{name: "days past due 30", f: established(func(f *scoring.Features) { f.DaysPastDue = 30 }),
			score: 620, outcome: scoring.Approved, reasons: []string{"score_approved", "past_due_under_30_days", "established_consumer"}},
		{name: "days past due 31", f: established(func(f *scoring.Features) { f.DaysPastDue = 31 }),
			score: 500, outcome: scoring.CardOnly, reasons: []string{"score_below_approval_cutoff", "past_due_over_30_days", "established_consumer"}},
		{name: "overdue 1", f: established(func(f *scoring.Features) { f.OverdueAmount = 1 }),
			score: 400, outcome: scoring.Declined, reasons: []string{"score_below_decline_cutoff", "overdue_balance", "established_consumer"}},

		// The cut-offs themselves: at or above approves (refers).
		{name: "exactly the approval cut-off", f: with(func(f *scoring.Features) {
			f.AccountAgeDays, f.NamesGiven, f.MerchantCategoryRisk = 30, 0, 1
		}), score: 600, outcome: scoring.Approved, reasons: []string{"score_approved", "name_missing", "merchant_category_elevated_risk"}},
		{name: "just under the refer cut-off", f: with(func(f *scoring.Features) {
			f.AccountAgeDays, f.DaysPastDue, f.CountryMatch, f.NamesGiven, f.MerchantCategoryRisk = 30, 5, 0, 0, 2
			f.RepaidAmount, f.UtilizationPct = 50_000, 60 // +10 -15
		}), score: 495, outcome: scoring.Declined,
			reasons: []string{"score_below_decline_cutoff", "country_mismatch", "merchant_category_high_risk", "past_due_under_30_days", "name_missing", "high_utilization", "repaid_before"}},
	}
	p := defaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatalf("the test's default policy: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkScore(t, &p, tt) })
	}
}

// established returns a consumer of a year's standing with no history of
// credit, changed by fn.
func established(fn func(f *scoring.Features)) scoring.Features {
	return with(func(f *scoring.Features) {
		f.AccountAgeDays = 365
		fn(f)
	})
}

// TestScoreFollowsPolicy proves a decision follows the policy it is given:
// the same features decide differently when the operator changes the
// cut-offs or a band's points, with no code change.
func TestScoreFollowsPolicy(t *testing.T) {
	f := with(func(f *scoring.Features) { f.AccountAgeDays, f.CountryMatch = 30, 0 }) // 590 under the default
	tests := []struct {
		name   string
		change func(p *scoring.Policy)
		scoreCase
	}{
		{"default", func(p *scoring.Policy) {},
			scoreCase{score: 590, outcome: scoring.CardOnly, reasons: []string{"score_below_approval_cutoff", "country_mismatch"}}},
		{"lower approve_score", func(p *scoring.Policy) { p.ApproveScore = 590 },
			scoreCase{score: 590, outcome: scoring.Approved, reasons: []string{"score_approved", "country_mismatch"}}},
		{"higher cut-offs", func(p *scoring.Policy) { p.ApproveScore, p.ReferScore = 700, 600 },
			scoreCase{score: 590, outcome: scoring.Declined, reasons: []string{"score_below_decline_cutoff", "country_mismatch"}}},
		{"milder country band", func(p *scoring.Policy) { p.Scorecard[6].Bands[0].Points = -5 },
			scoreCase{score: 625, outcome: scoring.Approved, reasons: []string{"score_approved", "country_mismatch"}}},
		{"band without a reason", func(p *scoring.Policy) { p.Scorecard[6].Bands[0].Reason = "" },
			scoreCase{score: 590, outcome: scoring.CardOnly, reasons: []string{"score_below_approval_cutoff"}}},
		{"moved band edge", func(p *scoring.Policy) { *p.Scorecard[6].Bands[0].UpTo = -1 },
			scoreCase{score: 630, outcome: scoring.Approved, reasons: []string{"score_approved"}}},
		{"lower base_score", func(p *scoring.Policy) { p.BaseScore = 520 },
			scoreCase{score: 490, outcome: scoring.Declined, reasons: []string{"score_below_decline_cutoff", "country_mismatch"}}},
		{"wider margin, careful", func(p *scoring.Policy) { p.ConservativeMargin = 100 },
			scoreCase{careful: true, score: 590, outcome: scoring.Declined, reasons: []string{"score_below_decline_cutoff", "country_mismatch"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := defaultPolicy()
			tt.change(&p)
			if err := p.Validate(); err != nil {
				t.Fatalf("changed policy: %v", err)
			}
			tt.f = f
			checkScore(t, &p, tt.scoreCase)
		})
	}
}
