package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"

	"kassa/region"
)

// FuzzConfigFile feeds arbitrary config files to the loader: it never
// panics, and a refused file is always a *region.ConfigError (exit code 2,
// naming a key).
func FuzzConfigFile(f *testing.F) {
	f.Add("region: r2\nlisten: 127.0.0.1:9000\n")
	f.Add("peers:\n  - {id: r2, url: 'http://127.0.0.1:1', public_key: abc}\n")
	f.Add("backup:\n  sync_interval: often\n")
	f.Add("ledger: [1, 2]\n")
	f.Add("merchants: 7\n")
	f.Add("{{{")
	f.Add("http:\n  max_body_bytes: 99999999999999999999999\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		env := &cmdEnv{stdout: io.Discard, stderr: io.Discard}
		fs, err := env.flags("serve", "", []string{"--config", path, "--data-dir", filepath.Join(dir, "data")}, func(fs *pflag.FlagSet) {
			addConfigFlags(fs, "data-dir")
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = env.loadConfig(fs)
		var ce *region.ConfigError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("got %T %v, want a *region.ConfigError", err, err)
		}
	})
}
