package backup_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"kassa/backup"
	"kassa/config"
)

// TestRetentionRemovesOldSnapshots: with a snapshot every second kept for a
// second, Litestream's own retention deletes the first snapshot while the
// database keeps changing, and a restore from what is left still holds
// every entry. With the default settings (a day) the first snapshot would
// stay, so this fails if the settings do not reach Litestream.
func TestRetentionRemovesOldSnapshots(t *testing.T) {
	ctx := context.Background()
	replicaDir := filepath.Join(t.TempDir(), "replica")
	dbPath := filepath.Join(t.TempDir(), "kassa.db")
	r, err := backup.Start(ctx, backup.Options{
		DBPath: dbPath,
		Settings: backup.Settings{URL: fileURL(replicaDir), SyncInterval: 100 * time.Millisecond,
			SnapshotInterval: time.Second, Retention: time.Second},
		Logger: quietLogger(),
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { r.Close(ctx) })
	s := MustOpenLedger(t, dbPath)

	snapshots := func() []string {
		des, err := os.ReadDir(filepath.Join(replicaDir, "ltx", "9"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		var names []string
		for _, de := range des {
			names = append(names, de.Name())
		}
		return names
	}

	// Litestream snapshots on its own schedule (the wall clock truncated to
	// the interval) and only if the database changed, so keep writing and
	// poll, with a deadline, until the first snapshot is gone.
	n := 0
	var first string
	deadline := time.Now().Add(30 * time.Second)
	for {
		n++
		appendSales(t, s, n, 1)
		if err := r.Sync(ctx); err != nil {
			t.Fatalf("sync: %v", err)
		}
		names := snapshots()
		if first == "" && len(names) > 0 {
			first = names[0]
		}
		if first != "" && len(names) > 0 && !slices.Contains(names, first) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot %q still in the replica after 30s of 1s retention (snapshots: %v)", first, names)
		}
		time.Sleep(50 * time.Millisecond) // paces the writes; the loop waits on the replica, not on this
	}

	restored := filepath.Join(t.TempDir(), "restored.db")
	if err := backup.Restore(ctx, fileURL(replicaDir), restored, time.Time{}); err != nil {
		t.Fatalf("restore after retention: %v", err)
	}
	mustVerify(t, restored, s.Count(), s.Digest())
}

func TestSettingsValidate(t *testing.T) {
	url := fileURL(t.TempDir())
	ok := backup.DefaultSettings()
	ok.URL = url
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: got %v, want nil", err)
	}
	zero := backup.Settings{URL: url, SyncInterval: time.Second}
	if err := zero.Validate(); err != nil {
		t.Fatalf("zero retention settings (the defaults): got %v, want nil", err)
	}
	tests := []struct {
		name                string
		snapshot, retention time.Duration
		key                 string
	}{
		{"snapshot interval under a minute", 30 * time.Second, time.Hour, "snapshot_interval"},
		{"snapshot interval beyond a week", 200 * time.Hour, 200 * time.Hour, "snapshot_interval"},
		{"negative snapshot interval", -time.Hour, time.Hour, "snapshot_interval"},
		{"retention below the snapshot interval", 6 * time.Hour, time.Hour, "retention"},
		{"retention below the default snapshot interval", 0, time.Hour, "retention"},
		{"retention beyond a week", time.Hour, 169 * time.Hour, "retention"},
		{"negative retention", time.Hour, -time.Hour, "retention"},
		{"the shortest", time.Minute, time.Minute, ""},
		{"the longest", 168 * time.Hour, 168 * time.Hour, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := backup.Settings{URL: url, SyncInterval: time.Second, SnapshotInterval: tt.snapshot, Retention: tt.retention}
			err := st.Validate()
			var ce *config.Error
			switch {
			case tt.key == "" && err != nil:
				t.Fatalf("got %v, want nil", err)
			case tt.key != "" && (!errors.As(err, &ce) || ce.Key != tt.key):
				t.Fatalf("got %v, want an error naming %s", err, tt.key)
			}
		})
	}
}

func TestStartRejectsRetentionBelowSnapshotInterval(t *testing.T) {
	dir := t.TempDir()
	r, err := backup.Start(context.Background(), backup.Options{
		DBPath:   filepath.Join(dir, "a.db"),
		Settings: backup.Settings{URL: fileURL(filepath.Join(dir, "replica")), SnapshotInterval: time.Hour, Retention: time.Minute},
		Logger:   quietLogger(),
	})
	if err == nil {
		r.Close(context.Background())
		t.Fatal("got nil error, want one")
	}
	if _, err := os.Stat(filepath.Join(dir, "a.db")); err == nil {
		t.Fatal("a refused start left a database behind")
	}
}
