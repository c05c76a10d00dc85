package region

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrDataDirInUse is returned by LockDataDir when another process holds the
// data directory: a running region, or a command writing to its ledger.
var ErrDataDirInUse = errors.New("region: the data directory is in use by another kassa process")

// LockDataDir takes the data directory's lock file (kassa.lock) for this
// process, so that two processes never write one region's ledger: each
// would number its entries from its own idea of the chain's head and fork
// it. The lock ends with the process or when the returned function is
// called. It returns an error wrapping ErrDataDirInUse if another process
// holds it.
func LockDataDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, "kassa.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("region: lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s)", ErrDataDirInUse, path)
		}
		return nil, fmt.Errorf("region: lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
