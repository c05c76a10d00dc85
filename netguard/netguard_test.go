package netguard_test

import (
	"context"
	"errors"
	"kassa/netguard/netguardtest"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"kassa/netguard"
)

func TestPublicDialerRefusesInternalAddresses(t *testing.T) {
	for _, addr := range []string{
		"127.0.0.1:80", "10.0.0.1:443", "169.254.169.254:80", "localhost:443", "LOCALHOST.:443", "[::1]:443",
		"[::ffff:127.0.0.1]:443", "[fe80::1%25eth0]:443", "[fd00::1]:443", "0.0.0.0:443", "100.64.0.1:443",
		"[64:ff9b::a00:1]:443", "loop.example:443", "private.example:443", "metadata.example:80",
		"mixed.example:443", "cgnat.example:443", "v6.example:443", "db.internal:443",
	} {
		t.Run(addr, func(t *testing.T) {
			dl := &netguardtest.DialLog{}
			p := &netguard.PublicDialer{Resolver: netguardtest.Hostile, Dial: dl.Dial}
			_, err := p.DialContext(context.Background(), "tcp", strings.Replace(addr, "%25", "%", 1))
			if !errors.Is(err, netguard.ErrInternalAddress) {
				t.Fatalf("got %v, want ErrInternalAddress", err)
			}
			if got := dl.Dialed(); len(got) != 0 {
				t.Fatalf("dialed %v, want nothing", got)
			}
		})
	}
	// A public name is dialed at the address that was checked.
	dl := &netguardtest.DialLog{}
	p := &netguard.PublicDialer{Resolver: netguardtest.Hostile, Dial: dl.Dial}
	p.DialContext(context.Background(), "tcp", "shop.example:443")
	if got := dl.Dialed(); !slices.Equal(got, []string{"93.184.216.34:443"}) {
		t.Fatalf("dialed %v, want the resolved address 93.184.216.34:443", got)
	}
}

func TestInternalHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST.": true, "a.localhost": true, "db.internal": true, "printer.local": true,
		"127.0.0.1": true, "10.1.2.3": true, "169.254.169.254": true, "::1": true, "fd00::1": true,
		"shop.example": false, "93.184.216.34": false, "2606:2800:220:1::1": false,
	} {
		if got := netguard.InternalHost(host); got != want {
			t.Errorf("InternalHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// A checked transport refuses an internal host before the next transport
// sees the request, and passes a public one on.
func TestCheckedTransport(t *testing.T) {
	var reached []string
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		reached = append(reached, r.URL.Host)
		return httptest.NewRecorder().Result(), nil
	})
	tr := &netguard.CheckedTransport{Guard: &netguard.PublicDialer{Resolver: netguardtest.Hostile}, Next: next}
	for _, u := range []string{"https://private.example/h", "https://127.0.0.1/h", "https://shop.example/h"} {
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader("{}"))
		res, err := tr.RoundTrip(req)
		if internal := !strings.Contains(u, "shop.example"); internal != errors.Is(err, netguard.ErrInternalAddress) {
			t.Fatalf("%s: got %v", u, err)
		}
		if res != nil {
			res.Body.Close()
		}
	}
	if !slices.Equal(reached, []string{"shop.example"}) {
		t.Fatalf("the next transport saw %v, want only shop.example", reached)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
