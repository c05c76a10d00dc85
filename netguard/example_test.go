package netguard_test

import (
	"fmt"
	"net"

	"kassa/netguard"
)

// The cloud metadata address and a private network are internal; a public
// address is not.
func ExampleInternalIP() {
	for _, ip := range []string{"169.254.169.254", "10.0.0.7", "::ffff:127.0.0.1", "93.184.216.34"} {
		fmt.Println(ip, netguard.InternalIP(net.ParseIP(ip)))
	}
	// Output:
	// 169.254.169.254 true
	// 10.0.0.7 true
	// ::ffff:127.0.0.1 true
	// 93.184.216.34 false
}
