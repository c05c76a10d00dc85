package ledger

import (
	"context"
	"errors"
	"time"

	"modernc.org/sqlite"
)

// The write connection waits for SQLite's write lock itself, polling every
// busyPoll for up to busyWait, instead of through SQLite's busy handler:
// that handler sleeps in growing steps (1, 2, 5, 10, 15, 20, 25, 25, 25,
// 50, 50, 100 ms), so a commit that found the lock taken by the backup's
// checkpoint (Litestream holds it for tens of milliseconds while it
// copies the WAL back) took it up to 25 ms after it was free, or 50-100
// ms once it had waited 100 ms, and every request queued behind that
// commit waited as long. See docs/ledger.md, "Waiting for the write lock".
const (
	busyPoll = time.Millisecond
	busyWait = 5 * time.Second
)

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == 5 // SQLITE_BUSY
}

// retryBusy runs f, which takes the write lock, and runs it again every
// busyPoll while it fails because another connection holds the lock, for
// up to busyWait or until ctx ends; it returns f's last error. Every wait,
// however it ends, is counted in m.
func retryBusy(ctx context.Context, m *Metrics, f func() error) error {
	err := f()
	if err == nil || !isBusy(err) {
		return err
	}
	start := time.Now()
	defer func() { m.waitedForLock(time.Since(start)) }()
	t := time.NewTimer(busyPoll)
	defer t.Stop()
	for isBusy(err) && time.Since(start) < busyWait {
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		err = f()
		t.Reset(busyPoll)
	}
	return err
}
