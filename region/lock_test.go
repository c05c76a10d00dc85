package region_test

import (
	"errors"
	"testing"

	"kassa/region"
)

func TestLockDataDir(t *testing.T) {
	dir := t.TempDir()
	unlock, err := region.LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := region.LockDataDir(dir); !errors.Is(err, region.ErrDataDirInUse) {
		t.Fatalf("second lock: got %v, want ErrDataDirInUse", err)
	}
	unlock()
	again, err := region.LockDataDir(dir)
	if err != nil {
		t.Fatalf("after unlock: got %v, want the lock", err)
	}
	again()
}
