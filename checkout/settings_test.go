package checkout_test

import (
	"errors"
	"testing"
	"time"

	"kassa/checkout"
	"kassa/config"
)

// productionSettings are settings production accepts.
func productionSettings() checkout.Settings {
	s := checkout.DefaultSettings()
	s.IDKey, s.IdentityKey, s.FingerprintKey, s.SecretKey = "prod-id-key-0123456789", "prod-identity-key-0123456789", "prod-fingerprint-key-0123456789", "prod-secret-key-0123456789"
	s.AcquirerURL = "https://acquirer.example"
	return s
}

// TestSettingsValidate: each bad setting is refused with its key named,
// and production refuses what development allows.
func TestSettingsValidate(t *testing.T) {
	if err := checkout.DefaultSettings().Validate(false); err != nil {
		t.Fatalf("defaults in development: got %v, want nil", err)
	}
	if err := productionSettings().Validate(true); err != nil {
		t.Fatalf("production settings: got %v, want nil", err)
	}
	tests := []struct {
		name       string
		production bool
		change     func(*checkout.Settings)
		key        string
	}{
		{"short id key", false, func(s *checkout.Settings) { s.IDKey = "0123456789abcde" }, "id_key"},
		{"demo id key in production", true, func(s *checkout.Settings) { s.IDKey = checkout.DemoIDKey }, "id_key"},
		{"short secret key", false, func(s *checkout.Settings) { s.SecretKey = "0123456789abcde" }, "secret_key"},
		{"demo secret key in production", true, func(s *checkout.Settings) { s.SecretKey = checkout.DemoSecretKey }, "secret_key"},
		{"plain-http acquirer in production", true, func(s *checkout.Settings) { s.AcquirerURL = "http://acquirer.example" }, "acquirer_url"},
		{"acquirer not a URL", false, func(s *checkout.Settings) { s.AcquirerURL = "ftp://acquirer.example" }, "acquirer_url"},
		{"auth_ttl beyond 180 days", false, func(s *checkout.Settings) { s.AuthTTL = checkout.MaxAuthLifetime + time.Hour }, "auth_ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := productionSettings()
			tt.change(&s)
			var ce *config.Error
			if err := s.Validate(tt.production); !errors.As(err, &ce) || ce.Key != tt.key {
				t.Fatalf("got %v, want a config error naming %s", err, tt.key)
			}
		})
	}
	// Development keeps plain http for a local acquirer.
	s := checkout.DefaultSettings()
	s.AcquirerURL = "http://127.0.0.1:9000"
	if err := s.Validate(false); err != nil {
		t.Fatalf("plain-http acquirer in development: got %v, want nil", err)
	}
	s.AuthTTL = checkout.MaxAuthLifetime
	if err := s.Validate(false); err != nil {
		t.Fatalf("auth_ttl of exactly 180 days: got %v, want nil", err)
	}
}
