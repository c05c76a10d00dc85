package htmlpage_test

import (
	"fmt"
	"maps"
	"net/http"
	"slices"

	"kassa/htmlpage"
)

// A handler sets the headers before it renders a page whose form may send
// the browser on to the merchant's confirmation page; that origin joins
// form-action, and nothing else leaves 'self'.
func ExampleSetHeaders() {
	h := http.Header{}
	htmlpage.SetHeaders(h, "https://shop.example")
	for _, k := range slices.Sorted(maps.Keys(h)) {
		fmt.Printf("%s: %s\n", k, h.Get(k))
	}
	// Output:
	// Cache-Control: no-store
	// Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self' https://shop.example
	// Content-Type: text/html; charset=utf-8
	// Cross-Origin-Opener-Policy: same-origin
	// Permissions-Policy: camera=(), microphone=(), geolocation=(), payment=()
	// Referrer-Policy: no-referrer
	// X-Content-Type-Options: nosniff
	// X-Frame-Options: DENY
}
