package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"kassa/region"
)

// TestConfigClockOffset: clock_offset takes a signed duration up to an hour
// in development; production refuses any offset, exiting 2 with the key.
func TestConfigClockOffset(t *testing.T) {
	for _, v := range []struct {
		env  string
		want time.Duration
	}{{"30s", 30 * time.Second}, {"-2m", -2 * time.Minute}, {"1h", time.Hour}} {
		cfg, err := loadTestConfig(t, []string{"KASSA_CLOCK_OFFSET=" + v.env}, "--data-dir", t.TempDir())
		if err != nil || cfg.ClockOffset != v.want {
			t.Fatalf("clock_offset %s: got %s, %v; want %s", v.env, cfg.ClockOffset, err, v.want)
		}
	}
	cfg, err := loadTestConfig(t, nil, "--data-dir", t.TempDir(), "--config", writeConfig(t, "clock_offset: -45s\n"))
	if err != nil || cfg.ClockOffset != -45*time.Second {
		t.Fatalf("clock_offset in a file: got %s, %v", cfg.ClockOffset, err)
	}
	for _, tt := range []struct {
		name string
		env  []string
		args []string
	}{
		{"beyond an hour", []string{"KASSA_CLOCK_OFFSET=61m"}, nil},
		{"beyond an hour behind", []string{"KASSA_CLOCK_OFFSET=-2h"}, nil},
		{"in production", []string{"KASSA_CLOCK_OFFSET=30s", "KASSA_MODE=production"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--data-dir", t.TempDir()}, tt.args...)
			_, err := loadTestConfig(t, tt.env, args...)
			var ce *region.ConfigError
			if !errors.As(err, &ce) || ce.Key != "clock_offset" {
				t.Fatalf("got %v, want a config error naming clock_offset", err)
			}
			_, stderr, code := runCmd(t, tt.env, append([]string{"keygen"}, args...)...)
			if code != 2 || !strings.Contains(stderr, "clock_offset") {
				t.Fatalf("got exit %d, stderr %q; want 2 naming clock_offset", code, stderr)
			}
		})
	}
}
