package htmlpage_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"kassa/htmlpage"
)

// TestCSRF: a token posts only the form it was made for, under the cookie
// it was made with, and the cookie is kept once set.
func TestCSRF(t *testing.T) {
	c := htmlpage.CSRF{Cookie: "kassa_test", Path: "/test/", Purpose: "test form"}
	w := httptest.NewRecorder()
	cookie := c.Ensure(w, httptest.NewRequest("GET", "/test/a", nil), false)
	set := w.Result().Cookies()
	if len(set) != 1 || set[0].Value != cookie || !set[0].HttpOnly || set[0].Path != "/test/" || set[0].Secure {
		t.Fatalf("set cookies %+v, want one HttpOnly cookie for /test/", set)
	}
	post := func(withCookie string) *http.Request {
		r := httptest.NewRequest("POST", "/test/a", nil)
		if withCookie != "" {
			r.AddCookie(&http.Cookie{Name: "kassa_test", Value: withCookie})
		}
		return r
	}
	token := c.Token(cookie, "a")
	other := htmlpage.CSRF{Cookie: "kassa_test", Path: "/test/", Purpose: "another form"}
	for _, tc := range []struct {
		name string
		r    *http.Request
		subj string
		tok  string
		want bool
	}{
		{"its form", post(cookie), "a", token, true},
		{"another subject", post(cookie), "b", token, false},
		{"no cookie", post(""), "a", token, false},
		{"another cookie", post(c.Ensure(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), false)), "a", token, false},
		{"another purpose's token", post(cookie), "a", other.Token(cookie, "a"), false},
		{"empty token", post(cookie), "a", "", false},
	} {
		if got := c.Check(tc.r, tc.subj, tc.tok); got != tc.want {
			t.Errorf("%s: Check = %v, want %v", tc.name, got, tc.want)
		}
	}
	w = httptest.NewRecorder()
	if again := c.Ensure(w, post(cookie), true); again != cookie || len(w.Result().Cookies()) != 0 {
		t.Errorf("a request with the cookie got %q and set %v, want the same cookie and nothing set", again, w.Result().Cookies())
	}
	w = httptest.NewRecorder()
	c.Ensure(w, post("short"), true)
	if set := w.Result().Cookies(); len(set) != 1 || !set[0].Secure {
		t.Errorf("a malformed cookie: set %+v, want a new Secure cookie", set)
	}
}
