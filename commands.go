package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/pflag"

	"kassa/backup"
	"kassa/ledger"
	"kassa/region"
)

// flags parses args for command name; --help prints usage and returns
// pflag.ErrHelp, bad flags are a usageError.
func (e *cmdEnv) flags(name, summary string, args []string, define func(fs *pflag.FlagSet)) (*pflag.FlagSet, error) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(e.stderr)
	define(fs)
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "usage: kassa %s [flags]\n\n%s\n\nflags:\n%s", name, summary, fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{fmt.Sprintf("%s: %v (see kassa %s --help)", name, err, name)}
	}
	if fs.NArg() > 0 {
		return nil, &usageError{fmt.Sprintf("%s: unexpected argument %q (see kassa %s --help)", name, fs.Arg(0), name)}
	}
	return fs, nil
}

// configFor parses a sub-command's flags, the config flags named among
// them, and loads the configuration they select.
func (e *cmdEnv) configFor(name, summary string, args []string, configFlags ...string) (region.Config, error) {
	fs, err := e.flags(name, summary, args, func(fs *pflag.FlagSet) { addConfigFlags(fs, configFlags...) })
	if err != nil {
		return region.Config{}, err
	}
	return e.loadConfig(fs)
}

func (e *cmdEnv) logger(cfg region.Config) *slog.Logger {
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.Log.Level]
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
}

func (e *cmdEnv) serve(ctx context.Context, args []string) error {
	cfg, err := e.configFor("serve", "Run a region until interrupted (SIGINT or SIGTERM drain requests and finish writes).", args, "listen", "data-dir", "region", "public-url", "site-url", "backup-url", "mode", "log-level")
	if err != nil {
		return err
	}
	log := e.logger(cfg)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	r, err := region.New(ctx, cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	if r.Restored() {
		log.Info("database restored from replica", "backup_url", cfg.Backup.URL)
	}
	fmt.Fprint(e.stdout, r.Banner(ln.Addr().String()))
	serr := r.Serve(ctx, ln)
	cerr := r.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return err
	}
	log.Info("stopped cleanly")
	return nil
}

