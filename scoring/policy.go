package scoring

import (
	"fmt"
	"sort"
	"time"

	"kassa/config"
)

// Mode is a region's degradation mode, set by the operator.
type Mode string

// The modes. Normal decides from the scorecard and may approve from the
// unsecured budget when rights cannot be had; conservative raises the
// cut-offs by the margin and never spends the unsecured budget; card-only
// answers every credit request with card only; pay-later-off turns off the
// invoice (pay later) but keeps pay in 3.
const (
	ModeNormal       Mode = "normal"
	ModeConservative Mode = "conservative"
	ModeCardOnly     Mode = "card_only"
	ModePayLaterOff  Mode = "pay_later_off"
)

// ParseMode checks a mode name.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeNormal, ModeConservative, ModeCardOnly, ModePayLaterOff:
		return m, nil
	case "":
		return ModeNormal, nil
	}
	return "", fmt.Errorf("unknown mode %q (want normal, conservative, card_only or pay_later_off)", s)
}

// Band is one range of a feature's value and the points it scores. A band
// matches values up to and including UpTo; the last band usually has no
// UpTo and matches everything above.
type Band struct {
	UpTo   *int64 `mapstructure:"up_to" json:"up_to,omitempty"`
	Points int    `mapstructure:"points" json:"points"`
	// Reason is the code shown to support staff when this band applies
	// (empty: the band is unremarkable).
	Reason string `mapstructure:"reason" json:"reason,omitempty"`
}

// Characteristic scores one feature by bands, first match wins.
type Characteristic struct {
	Feature string `mapstructure:"feature" json:"feature"`
	Bands   []Band `mapstructure:"bands" json:"bands"`
}

// Policy is the operator-set credit policy: scorecard, cut-offs, limits,
// budgets and the rights parameters. Everything a decision depends on
// besides the ledger is here, so a config change changes decisions without
// a code change.
type Policy struct {
	Mode Mode `mapstructure:"mode"`
	// MaxPayLater is the largest order (minor units) considered for credit;
	// MinInstalments the smallest split in three.
	MaxPayLater    int64 `mapstructure:"max_pay_later"`
	MinInstalments int64 `mapstructure:"min_instalments"`
	// Countries lists where credit is offered (empty: everywhere).
	Countries []string `mapstructure:"countries"`

	// BaseScore is every consumer's starting score; the scorecard adds
	// points. At or above ApproveScore credit is approved; at or above
	// ReferScore the shopper is offered card instead; below, declined.
	BaseScore    int `mapstructure:"base_score"`
	ApproveScore int `mapstructure:"approve_score"`
	ReferScore   int `mapstructure:"refer_score"`
	// ConservativeMargin is added to both cut-offs in conservative mode
	// and when the consumer's history may be incomplete (a peer is out of
	// reach).
	ConservativeMargin int              `mapstructure:"conservative_margin"`
	Scorecard          []Characteristic `mapstructure:"scorecard"`
	// CategoryRisk is the merchant_category_risk feature per merchant
	// category; MerchantCategories maps merchant ids to categories.
	CategoryRisk       map[string]int64  `mapstructure:"category_risk"`
	MerchantCategories map[string]string `mapstructure:"-"`

	// CreditLimit is the line a consumer's home region grants, per currency
	// (no entry: no credit in that currency).
	CreditLimit map[string]int64 `mapstructure:"credit_limit"`
	// UnsecuredBudget is what this region may approve per currency without
	// rights, when rights cannot be had in time; UnsecuredMaxOrder and
	// UnsecuredMinScore bound what qualifies.
	UnsecuredBudget   map[string]int64 `mapstructure:"unsecured_budget"`
	UnsecuredMaxOrder int64            `mapstructure:"unsecured_max_order"`
	UnsecuredMinScore int              `mapstructure:"unsecured_min_score"`

	// RightsTimeout bounds the wait for rights from other regions within
	// one decision.
	RightsTimeout time.Duration `mapstructure:"rights_timeout"`
	// GrantShare is the share of its remaining rights an owner gives on top
	// of what is asked, so the asker has room for the consumer's next
	// orders. RebalanceShare is the share of the limit the home region keeps
	// at every region where the consumer shopped within RebalanceWindow.
	GrantShare      float64       `mapstructure:"grant_share"`
	RebalanceShare  float64       `mapstructure:"rebalance_share"`
	RebalanceWindow time.Duration `mapstructure:"rebalance_window"`

	// GraceDays pass after an amount falls due (checkout's invoice days
	// set when) before it counts as overdue.
	GraceDays int `mapstructure:"grace_days"`
}

