package region

import (
	"net/url"
	"strings"

	"kassa/config"
)

// A deployment has two kinds of address. public_url is a region's own: its
// peers push to it and its banner names it. site_url is the deployment's
// one address for shoppers and merchants, a load balancer or DNS name in
// front of every region: checkout links (a session's checkout_url) and the
// links in emails name it, so a shopper sent there may be served by any
// region. With one region, or no load balancer, the two are the same, and
// site_url defaults to public_url.

// normalizeSite fills site_url from public_url when it is empty and drops
// a trailing slash, so that site_url + "/checkout/..." is one URL.
func (c *Config) normalizeSite() {
	if c.SiteURL == "" {
		c.SiteURL = c.PublicURL
	}
	c.SiteURL = strings.TrimRight(c.SiteURL, "/")
}

// validateSite checks site_url: an absolute http(s) URL with a host and
// neither credentials, query nor fragment (links are made by appending a
// path to it), https in production, where shoppers type card numbers into
// the pages it leads to. The error names site_url.
func (c *Config) validateSite() error {
	if c.SiteURL == "" {
		return nil // no public_url either: Normalize was not called
	}
	u, err := url.Parse(c.SiteURL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		return config.Errorf("site_url", "must be an absolute http(s) URL such as https://pay.example.com, got %q", c.SiteURL)
	case u.User != nil:
		return config.Errorf("site_url", "must not carry credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(c.SiteURL, "#"):
		return config.Errorf("site_url", "must have no query or fragment (paths are appended to it), got %q", c.SiteURL)
	case c.Mode == "production" && u.Scheme != "https":
		if c.SiteURL == strings.TrimRight(c.PublicURL, "/") {
			return config.Errorf("site_url", "is %q, taken from public_url; production needs the https address shoppers and merchants use: set site_url", c.SiteURL)
		}
		return config.Errorf("site_url", "must be https in production (shoppers pay at the pages it leads to), got %q", c.SiteURL)
	}
	return nil
}
