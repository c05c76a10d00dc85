package backup_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/prometheus/client_golang/prometheus"

	"kassa/backup"
	"kassa/ledger"
)

// roundTrip writes n entries under replication to replicaURL, syncs, and
// checks that a restore taken while the region is still running (as after a
// lost disk) holds exactly what the ledger holds; then it closes the ledger
// and the replicator in that order.
func roundTrip(t *testing.T, replicaURL string, n int) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "kassa.db")

	r := MustStart(t, dbPath, replicaURL)
	s := MustOpenLedger(t, dbPath)
	appendSales(t, s, 1, n)
	if err := r.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if !st.InSync() || st.LastSync.IsZero() {
		t.Errorf("status after sync: got %+v, want in sync with a last sync time", st)
	}
	wantCount, wantDigest := s.Count(), s.Digest()
	if wantCount != int64(n) {
		t.Fatalf("ledger count: got %d, want %d", wantCount, n)
	}

	live := filepath.Join(t.TempDir(), "live.db")
	if err := backup.Restore(ctx, replicaURL, live, time.Time{}); err != nil {
		t.Fatalf("restore while running: %v", err)
	}
	mustVerify(t, live, wantCount, wantDigest)

	if err := s.Close(); err != nil {
		t.Fatalf("close ledger: %v", err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatalf("close replicator: %v", err)
	}
	if err := r.Close(ctx); err != nil {
		t.Errorf("second close: got %v, want nil", err)
	}
	if err := r.Sync(ctx); !errors.Is(err, backup.ErrClosed) {
		t.Errorf("sync after close: got %v, want ErrClosed", err)
	}

	restored := filepath.Join(t.TempDir(), "sub", "restored.db")
	if err := backup.Restore(ctx, replicaURL, restored, time.Time{}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	entries, err := os.ReadDir(filepath.Dir(restored))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("restore left files behind: got %v, want [restored.db]", names)
	}
	mustVerify(t, restored, wantCount, wantDigest)
	if fi, err := os.Stat(restored); err != nil {
		t.Fatal(err)
	} else if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("restored file mode: got %v, want -rw-------", got)
	}
}

func TestFileReplicaRoundTrip(t *testing.T) {
	roundTrip(t, fileURL(filepath.Join(t.TempDir(), "replica")), 50)
}

func TestS3ReplicaRoundTrip(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "kassa-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "kassa-test-secret")
	t.Setenv("AWS_CA_BUNDLE", "") // see TestS3RejectsCABundle
	mem := s3mem.New()
	if err := mem.CreateBucket("kassa"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(mem).Server())
	t.Cleanup(srv.Close)

	replicaURL := "s3://kassa/regions/r1?endpoint=" + srv.URL + "&region=us-east-1"
	roundTrip(t, replicaURL, 50)

	t.Run("no backup", func(t *testing.T) {
		empty := "s3://kassa/regions/r9?endpoint=" + srv.URL + "&region=us-east-1"
		err := backup.Restore(context.Background(), empty, filepath.Join(t.TempDir(), "x.db"), time.Time{})
		if !errors.Is(err, backup.ErrNoBackup) {
			t.Errorf("restore from empty prefix: got %v, want ErrNoBackup", err)
		}
	})
	t.Run("missing bucket is not an empty backup", func(t *testing.T) {
		missing := "s3://nosuchbucket/r1?endpoint=" + srv.URL + "&region=us-east-1"
		err := backup.Restore(context.Background(), missing, filepath.Join(t.TempDir(), "x.db"), time.Time{})
		if err == nil || errors.Is(err, backup.ErrNoBackup) {
			t.Errorf("restore from missing bucket: got %v, want an error other than ErrNoBackup", err)
		}
	})
}

// TestS3RejectsCABundle: Litestream's S3 client fails to load its AWS
// config when AWS_CA_BUNDLE is set; Start and Restore say what to do.
func TestS3RejectsCABundle(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
	u := "s3://kassa/r1?endpoint=http://127.0.0.1:1&region=us-east-1"
	_, err := backup.Start(context.Background(), backup.Options{DBPath: filepath.Join(t.TempDir(), "k.db"), Settings: backup.Settings{URL: u}, Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), "AWS_CA_BUNDLE") {
		t.Errorf("start: got %v, want an error naming AWS_CA_BUNDLE", err)
	}
	err = backup.Restore(context.Background(), u, filepath.Join(t.TempDir(), "k.db"), time.Time{})
	if err == nil || !strings.Contains(err.Error(), "AWS_CA_BUNDLE") {
		t.Errorf("restore: got %v, want an error naming AWS_CA_BUNDLE", err)
	}
}

