package admin

import "testing"

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		in, currency string
		want         int64
		ok           bool
	}{
		{"12", "SEK", 1200, true},
		{"12.5", "SEK", 1250, true},
		{"12.50", "SEK", 1250, true},
		{"12,50", "SEK", 1250, true},
		{" 1 234,50 ", "SEK", 123450, true},
		{"1\u00a0234.5", "EUR", 123450, true},
		{".5", "SEK", 50, true},
		{"0.01", "SEK", 1, true},
		{"100000000", "SEK", 10_000_000_000, true},
		{"1500", "JPY", 1500, true},
		{"1.234", "KWD", 1234, true},
		{"", "SEK", 0, false},
		{"0", "SEK", 0, false},
		{"0.00", "SEK", 0, false},
		{"-1", "SEK", 0, false},
		{"+1", "SEK", 0, false},
		{"1.", "SEK", 0, false},
		{".", "SEK", 0, false},
		{"1.234", "SEK", 0, false},
		{"1,000", "SEK", 0, false}, // a thousands separator, or three decimals: refused, not guessed
		{"1,000.00", "SEK", 0, false},
		{"1.000,00", "SEK", 0, false},
		{"1,2,3", "SEK", 0, false},
		{"1.5", "JPY", 0, false},
		{"1e3", "SEK", 0, false},
		{"0x10", "SEK", 0, false},
		{"１２", "SEK", 0, false}, // full-width digits
		{"100000000.01", "SEK", 0, false},
		{"99999999999999999999", "SEK", 0, false},
		{"SEK 12", "SEK", 0, false},
	} {
		got, err := parseAmount(tc.in, tc.currency)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseAmount(%q, %s): got %d, %v; want %d, ok %v", tc.in, tc.currency, got, err, tc.want, tc.ok)
		}
	}
}

func TestFormatAmount(t *testing.T) {
	for _, tc := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{0, "SEK", "0.00"},
		{1, "SEK", "0.01"},
		{123456, "SEK", "1,234.56"},
		{-250, "SEK", "-2.50"},
		{1500, "JPY", "1,500"},
		{1234, "KWD", "1.234"},
		{10_000_000_000, "EUR", "100,000,000.00"},
	} {
		if got := formatAmount(tc.amount, tc.currency); got != tc.want {
			t.Errorf("formatAmount(%d, %s): got %q, want %q", tc.amount, tc.currency, got, tc.want)
		}
	}
}

// FuzzParseAmount checks that what staff type either parses to a positive
// amount within bounds that reads back the same, or is refused; never a
// panic.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"12", "12,50", "1 234.5", "0.001", "-1", "1e9", "９"} {
		f.Add(s, "SEK")
	}
	f.Add("1500", "JPY")
	f.Add("1.234", "KWD")
	f.Fuzz(func(t *testing.T, s, currency string) {
		n, err := parseAmount(s, currency)
		if err != nil {
			return
		}
		if n <= 0 || n > maxAmount {
			t.Fatalf("parseAmount(%q): got %d, out of bounds", s, n)
		}
		back, err := parseAmount(plainAmount(n, currency), currency)
		if err != nil || back != n {
			t.Fatalf("parseAmount(%q) = %d, shown as %q, reads back as %d, %v", s, n, plainAmount(n, currency), back, err)
		}
	})
}
