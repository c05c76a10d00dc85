package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	_ "github.com/benbjohnson/litestream/s3" // registers the s3:// scheme
)

// minSyncInterval keeps Litestream's tickers from spinning.
const minSyncInterval = 10 * time.Millisecond

// l0Retention is how long the replica keeps a level-0 file (one per upload,
// holding every page the upload changed) once it is compacted into level 1.
// Litestream keeps them five minutes for its read replicas, which kassa
// does not use.
const l0Retention = 30 * time.Second

// ErrClosed is returned by the methods of a closed Replicator.
var ErrClosed = errors.New("backup: replicator closed")

// Options configure continuous replication of one database file.
type Options struct {
	// DBPath is the SQLite database file. It is created (empty) if absent,
	// so Litestream holds it before the application opens it.
	DBPath string
	// Settings say where the replica is and how often it is written.
	Settings
	// Logger receives Litestream's logs; slog.Default() if nil.
	Logger *slog.Logger
}

// Replicator continuously ships one database file's changes to its replica.
// A Replicator is safe for concurrent use.
type Replicator struct {
	opt   Options
	log   *slog.Logger
	db    *litestream.DB
	store *litestream.Store

	mu       sync.RWMutex // held for reading by Sync and Status, for writing by Close
	closed   bool
	closeErr error
}

// Start begins replicating opt.DBPath to opt.URL and returns once Litestream
// holds the database: call it after RestoreIfMissing and before the
// application opens the database. It creates the database file (and its
// directory) if absent. Start reads the replica's position before it
// returns, so an unreachable or misconfigured replica fails here rather
// than after a disk is lost; once started, replica outages are retried in
// the background (and show in Status) without failing writes.
func Start(ctx context.Context, opt Options) (*Replicator, error) {
	if opt.DBPath == "" {
		return nil, errors.New("backup: no database path")
	}
	if err := ValidateURL(opt.URL); err != nil {
		return nil, err
	}
	if err := checkEnv(opt.URL); err != nil {
		return nil, err
	}
	switch {
	case opt.SyncInterval == 0:
		opt.SyncInterval = DefaultSyncInterval
	case opt.SyncInterval < minSyncInterval:
		return nil, fmt.Errorf("backup: sync interval %s is below %s", opt.SyncInterval, minSyncInterval)
	}
	opt.Settings = opt.Settings.withDefaults()
	if opt.SnapshotInterval < 0 || opt.Retention < opt.SnapshotInterval {
		return nil, fmt.Errorf("backup: retention %s is shorter than the snapshot interval %s", opt.Retention, opt.SnapshotInterval)
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	path, err := filepath.Abs(opt.DBPath)
	if err != nil {
		return nil, fmt.Errorf("backup: database path %s: %w", opt.DBPath, err)
	}
	opt.DBPath = path
	log := opt.Logger.With("db", path)

	created, err := createIfMissing(path)
	if err != nil {
		return nil, err
	}
	fail := func(store *litestream.Store, err error) (*Replicator, error) {
		if store != nil {
			store.Close(context.WithoutCancel(ctx))
		}
		if created {
			// Leave no empty database behind: the next start must still
			// see a missing file and restore it.
			removeDB(path)
		}
		return nil, err
	}

	client, err := litestream.NewReplicaClientFromURL(opt.URL)
	if err != nil {
		return fail(nil, fmt.Errorf("backup: replica %s: %w", redact(opt.URL), err))
	}
	db := litestream.NewDB(path)
	db.MonitorInterval = opt.SyncInterval / 2
	replica := litestream.NewReplicaWithClient(db, client)
	replica.SyncInterval = opt.SyncInterval - db.MonitorInterval
	db.Replica = replica
	if fc, ok := client.(*file.ReplicaClient); ok {
		fc.Replica = replica // lets it give replica files the database's owner and mode
	}

	// L1 every 5m and L2 hourly, plus a snapshot every SnapshotInterval: a
	// restore reads at most a few dozen files and the L0 tail whatever the
	// age of the last snapshot. There is no 10s level: the ledger's random
	// keys make every short window rewrite pages all over its indexes, so a
	// 10s level cost 6-11 KB a checkout entry against 1-2.3 KB at 5m (on a
	// database under 1 GB), and Litestream keeps every level for the whole
	// retention window
	// (docs/backup.md, docs/BENCHMARKS.md "Memory and disk"). Litestream
	// enforces Retention on the snapshot's schedule: older snapshots go, and
	// with them the L1 and L2 files they cover; L0 files go l0Retention
	// after their compaction into L1.
	store := litestream.NewStore([]*litestream.DB{db}, litestream.CompactionLevels{
		{Level: 0},
		{Level: 1, Interval: 5 * time.Minute},
		{Level: 2, Interval: time.Hour},
	})
	store.SnapshotInterval = opt.SnapshotInterval
	store.SnapshotRetention = opt.Retention
	store.SetL0Retention(l0Retention)
	// NewStore gives the database the default logger; replace it.
	store.Logger = log.With("system", "store")
	db.SetLogger(log)

	if err := store.Open(ctx); err != nil {
		return fail(store, fmt.Errorf("backup: start replication of %s: %w", path, err))
	}
	// Litestream connects to the database lazily on its first sync; do it
	// now so it holds its read lock before the application's connections
	// exist. This also reads the replica's position.
	if err := db.Sync(ctx); err != nil {
		return fail(store, fmt.Errorf("backup: start replication of %s to %s: %w", path, redact(opt.URL), err))
	}
	log.Info("backup: replicating", "replica", redact(opt.URL), "sync_interval", opt.SyncInterval,
		"snapshot_interval", opt.SnapshotInterval, "retention", opt.Retention)
	return &Replicator{opt: opt, log: log, db: db, store: store}, nil
}

// createIfMissing creates an empty database file and reports whether it did.
func createIfMissing(path string) (bool, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("backup: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("backup: create %s: %w", path, err)
	}
	return true, f.Close()
}

// removeDB removes a database that Start created and Litestream's files
// for it.
func removeDB(path string) {
	dir, name := filepath.Split(path)
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
	os.RemoveAll(filepath.Join(dir, "."+name+litestream.MetaDirSuffix))
}

// Sync ships everything committed to the database so far to the replica and
// waits until the replica holds it. It returns ErrClosed after Close, and
// the replica's error if it cannot be written.
func (r *Replicator) Sync(ctx context.Context) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return ErrClosed
	}
	if err := r.db.SyncAndWait(ctx); err != nil {
		return fmt.Errorf("backup: sync %s: %w", r.opt.DBPath, err)
	}
	return nil
}

