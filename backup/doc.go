// Package backup owns the continuous backup of one region's SQLite database
// to a replica (a local folder or an S3 bucket) with embedded Litestream,
// and the restore of that database from the replica.
//
// A Replicator ships every committed change of the database file to the
// replica URL in the background: Litestream copies new WAL frames into
// local LTX files and uploads them, compacts them into coarser levels and
// takes a snapshot every Settings.SnapshotInterval (daily by default), so a
// restore reads a handful of files and can stop at any point in time within
// the retention window (Settings.Retention, 24 hours by default). Litestream
// itself deletes what falls out of that window, which bounds the replica to
// about Retention/SnapshotInterval + 1 copies of the database plus the pages
// changed in the window (docs/backup.md).
//
// Durability: a region acknowledges a write after its own commit (fsynced
// only under durability fsync), and pushes it to its peers at once. A lost
// disk therefore loses only what was neither pushed to a peer nor shipped
// to the replica: at most about Options.SyncInterval of writes (plus the
// time an upload takes), or everything since the replica became
// unreachable while it stays so. Operators who cannot accept that window
// choose durability peer: a write is acknowledged only once a peer holds
// the entry. Sync ships everything committed so far and waits, for
// shutdown and tests.
//
// Ordering: Litestream must hold its connection to the database before the
// application opens its own, and must be closed only after the
// application's connections are closed (SQLite's POSIX locks are per
// process, so closing Litestream's file descriptor early drops the locks
// the application's connections rely on). A region therefore starts with
// RestoreIfMissing, then Start, then opens its ledger, and stops by closing
// its ledger and then the Replicator. The application must use
// modernc.org/sqlite, the driver Litestream uses, and set pragmas in its DSN.
//
// Invariants:
//
//   - Restore never overwrites: the target must not exist, the state is
//     written to a temporary file in the target's directory, checked and then
//     linked into place, so a failed restore leaves nothing behind.
//   - At most one Replicator runs per database file; several Replicators for
//     different files may run in one process (Litestream labels its
//     Prometheus metrics, registered in the default registry, by path).
//   - The package keeps no global state; the logger is passed in.
package backup
