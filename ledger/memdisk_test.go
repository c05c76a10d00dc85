package ledger_test

// The ledger's memory and disk per entry after a million entries, for
// docs/BENCHMARKS.md ("Memory and disk"). It is a test, not a benchmark,
// because it measures a state (after N entries), not a rate; it runs only
// when KASSA_MEMDISK is set, so the default `go test` stays fast:
//
//	KASSA_MEMDISK=1000000 go test ./ledger -run TestMemoryAndDiskPerEntry -count=1 -v -timeout 30m

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memdiskCallers is how many callers append at once: enough for large group
// commits, as under checkout load.
const memdiskCallers = 256

func TestMemoryAndDiskPerEntry(t *testing.T) {
	n := memdiskEntries(t)
	drafts := benchDrafts() // before measuring: the pool is the test's, not the store's
	before := measureMemory(t)
	s, _ := openBenchStore(t, benchLocal)
	opened := measureMemory(t)

	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range memdiskCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
				d := drafts[i%benchPool]
				// Each entry its own order, as in production: the pool's
				// subjects would repeat and flatter the subject index.
				d.Subject = fmt.Sprintf("order-%016x", uint64(i)*0x9e3779b97f4a7c15)
				if _, err := s.Append(context.Background(), d); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if t.Failed() {
		return
	}
	if got := s.Count(); got != n {
		t.Fatalf("entries: got %d, want %d", got, n)
	}
	after := measureMemory(t)
	db, wal := fileSize(t, s.Path()), fileSize(t, s.Path()+"-wal")

	t.Logf("%d entries in %s (%.0f entries/s, %d callers)", n, took.Round(time.Second), float64(n)/took.Seconds(), memdiskCallers)
	t.Logf("heap in use after GC: before open %.1f MiB, after open %.1f MiB, after %d entries %.1f MiB (%.1f B/entry over the open store)",
		mib(before.heap), mib(opened.heap), n, mib(after.heap), float64(after.heap-opened.heap)/float64(n))
	t.Logf("RSS: before open %.1f MiB, after %.1f MiB, peak %.1f MiB", mib(before.rss), mib(after.rss), mib(after.peakRSS))
	t.Logf("disk: database %.1f MiB + WAL %.1f MiB = %.1f B/entry (database alone %.1f B/entry)",
		mib(db), mib(wal), float64(db+wal)/float64(n), float64(db)/float64(n))
}

// memdiskEntries is how many entries KASSA_MEMDISK asks for; the test is
// skipped without it.
func memdiskEntries(t *testing.T) int64 {
	t.Helper()
	v := os.Getenv("KASSA_MEMDISK")
	if v == "" {
		t.Skip("set KASSA_MEMDISK=<entries> (e.g. 1000000) to measure memory and disk per entry")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		t.Fatalf("KASSA_MEMDISK: got %q, want a positive number of entries", v)
	}
	return n
}

// memory is the process's memory at one moment.
type memory struct {
	heap    int64 // Go heap in use after a GC (runtime.MemStats.HeapInuse)
	rss     int64 // resident set (VmRSS)
	peakRSS int64 // the most resident so far (VmHWM)
}

// measureMemory collects garbage twice (finalizers free more on the second)
// and reads the heap and the process's resident set.
func measureMemory(t *testing.T) memory {
	t.Helper()
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := memory{heap: int64(ms.HeapInuse)}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatalf("RSS needs /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("/proc/self/status %s: %q", k, v)
		}
		if k == "VmRSS" {
			m.rss = kb << 10
		} else {
			m.peakRSS = kb << 10
		}
	}
	return m
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
