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

// SessionIDs derives session ids with a deployment-wide key (the setting
// checkout.id_key). Every region computes the same id for the same merchant
// and Idempotency-Key, so a retry in another region finds the session; no
// one without the key can compute an id, so a session's page
// (/checkout/{id}, which needs no login) cannot be found by guessing a
// merchant's keys.
type SessionIDs struct{ Key []byte }

// ID returns the id of the session merchant creates under idempotencyKey.
func (k SessionIDs) ID(merchant, idempotencyKey string) SessionID {
	m := hmac.New(sha256.New, k.Key)
	for _, p := range []string{"session", merchant, idempotencyKey} {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return SessionID("ses_" + strings.ToLower(b32.EncodeToString(m.Sum(nil))[:24]))
}

// ValidOrderID reports whether s has the form of an order id.
func ValidOrderID(s string) bool { return validID(s, "ord_") }

// ValidSessionID reports whether s has the form of a session id.
func ValidSessionID(s string) bool { return validID(s, "ses_") }

// validID reports whether s is prefix and 24 characters of lower-case
// base32, the form derive and SessionIDs give ids.
func validID(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
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

// OrderFor derives the one order a session can have. It needs no key of
// its own: the session id is already unguessable, and the hash does not
// give it away. It must not change, or sessions already in the ledger
// would lose their orders.
func OrderFor(s SessionID) OrderID { return OrderID(derive("ord_", "order", string(s))) }

// operationID derives the id of a capture, refund or other operation on an
// order made under an idempotency key. The order id in it is unguessable,
// and the ids of operations already in the ledger must stay what a retry
// computes, so it stays an unkeyed hash.
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