// TestS3Refused is a replica that answers every request with Access
// Denied: Start fails and leaves no empty database behind (so the next
// start still restores), and Restore does not mistake it for an empty
// replica.
func TestS3Refused(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "kassa-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	t.Setenv("AWS_CA_BUNDLE", "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
	}))
	t.Cleanup(srv.Close)
	sseKey := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	u := "s3://kassa/r1?endpoint=" + srv.URL + "&region=us-east-1&sseCustomerAlgorithm=AES256&sseCustomerKey=" + url.QueryEscape(sseKey)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	dbPath := filepath.Join(t.TempDir(), "kassa.db")
	r, err := backup.Start(ctx, backup.Options{DBPath: dbPath, Settings: backup.Settings{URL: u}, Logger: quietLogger()})
	if err == nil {
		r.Close(ctx)
		t.Fatalf("start against a refusing replica: got nil error")
	}
	if strings.Contains(err.Error(), sseKey) || strings.Contains(err.Error(), url.QueryEscape(sseKey)) {
		t.Errorf("start error shows the SSE-C key: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(dbPath)); len(entries) != 0 {
		t.Errorf("failed start left %d files behind", len(entries))
	}
	err = backup.Restore(ctx, u, filepath.Join(t.TempDir(), "kassa.db"), time.Time{})
	if err == nil || errors.Is(err, backup.ErrNoBackup) {
		t.Errorf("restore from a refusing replica: got %v, want an error other than ErrNoBackup", err)
	}
}

func TestRestoreTargets(t *testing.T) {
	ctx := context.Background()
	replicaURL := fileURL(filepath.Join(t.TempDir(), "replica"))
	dbPath := filepath.Join(t.TempDir(), "kassa.db")
	r := MustStart(t, dbPath, replicaURL)
	s := MustOpenLedger(t, dbPath)
	appendSales(t, s, 1, 10)
	if err := r.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	wantCount, wantDigest := s.Count(), s.Digest()

	t.Run("RestoreIfMissing restores a missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "data", "kassa.db")
		restored, err := backup.RestoreIfMissing(ctx, replicaURL, path, quietLogger())
		if err != nil || !restored {
			t.Fatalf("RestoreIfMissing: got %v, %v, want true, nil", restored, err)
		}
		mustVerify(t, path, wantCount, wantDigest)
	})
	t.Run("RestoreIfMissing leaves an existing file alone", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kassa.db")
		if err := os.WriteFile(path, []byte("not touched"), 0o600); err != nil {
			t.Fatal(err)
		}
		before := fileHash(t, path)
		restored, err := backup.RestoreIfMissing(ctx, replicaURL, path, quietLogger())
		if err != nil || restored {
			t.Fatalf("RestoreIfMissing: got %v, %v, want false, nil", restored, err)
		}
		if fileHash(t, path) != before {
			t.Errorf("RestoreIfMissing changed an existing file")
		}
	})
	t.Run("RestoreIfMissing on an empty replica is a fresh region", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kassa.db")
		restored, err := backup.RestoreIfMissing(ctx, fileURL(t.TempDir()), path, quietLogger())
		if err != nil || restored {
			t.Fatalf("RestoreIfMissing: got %v, %v, want false, nil", restored, err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stat %s: got %v, want not exist", path, err)
		}
	})
	t.Run("Restore refuses an existing target", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kassa.db")
		if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
		before := fileHash(t, path)
		err := backup.Restore(ctx, replicaURL, path, time.Time{})
		if !errors.Is(err, backup.ErrExists) {
			t.Errorf("restore onto existing file: got %v, want ErrExists", err)
		}
		if fileHash(t, path) != before {
			t.Errorf("restore changed an existing file")
		}
	})
	t.Run("Restore refuses a leftover WAL", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kassa.db")
		if err := os.WriteFile(path+"-wal", []byte("stale"), 0o600); err != nil {
			t.Fatal(err)
		}
		err := backup.Restore(ctx, replicaURL, path, time.Time{})
		if !errors.Is(err, backup.ErrExists) {
			t.Errorf("restore next to a stale WAL: got %v, want ErrExists", err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stat %s: got %v, want not exist", path, err)
		}
	})
	t.Run("Restore from an empty replica", func(t *testing.T) {
		for name, dir := range map[string]string{
			"existing dir": t.TempDir(),
			"missing dir":  filepath.Join(t.TempDir(), "nothing-here"),
		} {
			dst := t.TempDir()
			err := backup.Restore(ctx, fileURL(dir), filepath.Join(dst, "kassa.db"), time.Time{})
			if !errors.Is(err, backup.ErrNoBackup) {
				t.Errorf("%s: got %v, want ErrNoBackup", name, err)
			}
			if entries, _ := os.ReadDir(dst); len(entries) != 0 {
				t.Errorf("%s: failed restore left %d files behind", name, len(entries))
			}
		}
	})
	t.Run("Restore rejects a bad URL", func(t *testing.T) {
		err := backup.Restore(ctx, "file://relative/dir", filepath.Join(t.TempDir(), "kassa.db"), time.Time{})
		if err == nil {
			t.Errorf("restore from a file URL with a host: got nil error")
		}
	})
}

