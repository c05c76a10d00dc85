package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"kassa/region"
)

// TestEmbeddedConfigIsTheDefaults: the embedded config.yaml documents
// every key with exactly the default its package declares, so a setting
// added to a package but not to config.yaml (or documented with another
// value) fails here.
func TestEmbeddedConfigIsTheDefaults(t *testing.T) {
	t.Chdir(t.TempDir()) // away from ./config.yaml: the embedded default alone
	got, err := loadTestConfig(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := region.DefaultConfig()
	if err := want.Normalize(); err != nil {
		t.Fatal(err)
	}
	if g, w := canonical(t, got), canonical(t, want); g != w {
		t.Fatalf("the embedded config.yaml and region.DefaultConfig differ:\n got %s\nwant %s", g, w)
	}
	for k := range configKeys {
		last := k[strings.LastIndex(k, ".")+1:]
		if !strings.Contains(string(defaultConfig), last+":") {
			t.Errorf("config.yaml does not document %s", k)
		}
	}
}

// canonical is cfg as JSON with the differences that carry no meaning
// taken out: currencies in upper case (config keys are case-insensitive)
// and empty lists as none.
func canonical(t *testing.T, cfg region.Config) string {
	t.Helper()
	cfg.Scoring.Policy = cfg.Scoring.PolicyFor(nil)
	if len(cfg.Scoring.Countries) == 0 {
		cfg.Scoring.Countries = nil
	}
	if len(cfg.Peers) == 0 {
		cfg.Peers = nil
	}
	if len(cfg.HTTP.MetricsAllow) == 0 {
		cfg.HTTP.MetricsAllow = nil
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestKeysFollowTheConfig: the known keys come from the packages'
// settings structs by reflection, squashed and runtime-only fields
// included as mapstructure sees them.
func TestKeysFollowTheConfig(t *testing.T) {
	for _, k := range []string{"sync.batch_size", "ledger.max_batch", "backup.sync_interval", "checkout.reconcile_interval",
		"scoring.mode", "scoring.scorecard", "scoring.invoice_days", "scoring.pay_later_off", "http.max_body_bytes", "log.format"} {
		if configKeys[k] == nil {
			t.Errorf("%s is not a known key", k)
		}
	}
	for _, k := range []string{"scoring.merchant_categories", "scoring.policy", "sync.key", "sync"} {
		if configKeys[k] != nil {
			t.Errorf("%s is a known key, want it not to be", k)
		}
	}
	want := map[string]bool{"peers": true, "merchants": true, "staff": true, "scoring.scorecard": true}
	if !reflect.DeepEqual(listKeys, want) {
		t.Fatalf("list keys: got %v, want %v", listKeys, want)
	}
}