func (e *cmdEnv) keygen(_ context.Context, args []string) error {
	cfg, err := e.configFor("keygen", "Create the region key (key_file, default <data_dir>/region.key, mode 0600) if absent,\nand print the region's public key (base64) as the only line on stdout.", args, "data-dir")
	if err != nil {
		return err
	}
	key, err := region.LoadKey(cfg.KeyFile)
	if errors.Is(err, region.ErrNoKey) {
		if _, serr := os.Stat(cfg.DBPath()); serr == nil {
			return fmt.Errorf("keygen: %s exists but its key file %s is missing: restore the key file; a new key cannot sign this region's chain", cfg.DBPath(), cfg.KeyFile)
		}
		var created bool
		key, created, err = region.EnsureKey(cfg.KeyFile)
		if created {
			fmt.Fprintf(e.stderr, "created %s\n", cfg.KeyFile)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, region.PublicKeyString(key))
	return nil
}

// ownKeyFor puts the key file's public key under the region the database
// at cfg's data dir belongs to, when that is not the configured region (a
// region of `kassa cluster`, checked with the default config) and the
// database is bound to that very key.
func (e *cmdEnv) ownKeyFor(ctx context.Context, cfg region.Config, keys ledger.Keys) ledger.Keys {
	own, ok := keys[ledger.RegionID(cfg.Region)]
	if !ok {
		return keys
	}
	stored := ownRegion(ctx, cfg, own)
	if stored == ledger.RegionID(cfg.Region) {
		return keys
	}
	out := ledger.Keys{}
	for o, k := range keys {
		if o != ledger.RegionID(cfg.Region) {
			out[o] = k
		}
	}
	out[stored] = own
	return out
}

// ownRegion is the region the database at cfg's data dir belongs to when
// it is bound to the key pub (a region of `kassa cluster`, whose data dir
// the default config names differently), else the configured region.
func ownRegion(ctx context.Context, cfg region.Config, pub ed25519.PublicKey) ledger.RegionID {
	if stored, dbPub, err := ledger.Identity(ctx, cfg.DBPath()); err == nil && dbPub.Equal(pub) {
		return stored
	}
	return ledger.RegionID(cfg.Region)
}

// keys returns the public keys verify and restore check entries with: this
// region's (from its key file) and every configured peer's.
func (e *cmdEnv) keys(cfg region.Config) (ledger.Keys, error) {
	keys := ledger.Keys{}
	for _, p := range cfg.Peers {
		pub, _ := region.ParsePublicKey(p.PublicKey)
		keys[ledger.RegionID(p.ID)] = pub
	}
	key, err := region.LoadKey(cfg.KeyFile)
	if err != nil {
		return keys, err
	}
	keys[ledger.RegionID(cfg.Region)] = key.Public().(ed25519.PublicKey)
	return keys, nil
}

func (e *cmdEnv) verify(ctx context.Context, args []string) error {
	cfg, err := e.configFor("verify", "Check every signature, chain link, sequence and double-entry sum in the region database\n<data_dir>/kassa.db, and that its derived state matches its entries. Exit 0 when clean,\n1 naming the first bad entry. Keys come from key_file and the configured peers.", args, "data-dir")
	if err != nil {
		return err
	}
	keys, kerr := e.keys(cfg)
	if kerr != nil {
		fmt.Fprintf(e.stderr, "warning: %v; entries of region %s cannot be checked\n", kerr, cfg.Region)
	}
	keys = e.ownKeyFor(ctx, cfg, keys)
	rep, err := ledger.Verify(ctx, cfg.DBPath(), keys)
	if err != nil {
		return fmt.Errorf("verify %s: %w", cfg.DBPath(), err)
	}
	if len(rep.StoredKeys) > 0 {
		fmt.Fprintf(e.stderr, "note: no configured key for %v: checked with the keys the database recorded (finds corruption, not a rewritten file)\n", rep.StoredKeys)
	}
	fmt.Fprintf(e.stdout, "ok: %s holds %d entries, vector %v, digest %s", cfg.DBPath(), rep.Entries, rep.Vector, rep.Digest)
	if rep.Forks > 0 {
		fmt.Fprintf(e.stdout, ", %d quarantined forks", rep.Forks)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

func (e *cmdEnv) restore(ctx context.Context, args []string) error {
	var ts string
	fs, err := e.flags("restore", "Restore the region database <data_dir>/kassa.db from the Litestream replica (backup.url),\noptionally to a point in time. The target must not exist. The result is verified; one that\ndoes not verify is moved to <data_dir>/kassa.db.unverified-<time>, so that serve never opens it.", args, func(fs *pflag.FlagSet) {
		addConfigFlags(fs, "data-dir", "backup-url")
		fs.StringVar(&ts, "timestamp", "", "restore the state as of this time (RFC 3339), where the replica allows")
	})
	if err != nil {
		return err
	}
	var at time.Time
	if ts != "" {
		if at, err = time.Parse(time.RFC3339, ts); err != nil {
			return &usageError{fmt.Sprintf("restore: --timestamp must be RFC 3339 (2026-11-25T21:00:00Z), got %q", ts)}
		}
	}
	cfg, err := e.loadConfig(fs)
	if err != nil {
		return err
	}
	if _, err := os.Stat(cfg.DBPath()); err == nil {
		return fmt.Errorf("restore: %s already exists; move it away first (restore never overwrites a database)", cfg.DBPath())
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := backup.Restore(ctx, cfg.Backup.URL, cfg.DBPath(), at); err != nil {
		return fmt.Errorf("restore from %s: %w", cfg.Backup.URL, err)
	}
	fmt.Fprintf(e.stdout, "restored %s from %s\n", cfg.DBPath(), cfg.Backup.URL)
	keys, kerr := e.keys(cfg)
	if kerr != nil {
		fmt.Fprintf(e.stderr, "warning: %v; not verifying the restored database\n", kerr)
		return nil
	}
	keys = e.ownKeyFor(ctx, cfg, keys)
	rep, err := ledger.Verify(ctx, cfg.DBPath(), keys)
	if err != nil {
		// Not where kassa serve would open it and start from it.
		aside, merr := moveAside(cfg.DBPath(), ".unverified-"+time.Now().UTC().Format("20060102T150405Z"))
		if merr != nil {
			return fmt.Errorf("restored database does not verify: %w; move %s away before kassa serve opens it (%v)", err, cfg.DBPath(), merr)
		}
		return fmt.Errorf("restored database does not verify: %w; moved it to %s", err, aside)
	}
	fmt.Fprintf(e.stdout, "verified: %d entries, digest %s\n", rep.Entries, rep.Digest)
	return nil
}

// moveAside renames the database at path, with its -wal and -shm files if
// any, to path+suffix, never over an existing file, and returns the new
// name of the database.
func moveAside(path, suffix string) (string, error) {
	aside := path + suffix
	for _, ext := range []string{"", "-wal", "-shm"} {
		if _, err := os.Lstat(aside + ext); err == nil {
			return "", fmt.Errorf("%s exists", aside+ext)
		}
	}
	for _, ext := range []string{"-wal", "-shm", ""} { // the database last: it names the rest
		if err := os.Rename(path+ext, aside+ext); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	return aside, nil
}
