package webhook_test

import (
	"errors"
	"testing"
	"time"

	"kassa/checkout/webhook"
	"kassa/config"
)

func TestConfigValidateNamesTheKey(t *testing.T) {
	for _, tt := range []struct {
		key string
		cfg webhook.Config
	}{
		{"", webhook.Config{}},
		{"", webhook.Config{Timeout: time.Second, MaxAge: 48 * time.Hour, RetryMin: time.Second, RetryMax: time.Minute, Concurrency: 4}},
		{"timeout", webhook.Config{Timeout: time.Hour}},
		{"max_age", webhook.Config{MaxAge: time.Hour}},
		{"takeover_after", webhook.Config{TakeoverAfter: -time.Second}},
		{"retry_min", webhook.Config{RetryMin: time.Minute, RetryMax: time.Second}},
		{"retry_max", webhook.Config{RetryMax: 48 * time.Hour}},
		{"concurrency", webhook.Config{Concurrency: 1001}},
	} {
		err := tt.cfg.Validate()
		var ce *config.Error
		if tt.key == "" && err != nil || tt.key != "" && (!errors.As(err, &ce) || ce.Key != tt.key) {
			t.Errorf("%+v: got %v, want an error naming %q", tt.cfg, err, tt.key)
		}
	}
}
