package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
)

// Marks are small named numbers that a region's components keep next to the
// ledger: a cursor into the local entry order, for example. They are local
// bookkeeping, not facts: never entries, never replicated, outside the
// derived state and the digest. A mark that is lost or older than it should
// be (a database restored from its replica) must only make its owner redo
// work, never skip any; callers choose what they store with that in mind.

// maxMarkName bounds a mark's name.
const maxMarkName = 64

func markKey(name string) (string, error) {
	if !validName(name, maxMarkName, true) {
		return "", fmt.Errorf("ledger: mark name %q must be 1-%d of [a-z0-9._-]", name, maxMarkName)
	}
	return "mark:" + name, nil
}

// SetMark stores v under name, replacing what was there. It writes through
// the single write connection between the writer's commits (the connection
// pool has one connection, so the two never interleave inside a
// transaction). It returns ErrClosed after Close. Safe for concurrent use.
func (s *Store) SetMark(ctx context.Context, name string, v int64) error {
	key, err := markKey(name)
	if err != nil {
		return err
	}
	// Holding closeMu for reading keeps Close from closing the connection
	// under the statement.
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	err = retryBusy(ctx, s.opt.Metrics, func() error {
		_, err := s.wdb.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, []byte(strconv.FormatInt(v, 10)))
		return err
	})
	if err != nil {
		return classify(fmt.Errorf("ledger: set mark %s: %w", name, err))
	}
	return nil
}

// Mark returns the value stored under name, or 0 if none was. Safe for
// concurrent use.
func (s *Store) Mark(ctx context.Context, name string) (int64, error) {
	key, err := markKey(name)
	if err != nil {
		return 0, err
	}
	var b []byte
	err = s.rdb.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("ledger: read mark %s: %w", name, err)
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: mark %s holds %q", ErrCorrupt, name, b)
	}
	return v, nil
}
