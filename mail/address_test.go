package mail_test

import (
	"errors"
	"strings"
	"testing"

	"kassa/mail"
)

func TestParseAddress(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"ada@example.com", "ada@example.com"},
		{"  Ada@Example.COM\t", "ada@example.com"},
		{"ops+kassa@shop.example", "ops+kassa@shop.example"},
		{"", ""},
		{"ada", ""},
		{"@example.com", ""},
		{"Ada <ada@example.com>", ""},
		{"ada@example.com, bo@example.com", ""},
		{"ada@example.com\r\nBcc: x@example.com", ""},
		{strings.Repeat("a", 243) + "@example.com", ""},
	} {
		got, err := mail.ParseAddress(tt.in)
		if got != tt.want || (tt.want == "") != errors.Is(err, mail.ErrBadAddress) {
			t.Errorf("ParseAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "example.com") && strings.Contains(err.Error(), tt.in) && len(tt.in) > 3 {
			t.Errorf("ParseAddress(%q): the error %q shows the whole address", tt.in, err)
		}
	}
}

// FuzzParseAddress: an address accepted is normalised (lower case, one
// line, at most 254 bytes) and accepted again unchanged.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"ada@example.com", " A@B.c ", "a <b@c>", "\"a b\"@c.d", "a@[127.0.0.1]", "ä@ö.se", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := mail.ParseAddress(s)
		if err != nil {
			if !errors.Is(err, mail.ErrBadAddress) || got != "" {
				t.Fatalf("ParseAddress(%q) = %q, %v", s, got, err)
			}
			return
		}
		if len(got) > 254 || got != strings.ToLower(got) || strings.ContainsAny(got, "\r\n,") || !strings.Contains(got, "@") {
			t.Fatalf("ParseAddress(%q) = %q: not normalised", s, got)
		}
		if again, err := mail.ParseAddress(got); err != nil || again != got {
			t.Fatalf("ParseAddress(%q) = %q, %v; want it unchanged", got, again, err)
		}
	})
}
