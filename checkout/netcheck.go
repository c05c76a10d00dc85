package checkout

import (
	"net"
	"net/netip"
	"strings"
)

// internalHost reports whether host is a loopback, private, link-local or
// unspecified address, or a name that means one. Names are checked again
// after resolution when a webhook is sent.
func internalHost(host string) bool {
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
// request in production.
func InternalIP(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast()
}