// TestRestoredRegionKeepsReplicating is a region that lost its disk: it
// restores, replicates to the same replica again, writes more, and a second
// restore holds both the old and the new entries.
func TestRestoredRegionKeepsReplicating(t *testing.T) {
	ctx := context.Background()
	replicaURL := fileURL(filepath.Join(t.TempDir(), "replica"))

	first := filepath.Join(t.TempDir(), "kassa.db")
	r := MustStart(t, first, replicaURL)
	s := MustOpenLedger(t, first)
	appendSales(t, s, 1, 20)
	if err := r.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	s.Close()
	r.Close(ctx)

	second := filepath.Join(t.TempDir(), "kassa.db")
	if restored, err := backup.RestoreIfMissing(ctx, replicaURL, second, quietLogger()); err != nil || !restored {
		t.Fatalf("RestoreIfMissing: got %v, %v, want true, nil", restored, err)
	}
	r2 := MustStart(t, second, replicaURL)
	s2 := MustOpenLedger(t, second)
	if got := s2.Count(); got != 20 {
		t.Fatalf("restored ledger count: got %d, want 20", got)
	}
	appendSales(t, s2, 21, 5)
	if err := r2.Sync(ctx); err != nil {
		t.Fatalf("sync after restore: %v", err)
	}
	wantCount, wantDigest := s2.Count(), s2.Digest()
	s2.Close()
	if err := r2.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}

	third := filepath.Join(t.TempDir(), "kassa.db")
	if err := backup.Restore(ctx, replicaURL, third, time.Time{}); err != nil {
		t.Fatalf("second restore: %v", err)
	}
	mustVerify(t, third, wantCount, wantDigest)
}

// TestPointInTime restores the state between two batches.
func TestPointInTime(t *testing.T) {
	ctx := context.Background()
	replicaURL := fileURL(filepath.Join(t.TempDir(), "replica"))
	dbPath := filepath.Join(t.TempDir(), "kassa.db")
	r := MustStart(t, dbPath, replicaURL)
	s := MustOpenLedger(t, dbPath)

	appendSales(t, s, 1, 10)
	if err := r.Sync(ctx); err != nil {
		t.Fatalf("sync A: %v", err)
	}
	wantCount, wantDigest := s.Count(), s.Digest()

	// Litestream stamps each shipped change with the wall clock, in whole
	// milliseconds, when it copies it from the WAL, and a point-in-time
	// restore takes the changes stamped strictly before the given time. So
	// the cut must fall on a later millisecond than batch A's stamp, and
	// batch B must be stamped on a later millisecond than the cut. This
	// waits for the wall clock to tick (about 2ms); it does not stand in
	// for any synchronisation, which Sync provides.
	waitNextMillisecond()
	cut := time.Now()
	waitNextMillisecond()

	appendSales(t, s, 11, 10)
	if err := r.Sync(ctx); err != nil {
		t.Fatalf("sync B: %v", err)
	}

	atCut := filepath.Join(t.TempDir(), "at-cut.db")
	if err := backup.Restore(ctx, replicaURL, atCut, cut); err != nil {
		t.Fatalf("restore at %s: %v", cut, err)
	}
	mustVerify(t, atCut, wantCount, wantDigest)

	latest := filepath.Join(t.TempDir(), "latest.db")
	if err := backup.Restore(ctx, replicaURL, latest, time.Time{}); err != nil {
		t.Fatalf("restore latest: %v", err)
	}
	mustVerify(t, latest, s.Count(), s.Digest())

	before := filepath.Join(t.TempDir(), "before.db")
	err := backup.Restore(ctx, replicaURL, before, time.Now().Add(-time.Hour))
	if !errors.Is(err, backup.ErrNoBackup) {
		t.Errorf("restore before the first backup: got %v, want ErrNoBackup", err)
	}
}

func waitNextMillisecond() {
	start := time.Now().UnixMilli()
	for time.Now().UnixMilli() <= start {
		time.Sleep(100 * time.Microsecond)
	}
}

