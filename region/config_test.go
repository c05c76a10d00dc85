package region_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"kassa/region"
)

// TestValidateNamesTheFullKey: a section's package names the bad key
// within its section; Validate reports it under the section.
func TestValidateNamesTheFullKey(t *testing.T) {
	tests := []struct {
		change func(c *region.Config)
		key    string
	}{
		{func(c *region.Config) { c.Sync.BatchSize = 0 }, "sync.batch_size"},
		{func(c *region.Config) { c.Sync.RetryWaitMin = c.Sync.RetryWaitMax + 1 }, "sync.retry_wait_min"},
		{func(c *region.Config) { c.Backup.SyncInterval = 0 }, "backup.sync_interval"},
		{func(c *region.Config) { c.Backup.URL = "ftp://x/y" }, "backup.url"},
		{func(c *region.Config) { c.Ledger.Synchronous = "OFF" }, "ledger.synchronous"},
		{func(c *region.Config) { c.Checkout.RatePerClient = -1 }, "checkout.rate_per_client"},
		{func(c *region.Config) { c.Checkout.RatePerPageClient = -1 }, "checkout.rate_per_page_client"},
		{func(c *region.Config) { c.Mode, c.Merchants, c.Staff = "production", nil, nil }, "checkout"},
		{func(c *region.Config) { c.Scoring.Scorecard[0].Feature = "income" }, "scoring.scorecard[0].feature"},
		{func(c *region.Config) { c.Scoring.InvoiceDays = 400 }, "scoring.invoice_days"},
		{func(c *region.Config) { c.HTTP.ReadTimeout = 0 }, "http.read_timeout"},
		{func(c *region.Config) { c.Log.Format = "xml" }, "log.format"},
		{func(c *region.Config) { c.Webhooks.Concurrency = -1 }, "webhooks.concurrency"},
		{func(c *region.Config) { c.Staff[0].Username = strings.Repeat("a", 65) }, "staff[0].username"},
		{func(c *region.Config) { c.Sync.AckTimeout = 0 }, "sync.ack_timeout"},
		{func(c *region.Config) { c.Sync.LookupTimeout = 0 }, "sync.lookup_timeout"},
		{func(c *region.Config) { c.Durability = "disk" }, "durability"},
		{func(c *region.Config) { c.Durability = "peer" }, "durability"},
		{func(c *region.Config) { c.Durability = "fsync" }, "ledger.synchronous"}, // NORMAL, derived from local by Normalize
		{func(c *region.Config) { c.Ledger.Synchronous = "full" }, "ledger.synchronous"},
		{func(c *region.Config) { c.HTTP.MetricsToken = "too-short" }, "http.metrics_token"},
		{func(c *region.Config) { c.HTTP.MetricsAllow = []string{"10.0.0.0/8", "::1/129"} }, "http.metrics_allow[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			cfg := region.DefaultConfig()
			cfg.DataDir = t.TempDir()
			if err := cfg.Normalize(); err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("the defaults: %v", err)
			}
			tt.change(&cfg)
			var ce *region.ConfigError
			if err := cfg.Validate(); !errors.As(err, &ce) || ce.Key != tt.key {
				t.Fatalf("got %v, want a *region.ConfigError naming %s", err, tt.key)
			}
		})
	}
}

func ExampleConfig_Validate() {
	cfg := region.DefaultConfig()
	cfg.DataDir = filepath.Join("/", "var", "lib", "kassa")
	if err := cfg.Normalize(); err != nil {
		panic(err)
	}
	cfg.Sync.BatchSize = 0
	fmt.Println(cfg.Validate())
	// Output: config: sync.batch_size: must be between 1 and 10000, got 0
}

// TestDurabilitySetsSynchronous: durability decides the ledger's
// synchronous mode when ledger.synchronous is left empty.
func TestDurabilitySetsSynchronous(t *testing.T) {
	for _, tt := range []struct{ durability, want string }{
		{"local", "NORMAL"}, {"fsync", "FULL"}, {"peer", "NORMAL"},
	} {
		cfg := region.DefaultConfig()
		cfg.DataDir = t.TempDir()
		cfg.Durability = tt.durability
		if tt.durability == "peer" {
			cfg.Peers = []region.Peer{{ID: "r2", URL: "http://127.0.0.1:1", PublicKey: "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}}
		}
		if err := cfg.Normalize(); err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("durability %s: %v", tt.durability, err)
		}
		if got := cfg.Ledger.Synchronous; got != tt.want {
			t.Errorf("durability %s: got synchronous %s, want %s", tt.durability, got, tt.want)
		}
	}
	// Explicit FULL under peer: both promises at once.
	cfg := region.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Durability, cfg.Ledger.Synchronous = "peer", "FULL"
	cfg.Peers = []region.Peer{{ID: "r2", URL: "http://127.0.0.1:1", PublicKey: "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("peer with FULL: %v", err)
	}
}
