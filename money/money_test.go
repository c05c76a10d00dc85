package money_test

import (
	"errors"
	"math"
	"testing"

	"kassa/money"
)

const nbsp = "\u00a0"

func TestDigits(t *testing.T) {
	for currency, want := range map[string]int{"SEK": 2, "EUR": 2, "JPY": 0, "ISK": 0, "KWD": 3, "IQD": 3, "CLF": 4, "XYZ": 2, "": 2} {
		if got := money.Digits(currency); got != want {
			t.Errorf("Digits(%q): got %d, want %d", currency, got, want)
		}
	}
}

// TestKnown: ISO 4217's current codes with a minor unit, in capitals, and
// nothing else; every currency Digits knows to differ from 2 is one.
func TestKnown(t *testing.T) {
	for _, c := range []string{"SEK", "EUR", "USD", "GBP", "NOK", "DKK", "CHF", "JPY", "KWD", "CLF", "XOF", "XCG", "ZWG",
		"BIF", "CLP", "DJF", "GNF", "ISK", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XPF",
		"BHD", "IQD", "JOD", "LYD", "OMR", "TND", "UYW"} {
		if !money.Known(c) {
			t.Errorf("Known(%q): got false, want true", c)
		}
	}
	for _, c := range []string{"", "SE", "SEKK", "sek", "Sek", "XYZ", "AAA", "ZZZ", "XXX", "XTS", "XAU", "XDR", "HRK", "ANG", "ZWL", "S\u0000K", "SE\u202e"} {
		if money.Known(c) {
			t.Errorf("Known(%q): got true, want false", c)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		amount           int64
		currency, locale string
		want             string
	}{
		{25900, "SEK", "sv-SE", "259,00" + nbsp + "kr"},
		{25900, "EUR", "de-DE", "259,00" + nbsp + "€"},
		{25900, "EUR", "de-AT", "€" + nbsp + "259,00"},
		{123456789, "EUR", "de-AT", "€" + nbsp + "1" + nbsp + "234" + nbsp + "567,89"},
		{25900, "GBP", "en-GB", "£259.00"},
		{25900, "USD", "en-US", "$259.00"},
		{25900, "NOK", "nb-NO", "259,00" + nbsp + "kr"},
		{123456, "DKK", "da-DK", "1.234,56" + nbsp + "kr."},
		{100000005, "EUR", "fi-FI", "1" + nbsp + "000" + nbsp + "000,05" + nbsp + "€"},
		{25900, "EUR", "nl-NL", "€" + nbsp + "259,00"},
		{1234500, "SEK", "en-US", "SEK" + nbsp + "12,345.00"},
		{5, "EUR", "sv-SE", "0,05" + nbsp + "€"},
		{2590, "JPY", "en-US", "JPY" + nbsp + "2,590"},
		{1234, "KWD", "en", "KWD" + nbsp + "1.234"},
		{123456789, "SEK", "sv-SE", "1" + nbsp + "234" + nbsp + "567,89" + nbsp + "kr"},
		{-250, "SEK", "sv-SE", "-2,50" + nbsp + "kr"},
		{-250, "GBP", "en-GB", "-£2.50"},
		{25900, "EUR", "fr-FR", "€259.00"}, // no style for French: written as English
		{25900, "EUR", "de-CH", "259,00" + nbsp + "€"},
		{25900, "EUR", "", "€259.00"},
	} {
		if got := money.Format(tc.amount, tc.currency, tc.locale); got != tc.want {
			t.Errorf("Format(%d, %s, %q): got %q, want %q", tc.amount, tc.currency, tc.locale, got, tc.want)
		}
	}
}

func TestNumber(t *testing.T) {
	for _, tc := range []struct {
		amount           int64
		currency, locale string
		want             string
	}{
		{0, "SEK", "en", "0.00"},
		{1, "SEK", "en", "0.01"},
		{123456, "SEK", "en", "1,234.56"},
		{123456, "SEK", "sv", "1" + nbsp + "234,56"},
		{123456, "EUR", "de", "1.234,56"},
		{-250, "SEK", "en", "-2.50"},
		{1500, "JPY", "en", "1,500"},
		{1234, "KWD", "en", "1.234"},
		{10_000_000_000, "EUR", "en", "100,000,000.00"},
		{math.MaxInt64, "SEK", "en", "92,233,720,368,547,758.07"},
		{math.MinInt64, "SEK", "en", "-92,233,720,368,547,758.08"},
	} {
		if got := money.Number(tc.amount, tc.currency, tc.locale); got != tc.want {
			t.Errorf("Number(%d, %s, %s): got %q, want %q", tc.amount, tc.currency, tc.locale, got, tc.want)
		}
	}
}

func TestPlain(t *testing.T) {
	for _, tc := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{123456789, "SEK", "1234567.89"},
		{1500, "JPY", "1500"},
		{5, "KWD", "0.005"},
	} {
		if got := money.Plain(tc.amount, tc.currency); got != tc.want {
			t.Errorf("Plain(%d, %s): got %q, want %q", tc.amount, tc.currency, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
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
		{"1\u202f234_5", "EUR", 1_234_500, true},
		{".5", "SEK", 50, true},
		{"0.01", "SEK", 1, true},
		{"0", "SEK", 0, true},
		{"0.00", "SEK", 0, true},
		{"100000000", "SEK", 10_000_000_000, true},
		{"1500", "JPY", 1500, true},
		{"1.234", "KWD", 1234, true},
		{"92233720368547758.07", "SEK", math.MaxInt64, true},
		{"92233720368547758.08", "SEK", 0, false},
		{"99999999999999999999", "SEK", 0, false},
		{"", "SEK", 0, false},
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
		{"SEK 12", "SEK", 0, false},
	} {
		got, err := money.Parse(tc.in, tc.currency)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Parse(%q, %s): got %d, %v; want %d, ok %v", tc.in, tc.currency, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, money.ErrSyntax) {
			t.Errorf("Parse(%q, %s): got error %v, want ErrSyntax", tc.in, tc.currency, err)
		}
	}
}

// FuzzParse checks that any text either parses to a non-negative amount
// that Plain writes back to the same amount, or is refused with ErrSyntax;
// never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"12", "12,50", "1 234.5", "0.001", "-1", "1e9", "９", "92233720368547758.07"} {
		f.Add(s, "SEK")
	}
	f.Add("1500", "JPY")
	f.Add("1.234", "KWD")
	f.Add("1.2345", "CLF")
	f.Fuzz(func(t *testing.T, s, currency string) {
		n, err := money.Parse(s, currency)
		if err != nil {
			if !errors.Is(err, money.ErrSyntax) || n != 0 {
				t.Fatalf("Parse(%q, %q): got %d, %v; want 0, ErrSyntax", s, currency, n, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("Parse(%q, %q): got %d, negative", s, currency, n)
		}
		back, err := money.Parse(money.Plain(n, currency), currency)
		if err != nil || back != n {
			t.Fatalf("Parse(%q, %q) = %d, written as %q, reads back as %d, %v", s, currency, n, money.Plain(n, currency), back, err)
		}
	})
}
