package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Staff sign in to the web UI once and then carry a session cookie:
//
//	base64(name) "." role "." expiry (unix s) "." session id "." base64(mac)
//
// The MAC is an HMAC-SHA256 under a key drawn from crypto/rand when the API
// is built, over those fields and the hash of the staff member's configured
// password. So a cookie cannot be forged or altered, it dies with the
// process (a restart signs everyone out, which is cheap for a support tool
// and needs no key on disk), and changing a password or a role in the
// config ends every session of that user. Sessions are per region: each
// region has its own key.
//
// CSRF: every form and every unsafe /admin/api/ request made with the
// cookie carries HMAC(key, session id). The sign-in form, which has no
// session yet, uses a double-submit cookie instead, so a page on another
// site cannot sign a browser in as someone else either.
const (
	sessionCookie = "kassa_admin"
	loginCookie   = "kassa_admin_login"
	flashCookie   = "kassa_admin_flash"
	cookiePath    = "/admin"
	csrfField     = "csrf_token"
	csrfHeader    = "X-CSRF-Token"

	// DefaultSessionTTL is how long a sign-in lasts.
	DefaultSessionTTL = 8 * time.Hour

	maxCookie = 1024
)

// session is a signed-in staff member.
type session struct {
	user    user
	id      string
	expires time.Time
}

// sessions signs, reads and revokes session cookies. It is safe for
// concurrent use.
type sessions struct {
	key    []byte
	ttl    time.Duration
	now    func() time.Time
	secure bool // always mark cookies Secure, not only for requests over TLS

	mu      sync.Mutex
	revoked map[string]time.Time // signed-out session id -> its expiry
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand crashes the process instead)
	return &sessions{key: key, ttl: ttl, now: now, revoked: map[string]time.Time{}}
}

func (s *sessions) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		// Each part is length-prefixed, so no two lists of parts sign
		// the same bytes.
		m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(p))))
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

func randomToken() string {
	var b [18]byte
	rand.Read(b[:])
	return b64.EncodeToString(b[:])
}

// start signs u in: it sets the session cookie and returns the session.
func (s *sessions) start(w http.ResponseWriter, r *http.Request, u user) session {
	sess := session{user: u, id: randomToken(), expires: s.now().Add(s.ttl).Truncate(time.Second)}
	exp := strconv.FormatInt(sess.expires.Unix(), 10)
	name := b64.EncodeToString([]byte(u.name))
	sig := s.mac("session", u.name, u.role, exp, sess.id, string(u.hash[:]))
	value := strings.Join([]string{name, u.role, exp, sess.id, b64.EncodeToString(sig)}, ".")
	s.setCookie(w, r, sessionCookie, value, sess.expires)
	return sess
}

// read returns the request's session if its cookie is genuine, not
// expired, not signed out, and still matches an active user's password
// and role: disabling a user, or changing their password or role, ends
// their sessions.
func (s *sessions) read(r *http.Request, lookup func(name string) (user, bool)) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) > maxCookie {
		return session{}, false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 5 {
		return session{}, false
	}
	rawName, err := b64.DecodeString(parts[0])
	if err != nil {
		return session{}, false
	}
	sig, err := b64.DecodeString(parts[4])
	if err != nil {
		return session{}, false
	}
	name, role, exp, id := string(rawName), parts[1], parts[2], parts[3]
	u, ok := lookup(name)
	if !ok || u.role != role {
		return session{}, false
	}
	if !hmac.Equal(sig, s.mac("session", name, role, exp, id, string(u.hash[:]))) {
		return session{}, false
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !s.now().Before(time.Unix(unix, 0)) {
		return session{}, false
	}
	s.mu.Lock()
	_, out := s.revoked[id]
	s.mu.Unlock()
	if out {
		return session{}, false
	}
	return session{user: u, id: id, expires: time.Unix(unix, 0)}, true
}

// end signs a session out: its cookie is cleared and, should a copy of it
// turn up again, refused until it would have expired anyway.
func (s *sessions) end(w http.ResponseWriter, r *http.Request, sess session) {
	now := s.now()
	s.mu.Lock()
	for id, exp := range s.revoked {
		if !now.Before(exp) {
			delete(s.revoked, id)
		}
	}
	if sess.id != "" {
		s.revoked[sess.id] = sess.expires
	}
	s.mu.Unlock()
	s.clearCookie(w, r, sessionCookie)
}

// csrf is the token that a session's forms and unsafe API calls carry.
func (s *sessions) csrf(sess session) string {
	return b64.EncodeToString(s.mac("csrf", sess.id))
}

func (s *sessions) csrfOK(sess session, token string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(s.csrf(sess)))
}

// loginToken returns the sign-in form's CSRF token, setting the
// double-submit cookie it is derived from if the request has none.
func (s *sessions) loginToken(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) == 24 {
		v = c.Value
	} else {
		v = randomToken()
		s.setCookie(w, r, loginCookie, v, time.Time{})
	}
	return b64.EncodeToString(s.mac("login", v))
}

func (s *sessions) loginOK(r *http.Request, token string) bool {
	c, err := r.Cookie(loginCookie)
	if err != nil || len(c.Value) != 24 || token == "" {
		return false
	}
	return hmac.Equal([]byte(token), []byte(b64.EncodeToString(s.mac("login", c.Value))))
}

// flash is a message for the page a POST redirects to.
type flash struct {
	Kind string `json:"k"` // success or error
	Text string `json:"t"`
	Path string `json:"p"` // the page that shows it
}

// setFlash leaves f for the next page of this session at f.Path. It is
// signed, so no one can make a page announce a refund that did not happen.
func (s *sessions) setFlash(w http.ResponseWriter, r *http.Request, sess session, f flash) {
	payload, _ := json.Marshal(f)
	p := b64.EncodeToString(payload)
	value := p + "." + b64.EncodeToString(s.mac("flash", sess.id, p))
	if len(value) > maxCookie*3 {
		return
	}
	s.setCookie(w, r, flashCookie, value, s.now().Add(5*time.Minute))
}

// takeFlash returns the message left for this page, if any, and clears it.
func (s *sessions) takeFlash(w http.ResponseWriter, r *http.Request, sess session) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	p, sig, ok := strings.Cut(c.Value, ".")
	raw, err := b64.DecodeString(sig)
	if !ok || err != nil || !hmac.Equal(raw, s.mac("flash", sess.id, p)) {
		s.clearCookie(w, r, flashCookie)
		return nil
	}
	var f flash
	payload, err := b64.DecodeString(p)
	if err != nil || json.Unmarshal(payload, &f) != nil {
		s.clearCookie(w, r, flashCookie)
		return nil
	}
	if f.Path != r.URL.Path {
		return nil // for another page: leave it there
	}
	s.clearCookie(w, r, flashCookie)
	return &f
}

// setCookie sets an admin cookie: HttpOnly, SameSite=Strict, for /admin
// only, and Secure over TLS or when the region says so (production, or an
// https public URL behind a proxy that terminates TLS). A zero expiry
// makes a browser-session cookie.
func (s *sessions) setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	c := &http.Cookie{Name: name, Value: value, Path: cookiePath, HttpOnly: true,
		Secure: s.secure || r.TLS != nil, SameSite: http.SameSiteStrictMode}
	if !expires.IsZero() {
		c.Expires = expires.UTC()
		c.MaxAge = max(1, int(expires.Sub(s.now()).Seconds()))
	}
	http.SetCookie(w, c)
}

func (s *sessions) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: cookiePath, MaxAge: -1, HttpOnly: true,
		Secure: s.secure || r.TLS != nil, SameSite: http.SameSiteStrictMode})
}
