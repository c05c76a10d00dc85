package invoice

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"

	"kassa/ledger"
)

// ReferenceLen is the length of a payment reference: 18 digits from the
// capture and a check digit.
const ReferenceLen = 19

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// ID returns the id of the invoice of a capture operation: "inv_" and a
// digest of the operation's id, the same in every region.
func ID(capture string) string {
	h := sha256.Sum256([]byte("invoice:" + capture))
	return "inv_" + strings.ToLower(b32.EncodeToString(h[:])[:24])
}

// Number returns an invoice's number as printed: the capture entry's
// region and sequence number, which no other entry has, so numbers are
// unique across regions without coordination.
func Number(origin ledger.RegionID, seq uint64) string {
	return fmt.Sprintf("%s-%08d", strings.ToUpper(string(origin)), seq)
}

// Reference returns the payment reference of the invoice of a capture
// operation: 18 digits of a digest of the operation's id and a Luhn
// (mod 10) check digit, as Swedish OCR references carry one.
func Reference(capture string) string {
	h := sha256.Sum256([]byte("reference:" + capture))
	body := fmt.Sprintf("%018d", binary.BigEndian.Uint64(h[:8])%1_000_000_000_000_000_000)
	return body + string(rune('0'+luhnDigit(body)))
}

// ValidReference reports whether s is a payment reference as Reference
// makes them: ReferenceLen digits, the last the Luhn check digit of the
// others. It does not say whether an invoice has it (Book.ByReference
// does). Callers strip the spaces a bank file may put in.
func ValidReference(s string) bool {
	if len(s) != ReferenceLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return luhnDigit(s[:len(s)-1]) == int(s[len(s)-1]-'0')
}

// luhnDigit is the Luhn check digit of a string of digits: doubling every
// second digit from the right, the digit that makes the sum a multiple of
// ten. It catches every single wrong digit and most swaps of neighbours.
func luhnDigit(digits string) int {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return (10 - sum%10) % 10
}

// Token returns the unguessable part of an invoice's link: a digest of
// its id keyed with the deployment-wide key (checkout.id_key, which also
// makes checkout pages' addresses unguessable), so any region serves the
// link and nobody without the key can compute one.
func Token(key []byte, id string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("invoice-link:" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:24])
}
