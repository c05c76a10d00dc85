package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// process is one `kassa serve` running as its own OS process.
type process struct {
	id, dir, cfg, url string
	cmd               *exec.Cmd
	log               *os.File
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kassa")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (p *process) start(t *testing.T, bin string) {
	t.Helper()
	p.cmd = exec.Command(bin, "serve", "--config", p.cfg)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(p.url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond) // polling readiness of another process
	}
	t.Fatalf("%s did not become ready; log in %s", p.id, p.log.Name())
}

func (p *process) stop(sig syscall.Signal) {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(sig)
	p.cmd.Wait()
	p.cmd = nil
}

type syncStatus struct {
	Region string            `json:"region"`
	Vector map[string]uint64 `json:"vector"`
	Digest string            `json:"digest"`
	Forks  map[string]int64  `json:"forks"`
}

func status(url string) (syncStatus, error) {
	var st syncStatus
	res, err := http.Get(url + "/sync/v1/status")
	if err != nil {
		return st, err
	}
	defer res.Body.Close()
	return st, json.NewDecoder(res.Body).Decode(&st)
}

func createSession(url, key string) (string, int, error) {
	body := fmt.Sprintf(`{"amount":1000,"currency":"SEK","country":"SE","merchant_reference":%q,
		"lines":[{"name":"Socks","quantity":2,"unit_price":500,"total":1000}],
		"urls":{"confirmation":"https://shop.example/ok","cancel":"https://shop.example/cart"}}`, key)
	req, _ := http.NewRequest("POST", url+"/v1/sessions", strings.NewReader(body))
	req.SetBasicAuth("demo", "sk_test_demo")
	req.Header.Set("Idempotency-Key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer res.Body.Close()
	var s struct {
		ID string `json:"id"`
	}
	json.NewDecoder(res.Body).Decode(&s)
	return s.ID, res.StatusCode, nil
}

// TestProcessesSurviveSIGKILL runs three regions as separate processes on
// loopback, kills one with SIGKILL while all three take writes, restarts it,
// and checks that every acknowledged write is in every region and that the
// regions converge.
func TestProcessesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three processes")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	ps := make([]*process, 3)
	keys := make([]string, 3)
	for i := range ps {
		id := fmt.Sprintf("r%d", i+1)
		p := &process{id: id, dir: filepath.Join(root, id), url: fmt.Sprintf("http://127.0.0.1:%d", freePort(t))}
		out, err := exec.Command(bin, "keygen", "--data-dir", p.dir).Output()
		if err != nil {
			t.Fatalf("keygen: %v", err)
		}
		keys[i] = strings.TrimSpace(string(out))
		p.log, _ = os.Create(filepath.Join(root, id+".log"))
		t.Cleanup(func() { p.log.Close() })
		ps[i] = p
	}
	for i, p := range ps {
		var peers strings.Builder
		for j, q := range ps {
			if i != j {
				fmt.Fprintf(&peers, "  - {id: %s, url: %q, public_key: %q}\n", q.id, q.url, keys[j])
			}
		}
		cfg := fmt.Sprintf("region: %s\nlisten: %s\ndata_dir: %s\npeers:\n%ssync:\n  interval: 100ms\n  recovery_timeout: 5s\n  retry_wait_min: 10ms\n  retry_wait_max: 200ms\nlog:\n  level: warn\n",
			p.id, strings.TrimPrefix(p.url, "http://"), p.dir, peers.String())
		p.cfg = filepath.Join(root, p.id+".yaml")
		os.WriteFile(p.cfg, []byte(cfg), 0o600)
	}
	for _, p := range ps {
		p.start(t, bin)
		t.Cleanup(func() { p.stop(syscall.SIGTERM) })
	}

	// Vectors are sampled throughout: they must never move backwards.
	var (
		mu        sync.Mutex
		backward  []string
		stopWatch = make(chan struct{})
		watchDone = make(chan struct{})
	)
	go func() {
		defer close(watchDone)
		last := map[string]map[string]uint64{}
		for {
			for _, p := range ps {
				st, err := status(p.url)
				if err != nil {
					continue // a killed region does not answer
				}
				for o, s := range last[p.id] {
					if st.Vector[o] < s {
						mu.Lock()
						backward = append(backward, fmt.Sprintf("%s: %s went from %d to %d", p.id, o, s, st.Vector[o]))
						mu.Unlock()
					}
				}
				last[p.id] = st.Vector
			}
			select {
			case <-stopWatch:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	acked := map[string]string{} // session id -> region that acknowledged it
	write := func(from, to int, hook func(p *process, i int)) {
		var wg sync.WaitGroup
		for _, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := from; i < to; i++ {
					if hook != nil {
						hook(p, i)
					}
					id, code, err := createSession(p.url, fmt.Sprintf("%s-%d", p.id, i))
					if err == nil && code == 201 {
						mu.Lock()
						acked[id] = p.id
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
	}
	write(0, 40, nil)
	// Kill r2 halfway through the next round, while the other regions keep
	// taking writes (and r2's own writer keeps failing against it).
	write(40, 80, func(p *process, i int) {
		if p.id == "r2" && i == 60 {
			p.stop(syscall.SIGKILL)
		}
	})
	ps[1].start(t, bin)
	write(80, 120, nil)

	deadline := time.Now().Add(60 * time.Second)
	for {
		sts := make([]syncStatus, len(ps))
		same := true
		for i, p := range ps {
			st, err := status(p.url)
			if err != nil {
				t.Fatal(err)
			}
			sts[i] = st
			same = same && st.Digest == sts[0].Digest
		}
		if same {
			for _, st := range sts {
				if fmt.Sprint(st.Vector) != fmt.Sprint(sts[0].Vector) || len(st.Forks) != 0 {
					t.Fatalf("digests equal but %s has vector %v forks %v, %s has %v", st.Region, st.Vector, st.Forks, sts[0].Region, sts[0].Vector)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("regions did not converge: %+v", sts)
		}
		time.Sleep(50 * time.Millisecond) // polling convergence
	}
	close(stopWatch)
	<-watchDone
	for _, b := range backward {
		t.Error(b)
	}
	if len(acked) < 200 {
		t.Fatalf("only %d writes were acknowledged", len(acked))
	}
	for id, by := range acked {
		for _, p := range ps {
			req, _ := http.NewRequest("GET", p.url+"/v1/sessions/"+id, nil)
			req.SetBasicAuth("demo", "sk_test_demo")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("%s lacks session %s acknowledged by %s: %d", p.id, id, by, res.StatusCode)
			}
		}
	}
	for _, p := range ps {
		p.stop(syscall.SIGTERM)
		if out, err := exec.Command(bin, "verify", "--config", p.cfg).CombinedOutput(); err != nil {
			t.Fatalf("verify %s: %v\n%s", p.id, err, out)
		}
	}
}
