package checkout_test

// A region's memory and disk per entry after N checkouts through its API,
// folds included (orders, sessions, the credit book, outbox and webhook
// state), for docs/BENCHMARKS.md ("Memory and disk"). It runs only when
// KASSA_MEMDISK_CHECKOUTS is set; KASSA_MEMDISK_PROFILE names a file for
// the heap profile after the run, to split the heap by package:
//
//	KASSA_MEMDISK_CHECKOUTS=30000 KASSA_MEMDISK_PROFILE=/tmp/heap.out \
//	  go test ./checkout -run TestRegionMemoryAndDisk -count=1 -v -timeout 30m
//	go tool pprof -top -inuse_space /tmp/heap.out

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kassa/region"
)

func TestRegionMemoryAndDisk(t *testing.T) {
	v := os.Getenv("KASSA_MEMDISK_CHECKOUTS")
	if v == "" {
		t.Skip("set KASSA_MEMDISK_CHECKOUTS=<checkouts> (e.g. 30000) to measure a region's memory and disk per entry")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("KASSA_MEMDISK_CHECKOUTS: got %q, want a positive number", v)
	}
	before := regionMemory(t)

	// A region of its own rather than startRegions: that one keeps every log
	// line in memory, which would count as the region's heap.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "r1")
	cfg := testConfig("r1", dir, ln.Addr().String())
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := region.EnsureKey(cfg.KeyFile); err != nil {
		t.Fatal(err)
	}
	r, err := region.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done; r.Close() })
	base := cfg.PublicURL
	waitReady(t, base)
	opened := regionMemory(t)

	c := benchClient()
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if !checkoutAndCapture(c, base, fmt.Sprintf("m-%d", i)) {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d checkouts failed", f, n)
	}
	c.CloseIdleConnections()
	entries := r.Ledger().Count()
	after := regionMemory(t)
	if p := os.Getenv("KASSA_MEMDISK_PROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	db := filepath.Join(dir, "kassa.db")
	dbSize, walSize := sizeOf(t, db), sizeOf(t, db+"-wal")
	replica := dirSize(t, filepath.Join(dir, "backup"))

	t.Logf("%d checkouts (session, pay-later authorization, capture) in %s, %d entries (%.2f a checkout)",
		n, took.Round(time.Second), entries, float64(entries)/float64(n))
	t.Logf("heap in use after GC: before the region %.1f MiB, region ready %.1f MiB, after %.1f MiB (%.0f B/entry, %.0f B/checkout over the ready region)",
		mebi(before.heap), mebi(opened.heap), mebi(after.heap),
		float64(after.heap-opened.heap)/float64(entries), float64(after.heap-opened.heap)/float64(n))
	t.Logf("RSS: before the region %.1f MiB, after %.1f MiB, peak %.1f MiB", mebi(before.rss), mebi(after.rss), mebi(after.peakRSS))
	t.Logf("disk: database %.1f MiB + WAL %.1f MiB = %.0f B/entry (database alone %.0f B/entry); replica %.1f MiB",
		mebi(dbSize), mebi(walSize), float64(dbSize+walSize)/float64(entries), float64(dbSize)/float64(entries), mebi(replica))
}

// checkoutAndCapture is one checkout as `kassa bench` makes it: a session,
// its pay-later authorization for a new consumer, and the capture of the
// order. It reports whether all three succeeded.
func checkoutAndCapture(c *http.Client, base, key string) bool {
	code, s, err := callWith(c, "POST", base+"/v1/sessions", key, sessionBody(25_900, key))
	if err != nil || code != 201 {
		return false
	}
	code, o, err := callWith(c, "POST", base+"/v1/sessions/"+s["id"].(string)+"/authorize", key+"-a",
		map[string]any{"method": "pay_later", "consumer": consumer(key + "@example.com")})
	if err != nil || code != 201 || o["status"] != "authorized" {
		return false
	}
	code, _, err = callWith(c, "POST", base+"/v1/orders/"+o["id"].(string)+"/captures", key+"-c", map[string]any{"amount": 25_900})
	return err == nil && code == 201
}

// usage is the process's memory at one moment.
type usage struct {
	heap    int64 // Go heap in use after a GC (runtime.MemStats.HeapInuse)
	rss     int64 // resident set (VmRSS)
	peakRSS int64 // the most resident so far (VmHWM)
}

// regionMemory collects garbage twice (finalizers free more on the second)
// and reads the heap and the process's resident set.
func regionMemory(t *testing.T) usage {
	t.Helper()
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	u := usage{heap: int64(ms.HeapInuse)}
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
			u.rss = kb << 10
		} else {
			u.peakRSS = kb << 10
		}
	}
	return u
}

func sizeOf(t *testing.T, path string) int64 {
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

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if fi, err := d.Info(); err == nil && !d.IsDir() {
			total += fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

func mebi(b int64) float64 { return float64(b) / (1 << 20) }
