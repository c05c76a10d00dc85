package htmlpage_test

import (
	"net/http"
	"strings"
	"testing"

	"kassa/htmlpage"
)

func TestSetHeaders(t *testing.T) {
	for target, want := range map[string]string{"": "form-action 'self'", "https://shop.example": "form-action 'self' https://shop.example"} {
		h := http.Header{}
		htmlpage.SetHeaders(h, target)
		if csp := h.Get("Content-Security-Policy"); !strings.HasSuffix(csp, want) || strings.Contains(csp, "unsafe") {
			t.Errorf("target %q: got CSP %q, want it to end in %q", target, csp, want)
		}
		if got := h.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("X-Frame-Options: got %q, want DENY", got)
		}
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		f    htmlpage.Field
		want string
	}{
		{htmlpage.Field{ID: "email"}, ""},
		{htmlpage.Field{ID: "email", Hint: "h"}, "email-hint"},
		{htmlpage.Field{ID: "email", Error: "e"}, "email-error"},
		{htmlpage.Field{ID: "email", Hint: "h", Error: "e"}, "email-hint email-error"},
	} {
		if got := tc.f.Describe(); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.f, got, tc.want)
		}
	}
}
