package nemesis

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"kassa/client"
	"kassa/nemesis/proxy"
)

// regionProc is one region: its `kassa serve` process, its files, the
// proxy its clients reach it through and the proxies it reaches its peers
// through.
type regionProc struct {
	id      string
	dir     string // data directory
	cfgPath string
	addr    string // where it listens (127.0.0.1:port)
	logPath string
	client  *proxy.Proxy         // the merchants' link to this region
	peers   map[int]*proxy.Proxy // index of peer -> this region's link to it

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	paused bool
	// offset is the clock_offset its config sets (the clock-skew fault).
	offset time.Duration
}

func (r *regionProc) url() string { return "http://" + r.addr }

// merchant is a simulated merchant account configured in every region.
// merchant is one simulated merchant; its clients share what they learn
// of the regions' health, as the clients of one merchant's process would.
type merchant struct {
	id, secret string
	health     *client.Health
}

func merchantsFor(n int) []merchant {
	ms := make([]merchant, n)
	for i := range ms {
		ms[i] = merchant{id: fmt.Sprintf("shop%d", i+1), secret: fmt.Sprintf("sk_test_nemesis_shop_%d", i+1), health: client.NewHealth()}
	}
	return ms
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// writeConfig writes r's config file: its peers through its proxies, the
// shared acquirer, fast sync and webhook retries so a short run shows
// recovery, and quiet logs. Backups replicate with the built-in defaults
// (the file replica, backup.sync_interval 1s).
func (h *harness) writeConfig(i int) error {
	r, pubs := h.regions[i], h.pubs
	var b strings.Builder
	fmt.Fprintf(&b, "mode: development\nregion: %s\nlisten: %s\ndata_dir: %s\ndurability: local\nclock_offset: %s\n", r.id, r.addr, r.dir, r.offset)
	b.WriteString("peers:\n")
	for j, q := range h.regions {
		if j != i {
			fmt.Fprintf(&b, "  - {id: %s, url: %q, public_key: %q}\n", q.id, r.peers[j].URL(), pubs[j])
		}
	}
	b.WriteString("merchants:\n")
	for _, m := range h.merchants {
		fmt.Fprintf(&b, "  - {id: %s, name: %q, api_secret: %s, webhook_secret: whsec_%s}\n", m.id, "Nemesis "+m.id, m.secret, m.secret)
	}
	fmt.Fprintf(&b, `sync:
  interval: 200ms
  timeout: 2s
  retries: 1
  retry_wait_min: 10ms
  retry_wait_max: 200ms
checkout:
  acquirer_url: %q
  acquirer_timeout: 3s
  reconcile_interval: 2s
webhooks:
  timeout: 2s
  retry_min: 200ms
  retry_max: 2s
log:
  level: warn
`, h.acquirerURL)
	return os.WriteFile(r.cfgPath, []byte(b.String()), 0o600)
}

// kassa runs the kassa binary with args to completion and returns its
// combined output.
func (h *harness) kassa(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, h.cfg.Binary, args...)
	cmd.Env = h.env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// env is what region processes see: no KASSA_* from the caller, whose
// settings are not the harness's.
func (h *harness) env() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
}

// startTimeout bounds how long a region may take to become ready.
const startTimeout = 5 * time.Minute

// start starts r's process and waits (polling, with a deadline) until it
// answers /readyz.
func (h *harness) start(ctx context.Context, r *regionProc) error {
	f, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(h.cfg.Binary, "serve", "--config", r.cfgPath)
	cmd.Env = h.env()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", r.id, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		f.Close()
		close(exited)
	}()
	r.mu.Lock()
	r.cmd, r.exited, r.paused = cmd, exited, false
	r.mu.Unlock()
	// A region restored from an old backup is not ready until it has
	// fetched every entry of its own its peers hold, which under load
	// takes minutes for a backup minutes old.
	deadline := time.Now().Add(startTimeout)
	hc := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("%s exited while starting; log: %s", r.id, lastLines(r.logPath, 5))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if res, err := hc.Get(r.url() + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond) // polling another process's readiness
	}
	return fmt.Errorf("%s not ready after %s; log: %s", r.id, startTimeout, lastLines(r.logPath, 5))
}

// signal sends sig to r's process, if running.
func (r *regionProc) signal(sig syscall.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Signal(sig)
		switch sig {
		case syscall.SIGSTOP:
			r.paused = true
		case syscall.SIGCONT:
			r.paused = false
		}
	}
}

// stop ends r's process with sig (continuing it first if paused) and waits
// for it to exit; after grace it is killed.
func (r *regionProc) stop(sig syscall.Signal, grace time.Duration) {
	r.mu.Lock()
	cmd, exited, paused := r.cmd, r.exited, r.paused
	r.cmd, r.paused = nil, false
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	if paused && sig != syscall.SIGKILL {
		cmd.Process.Signal(syscall.SIGCONT)
	}
	select {
	case <-exited:
	case <-time.After(grace):
		cmd.Process.Kill()
		<-exited
	}
}

func (r *regionProc) running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cmd != nil
}

// lastLines returns the last n lines of the file at path, for errors.
func lastLines(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return path
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return path + ": " + strings.Join(lines, " | ")
}

// status is GET /sync/v1/status.
type status struct {
	Vector map[string]uint64 `json:"vector"`
	Digest string            `json:"digest"`
}

func getStatus(ctx context.Context, hc *http.Client, url string) (status, error) {
	var st status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/sync/v1/status", nil)
	if err != nil {
		return st, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return st, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status %d", res.StatusCode)
	}
	return st, json.NewDecoder(res.Body).Decode(&st)
}

// restoreOld replaces r's database with its Litestream replica's state as
// of at: r must be stopped. Without a usable backup from before at (none,
// or one that does not verify, which kassa restore moves aside), the latest
// is restored (still older than what r held when it stopped, as the
// replica lags the database).
func (h *harness) restoreOld(ctx context.Context, r *regionProc, at time.Time) (string, error) {
	aside := filepath.Join(filepath.Dir(r.dir), r.id+"-replaced-"+at.Format("150405.000"))
	if err := os.MkdirAll(aside, 0o700); err != nil {
		return "", err
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		p := filepath.Join(r.dir, "kassa.db"+suffix)
		if err := os.Rename(p, filepath.Join(aside, "kassa.db"+suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	out, err := h.kassa(ctx, "restore", "--config", r.cfgPath, "--timestamp", at.UTC().Format(time.RFC3339))
	if err == nil {
		return "as of " + at.UTC().Format(time.RFC3339), nil
	}
	if _, serr := os.Stat(filepath.Join(r.dir, "kassa.db")); serr == nil {
		return "", fmt.Errorf("restore %s: %v: %s", r.id, err, out)
	}
	out2, err := h.kassa(ctx, "restore", "--config", r.cfgPath)
	if err != nil {
		return "", fmt.Errorf("restore %s: %v: %s; latest: %s", r.id, err, strings.TrimSpace(out), strings.TrimSpace(out2))
	}
	return "latest replica state (as of " + at.UTC().Format(time.RFC3339) + ": " + lastLine(out) + ")", nil
}

// lastLine is the last non-empty line of a command's output: where kassa
// says why it failed.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
