package cards

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
)

// MinFingerprintKeyLen is the shortest key Validate accepts.
const MinFingerprintKeyLen = 16

// FingerprintKey is the secret that keys card fingerprints. Every region that
// should recognise the same card as the same must hold the same key, and the
// key should serve nothing else. It never prints: fmt, slog and JSON show a
// placeholder.
type FingerprintKey []byte

// Validate returns an error if the key is shorter than MinFingerprintKeyLen
// bytes, short enough to make fingerprints guessable.
func (k FingerprintKey) Validate() error {
	if len(k) < MinFingerprintKeyLen {
		return fmt.Errorf("cards: fingerprint key has %d bytes, want at least %d", len(k), MinFingerprintKeyLen)
	}
	return nil
}

// String hides the key.
func (k FingerprintKey) String() string { return "FingerprintKey(redacted)" }

// Format writes String for every verb.
func (k FingerprintKey) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// LogValue hides the key from slog.
func (k FingerprintKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON hides the key from encoding/json.
func (k FingerprintKey) MarshalJSON() ([]byte, error) { return []byte(`"redacted"`), nil }

// Facts is all kassa keeps about a card: safe to store in ledger entries,
// show to support staff and log.
type Facts struct {
	Brand       string `json:"brand"`
	Last4       string `json:"last4"`
	ExpMonth    int    `json:"exp_month"`
	ExpYear     int    `json:"exp_year"`
	Fingerprint string `json:"fingerprint"`
}

// Facts returns the storable facts of c. The fingerprint is the hex
// HMAC-SHA256 under k of the number without spaces and dashes, cut to 32 hex
// characters (128 bits): equal numbers give equal fingerprints under one
// key. Facts is meant for a card that passed Check; for one that did not,
// Last4 is empty and the fingerprint is of whatever was typed.
// It is safe for concurrent use.
func (k FingerprintKey) Facts(c Card) Facts {
	d := digitsOf(c.Number)
	mac := hmac.New(sha256.New, k)
	io.WriteString(mac, d)
	return Facts{
		Brand:       brandOf(d),
		Last4:       last4(d),
		ExpMonth:    c.ExpMonth,
		ExpYear:     c.ExpYear,
		Fingerprint: hex.EncodeToString(mac.Sum(nil))[:32],
	}
}
