// Package netguardtest gives tests of outbound connections a resolver
// that answers from a table and a dialer that records where it was asked to
// connect and connects nowhere, so the address checks of netguard can be
// proven without a network.
//
// Invariant: nothing here opens a connection or asks a real resolver.
package netguardtest

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
)

// Resolver answers lookups from a table of host -> addresses; an unknown
// host is "no such host".
type Resolver map[string][]string

// LookupIPAddr returns the table's addresses for host.
func (f Resolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	addrs, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, a := range addrs {
		out = append(out, net.IPAddr{IP: net.ParseIP(a)})
	}
	return out, nil
}

// Hostile resolves names to loopback, private, link-local, carrier-grade
// NAT and IPv6 loopback addresses, one mixed host, and shop.example to a
// public address: what a server-side request forgery would try.
var Hostile = Resolver{
	"loop.example":     {"127.0.0.1"},
	"private.example":  {"10.0.0.1"},
	"metadata.example": {"169.254.169.254"},
	"mixed.example":    {"93.184.216.34", "192.168.1.1"},
	"cgnat.example":    {"100.64.0.1"},
	"v6.example":       {"::1"},
	"shop.example":     {"93.184.216.34"},
	"localhost":        {"127.0.0.1"},
}

// DialLog records what a dialer was asked to connect to, and connects to
// nothing. It is safe for concurrent use.
type DialLog struct {
	mu    sync.Mutex
	addrs []string
}

// Dial records addr and fails.
func (l *DialLog) Dial(_ context.Context, _, addr string) (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addrs = append(l.addrs, addr)
	return nil, errors.New("test dialer: not connecting")
}

// Dialed returns the addresses asked for so far.
func (l *DialLog) Dialed() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.addrs)
}