// Status is how far replication has got.
type Status struct {
	// LocalTXID is the last transaction Litestream has copied from the WAL.
	LocalTXID uint64
	// ReplicaTXID is the last transaction the replica holds.
	ReplicaTXID uint64
	// LastSync is when an upload to the replica last succeeded (zero if
	// none has since Start).
	LastSync time.Time
}

// InSync reports whether the replica holds everything Litestream has seen.
func (s Status) InSync() bool { return s.LocalTXID > 0 && s.LocalTXID == s.ReplicaTXID }

// Status reports the replication position; it asks the replica for its
// position, so it does I/O. It returns ErrClosed after Close.
func (r *Replicator) Status(ctx context.Context) (Status, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return Status{}, ErrClosed
	}
	st, err := r.db.SyncStatus(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("backup: status of %s: %w", r.opt.DBPath, err)
	}
	return Status{
		LocalTXID:   uint64(st.LocalTXID),
		ReplicaTXID: uint64(st.RemoteTXID),
		LastSync:    r.db.LastSuccessfulSyncAt(),
	}, nil
}

// Close ships what is left to the replica (retrying for up to 30 seconds,
// or until ctx ends) and stops replicating. Call it only after the
// application has closed its connections to the database. It returns the
// final sync's error, if any; later calls return the same.
func (r *Replicator) Close(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return r.closeErr
	}
	r.closed = true
	if err := r.store.Close(ctx); err != nil {
		r.closeErr = fmt.Errorf("backup: close %s: %w", r.opt.DBPath, err)
		r.log.Error("backup: final sync failed", "error", err)
		return r.closeErr
	}
	r.log.Info("backup: stopped")
	return nil
}
