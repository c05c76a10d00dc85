package checkout

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// SessionID identifies a checkout session ("ses_...").
type SessionID string

// OrderID identifies an order ("ord_..."), derived from its session.
type OrderID string

// ConsumerID identifies a shopper across regions without naming them: a
// keyed hash of the normalized email.
type ConsumerID string

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func derive(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return prefix + strings.ToLower(b32.EncodeToString(h.Sum(nil))[:24])
}

// NewSessionID derives the id of the session a merchant creates under an
// idempotency key.
func NewSessionID(merchant, idempotencyKey string) SessionID {
	return SessionID(derive("ses_", "session", merchant, idempotencyKey))
}

// ValidOrderID reports whether s has the form of an order id.
func ValidOrderID(s string) bool {
	rest, ok := strings.CutPrefix(s, "ord_")
	if !ok || len(rest) != 24 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// OrderFor derives the one order a session can have.
func OrderFor(s SessionID) OrderID { return OrderID(derive("ord_", "order", string(s))) }

// operationID derives the id of a capture, refund or other operation on an
// order made under an idempotency key.
func operationID(kind string, o OrderID, merchant, key string) string {
	return derive(kind[:3]+"_", kind, string(o), merchant, key)
}

// Consumers derives consumer ids with a deployment-wide key, so every region
// computes the same id for the same email and raw emails stay out of
// account names.
type Consumers struct{ Key []byte }

// ID returns the consumer id for email (trimmed and lowercased).
func (c Consumers) ID(email string) ConsumerID {
	m := hmac.New(sha256.New, c.Key)
	m.Write([]byte(strings.ToLower(strings.TrimSpace(email))))
	return ConsumerID("con_" + strings.ToLower(b32.EncodeToString(m.Sum(nil))[:24]))
}

// MaskEmail keeps enough of an email for support to recognise it.
func MaskEmail(email string) string {
	local, domain, ok := strings.Cut(strings.TrimSpace(email), "@")
	if !ok || local == "" {
		return "***"
	}
	return local[:1] + "***@" + domain
}
