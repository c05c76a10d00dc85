package cards_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"kassa/cards"
)

var testKey = cards.FingerprintKey("0123456789abcdef0123456789abcdef")

func TestFacts(t *testing.T) {
	c := cards.Card{Number: "4242 4242 4242 4242", ExpMonth: 12, ExpYear: 2030, CVC: "123"}
	f := testKey.Facts(c)
	want := cards.Facts{Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2030, Fingerprint: f.Fingerprint}
	if f != want {
		t.Errorf("got %+v, want %+v", f, want)
	}
	if len(f.Fingerprint) != 32 || strings.Trim(f.Fingerprint, "0123456789abcdef") != "" {
		t.Errorf("got fingerprint %q, want 32 lowercase hex characters", f.Fingerprint)
	}

	tests := []struct {
		name string
		a, b cards.Card
		key  cards.FingerprintKey
		same bool
	}{
		{"same card, other formatting", c, cards.Card{Number: "4242-4242-4242-4242"}, testKey, true},
		{"same card, other expiry and CVC", c, cards.Card{Number: "4242424242424242", ExpMonth: 1, ExpYear: 2031, CVC: "999"}, testKey, true},
		{"other card", c, cards.Card{Number: "5555555555554444"}, testKey, false},
		{"other key", c, c, cards.FingerprintKey("another key, another fingerprint"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fa, fb := testKey.Facts(tt.a), tt.key.Facts(tt.b)
			if got := fa.Fingerprint == fb.Fingerprint; got != tt.same {
				t.Errorf("got equal %v, want %v (%s vs %s)", got, tt.same, fa.Fingerprint, fb.Fingerprint)
			}
		})
	}

	// Pinned (computed independently: HMAC-SHA256("key", "4242424242424242")
	// cut to 32 hex characters), so every region and every release computes
	// the same fingerprint for the same card.
	if got, want := cards.FingerprintKey("key").Facts(cards.Card{Number: "4242 4242 4242 4242"}).Fingerprint, "2a18ebc3182f50199fdb377383960319"; got != want {
		t.Errorf("pinned fingerprint: got %s, want %s", got, want)
	}
}

func TestFactsNeverContainNumber(t *testing.T) {
	numbers := []string{"4000 0566 5566 5556", "378282246310005", "6011111111111117", "4242 42"}
	for _, tc := range cards.TestCards() {
		numbers = append(numbers, tc.Number)
	}
	for _, n := range numbers {
		f := testKey.Facts(cards.Card{Number: n, ExpMonth: 12, ExpYear: 2030, CVC: "918"})
		j, _ := json.Marshal(f)
		var b bytes.Buffer
		slog.New(slog.NewTextHandler(&b, nil)).Info("facts", "facts", f)
		for _, out := range []string{f.Fingerprint, f.Last4, f.Brand, string(j), fmt.Sprintf("%+v", f), b.String()} {
			if l := leaks(out, n); l != "" {
				t.Errorf("%s: got %q in %q, want no run of six digits of the number", n, l, out)
			}
		}
		if strings.Contains(string(j), "918") {
			t.Errorf("got the CVC in %s", j)
		}
	}
}

func TestFingerprintKeyHidden(t *testing.T) {
	k := cards.FingerprintKey("supersecretfingerprintkey-123456")
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).Info("cfg", "key", k)
	j, _ := json.Marshal(struct{ K cards.FingerprintKey }{k})
	for _, out := range []string{fmt.Sprint(k), fmt.Sprintf("%x %s %d %#v %q", k, k, k, k, k), b.String(), string(j)} {
		if strings.Contains(out, "supersecret") || strings.Contains(out, fmt.Sprintf("%x", []byte(k))[:12]) {
			t.Errorf("got the key in %q", out)
		}
	}
	if err := cards.FingerprintKey("short").Validate(); err == nil {
		t.Errorf("Validate of a 5-byte key: got nil, want an error")
	}
	if err := k.Validate(); err != nil {
		t.Errorf("Validate of a 32-byte key: got %v, want nil", err)
	}
}
