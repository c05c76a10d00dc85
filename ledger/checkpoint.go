package ledger

import "time"

// checkpointEvery is the least time between two checkpoints while commits
// keep coming.
const checkpointEvery = 200 * time.Millisecond

// backstopFrames is the WAL size, in frames, at which a commit checkpoints
// itself (SQLite's auto-checkpoint); walLimitBytes is what the WAL file is
// cut back to once SQLite starts it over.
const (
	backstopFrames = 4000
	walLimitBytes  = 64 << 20
)

// checkpointer copies the WAL back into the database file, as SQLite's
// auto-checkpoint would, but on its own connection and goroutine, so that a
// commit does not wait for a checkpoint's copying and fsync and the next
// group commits meanwhile (the write connection's own auto-checkpoint is
// only a backstop, at backstopFrames). It
// wakes after commits and checkpoints at most every checkpointEvery, so a
// page rewritten by many commits in between is copied once. The checkpoints
// are PASSIVE: they never block a writer or a reader and copy only what no
// reader still needs (Litestream, when it replicates the database,
// checkpoints the same way and keeps what it has not shipped). It stops when
// checkpoint is closed, after a last checkpoint.
func (s *Store) checkpointer() {
	defer close(s.checkpointDone)
	var last time.Time
	pending := false
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	run := func() {
		if _, err := s.cdb.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
			s.log.Warn("ledger: checkpoint", "err", err)
		}
		last, pending = time.Now(), false
	}
	for {
		select {
		case _, ok := <-s.checkpoint:
			if !ok {
				if pending {
					run()
				}
				return
			}
			if wait := checkpointEvery - time.Since(last); wait > 0 {
				if !pending {
					pending = true
					timer.Reset(wait)
				}
				continue
			}
			run()
		case <-timer.C:
			if pending {
				run()
			}
		}
	}
}

// wakeCheckpointer tells the checkpointer that a commit happened.
func (s *Store) wakeCheckpointer() {
	select {
	case s.checkpoint <- struct{}{}:
	default:
	}
}
