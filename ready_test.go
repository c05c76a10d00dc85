package main

import (
	"context"
	"database/sql"
	"kassa/region/regiontest"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeNotReadyWithUnreadableEntry: a region whose database holds an
// entry it cannot decode (a damage SQLite's own quick_check does not see)
// does not report ready, names the entry on /readyz and in an error log
// line, refuses checkout traffic with 503 rather than 500, and keeps
// answering its peers.
func TestServeNotReadyWithUnreadableEntry(t *testing.T) {
	dir := t.TempDir()
	writeRegion(t, dir, 5)
	db, err := sql.Open("sqlite", filepath.Join(dir, "kassa.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE entries SET body = substr(body, 1, 40) WHERE origin = 'r1' AND seq = 3`); err != nil {
		t.Fatal(err)
	}
	var check string
	if err := db.QueryRow(`PRAGMA quick_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("quick_check: got %q (%v), want ok: the damage must be one SQLite does not see", check, err)
	}
	db.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var out, errb regiontest.LogBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir}, nil, &out, &errb)
	}()
	t.Cleanup(func() { cancel(); <-done })
	// Polling the log, not waiting for an event: the start-up read runs
	// after the banner.
	deadline := time.Now().Add(30 * time.Second)
	// Other components log the same damage as they meet it; the line that
	// matters is the one refusing readiness.
	for !strings.Contains(errb.String(), "not ready") {
		if time.Now().After(deadline) {
			t.Fatalf("no error logged\nstdout:\n%s\nstderr:\n%s", out.String(), errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	m := listening.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no banner:\n%s", out.String())
	}
	base := m[1]
	if logs := errb.String(); !strings.Contains(logs, "not ready") || !strings.Contains(logs, "r1/3") {
		t.Fatalf("got log\n%s\nwant an error naming entry r1/3", logs)
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "r1/3") {
		t.Fatalf("readyz: got %d %q, want 503 naming entry r1/3", code, body)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz: got %d, want 200 (the process is up)", code)
	}
	if code, _ := get(t, base+"/sync/v1/status"); code != http.StatusOK {
		t.Fatalf("sync status: got %d, want 200 (peers still sync with it)", code)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/sessions", strings.NewReader(`{}`))
	req.SetBasicAuth("demo", "sk_test_demo")
	req.Header.Set("Idempotency-Key", "k1")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("checkout while not ready: got %d, want 503", resp.StatusCode)
	}
}
