package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// InternalHost reports whether host is a loopback, private, link-local or
// unspecified address, or a name that means one (localhost, *.local,
// *.internal). It needs no resolver, so it suits checking a URL when it is
// given; PublicDialer checks the resolved addresses again when it connects.
func InternalHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || strings.HasSuffix(h, ".internal") || strings.HasSuffix(h, ".local") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		return false
	}
	return InternalIP(net.IP(ip.AsSlice()))
}

// InternalIP reports whether ip must not be the target of a server-side
// request in production: loopback, private, link-local (the cloud metadata
// address among them), unspecified, multicast, carrier-grade NAT and the
// other ranges that never name a merchant's public server, also when
// written as an IPv4-mapped or NAT64 IPv6 address.
func InternalIP(ip net.IP) bool {
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return true
	}
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return true
	}
	a = a.Unmap()
	if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		return InternalIP(net.IPv4(b[12], b[13], b[14], b[15]))
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var (
	nat64    = netip.MustParsePrefix("64:ff9b::/96")
	reserved = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),     // "this network"
		netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
		netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
		netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
		netip.MustParsePrefix("240.0.0.0/4"),   // reserved, and broadcast
		netip.MustParsePrefix("100::/64"),      // discard
		netip.MustParsePrefix("2001:db8::/32"), // documentation
		netip.MustParsePrefix("fec0::/10"),     // deprecated site-local
	}
)

// ErrInternalAddress: a server-side request (a webhook) is never sent to a
// host that is, or resolves to, a loopback, private, link-local or otherwise
// internal address.
var ErrInternalAddress = errors.New("netguard: address is loopback, private or link-local")

// Resolver looks up a host's addresses; *net.Resolver implements it.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// PublicDialer connects only to public addresses, for requests whose target
// an outsider chose (webhook URLs). It resolves the host itself, refuses
// the host if any of its addresses is internal (see InternalIP), and then
// dials the address it checked, so a name that resolves differently a
// moment later (DNS rebinding) cannot slip through. Its errors for refused
// hosts wrap ErrInternalAddress. It is safe for concurrent use.
type PublicDialer struct {
	Resolver Resolver                                                          // net.DefaultResolver if nil
	Dial     func(ctx context.Context, network, addr string) (net.Conn, error) // a net.Dialer's if nil
}

// DialContext resolves, checks and dials addr (host:port).
func (p *PublicDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := p.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	dial := p.Dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	var last error
	for _, ip := range ips {
		c, err := dial(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

// resolve returns host's addresses, or an error if there are none or any
// of them is internal.
func (p *PublicDialer) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if InternalHost(host) {
		return nil, fmt.Errorf("%w: %s", ErrInternalAddress, host)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		r := p.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		addrs, err := r.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			ips = append(ips, ip.Unmap().WithZone(a.Zone))
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	for _, ip := range ips {
		if ip.Zone() != "" || InternalIP(net.IP(ip.Unmap().AsSlice())) {
			return nil, fmt.Errorf("%w: %s is %s", ErrInternalAddress, host, ip)
		}
	}
	return ips, nil
}

// CheckedTransport checks a request's host with Guard before handing it to
// Next. It is the fallback when a transport is injected (tests inject
// network faults); unlike PublicDialer it cannot pin the checked address.
type CheckedTransport struct {
	Guard *PublicDialer
	Next  http.RoundTripper
}

// RoundTrip refuses r if its host is internal, and otherwise lets Next
// carry it.
func (c *CheckedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if _, err := c.Guard.resolve(r.Context(), r.URL.Hostname()); err != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, err
	}
	return c.Next.RoundTrip(r)
}
