package admin

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzSessionCookie checks that no cookie value signs anyone in unless
// this process signed it, and that reading one never panics.
func FuzzSessionCookie(f *testing.F) {
	users := map[string]user{"boss": {name: "boss", role: "admin"}}
	s := newSessions(DefaultSessionTTL, time.Now)
	rec := httptest.NewRecorder()
	s.start(rec, httptest.NewRequest("GET", "/admin/login", nil), users["boss"])
	genuine := rec.Result().Cookies()[0].Value
	f.Add(genuine)
	f.Add("Ym9zcw.admin.9999999999.x.AAAA")
	f.Add("....")
	f.Fuzz(func(t *testing.T, v string) {
		req := httptest.NewRequest("GET", "/admin/search", nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: v})
		sent, err := req.Cookie(sessionCookie) // as the header carries it
		lookup := func(name string) (user, bool) { u, ok := users[name]; return u, ok }
		if _, ok := s.read(req, lookup); ok && (err != nil || sent.Value != genuine) {
			t.Fatalf("cookie %q signs in", v)
		}
	})
}
