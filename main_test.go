package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"kassa/region/regiontest"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"kassa/ledger"
	"kassa/region"
)

// runCmd runs one kassa command to completion.
func runCmd(t *testing.T, environ []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb regiontest.LogBuffer
	err := run(context.Background(), args, environ, &out, &errb)
	if err != nil {
		fmt.Fprintln(&errb, "kassa:", err)
	}
	return out.String(), errb.String(), exitCode(err)
}

var listening = regexp.MustCompile(`listening on (http://[0-9.:]+)`)

// startServe runs `kassa serve` on port 0, waits until it is ready, and
// returns its base URL and a stop
// function that interrupts it and returns its error.
func startServe(t *testing.T, environ []string, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb regiontest.LogBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), environ, &out, &errb)
	}()
	deadline := time.After(30 * time.Second)
	for {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			var once sync.Once
			var err error
			stop := func() error {
				once.Do(func() { cancel(); err = <-done })
				return err
			}
			t.Cleanup(func() { stop() })
			// The start-up read comes after the banner: a request before
			// it ends is answered 503 not_ready.
			for {
				if res, err := http.Get(m[1] + "/readyz"); err == nil {
					res.Body.Close()
					if res.StatusCode == http.StatusOK {
						return m[1], stop
					}
				}
				select {
				case <-deadline:
					t.Fatalf("serve never became ready\nstderr:\n%s", errb.String())
				case <-time.After(10 * time.Millisecond): // polling readiness, not waiting for an event
				}
			}
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve exited early: %v\nstderr:\n%s", err, errb.String())
		case <-deadline:
			cancel()
			t.Fatalf("serve did not start\nstdout:\n%s\nstderr:\n%s", out.String(), errb.String())
		case <-time.After(10 * time.Millisecond): // polling the banner, not waiting for an event
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeHealthAndStatus(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, nil, "--data-dir", dir)
	if code, body := get(t, base+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("healthz: got %d %q, want 200 ok", code, body)
	}
	// The banner comes before the start-up read of the ledger, which makes
	// the region ready: poll, briefly.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		code, body := get(t, base+"/readyz")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz: got %d %q, want 200", code, body)
		}
	}
	code, body := get(t, base+"/sync/v1/status")
	if code != 200 {
		t.Fatalf("status: got %d", code)
	}
	var st struct {
		Region string            `json:"region"`
		Vector map[string]uint64 `json:"vector"`
		Digest string            `json:"digest"`
		Peers  []any             `json:"peers"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("status is not JSON: %v\n%s", err, body)
	}
	if st.Region != "r1" || st.Vector == nil || len(st.Digest) != 64 || st.Peers == nil {
		t.Fatalf("got status %+v, want region r1, a vector, a 64-digit digest and a peer list", st)
	}
	if strings.Contains(body, "sk_test") || strings.Contains(body, "PRIVATE") {
		t.Fatal("status leaks a secret")
	}
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, `kassa_http_requests_total{code="200",route="/sync/v1/status"}`) {
		t.Fatalf("metrics: got %d, want requests counted by route", code)
	}
	if code, body := get(t, base+"/no/such/route"); code != 404 || !strings.Contains(body, `"code":"not_found"`) {
		t.Fatalf("unknown route: got %d %s", code, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "region.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	tests := []struct {
		name    string
		environ []string
		args    []string
		key     string
	}{
		{"unknown file key", nil, []string{"--config", write("a.yaml", "listn: 1.2.3.4:5\n")}, "listn"},
		{"unknown nested key", nil, []string{"--config", write("b.yaml", "backup:\n  ur: x\n")}, "backup.ur"},
		{"bad listen", nil, []string{"--config", write("c.yaml", "listen: nowhere\n")}, "listen"},
		{"bad duration", nil, []string{"--config", write("d.yaml", "backup:\n  sync_interval: often\n")}, "sync_interval"},
		{"bad int", nil, []string{"--config", write("e.yaml", "ledger:\n  max_batch: lots\n")}, "max_batch"},
		{"bad yaml", nil, []string{"--config", write("f.yaml", "region: [\n")}, "config"},
		{"missing file", nil, []string{"--config", filepath.Join(dir, "nope.yaml")}, "config"},
		{"env", []string{"KASSA_LEDGER_SYNCHRONOUS=SOMETIMES"}, nil, "ledger.synchronous"},
		{"unknown env", []string{"KASSA_LISTN=x"}, nil, "KASSA_LISTN"},
		{"no pushes in flight", []string{"KASSA_SYNC_PUSHES_IN_FLIGHT=0"}, nil, "sync.pushes_in_flight"},
		{"bad peers env", []string{"KASSA_PEERS=[{"}, nil, "peers"},
		{"bad peer key", nil, []string{"--config", write("g.yaml", "peers:\n  - {id: r2, url: 'http://127.0.0.1:1', public_key: abc}\n")}, "peers[0].public_key"},
		{"small-order peer key", nil, []string{"--config", write("g2.yaml", "peers:\n  - {id: r2, url: 'http://127.0.0.1:1', public_key: AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=}\n")}, "peers[0].public_key"},
		{"peer unknown field", nil, []string{"--config", write("h.yaml", "peers:\n  - {id: r2, url: 'http://127.0.0.1:1', key: abc}\n")}, "peers[0]"},
		{"production with demo", []string{"KASSA_CHECKOUT_ID_KEY=prod-id-key-0123456789", "KASSA_CHECKOUT_IDENTITY_KEY=prod-identity-key-0123456789", "KASSA_CHECKOUT_FINGERPRINT_KEY=prod-fingerprint-key-0123456789", "KASSA_CHECKOUT_SECRET_KEY=prod-secret-key-0123456789", "KASSA_CHECKOUT_ACQUIRER_URL=https://acq.example", "KASSA_HTTP_METRICS_TOKEN=metrics-token-0123456789abcdef0123456789"}, []string{"--mode", "production", "--config", write("i.yaml", "merchants:\n  - {id: demo, name: D, api_secret: sk_test_demo, webhook_secret: whsec_test_demo}\n")}, "merchants[0]"},
		{"production with the demo id key", []string{"KASSA_CHECKOUT_IDENTITY_KEY=prod-identity-key-0123456789", "KASSA_CHECKOUT_FINGERPRINT_KEY=prod-fingerprint-key-0123456789", "KASSA_CHECKOUT_SECRET_KEY=prod-secret-key-0123456789", "KASSA_CHECKOUT_ACQUIRER_URL=https://acq.example", "KASSA_HTTP_METRICS_TOKEN=metrics-token-0123456789abcdef0123456789"}, []string{"--mode", "production"}, "checkout.id_key"},
		{"production with a plain-http acquirer", []string{"KASSA_CHECKOUT_ID_KEY=prod-id-key-0123456789", "KASSA_CHECKOUT_IDENTITY_KEY=prod-identity-key-0123456789", "KASSA_CHECKOUT_FINGERPRINT_KEY=prod-fingerprint-key-0123456789", "KASSA_CHECKOUT_SECRET_KEY=prod-secret-key-0123456789", "KASSA_CHECKOUT_ACQUIRER_URL=http://acq.example", "KASSA_HTTP_METRICS_TOKEN=metrics-token-0123456789abcdef0123456789"}, []string{"--mode", "production"}, "checkout.acquirer_url"},
		{"short id key", []string{"KASSA_CHECKOUT_ID_KEY=short"}, nil, "checkout.id_key"},
		{"auth_ttl beyond 180 days", []string{"KASSA_CHECKOUT_AUTH_TTL=4321h"}, nil, "checkout.auth_ttl"},
		{"production without metrics token", prodEnvWithout("KASSA_HTTP_METRICS_TOKEN"), []string{"--mode", "production", "--config", write("j.yaml", prodPeople)}, "http.metrics_token"},
		{"short metrics token", []string{"KASSA_HTTP_METRICS_TOKEN=short"}, nil, "http.metrics_token"},
		{"bad metrics network", []string{"KASSA_HTTP_METRICS_ALLOW=10.0.0.0/8,10.0.0.0/33"}, nil, "http.metrics_allow[1]"},
		{"unknown durability", []string{"KASSA_DURABILITY=sometimes"}, nil, "durability"},
		{"durability peer without peers", []string{"KASSA_DURABILITY=peer"}, nil, "durability"},
		{"durability fsync with NORMAL", []string{"KASSA_DURABILITY=fsync", "KASSA_LEDGER_SYNCHRONOUS=NORMAL"}, nil, "ledger.synchronous"},
		{"durability local with FULL", []string{"KASSA_LEDGER_SYNCHRONOUS=FULL"}, nil, "ledger.synchronous"},
		{"production with the mailbox", withoutMail(prodEnv), []string{"--mode", "production", "--config", write("k.yaml", prodPeople)}, "mail.transport"},
		{"unknown mail transport", []string{"KASSA_MAIL_TRANSPORT=pigeon"}, nil, "mail.transport"},
		{"smtp without host", []string{"KASSA_MAIL_TRANSPORT=smtp", "KASSA_MAIL_FROM=a@shop.example"}, nil, "mail.smtp.host"},
		{"smtp without from", []string{"KASSA_MAIL_TRANSPORT=smtp", "KASSA_MAIL_SMTP_HOST=smtp.example"}, nil, "mail.from"},
		{"bad smtp tls", []string{"KASSA_MAIL_SMTP_TLS=maybe"}, nil, "mail.smtp.tls"},
		{"smtp password in clear", []string{"KASSA_MAIL_TRANSPORT=smtp", "KASSA_MAIL_SMTP_HOST=smtp.example", "KASSA_MAIL_FROM=a@shop.example", "KASSA_MAIL_SMTP_TLS=none", "KASSA_MAIL_SMTP_USERNAME=u", "KASSA_MAIL_SMTP_PASSWORD=p"}, nil, "mail.smtp.tls"},
		{"short mail max_age", []string{"KASSA_MAIL_MAX_AGE=1h"}, nil, "mail.max_age"},
		{"retention below the snapshot interval", []string{"KASSA_BACKUP_SNAPSHOT_INTERVAL=6h", "KASSA_BACKUP_RETENTION=1h"}, nil, "backup.retention"},
		{"retention beyond a week", []string{"KASSA_BACKUP_RETENTION=200h"}, nil, "backup.retention"},
		{"snapshot interval under a minute", []string{"KASSA_BACKUP_SNAPSHOT_INTERVAL=10s"}, nil, "backup.snapshot_interval"},
		{"flag", nil, []string{"--region", "R 1"}, "region"},
		{"site_url not a URL", []string{"KASSA_SITE_URL=pay.example"}, nil, "site_url"},
		{"site_url with a query", nil, []string{"--site-url", "https://pay.example/?shop=1"}, "site_url"},
		{"site_url with a fragment", nil, []string{"--config", write("k.yaml", "site_url: https://pay.example/#top\n")}, "site_url"},
		{"site_url with credentials", []string{"KASSA_SITE_URL=https://u:p@pay.example"}, nil, "site_url"},
		{"production with an http site_url", append(append([]string{}, prodEnv...), "KASSA_SITE_URL=http://pay.example"), []string{"--mode", "production", "--config", write("l.yaml", prodPeople)}, "site_url"},
		{"production with site_url from an http public_url", prodEnvWithout("KASSA_SITE_URL"), []string{"--mode", "production", "--config", write("m.yaml", prodPeople)}, "site_url"},
		{"unknown flag", nil, []string{"--lisen", "x"}, "lisen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--data-dir", filepath.Join(dir, "data")}, tt.args...)
			_, stderr, code := runCmd(t, tt.environ, args...)
			if code != 2 || !strings.Contains(stderr, tt.key) {
				t.Fatalf("got exit %d, stderr %q; want 2 naming %q", code, stderr, tt.key)
			}
			if _, err := os.Stat(filepath.Join(dir, "data", "kassa.db")); err == nil {
				t.Fatal("a bad config created a database")
			}
		})
	}
}

// prodPeople is a merchant and a staff user production accepts.
const prodPeople = "merchants:\n  - {id: shop, name: Shop, api_secret: sk_live_0123456789, webhook_secret: whsec_live_0123456789}\n" +
	"staff:\n  - {username: ops, password: correct-horse-battery, role: admin}\n"

// prodEnv is what production needs besides merchants and staff.
var prodEnv = []string{"KASSA_CHECKOUT_ID_KEY=prod-id-key-0123456789", "KASSA_CHECKOUT_IDENTITY_KEY=prod-identity-key-0123456789", "KASSA_CHECKOUT_FINGERPRINT_KEY=prod-fingerprint-key-0123456789", "KASSA_CHECKOUT_SECRET_KEY=prod-secret-key-0123456789",
	"KASSA_CHECKOUT_ACQUIRER_URL=https://acquirer.example", "KASSA_SITE_URL=https://pay.example",
	"KASSA_MAIL_TRANSPORT=smtp", "KASSA_MAIL_SMTP_HOST=smtp.invalid", "KASSA_MAIL_FROM=invoices@shop.example",
	"KASSA_INVOICE_PAYEE_IBAN=DE89370400440532013000",
	"KASSA_HTTP_METRICS_TOKEN=" + metricsToken} // the token last: tests drop it

// withoutMail is env without its KASSA_MAIL_* variables.
func withoutMail(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "KASSA_MAIL_") {
			out = append(out, kv)
		}
	}
	return out
}

// prodEnvWithout is prodEnv without the variable name.
func prodEnvWithout(name string) []string {
	var env []string
	for _, kv := range prodEnv {
		if !strings.HasPrefix(kv, name+"=") {
			env = append(env, kv)
		}
	}
	return env
}

const metricsToken = "metrics-token-0123456789abcdef0123456789"

func TestProductionDropsDemoDefaults(t *testing.T) {
	// Away from the repository's config.yaml, which names the demo merchant
	// explicitly (and so is refused in production, as it should be).
	dir := t.TempDir()
	t.Chdir(dir)
	base, stop := startServe(t, prodEnv, "--data-dir", dir, "--mode", "production")
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("got %d", code)
	}
	stop()
}

// getWith sends GET url with the header h: v (none if h is empty).
func getWith(t *testing.T, url, h, v string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if h != "" {
		req.Header.Set(h, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// TestProductionMetricsNeedTheToken: in production /metrics and
// /sync/v1/status answer only with http.metrics_token, and the simulated
// acquirer is not served.
func TestProductionMetricsNeedTheToken(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cfg := filepath.Join(dir, "prod.yaml")
	os.WriteFile(cfg, []byte(prodPeople), 0o600)
	base, _ := startServe(t, prodEnv, "--data-dir", dir, "--mode", "production", "--config", cfg)
	for _, path := range []string{"/metrics", "/sync/v1/status"} {
		for _, auth := range []string{"", "Bearer wrong", "Bearer " + metricsToken + "x", "Basic " + metricsToken, metricsToken} {
			code, h, body := getWith(t, base+path, "Authorization", auth)
			if code != 401 || !strings.Contains(body, `"code":"unauthorized"`) || h.Get("WWW-Authenticate") == "" {
				t.Fatalf("GET %s with %q: got %d %s, want 401 unauthorized", path, auth, code, body)
			}
		}
		if code, _, body := getWith(t, base+path, "Authorization", "Bearer "+metricsToken); code != 200 {
			t.Fatalf("GET %s with the token: got %d %s", path, code, body)
		}
	}
	if code, _, body := getWith(t, base+"/simulator/acquirer/v1/payments?reference=ord_x", "", ""); code != 404 || !strings.Contains(body, "no such route") {
		t.Fatalf("the simulated acquirer in production: got %d %s, want 404", code, body)
	}
	// What merchants and shoppers use stays open.
	if code, _, _ := getWith(t, base+"/readyz", "", ""); code != 200 {
		t.Fatalf("readyz: got %d", code)
	}
}

// TestProductionMetricsAllowList: with http.metrics_allow (and no token)
// only clients in those networks read /metrics and /sync/v1/status.
func TestProductionMetricsAllowList(t *testing.T) {
	for _, tt := range []struct {
		allow string
		want  int
	}{
		{"127.0.0.0/8", 200},
		{"10.0.0.0/8,192.168.1.1", 403},
	} {
		t.Run(tt.allow, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			cfg := filepath.Join(dir, "prod.yaml")
			os.WriteFile(cfg, []byte(prodPeople), 0o600)
			env := append(append([]string{}, prodEnv[:len(prodEnv)-1]...), "KASSA_HTTP_METRICS_ALLOW="+tt.allow) // all but the token
			base, _ := startServe(t, env, "--data-dir", dir, "--mode", "production", "--config", cfg)
			for _, path := range []string{"/metrics", "/sync/v1/status"} {
				// A forwarded-for header does not make a client local.
				if code, _, body := getWith(t, base+path, "X-Forwarded-For", "10.1.2.3"); code != tt.want {
					t.Fatalf("GET %s: got %d %s, want %d", path, code, body, tt.want)
				}
			}
		})
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, cmd := range []string{"serve", "keygen", "verify", "restore", "cluster", "bench", "nemesis", "staff", "staff add"} {
		out, _, code := runCmd(t, nil, append(strings.Fields(cmd), "--help")...)
		if code != 0 || !strings.Contains(out, "usage: kassa "+cmd) {
			t.Errorf("%s --help: got exit %d, %q", cmd, code, out)
		}
	}
	if _, _, code := runCmd(t, nil, "frobnicate"); code != 2 {
		t.Errorf("unknown command: got exit %d, want 2", code)
	}
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	out, _, code := runCmd(t, nil, "keygen", "--data-dir", dir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 1 {
		t.Fatalf("got exit %d, stdout %q; want one line", code, out)
	}
	if b, err := base64.StdEncoding.DecodeString(lines[0]); err != nil || len(b) != 32 {
		t.Fatalf("got %q, want base64 of 32 bytes", lines[0])
	}
	again, _, _ := runCmd(t, nil, "keygen", "--data-dir", dir)
	if again != out {
		t.Fatalf("second keygen: got %q, want the same key %q", again, out)
	}
	fi, _ := os.Stat(filepath.Join(dir, "region.key"))
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("got mode %v, want 0600", fi.Mode().Perm())
	}
}

// writeRegion creates a region in dir with n entries and returns its digest.
func writeRegion(t *testing.T, dir string, n int) ledger.Digest {
	t.Helper()
	var cfg region.Config
	env := &cmdEnv{stdout: io.Discard, stderr: io.Discard}
	fs, _ := env.flags("serve", "", []string{"--data-dir", dir}, func(fs *pflag.FlagSet) { addConfigFlags(fs, "data-dir") })
	cfg, err := env.loadConfig(fs)
	if err != nil {
		t.Fatal(err)
	}
	r, err := region.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		_, err := r.Ledger().Append(context.Background(), ledger.Draft{
			Kind: "order.captured", Subject: fmt.Sprintf("order-%d", i),
			Postings: []ledger.Posting{
				{Account: "consumer:c1:receivable", Amount: ledger.Amount(100 + i), Currency: "SEK"},
				{Account: "merchant:demo:payable", Amount: -ledger.Amount(100 + i), Currency: "SEK"},
			},
			Data: []byte(`{"note":"test"}`),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	d := r.Ledger().Digest()
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper string // SQL run against the database
		want   string
	}{
		{"payload byte", `UPDATE entries SET body = CAST(replace(CAST(body AS TEXT), 'test', 'tesT') AS BLOB) WHERE seq = 3`, "r1/3"},
		{"signature", `UPDATE entries SET body = substr(body, 1, length(body)-1) || CASE WHEN substr(body, -1) = X'00' THEN X'01' ELSE X'00' END WHERE seq = 4`, "r1/4"},
		{"chain link", `UPDATE entries SET body = substr(body, 1, 22) || zeroblob(32) || substr(body, 55) WHERE seq = 5`, "r1/5"},
		{"balance", `UPDATE balances SET amount = amount + 1 WHERE account = 'merchant:demo:payable'`, "merchant:demo:payable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeRegion(t, dir, 8)
			if out, stderr, code := runCmd(t, nil, "verify", "--data-dir", dir); code != 0 {
				t.Fatalf("clean database: got exit %d\n%s%s", code, out, stderr)
			}
			db, err := sql.Open("sqlite", filepath.Join(dir, "kassa.db"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(tt.tamper); err != nil {
				t.Fatal(err)
			}
			db.Close()
			_, stderr, code := runCmd(t, nil, "verify", "--data-dir", dir)
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("got exit %d, %q; want 1 naming %s", code, stderr, tt.want)
			}
		})
	}
}

func TestRestoreFromReplica(t *testing.T) {
	dir := t.TempDir()
	want := writeRegion(t, dir, 20)
	target := t.TempDir()
	// The region key is not secret to verify with, so the restore checks its work.
	key, _ := os.ReadFile(filepath.Join(dir, "region.key"))
	os.WriteFile(filepath.Join(target, "region.key"), key, 0o600)
	backupURL := "file://" + filepath.Join(dir, "backup")
	out, stderr, code := runCmd(t, nil, "restore", "--data-dir", target, "--backup-url", backupURL)
	if code != 0 || !strings.Contains(out, "verified: 20 entries, digest "+want.String()) {
		t.Fatalf("got exit %d\n%s%s\nwant 20 entries with digest %s", code, out, stderr, want)
	}
	if _, _, code := runCmd(t, nil, "restore", "--data-dir", target, "--backup-url", backupURL); code != 1 {
		t.Fatalf("restore over an existing database: got exit %d, want 1", code)
	}
	if _, _, code := runCmd(t, nil, "restore", "--data-dir", t.TempDir(), "--timestamp", "yesterday"); code != 2 {
		t.Fatalf("bad timestamp: got exit %d, want 2", code)
	}
}

// TestRestoreThatDoesNotVerifyIsMovedAside restores a replica with a key
// file that is not the region's: the signatures do not verify, and the
// restored database must not be left where kassa serve would open it.
func TestRestoreThatDoesNotVerifyIsMovedAside(t *testing.T) {
	dir := t.TempDir()
	writeRegion(t, dir, 5)
	target := t.TempDir()
	backupURL := "file://" + filepath.Join(dir, "backup")
	if _, stderr, code := runCmd(t, nil, "keygen", "--data-dir", target); code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, stderr)
	}
	_, stderr, code := runCmd(t, nil, "restore", "--data-dir", target, "--backup-url", backupURL)
	if code != 1 || !strings.Contains(stderr, "does not verify") || !strings.Contains(stderr, "moved it to "+filepath.Join(target, "kassa.db.unverified-")) {
		t.Fatalf("got exit %d, %q; want 1, saying the database did not verify and where it went", code, stderr)
	}
	for _, name := range []string{"kassa.db", "kassa.db-wal", "kassa.db-shm"} {
		if _, err := os.Lstat(filepath.Join(target, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left in the data directory (%v)", name, err)
		}
	}
	if aside, _ := filepath.Glob(filepath.Join(target, "kassa.db.unverified-*")); len(aside) == 0 {
		t.Error("the unverified database is gone; want it kept aside to look at")
	}
}

func TestServeRestoresMissingDatabase(t *testing.T) {
	dir := t.TempDir()
	want := writeRegion(t, dir, 10)
	os.Remove(filepath.Join(dir, "kassa.db"))
	os.Remove(filepath.Join(dir, "kassa.db-wal"))
	os.Remove(filepath.Join(dir, "kassa.db-shm"))
	base, stop := startServe(t, nil, "--data-dir", dir)
	_, body := get(t, base+"/sync/v1/status")
	if !strings.Contains(body, want.String()) || !strings.Contains(body, `"r1":10`) {
		t.Fatalf("got %s, want digest %s and r1 at 10", body, want)
	}
	stop()
}

func TestStartupFailuresAreClear(t *testing.T) {
	t.Run("missing key with database", func(t *testing.T) {
		dir := t.TempDir()
		writeRegion(t, dir, 1)
		os.Remove(filepath.Join(dir, "region.key"))
		_, stderr, code := runCmd(t, nil, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir)
		if code != 1 || !strings.Contains(stderr, "region.key is missing") {
			t.Fatalf("got exit %d, %q", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "region.key")); err == nil {
			t.Fatal("a new key was created for an existing database")
		}
	})
	t.Run("corrupt database", func(t *testing.T) {
		dir := t.TempDir()
		garbage := bytes.Repeat([]byte("not sqlite "), 1000)
		os.WriteFile(filepath.Join(dir, "kassa.db"), garbage, 0o600)
		region.EnsureKey(filepath.Join(dir, "region.key"))
		_, stderr, code := runCmd(t, nil, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir)
		if code != 1 || !strings.Contains(stderr, "corrupt") {
			t.Fatalf("got exit %d, %q", code, stderr)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "kassa.db")); !bytes.Equal(b, garbage) {
			t.Fatal("the corrupt file was modified")
		}
		if _, _, code := runCmd(t, nil, "verify", "--data-dir", dir); code != 1 {
			t.Fatalf("verify: got exit %d, want 1", code)
		}
	})
	t.Run("port in use", func(t *testing.T) {
		base, _ := startServe(t, nil, "--data-dir", t.TempDir())
		addr := strings.TrimPrefix(base, "http://")
		_, stderr, code := runCmd(t, nil, "serve", "--listen", addr, "--data-dir", t.TempDir())
		if code != 1 || !strings.Contains(stderr, "listen on") {
			t.Fatalf("got exit %d, %q", code, stderr)
		}
	})
}

// TestMoveAsideNeverReplaces: a database is moved aside with its -wal and
// -shm files, and never over a file already at the new name.
func TestMoveAsideNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "kassa.db")
	for _, name := range []string{"kassa.db", "kassa.db-wal", "kassa.db-shm", "kassa.db.x-shm"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := moveAside(db, ".x"); err == nil {
		t.Fatal("moved over an existing kassa.db.x-shm")
	}
	for _, name := range []string{"kassa.db", "kassa.db-wal", "kassa.db-shm"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != name {
			t.Errorf("%s after a refused move: %q, %v; want it untouched", name, b, err)
		}
	}
	aside, err := moveAside(db, ".y")
	if err != nil || aside != db+".y" {
		t.Fatalf("moveAside: %q, %v; want %s", aside, err, db+".y")
	}
	for _, ext := range []string{"", "-wal", "-shm"} {
		if b, err := os.ReadFile(db + ".y" + ext); err != nil || string(b) != "kassa.db"+ext {
			t.Errorf("kassa.db.y%s: %q, %v; want the moved kassa.db%s", ext, b, err, ext)
		}
		if _, err := os.Lstat(db + ext); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("kassa.db%s still there (%v)", ext, err)
		}
	}
}
