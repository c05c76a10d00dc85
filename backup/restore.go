package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/benbjohnson/litestream"
)

var (
	// ErrNoBackup means the replica holds no backup (at all, or from before
	// the requested point in time).
	ErrNoBackup = errors.New("backup: no backup at replica URL")
	// ErrExists means the restore target, or a leftover -wal or -shm file
	// of it, already exists. Restore never overwrites.
	ErrExists = errors.New("backup: restore target exists")
)

// Restore writes the database held at the replica url into dbPath: its
// latest state if at is zero, otherwise its state as of the last change
// Litestream shipped before at (changes are stamped, to the millisecond,
// when Litestream copies them from the WAL, up to SyncInterval after their
// commit). Point-in-time restores reach back as far as the replica's
// retention (Settings.Retention, up to Retention + SnapshotInterval);
// earlier times return ErrNoBackup once Litestream has deleted the files
// they need.
//
// dbPath must not exist, nor its -wal and -shm files: Restore returns
// ErrExists rather than overwrite anything. It restores into a temporary
// directory next to dbPath, checks the result with SQLite's quick_check and
// links it into place, so a failed restore leaves nothing behind. It removes
// Litestream's local state for dbPath (the ".<name>-litestream" directory)
// left from a lost database, so replication of the restored file starts
// clean. It returns ErrNoBackup if the replica holds nothing to restore.
func Restore(ctx context.Context, url, dbPath string, at time.Time) error {
	if dbPath == "" {
		return errors.New("backup: no database path to restore into")
	}
	if err := ValidateURL(url); err != nil {
		return err
	}
	if err := checkEnv(url); err != nil {
		return err
	}
	path, err := filepath.Abs(dbPath)
	if err != nil {
		return fmt.Errorf("backup: database path %s: %w", dbPath, err)
	}
	if err := checkTarget(path); err != nil {
		return err
	}

	client, err := litestream.NewReplicaClientFromURL(url)
	if err != nil {
		return fmt.Errorf("backup: replica %s: %w", redact(url), err)
	}
	if err := client.Init(ctx); err != nil {
		return fmt.Errorf("backup: replica %s: %w", redact(url), err)
	}

	dir, name := filepath.Split(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmpDir, err := os.MkdirTemp(dir, "."+name+".restore-")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, name)

	opt := litestream.NewRestoreOptions()
	opt.OutputPath = tmp
	opt.Timestamp = at
	opt.IntegrityCheck = litestream.IntegrityCheckQuick
	if err := litestream.NewReplicaWithClient(nil, client).Restore(ctx, opt); err != nil {
		if errors.Is(err, litestream.ErrTxNotAvailable) || errors.Is(err, litestream.ErrNoSnapshots) {
			if at.IsZero() {
				return fmt.Errorf("%w: %s", ErrNoBackup, redact(url))
			}
			return fmt.Errorf("%w: %s holds nothing before %s", ErrNoBackup, redact(url), at.UTC().Format(time.RFC3339Nano))
		}
		return fmt.Errorf("backup: restore %s from %s: %w", path, redact(url), err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}

	// Litestream's state for a database that no longer exists describes
	// the lost file, not the restored one.
	if err := os.RemoveAll(filepath.Join(dir, "."+name+litestream.MetaDirSuffix)); err != nil {
		return fmt.Errorf("backup: remove stale replication state: %w", err)
	}
	if err := place(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// checkTarget refuses a target that exists or has a leftover WAL or shared
// memory file, which SQLite would apply to the restored database.
func checkTarget(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		_, err := os.Lstat(p)
		switch {
		case err == nil && p == path:
			return fmt.Errorf("%w: %s", ErrExists, p)
		case err == nil:
			return fmt.Errorf("%w: %s is left over from a lost database; move it away first", ErrExists, p)
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("backup: %w", err)
		}
	}
	return nil
}

// place moves tmp to path without ever replacing a file at path: a hard
// link fails if path exists, where a rename would overwrite it.
func place(tmp, path string) error {
	err := os.Link(tmp, path)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%w: %s", ErrExists, path)
	}
	// No hard links on this file system: check, then rename.
	if _, serr := os.Lstat(path); serr == nil {
		return fmt.Errorf("%w: %s", ErrExists, path)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("backup: place restored database: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("backup: sync %s: %w", dir, err)
	}
	return nil
}

// RestoreIfMissing restores the latest backup into dbPath if dbPath does not
// exist, and reports whether it did. A replica without a backup is a fresh
// region: it returns false and no error, and the database is created empty
// when opened. An existing dbPath is left untouched. Call it before Start.
func RestoreIfMissing(ctx context.Context, url, dbPath string, log *slog.Logger) (restored bool, err error) {
	if log == nil {
		log = slog.Default()
	}
	if _, err := os.Lstat(dbPath); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("backup: %w", err)
	}
	start := time.Now()
	switch err := Restore(ctx, url, dbPath, time.Time{}); {
	case errors.Is(err, ErrNoBackup):
		log.Info("backup: no database and no backup; starting empty", "db", dbPath, "replica", redact(url))
		return false, nil
	case err != nil:
		return false, err
	}
	log.Info("backup: database restored", "db", dbPath, "replica", redact(url), "duration", time.Since(start))
	return true, nil
}
