package backup_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"kassa/backup"
	"kassa/ledger"
)

const region = ledger.RegionID("r1")

// regionKey is r1's deterministic test key.
func regionKey() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "test-seed:r1")
	return ed25519.NewKeyFromSeed(seed)
}

func testKeys() ledger.Keys {
	return ledger.Keys{region: regionKey().Public().(ed25519.PublicKey)}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fileURL is the file replica URL of dir, which must be absolute.
func fileURL(dir string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()
}

// MustStart starts replicating dbPath to replicaURL; the replicator is
// closed at the end of the test unless the test closed it.
func MustStart(tb testing.TB, dbPath, replicaURL string) *backup.Replicator {
	tb.Helper()
	r, err := backup.Start(context.Background(), backup.Options{
		DBPath:   dbPath,
		Settings: backup.Settings{URL: replicaURL},
		Logger:   quietLogger(),
	})
	if err != nil {
		tb.Fatalf("start: %v", err)
	}
	tb.Cleanup(func() { r.Close(context.Background()) })
	return r
}

// MustOpenLedger opens r1's ledger at path; it is closed at the end of the
// test unless the test closed it. Register it after MustStart so cleanup
// closes the ledger before the replicator.
func MustOpenLedger(tb testing.TB, path string) *ledger.Store {
	tb.Helper()
	s, err := ledger.Open(context.Background(), ledger.Options{
		Path:   path,
		Region: region,
		Key:    regionKey(),
		Keys:   testKeys(),
		Logger: quietLogger(),
	})
	if err != nil {
		tb.Fatalf("open ledger: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// appendSales appends n balanced entries numbered from first.
func appendSales(tb testing.TB, s *ledger.Store, first, n int) {
	tb.Helper()
	for i := first; i < first+n; i++ {
		_, err := s.Append(context.Background(), ledger.Draft{
			Kind:    "order.captured",
			Subject: fmt.Sprintf("order-%d", i),
			Postings: []ledger.Posting{
				{Account: "consumer:c1:receivable", Amount: 100, Currency: "SEK"},
				{Account: "merchant:demo:payable", Amount: -100, Currency: "SEK"},
			},
			Data: []byte(fmt.Sprintf(`{"n":%d}`, i)),
		})
		if err != nil {
			tb.Fatalf("append %d: %v", i, err)
		}
	}
}

// mustVerify checks the ledger at path and that it holds want entries with
// digest wantDigest.
func mustVerify(tb testing.TB, path string, want int64, wantDigest ledger.Digest) {
	tb.Helper()
	rep, err := ledger.Verify(context.Background(), path, testKeys())
	if err != nil {
		tb.Fatalf("verify %s: %v", path, err)
	}
	if rep.Entries != want {
		tb.Errorf("restored entries: got %d, want %d", rep.Entries, want)
	}
	if rep.Digest != wantDigest {
		tb.Errorf("restored digest: got %s, want %s", rep.Digest, wantDigest)
	}
	if got := rep.Vector[region]; got != uint64(want) {
		tb.Errorf("restored vector[r1]: got %d, want %d", got, want)
	}
}

func fileHash(tb testing.TB, path string) [32]byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return sha256.Sum256(b)
}
