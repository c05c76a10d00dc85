package proxy

import (
	"bufio"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// echo serves lines back to the sender until the test ends.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func newProxy(t *testing.T) *Proxy {
	t.Helper()
	p, err := New(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// roundTrip sends one line through a new connection and reads the echo,
// waiting at most wait.
func roundTrip(t *testing.T, addr string, wait time.Duration) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func TestHealedLinkForwardsAndCounts(t *testing.T) {
	p := newProxy(t)
	got, err := roundTrip(t, p.Addr(), 5*time.Second)
	if err != nil || got != "ping\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	if p.Bytes(Forward) != 5 || p.Bytes(Backward) != 5 {
		t.Fatalf("counted %d forward, %d backward; want 5 and 5", p.Bytes(Forward), p.Bytes(Backward))
	}
}

func TestCutBothWaysDropsConnections(t *testing.T) {
	p := newProxy(t)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	c.Write([]byte("one\n"))
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	p.Cut(true, Forward)
	// The open connection is closed, not left hanging: the read ends
	// before its deadline.
	c.Write([]byte("two\n"))
	if _, err := r.ReadString('\n'); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on a cut link: %v, want the connection closed", err)
	}
	if _, err := roundTrip(t, p.Addr(), 5*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("new connection on a cut link: %v, want it closed", err)
	}
	p.Heal()
	if got, err := roundTrip(t, p.Addr(), 5*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("after heal: %q, %v", got, err)
	}
}

func TestCutOneWaySwallows(t *testing.T) {
	for _, d := range []Direction{Forward, Backward} {
		p := newProxy(t)
		p.Cut(false, d)
		_, err := roundTrip(t, p.Addr(), 200*time.Millisecond)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("direction %d cut: %v, want a timeout", d, err)
		}
		if p.Bytes(d) != 0 {
			t.Fatalf("direction %d cut but %d bytes counted", d, p.Bytes(d))
		}
		p.Heal()
		if got, err := roundTrip(t, p.Addr(), 5*time.Second); err != nil || got != "ping\n" {
			t.Fatalf("after heal: %q, %v", got, err)
		}
	}
}

func TestSlowDelaysEachChunk(t *testing.T) {
	p := newProxy(t)
	p.Slow(100 * time.Millisecond)
	start := time.Now()
	if got, err := roundTrip(t, p.Addr(), 5*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("%q, %v", got, err)
	}
	// One chunk each way: at least twice the delay.
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("round trip took %s through a link slowed by 100ms per chunk", el)
	}
}
