package invoice_test

import (
	"fmt"
	"testing"

	"kassa/invoice"
)

func TestReferenceCheckDigit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"0000000000000000000", true},
		{"1234567890123456785", true}, // Luhn of 123456789012345678 is 5
		{"1234567890123456782", false},
		{"123456789012345678", false}, // too short
		{"12345678901234567822", false},
		{"12345678901234567a2", false},
		{"", false},
	} {
		if got := invoice.ValidReference(tc.in); got != tc.want {
			t.Errorf("ValidReference(%q): got %v, want %v", tc.in, got, tc.want)
		}
	}
	for i := range 200 {
		ref := invoice.Reference(fmt.Sprintf("cap_%d", i))
		if !invoice.ValidReference(ref) {
			t.Fatalf("Reference made %q, which does not validate", ref)
		}
		// Every single wrong digit is caught.
		for k := range ref {
			for d := byte('0'); d <= '9'; d++ {
				if d == ref[k] {
					continue
				}
				b := []byte(ref)
				b[k] = d
				if invoice.ValidReference(string(b)) {
					t.Fatalf("%q (one digit of %q changed) validates", b, ref)
				}
			}
		}
	}
}

func TestIDsAreDeterministic(t *testing.T) {
	a := "cap_a"
	if invoice.ID(a) != invoice.ID("cap_"+"a") || invoice.ID(a) == invoice.ID("cap_b") {
		t.Fatal("ID is not a function of the capture")
	}
	if invoice.Reference(a) != invoice.Reference("cap_"+"a") || invoice.Reference(a) == invoice.Reference("cap_b") {
		t.Fatal("Reference is not a function of the capture")
	}
	k1, k2 := []byte("key-one-0123456789"), []byte("key-two-0123456789")
	if invoice.Token(k1, "inv_x") != invoice.Token([]byte(string(k1)), "inv_"+"x") || invoice.Token(k1, "inv_x") == invoice.Token(k2, "inv_x") {
		t.Fatal("Token is not a keyed function of the invoice")
	}
	if got := invoice.Number("r2", 42); got != "R2-00000042" {
		t.Fatalf("Number: got %s, want R2-00000042", got)
	}
}

func TestValidIBAN(t *testing.T) {
	for s, want := range map[string]bool{
		"SE45 5000 0000 0583 9825 7466": true, "SE4550000000058398257466": true,
		"SE4650000000058398257466": false, "DE89370400440532013000": true, "XX": false,
	} {
		if got := invoice.ValidIBAN(s); got != want {
			t.Errorf("ValidIBAN(%q): got %v, want %v", s, got, want)
		}
	}
}

// FuzzValidReference: ValidReference never panics, accepts only
// ReferenceLen digits, and accepts every reference Reference makes.
func FuzzValidReference(f *testing.F) {
	f.Add("1234567890123456785")
	f.Add("")
	f.Add("12345678901234567８2")
	f.Fuzz(func(t *testing.T, s string) {
		if invoice.ValidReference(s) {
			if len(s) != invoice.ReferenceLen {
				t.Fatalf("%q validates with length %d", s, len(s))
			}
			for _, r := range s {
				if r < '0' || r > '9' {
					t.Fatalf("%q validates with a non-digit", s)
				}
			}
		}
		if ref := invoice.Reference(s); !invoice.ValidReference(ref) {
			t.Fatalf("Reference(%q) = %q does not validate", s, ref)
		}
	})
}
