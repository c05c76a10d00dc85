package region_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"kassa/region"
)

// validSite returns the defaults with site_url set to s, normalized, and
// Validate's error. (Production's https rule is tested through the
// command, in package main.)
func validSite(t testing.TB, s string) (region.Config, error) {
	cfg := region.DefaultConfig()
	cfg.DataDir = "data" // only made absolute; nothing is created
	cfg.SiteURL = s
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	return cfg, cfg.Validate()
}

func TestSiteURL(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string // normalized site_url, or "" when refused
	}{
		{"", "http://127.0.0.1:8080"},
		{"https://pay.example.com/", "https://pay.example.com"},
		{"https://pay.example.com/kassa//", "https://pay.example.com/kassa"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"pay.example.com", ""},
		{"ftp://pay.example.com", ""},
		{"https://", ""},
		{"https://pay.example.com/?shop=1", ""},
		{"https://pay.example.com/?", ""},
		{"https://pay.example.com/#top", ""},
		{"https://user:pw@pay.example.com", ""},
		{"mailto:pay@example.com", ""},
	} {
		t.Run(tt.in, func(t *testing.T) {
			cfg, err := validSite(t, tt.in)
			var ce *region.ConfigError
			switch {
			case tt.want == "" && (!errors.As(err, &ce) || ce.Key != "site_url"):
				t.Fatalf("got %v, want a *region.ConfigError naming site_url", err)
			case tt.want != "" && err != nil:
				t.Fatalf("got %v, want nil", err)
			case tt.want != "" && cfg.SiteURL != tt.want:
				t.Fatalf("site_url: got %q, want %q", cfg.SiteURL, tt.want)
			}
		})
	}
}

// FuzzSiteURL: Validate never panics on a site_url, and one it accepts is
// a base that links can be appended to: the link parses with the same
// scheme and host, no query or fragment, and the path below the base.
func FuzzSiteURL(f *testing.F) {
	for _, s := range []string{"https://pay.example.com", "http://127.0.0.1:8080/", "https://a/b?c#d", "https://%zz", "//x", "https://[::1]:443/p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := validSite(t, s)
		if err != nil {
			return
		}
		link := cfg.SiteURL + "/checkout/ses_x"
		u, perr := url.Parse(link)
		base, berr := url.Parse(cfg.SiteURL)
		if perr != nil || berr != nil {
			t.Fatalf("accepted %q, but %q does not parse: %v %v", s, link, perr, berr)
		}
		if u.Scheme != base.Scheme || u.Host != base.Host || u.RawQuery != "" || u.Fragment != "" || !strings.HasSuffix(u.Path, "/checkout/ses_x") {
			t.Fatalf("accepted %q, but the link %q is %#v", s, link, u)
		}
	})
}
