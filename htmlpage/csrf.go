package htmlpage

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// CSRF is the double-submit protection of a shopper's form that has no
// sign-in behind it (the checkout, the invoice page): a random cookie the
// browser keeps for the pages under Path, and in the form a token that is
// an HMAC of what the form is about under that cookie. A forged post from
// another site cannot read the cookie, so it cannot make the token. It
// needs no secret shared by the regions, so a page rendered by one region
// can be posted to another.
type CSRF struct {
	Cookie  string // the cookie's name, e.g. "kassa_checkout"
	Path    string // the pages it covers, e.g. "/checkout/"
	Purpose string // what the forms are, mixed into every token
}

// cookieLen is the length of a cookie value: 32 random bytes in base64url.
const cookieLen = 43

// Token is the form's token for subject (a session, an invoice) under
// the cookie value.
func (c CSRF) Token(cookie, subject string) string {
	m := hmac.New(sha256.New, []byte(cookie))
	m.Write([]byte(c.Purpose))
	m.Write([]byte{0})
	m.Write([]byte(subject))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Ensure returns the browser's cookie value, setting a new one on w if r
// has none (Secure when the request came over TLS or secure says so).
func (c CSRF) Ensure(w http.ResponseWriter, r *http.Request, secure bool) string {
	if k, err := r.Cookie(c.Cookie); err == nil && len(k.Value) == cookieLen {
		return k.Value
	}
	var b [32]byte
	rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{
		Name: c.Cookie, Value: v, Path: c.Path, HttpOnly: true,
		Secure: r.TLS != nil || secure, SameSite: http.SameSiteLaxMode,
	})
	return v
}

// Check reports whether the posted token is the one for subject under the
// request's cookie.
func (c CSRF) Check(r *http.Request, subject, token string) bool {
	k, err := r.Cookie(c.Cookie)
	return err == nil && hmac.Equal([]byte(c.Token(k.Value, subject)), []byte(token))
}
