package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"kassa/region/regiontest"
)

// freePorts returns a port P with P..P+n-1 free on 127.0.0.1 (free when
// checked: another process may take one before the caller does).
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		p := freePort(t)
		if p+n > 65535 {
			continue
		}
		ok := true
		var lns []net.Listener
		for i := range n {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+i))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}

var routerLine = regexp.MustCompile(`^checkout and API for shoppers and merchants: (http://127\.0\.0\.1:\d+) `)

// startCluster runs `kassa cluster` with args on the base port p+1 until
// the test ends, and returns what it printed once every region is ready.
func startCluster(t *testing.T, p int, args ...string) string {
	t.Helper()
	dir := t.TempDir() // removed after the cluster stops: cleanups run last first
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb regiontest.LogBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"cluster", "--data-dir", dir, "--base-port", fmt.Sprint(p + 1), "--log-level", "warn"}, args...), nil, &out, &errb)
	}()
	ended := false // run has returned and its error was read
	t.Cleanup(func() {
		cancel()
		if ended {
			return
		}
		if err := <-done; err != nil {
			t.Errorf("cluster: %v\n%s", err, errb.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "cluster of 3 regions running") {
		if time.Now().After(deadline) {
			t.Fatalf("the cluster did not start:\n%s\n%s", out.String(), errb.String())
		}
		select {
		case err := <-done:
			ended = true
			t.Fatalf("cluster ended: %v\n%s", err, errb.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	for i := 1; i <= 3; i++ {
		waitReady(t, fmt.Sprintf("http://127.0.0.1:%d", p+i))
	}
	return out.String()
}

// TestClusterRouter: `kassa cluster` starts a router on the port before
// r1's, says so first, and every region's checkout links name it; a
// session created through it opens through it.
func TestClusterRouter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three regions")
	}
	p := freePorts(t, 4)
	out := startCluster(t, p)
	m := routerLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the first line does not name the router:\n%s", out)
	}
	site := m[1]
	if want := fmt.Sprintf("http://127.0.0.1:%d", p); site != want {
		t.Fatalf("router at %s, want %s (base port - 1)", site, want)
	}
	for i := range 3 { // round robin: each region creates one
		s := postSession(t, site, fmt.Sprintf("router-%d", i))
		if want := site + "/checkout/" + s.ID; s.CheckoutURL != want {
			t.Fatalf("checkout_url: got %q, want %q", s.CheckoutURL, want)
		}
		// Another region may not hold the session yet: the shopper reloads.
		code, body := 0, ""
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if code, body = get(t, s.CheckoutURL); code == http.StatusOK {
				break
			}
		}
		if code != http.StatusOK || !strings.Contains(body, "Socks") {
			t.Fatalf("GET %s: got %d %.300s, want the hosted page", s.CheckoutURL, code, body)
		}
	}
}

// TestClusterWithoutRouter: --router=false starts none, and each region's
// links name the region itself.
func TestClusterWithoutRouter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three regions")
	}
	p := freePorts(t, 4)
	out := startCluster(t, p, "--router=false")
	if strings.Contains(out, "checkout and API for shoppers") {
		t.Fatalf("a router was announced:\n%s", out)
	}
	if code, _ := getOrZero(fmt.Sprintf("http://127.0.0.1:%d/readyz", p)); code != 0 {
		t.Fatalf("something answers on the router's port: %d", code)
	}
	r2 := fmt.Sprintf("http://127.0.0.1:%d", p+2)
	if s := postSession(t, r2, "no-router"); s.CheckoutURL != r2+"/checkout/"+s.ID {
		t.Fatalf("checkout_url: got %q, want r2's own %s", s.CheckoutURL, r2)
	}
}

// TestClusterLeavesRoomForTheRouter: the router needs the port before
// r1's.
func TestClusterLeavesRoomForTheRouter(t *testing.T) {
	_, stderr, code := runCmd(t, nil, "cluster", "--data-dir", t.TempDir(), "--base-port", "1")
	if code != 2 || !strings.Contains(stderr, "base-port") {
		t.Fatalf("got exit %d, %q; want 2 naming base-port", code, stderr)
	}
}

// getOrZero is GET url's status, or 0 when nothing answers.
func getOrZero(url string) (int, error) {
	res, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// waitReady polls base/readyz until it answers 200.
func waitReady(t *testing.T, base string) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("%s is not ready", base)
}
