package admin

import "testing"

// TestParseAmount checks what a form may ask for on top of money.Parse
// (whose own tests cover the syntax): more than zero, at most maxAmount.
func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		in, currency string
		want         int64
		ok           bool
	}{
		{"12,50", "SEK", 1250, true},
		{"0.01", "SEK", 1, true},
		{"100000000", "SEK", 10_000_000_000, true},
		{"1500", "JPY", 1500, true},
		{"0", "SEK", 0, false},
		{"0.00", "SEK", 0, false},
		{"100000000.01", "SEK", 0, false},
		{"99999999999999999999", "SEK", 0, false},
		{"1,000", "SEK", 0, false},
		{"-1", "SEK", 0, false},
	} {
		got, err := parseAmount(tc.in, tc.currency)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseAmount(%q, %s): got %d, %v; want %d, ok %v", tc.in, tc.currency, got, err, tc.want, tc.ok)
		}
	}
}

// TestFormatAmount checks that staff see amounts the English way whatever
// the currency, and form values that read back.
func TestFormatAmount(t *testing.T) {
	for _, tc := range []struct {
		amount         int64
		currency       string
		want, withCode string
		plain          string
	}{
		{0, "SEK", "0.00", "0.00\u00a0SEK", "0.00"},
		{123456, "SEK", "1,234.56", "1,234.56\u00a0SEK", "1234.56"},
		{-250, "SEK", "-2.50", "-2.50\u00a0SEK", "-2.50"},
		{1500, "JPY", "1,500", "1,500\u00a0JPY", "1500"},
		{1234, "KWD", "1.234", "1.234\u00a0KWD", "1.234"},
		{10_000_000_000, "EUR", "100,000,000.00", "100,000,000.00\u00a0EUR", "100000000.00"},
	} {
		if got := formatAmount(tc.amount, tc.currency); got != tc.want {
			t.Errorf("formatAmount(%d, %s): got %q, want %q", tc.amount, tc.currency, got, tc.want)
		}
		if got := money(tc.amount, tc.currency); got != tc.withCode {
			t.Errorf("money(%d, %s): got %q, want %q", tc.amount, tc.currency, got, tc.withCode)
		}
		if got := plainAmount(tc.amount, tc.currency); got != tc.plain {
			t.Errorf("plainAmount(%d, %s): got %q, want %q", tc.amount, tc.currency, got, tc.plain)
		}
	}
}