// Validate reports the first problem in p as a *config.Error naming its
// key relative to the scoring section.
func (p *Policy) Validate() error {
	if _, err := ParseMode(string(p.Mode)); err != nil {
		return &config.Error{Key: "mode", Msg: err.Error()}
	}
	for _, a := range []struct {
		key string
		v   int64
	}{{"max_pay_later", p.MaxPayLater}, {"min_instalments", p.MinInstalments}, {"unsecured_max_order", p.UnsecuredMaxOrder}} {
		if a.v < 0 {
			return &config.Error{Key: a.key, Msg: "must not be negative"}
		}
	}
	if p.ReferScore > p.ApproveScore {
		return &config.Error{Key: "refer_score", Msg: fmt.Sprintf("must not exceed approve_score (%d > %d)", p.ReferScore, p.ApproveScore)}
	}
	if p.ConservativeMargin < 0 {
		return &config.Error{Key: "conservative_margin", Msg: "must not be negative"}
	}
	// In a fixed order, so the first problem is the same one every time.
	for _, l := range []struct {
		key string
		m   map[string]int64
	}{{"credit_limit", p.CreditLimit}, {"unsecured_budget", p.UnsecuredBudget}} {
		for _, cur := range sortedKeys(l.m) {
			if v := l.m[cur]; !isCurrency(cur) || v < 0 || v > 1_000_000_000_000 {
				return &config.Error{Key: l.key, Msg: fmt.Sprintf("%s: want a three-letter currency and an amount from 0 to 10^12, got %d", cur, v)}
			}
		}
	}
	if !(p.GrantShare >= 0 && p.GrantShare <= 1) { // also NaN
		return &config.Error{Key: "grant_share", Msg: "must be a fraction between 0 and 1"}
	}
	if !(p.RebalanceShare >= 0 && p.RebalanceShare <= 1) {
		return &config.Error{Key: "rebalance_share", Msg: "must be a fraction between 0 and 1"}
	}
	if p.RightsTimeout < 0 || p.RightsTimeout > 10*time.Second {
		return &config.Error{Key: "rights_timeout", Msg: "must be between 0 and 10s"}
	}
	if p.GraceDays < 0 {
		return &config.Error{Key: "grace_days", Msg: "must not be negative"}
	}
	for i, c := range p.Scorecard {
		key := fmt.Sprintf("scorecard[%d]", i)
		if !knownFeature(c.Feature) {
			return &config.Error{Key: key + ".feature", Msg: fmt.Sprintf("unknown feature %q (known: %v)", c.Feature, FeatureNames())}
		}
		if len(c.Bands) == 0 {
			return &config.Error{Key: key + ".bands", Msg: "needs at least one band"}
		}
		for j := 1; j < len(c.Bands); j++ {
			prev, cur := c.Bands[j-1].UpTo, c.Bands[j].UpTo
			if prev == nil || (cur != nil && *cur <= *prev) {
				return &config.Error{Key: fmt.Sprintf("%s.bands[%d].up_to", key, j), Msg: "bands must rise, and only the last may be open-ended"}
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// isCurrency reports whether s is three letters (either case: config keys
// are case-insensitive and currencies are upper-cased when loaded).
func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
