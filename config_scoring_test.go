package main

import (
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"kassa/region"
	"kassa/scoring"
)

// loadTestConfig loads the config as serve does, with environ and args.
func loadTestConfig(t *testing.T, environ []string, args ...string) (region.Config, error) {
	t.Helper()
	env := &cmdEnv{environ: environ, stdout: io.Discard, stderr: io.Discard}
	fs, err := env.flags("serve", "", args, func(fs *pflag.FlagSet) { addConfigFlags(fs, "data-dir", "mode") })
	if err != nil {
		t.Fatal(err)
	}
	return env.loadConfig(fs)
}

// writeConfig writes a config file to a temporary directory and returns
// its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// defaultLimits are scoring.credit_limit in the embedded config.yaml.
var defaultLimits = map[string]int64{"SEK": 2_000_000, "NOK": 2_000_000, "DKK": 1_500_000, "EUR": 200_000, "GBP": 170_000, "USD": 200_000}

func TestDefaultScoringPolicy(t *testing.T) {
	t.Chdir(t.TempDir()) // away from ./config.yaml: the embedded default alone
	cfg, err := loadTestConfig(t, nil, "--data-dir", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Policy()
	if err := p.Validate(); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	if p.Mode != scoring.ModeNormal || p.BaseScore != 620 || p.ApproveScore != 600 || p.ReferScore != 500 || p.ConservativeMargin != 40 {
		t.Fatalf("got mode %s, base %d, cut-offs %d/%d, margin %d; want normal, 620, 600/500, 40",
			p.Mode, p.BaseScore, p.ApproveScore, p.ReferScore, p.ConservativeMargin)
	}
	if !maps.Equal(p.CreditLimit, defaultLimits) {
		t.Fatalf("got credit limits %v, want %v", p.CreditLimit, defaultLimits)
	}
	if len(p.Scorecard) != 9 {
		t.Fatalf("got %d characteristics, want 9", len(p.Scorecard))
	}

	// The scoring package's tests copy this scorecard; a few of their cases
	// decide the same way with the real one, so the copy cannot drift.
	tests := []struct {
		name    string
		f       scoring.Features
		careful bool
		score   int
		outcome string
		reasons []string
	}{
		{"new consumer", scoring.Features{Amount: 50_000, UtilizationPct: 3, CountryMatch: 1, NamesGiven: 1}, false,
			610, scoring.Approved, []string{"score_approved", "new_consumer"}},
		{"new consumer, careful", scoring.Features{Amount: 50_000, UtilizationPct: 3, CountryMatch: 1, NamesGiven: 1}, true,
			610, scoring.CardOnly, []string{"score_below_approval_cutoff", "new_consumer"}},
		{"overdue", scoring.Features{Amount: 50_000, AccountAgeDays: 200, CreditOrders: 3, RepaidAmount: 40_000, OverdueAmount: 75_000,
			DaysPastDue: 45, UtilizationPct: 3, CountryMatch: 1, NamesGiven: 1}, false,
			260, scoring.Declined, []string{"score_below_decline_cutoff", "overdue_balance", "past_due_over_30_days", "repaid_before", "established_consumer"}},
		{"every band", scoring.Features{Amount: 50_000, AccountAgeDays: 30, DaysPastDue: 5, RepaidAmount: 50_000, UtilizationPct: 60,
			MerchantCategoryRisk: 2}, false,
			495, scoring.Declined, []string{"score_below_decline_cutoff", "country_mismatch", "merchant_category_high_risk",
				"past_due_under_30_days", "name_missing", "high_utilization", "repaid_before"}},
	}
	for _, tt := range tests {
		got := p.Score(tt.f, tt.careful)
		if got.Score != tt.score || got.Outcome != tt.outcome || !slices.Equal(got.Reasons, tt.reasons) {
			t.Errorf("%s: got %d %s %q, want %d %s %q", tt.name, got.Score, got.Outcome, got.Reasons, tt.score, tt.outcome, tt.reasons)
		}
	}
}

func TestScoringConfigLayers(t *testing.T) {
	t.Run("environment replaces a map", func(t *testing.T) {
		cfg, err := loadTestConfig(t, []string{`KASSA_SCORING_CREDIT_LIMIT={"SEK": 5}`}, "--data-dir", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		// An environment variable sets the whole value of its key: the
		// currencies it leaves out get no credit (unlike a config file,
		// whose maps are merged into the defaults, below).
		if got, want := cfg.Policy().CreditLimit, map[string]int64{"SEK": 5}; !maps.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("environment currency in lower case", func(t *testing.T) {
		cfg, err := loadTestConfig(t, []string{`KASSA_SCORING_UNSECURED_BUDGET={"eur": 9}`}, "--data-dir", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.Policy().UnsecuredBudget, map[string]int64{"EUR": 9}; !maps.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("file merges a map into the defaults", func(t *testing.T) {
		cfg, err := loadTestConfig(t, nil, "--data-dir", t.TempDir(), "--config", writeConfig(t, "scoring: {credit_limit: {sek: 7}}\n"))
		if err != nil {
			t.Fatal(err)
		}
		want := maps.Clone(defaultLimits)
		want["SEK"] = 7
		if got := cfg.Policy().CreditLimit; !maps.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("file adds a currency", func(t *testing.T) {
		cfg, err := loadTestConfig(t, nil, "--data-dir", t.TempDir(), "--config", writeConfig(t, "scoring:\n  credit_limit:\n    CHF: 300000\n"))
		if err != nil {
			t.Fatal(err)
		}
		want := maps.Clone(defaultLimits)
		want["CHF"] = 300_000
		if got := cfg.Policy().CreditLimit; !maps.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("an empty map in a file removes nothing", func(t *testing.T) {
		cfg, err := loadTestConfig(t, nil, "--data-dir", t.TempDir(), "--config", writeConfig(t, "scoring: {credit_limit: {}}\n"))
		if err != nil {
			t.Fatal(err)
		}
		// Merging cannot take a currency away: to stop credit in one, an
		// operator sets it in the environment, which replaces the map.
		if got := cfg.Policy().CreditLimit; !maps.Equal(got, defaultLimits) {
			t.Fatalf("got %v, want the defaults %v", got, defaultLimits)
		}
	})
	t.Run("a null map in a file removes nothing", func(t *testing.T) {
		cfg, err := loadTestConfig(t, nil, "--data-dir", t.TempDir(), "--config", writeConfig(t, "scoring:\n  credit_limit:\n  #  SEK: 1\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Policy().CreditLimit; !maps.Equal(got, defaultLimits) {
			t.Fatalf("got %v, want the defaults %v", got, defaultLimits)
		}
	})
	t.Run("file replaces the scorecard", func(t *testing.T) {
		cfg, err := loadTestConfig(t, nil, "--data-dir", t.TempDir(), "--config", writeConfig(t,
			"scoring:\n  scorecard:\n    - feature: amount\n      bands:\n        - {up_to: 100, points: 0}\n        - {points: -200, reason: big}\n"))
		if err != nil {
			t.Fatal(err)
		}
		p := cfg.Policy()
		if len(p.Scorecard) != 1 || p.Scorecard[0].Feature != "amount" {
			t.Fatalf("got scorecard %+v, want only the file's amount characteristic", p.Scorecard)
		}
		// The cut-offs the file left out keep their defaults, and decide.
		if got := p.Score(scoring.Features{Amount: 101}, false); got.Score != 420 || got.Outcome != scoring.Declined {
			t.Fatalf("got %d %s, want 420 declined", got.Score, got.Outcome)
		}
	})
	t.Run("file cut-offs change decisions", func(t *testing.T) {
		cfg, err := loadTestConfig(t, nil, "--data-dir", t.TempDir(), "--config", writeConfig(t, "scoring: {approve_score: 700, refer_score: 650}\n"))
		if err != nil {
			t.Fatal(err)
		}
		p := cfg.Policy()
		f := scoring.Features{Amount: 50_000, UtilizationPct: 3, CountryMatch: 1, NamesGiven: 1}
		if got := p.Score(f, false); got.Outcome != scoring.Declined {
			t.Fatalf("got %s, want the default's approval declined under cut-offs 700/650", got.Outcome)
		}
	})
}

func TestScoringConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		file    string
		key     string
	}{
		{"credit_limit not JSON", []string{"KASSA_SCORING_CREDIT_LIMIT=nope"}, "", "scoring.credit_limit"},
		{"credit_limit of strings", []string{`KASSA_SCORING_CREDIT_LIMIT={"SEK": "lots"}`}, "", "scoring.credit_limit"},
		{"bad currency in the environment", []string{`KASSA_SCORING_CREDIT_LIMIT={"KRONA": 5}`}, "", "scoring.credit_limit"},
		{"bad currency in a file", nil, "scoring: {credit_limit: {sekk: 7}}\n", "scoring.credit_limit"},
		{"credit_limit not a map", nil, "scoring: {credit_limit: 5}\n", "scoring.credit_limit"},
		{"credit_limit a list", nil, "scoring: {credit_limit: [1]}\n", "scoring.credit_limit"},
		{"category_risk not a map", nil, "scoring: {category_risk: high}\n", "scoring.category_risk"},
		{"unknown scorecard field", nil, "scoring:\n  scorecard:\n    - feature: amount\n      bandz: [{points: 1}]\n", "scoring.scorecard[0]"},
		{"unknown band field", nil, "scoring:\n  scorecard:\n    - feature: amount\n      bands: [{points: 1, pointz: 2}]\n", "scoring.scorecard[0].bands[0]"},
		{"unknown feature", nil, "scoring:\n  scorecard:\n    - feature: income\n      bands: [{points: 1}]\n", "scoring.scorecard[0].feature"},
		{"unknown scoring key", nil, "scoring: {aprove_score: 1}\n", "scoring.aprove_score"},
		{"refer_score above approve_score", nil, "scoring: {approve_score: 400, refer_score: 500}\n", "scoring.refer_score"},
		{"bad mode in a file", nil, "scoring: {mode: bogus}\n", "scoring.mode"},
		{"bad mode in the environment", []string{"KASSA_SCORING_MODE=bogus"}, "", "scoring.mode"},
		{"rights_timeout", []string{"KASSA_SCORING_RIGHTS_TIMEOUT=1m"}, "", "scoring.rights_timeout"},
		{"rebalance_share", nil, "scoring: {rebalance_share: 1.5}\n", "scoring.rebalance_share"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"--data-dir", dir}
			if tt.file != "" {
				args = append(args, "--config", writeConfig(t, tt.file))
			}
			_, err := loadTestConfig(t, tt.environ, args...)
			var ce *region.ConfigError
			if !errors.As(err, &ce) || ce.Key != tt.key {
				t.Fatalf("got %v, want a config error naming %s", err, tt.key)
			}
			// And the command exits 2 with the key (keygen: the quickest
			// command that loads the config and would otherwise succeed).
			_, stderr, code := runCmd(t, tt.environ, append([]string{"keygen"}, args...)...)
			if code != 2 || !strings.Contains(stderr, tt.key) {
				t.Fatalf("got exit %d, stderr %q; want 2 naming %s", code, stderr, tt.key)
			}
			if _, err := os.Stat(filepath.Join(dir, "region.key")); err == nil {
				t.Fatal("a bad config created a key")
			}
		})
	}
}

// TestMapKeysFollowTheConfig: the keys taking operator-chosen map keys
// are found from region.Config itself, so a new map field is not refused
// as unknown.
func TestMapKeysFollowTheConfig(t *testing.T) {
	want := map[string]bool{"scoring.credit_limit": true, "scoring.unsecured_budget": true, "scoring.category_risk": true,
		"invoice.reminder_fee": true}
	if !reflect.DeepEqual(mapKeys, want) {
		t.Fatalf("got %v, want %v", mapKeys, want)
	}
}