// TestRegionsInOneProcess runs three replicators at once, as a three-region
// test cluster in one process does (same file name, different directories),
// and restarts one, which re-registers Litestream's metrics.
func TestRegionsInOneProcess(t *testing.T) {
	ctx := context.Background()
	type reg struct {
		db, replica string
		r           *backup.Replicator
	}
	var regs []*reg
	for range 3 {
		dir := t.TempDir()
		g := &reg{db: filepath.Join(dir, "kassa.db"), replica: fileURL(filepath.Join(dir, "backup"))}
		g.r = MustStart(t, g.db, g.replica)
		regs = append(regs, g)
	}
	var ledgers []*ledger.Store
	for _, g := range regs {
		ledgers = append(ledgers, MustOpenLedger(t, g.db))
	}
	for i, g := range regs {
		appendSales(t, ledgers[i], 1, 5*(i+1))
		if err := g.r.Sync(ctx); err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
	}
	if _, err := prometheus.DefaultGatherer.Gather(); err != nil {
		t.Errorf("gather metrics with three replicators: %v", err)
	}
	for i, g := range regs {
		ledgers[i].Close()
		if err := g.r.Close(ctx); err != nil {
			t.Fatalf("close: %v", err)
		}
	}

	// Restart the first region in the same process.
	g := regs[0]
	r := MustStart(t, g.db, g.replica)
	s := MustOpenLedger(t, g.db)
	appendSales(t, s, 6, 1)
	if err := r.Sync(ctx); err != nil {
		t.Fatalf("sync after restart: %v", err)
	}
	s.Close()
	if err := r.Close(ctx); err != nil {
		t.Fatalf("close after restart: %v", err)
	}
	if _, err := prometheus.DefaultGatherer.Gather(); err != nil {
		t.Errorf("gather metrics after restart: %v", err)
	}

	for i, g := range regs {
		want := int64(5 * (i + 1))
		if i == 0 {
			want++
		}
		path := filepath.Join(t.TempDir(), "restored.db")
		if err := backup.Restore(ctx, g.replica, path, time.Time{}); err != nil {
			t.Fatalf("restore %d: %v", i, err)
		}
		rep, err := ledger.Verify(ctx, path, testKeys())
		if err != nil {
			t.Fatalf("verify %d: %v", i, err)
		}
		if rep.Entries != want {
			t.Errorf("region %d restored entries: got %d, want %d", i, rep.Entries, want)
		}
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	for name, opt := range map[string]backup.Options{
		"no path":       {Settings: backup.Settings{URL: fileURL(dir)}},
		"bad URL":       {DBPath: filepath.Join(dir, "a.db"), Settings: backup.Settings{URL: "ftp://x/y"}},
		"tiny interval": {DBPath: filepath.Join(dir, "b.db"), Settings: backup.Settings{URL: fileURL(dir), SyncInterval: time.Microsecond}},
	} {
		opt.Logger = quietLogger()
		if r, err := backup.Start(context.Background(), opt); err == nil {
			r.Close(context.Background())
			t.Errorf("%s: got nil error", name)
		} else if !strings.HasPrefix(err.Error(), "backup: ") {
			t.Errorf("%s: got %q, want a backup: prefix", name, err)
		}
	}
}

func TestValidateURL(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want string // substring of the error; "" for valid
	}{
		{"file:///var/lib/kassa/backup", ""},
		{"file:///tmp/a%20b", ""},
		{"s3://bucket/kassa/r1", ""},
		{"s3://bucket/kassa/r1?endpoint=http://127.0.0.1:9000&region=us-east-1", ""},
		{"s3://bucket/r1?endpoint=minio.local:9000", ""},
		{"", "no replica URL"},
		{"/var/lib/kassa/backup", "no scheme"},
		{"ftp://host/dir", `scheme "ftp" is not supported`},
		{"gs://bucket/path", `scheme "gs" is not supported`},
		{"file://data/backup", `names host "data"`},
		{"file://./data/backup", `names host "."`},
		{"file:///", "root directory"},
		{"file:///tmp/x?y=1", "no query"},
		{"s3://", "names no bucket"},
		{"s3://bucket", "needs a path"},
		{"s3://bucket/", "needs a path"},
		{"s3://key:secret@bucket/r1", "must not carry credentials"},
		{"s3://bucket/r1?endpoint=ftp://host", "must be http or https"},
		{"s3://bucket/r1?endpoint=http://", "names no host"},
		{"s3://bucket/r1?partSize=-1", "partSize"},
	} {
		t.Run(tt.url, func(t *testing.T) {
			err := backup.ValidateURL(tt.url)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Errorf("got nil, want an error containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			case err != nil && !strings.HasPrefix(err.Error(), "backup: "):
				t.Errorf("got %q, want a backup: prefix", err)
			}
		})
	}
}

// BenchmarkAppendSync measures one ledger append followed by a Sync to a
// file replica: the cost of shipping a small commit on shutdown or in tests.
func BenchmarkAppendSync(b *testing.B) {
	ctx := context.Background()
	dbPath := filepath.Join(b.TempDir(), "kassa.db")
	r := MustStart(b, dbPath, fileURL(filepath.Join(b.TempDir(), "replica")))
	s := MustOpenLedger(b, dbPath)
	b.ResetTimer()
	for i := range b.N {
		appendSales(b, s, i+1, 1)
		if err := r.Sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
