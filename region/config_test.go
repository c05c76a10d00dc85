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
