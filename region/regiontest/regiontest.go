// Package regiontest gives tests in other packages a region configuration
// made for running several regions in one process: fast sync intervals,
// short timeouts, large credit limits and budgets so that only what a test
// sets up limits it, and the demo merchant and staff.
//
// Invariant: Config returns a configuration that passes region.Config's
// Validate after Normalize; tests adjust it, they do not rebuild it.
package regiontest

import (
	"bytes"
	"kassa/reconcile"
	"kassa/settlement"
	"sync"
	"time"

	"kassa/backup"
	"kassa/checkout"
	"kassa/invoice"
	"kassa/ledger"
	"kassa/region"
	"kassa/scoring"
	regionsync "kassa/sync"
)

// Config returns the test configuration of region id with its data in dir,
// listening on listen.
func Config(id, dir, listen string) region.Config {
	return region.Config{
		Mode: "development", Region: id, Listen: listen, DataDir: dir, Durability: "local",
		Backup: backup.Settings{SyncInterval: time.Second},
		Sync: regionsync.Settings{BatchSize: 256, MaxBodyBytes: 8 << 20, Interval: 50 * time.Millisecond, Timeout: 2 * time.Second,
			Retries: 1, RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 50 * time.Millisecond, MaxConcurrentPerPeer: 8, MaxRightsPerPeer: 16, PushesInFlight: 2,
			ReplayWindow: time.Minute, RecoveryTimeout: 2 * time.Second, AckTimeout: 2 * time.Second,
			LookupTimeout: 300 * time.Millisecond},
		Checkout: checkout.Settings{IDKey: checkout.DemoIDKey, IdentityKey: checkout.DemoIdentityKey, FingerprintKey: checkout.DemoFingerprintKey, SecretKey: checkout.DemoSecretKey,
			SessionTTL: 48 * time.Hour, AuthTTL: 28 * 24 * time.Hour, AcquirerTimeout: 2 * time.Second, ReconcileInterval: time.Hour},
		Scoring: scoring.Settings{Policy: scoring.Policy{MaxPayLater: 5_000_000, MinInstalments: 10_000, BaseScore: 600, ApproveScore: 600, ReferScore: 500,
			CreditLimit: map[string]int64{"SEK": 1_000_000_000, "EUR": 1_000_000_000}, RightsTimeout: 2 * time.Second, GrantShare: 0.5,
			UnsecuredBudget: map[string]int64{"SEK": 1_000_000_000, "EUR": 1_000_000_000}, UnsecuredMaxOrder: 5_000_000,
			GraceDays: 5}, InvoiceDays: 30},
		Ledger: ledger.Settings{Synchronous: "NORMAL", MaxBatch: 1024},
		HTTP: region.HTTPConfig{ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute,
			ShutdownTimeout: 5 * time.Second, MaxBodyBytes: 1 << 20},
		Log:            region.LogConfig{Level: "info", Format: "text"},
		Merchants:      []region.Merchant{{ID: "demo", Name: "Demo Shop", APISecret: "sk_test_demo", WebhookSecret: "whsec_test_demo"}},
		Staff:          []region.Staff{{Username: "admin", Password: "admin-demo", Role: "admin"}},
		Reconciliation: reconcile.DefaultSettings(),
		Settlement:     settlement.DefaultSettings(),
		Invoice:        invoice.DefaultSettings(),
	}
}

// LogBuffer collects a region's log lines so a test can search them while
// the region's goroutines write. It is safe for concurrent use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
