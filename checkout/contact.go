package checkout

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
)

// ErrContactSealed is returned by OpenContact for a sealed email this
// region cannot open: malformed, sealed for another order, or under
// another secret key.
var ErrContactSealed = errors.New("checkout: the shopper's email cannot be opened (is checkout.secret_key the same in every region?)")

// contactAD binds a sealed email to its order, so a sealed email copied
// into another order's entry does not open.
func contactAD(oid OrderID) []byte { return []byte("contact:" + string(oid)) }

// sealContact encrypts a credit order's shopper email for its
// authorization entry (AES-256-GCM under the deployment's secret key).
func (s *Service) sealContact(oid OrderID, email string) (string, error) {
	g, err := s.aead()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, g.NonceSize())
	rand.Read(nonce) // never fails (crypto/rand)
	plain := []byte(strings.TrimSpace(email))
	return base64.RawStdEncoding.EncodeToString(g.Seal(nonce, nonce, plain, contactAD(oid))), nil
}

// OpenContact returns the shopper's email that oid's authorization carries
// sealed (the "contact" of its data), or ErrContactSealed. It is safe for
// concurrent use.
func (s *Service) OpenContact(oid OrderID, sealed string) (string, error) {
	g, err := s.aead()
	if err != nil {
		return "", err
	}
	b, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(b) < g.NonceSize() {
		return "", ErrContactSealed
	}
	p, err := g.Open(nil, b[:g.NonceSize()], b[g.NonceSize():], contactAD(oid))
	if err != nil {
		return "", ErrContactSealed
	}
	return string(p), nil
}
