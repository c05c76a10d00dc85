package admin_test

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"kassa/admin"
	"kassa/checkout"
	"kassa/clocktest"
	"kassa/ledger"
	"kassa/scoring"
)

// browser is a staff member's browser without JavaScript: it keeps cookies
// and does not follow redirects, so a test sees each answer.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

type page struct {
	status int
	header http.Header
	body   string
}

func newBrowser(t *testing.T, e *env) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: e.srv.URL, client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// follow GETs where a redirect points.
func (b *browser) follow(p page) page {
	b.t.Helper()
	if p.status != http.StatusSeeOther {
		b.t.Fatalf("got %d, want 303 See Other:\n%s", p.status, text(p.body))
	}
	return b.get(p.header.Get("Location"))
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.base + "/admin/")
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var (
	csrfRe  = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	nonceRe = regexp.MustCompile(`name="nonce" value="([^"]+)"`)
	tagRe   = regexp.MustCompile(`<[^>]*>`)
	spaceRe = regexp.MustCompile(`\s+`)
)

// text is a page's words without markup, for matching what a reader sees.
func text(body string) string {
	s := strings.ReplaceAll(html.UnescapeString(tagRe.ReplaceAllString(body, " ")), "\u00a0", " ")
	return strings.TrimSpace(spaceRe.ReplaceAllString(s, " "))
}

func field(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the page has no %s:\n%s", re, text(body))
	}
	return html.UnescapeString(m[1])
}

func wantText(t *testing.T, what string, p page, status int, words ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s: got %d, want %d:\n%s", what, p.status, status, text(p.body))
	}
	for _, w := range words {
		if !strings.Contains(text(p.body), w) {
			t.Fatalf("%s: the page does not say %q:\n%s", what, w, text(p.body))
		}
	}
}

// signIn signs user (password user-pass) in and returns the browser on the
// search page.
func signIn(t *testing.T, e *env, user string) *browser {
	t.Helper()
	b := newBrowser(t, e)
	login := b.get("/admin/login")
	p := b.post("/admin/login", url.Values{"csrf_token": {field(t, csrfRe, login.body)}, "username": {user}, "password": {user + "-pass"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/search" {
		t.Fatalf("sign in as %s: got %d to %q, want 303 to /admin/search:\n%s", user, p.status, p.header.Get("Location"), text(p.body))
	}
	return b
}

// orderForm opens an order page and returns its CSRF token and nonce.
func (b *browser) orderForm(oid checkout.OrderID) (csrf, nonce string) {
	b.t.Helper()
	p := b.get("/admin/orders/" + string(oid))
	if p.status != http.StatusOK {
		b.t.Fatalf("order page: got %d:\n%s", p.status, text(p.body))
	}
	return field(b.t, csrfRe, p.body), field(b.t, nonceRe, p.body)
}

func orderNow(t *testing.T, e *env, oid checkout.OrderID) checkout.Order {
	t.Helper()
	o, err := e.svc.Order(context.Background(), "", oid)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func countKind(t *testing.T, e *env, subject, kind string) int {
	t.Helper()
	es, err := e.store.EntriesBySubject(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, en := range es {
		if en.Kind == kind {
			n++
		}
	}
	return n
}

func TestLoginPage(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t, e)
	p := b.get("/admin/login")
	wantText(t, "login form", p, http.StatusOK, "Sign in", "Username", "Password")
	for _, want := range []string{`name="username"`, `name="password"`, `type="password"`, `name="csrf_token"`,
		`<label for="username">`, `<label for="password">`, `autocomplete="current-password"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("login form has no %s", want)
		}
	}
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := p.header.Get(h); got != want {
			t.Errorf("header %s: got %q, want %q", h, got, want)
		}
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "form-action 'self'") {
		t.Errorf("got CSP %q", csp)
	}
	token := field(t, csrfRe, p.body)

	t.Run("wrong credentials", func(t *testing.T) {
		var bodies []string
		for _, tc := range []struct{ user, pass string }{{"agent", "wrong"}, {"nobody", "agent-pass"}, {"", ""}} {
			p := b.post("/admin/login", url.Values{"csrf_token": {token}, "username": {tc.user}, "password": {tc.pass}})
			wantText(t, tc.user+"/"+tc.pass, p, http.StatusUnauthorized, "The username or password is incorrect.")
			if strings.Contains(p.body, tc.pass) && tc.pass != "" {
				t.Errorf("the password came back into the page")
			}
			if b.cookie("kassa_admin") != nil {
				t.Fatalf("%s/%s: got a session cookie", tc.user, tc.pass)
			}
			bodies = append(bodies, strings.ReplaceAll(text(p.body), tc.user, "USER"))
		}
		// The same answer whichever field was wrong.
		if bodies[0] != bodies[1] {
			t.Errorf("wrong password and unknown user differ:\n%s\n%s", bodies[0], bodies[1])
		}
	})

	t.Run("no CSRF token", func(t *testing.T) {
		for name, form := range map[string]url.Values{
			"missing": {"username": {"agent"}, "password": {"agent-pass"}},
			"forged":  {"csrf_token": {"AAAA" + token[4:]}, "username": {"agent"}, "password": {"agent-pass"}},
		} {
			p := b.post("/admin/login", form)
			wantText(t, name, p, http.StatusForbidden, "expired")
			if b.cookie("kassa_admin") != nil {
				t.Fatalf("%s: got a session cookie", name)
			}
		}
		// Without the cookie the token was made with, a token is no good.
		other := newBrowser(t, e)
		p := other.post("/admin/login", url.Values{"csrf_token": {token}, "username": {"agent"}, "password": {"agent-pass"}})
		wantText(t, "token without its cookie", p, http.StatusForbidden)
	})

	t.Run("success", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/admin/login", strings.NewReader(url.Values{
			"csrf_token": {token}, "username": {"agent"}, "password": {"agent-pass"}, "next": {"/admin/orders/" + string(e.order)}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range b.client.Jar.Cookies(req.URL) {
			req.AddCookie(c)
		}
		res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/orders/"+string(e.order) {
			t.Fatalf("got %d to %q, want 303 to the next page", res.StatusCode, res.Header.Get("Location"))
		}
		var session *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == "kassa_admin" {
				session = c
			}
		}
		if session == nil {
			t.Fatal("no session cookie")
		}
		if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/admin" || session.Secure {
			t.Errorf("got cookie HttpOnly %v SameSite %v Path %q Secure %v, want HttpOnly, Strict, /admin, not Secure over http",
				session.HttpOnly, session.SameSite, session.Path, session.Secure)
		}
		if session.MaxAge < int((8*time.Hour-time.Minute).Seconds()) || session.MaxAge > int((8*time.Hour).Seconds()) {
			t.Errorf("got Max-Age %d, want 8 hours", session.MaxAge)
		}
	})

	t.Run("next stays in the admin UI", func(t *testing.T) {
		for next, want := range map[string]string{
			"https://evil.example/":   "/admin/search",
			"//evil.example/admin/":   "/admin/search",
			"/checkout/ses_x":         "/admin/search",
			"/admin/api/mode":         "/admin/search",
			"/admin/search?q=R-1":     "/admin/search?q=R-1",
			"/admin/\\evil.example":   "/admin/search",
			"":                        "/admin/search",
			"/admin/consumers/con_ab": "/admin/consumers/con_ab",
		} {
			b := newBrowser(t, e)
			login := b.get("/admin/login?" + url.Values{"next": {next}}.Encode())
			p := b.post("/admin/login", url.Values{"csrf_token": {field(t, csrfRe, login.body)}, "username": {"viewer"},
				"password": {"viewer-pass"}, "next": {next}})
			if got := p.header.Get("Location"); p.status != http.StatusSeeOther || got != want {
				t.Errorf("next %q: got %d to %q, want 303 to %q", next, p.status, got, want)
			}
		}
	})
}

func TestSessionCookieSecure(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		ui     admin.UI
		tls    bool
		secure bool
	}{
		{"http in development", admin.UI{}, false, false},
		{"over TLS", admin.UI{}, true, true},
		{"production", admin.UI{Secure: true}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mux.NewRouter()
			admin.New(e.store, e.svc, nil, staff, slog.New(slog.NewTextHandler(io.Discard, nil))).WithUI(tc.ui).Routes(r)
			req := httptest.NewRequest("GET", "/admin/login", nil)
			if tc.tls {
				req.TLS = &tls.ConnectionState{}
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			login := rec.Result()
			token := field(t, csrfRe, rec.Body.String())
			req = httptest.NewRequest("POST", "/admin/login", strings.NewReader(url.Values{"csrf_token": {token}, "username": {"boss"}, "password": {"boss-pass"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for _, c := range login.Cookies() {
				if c.Secure != tc.secure {
					t.Errorf("sign-in cookie %s: got Secure %v, want %v", c.Name, c.Secure, tc.secure)
				}
				req.AddCookie(c)
			}
			if tc.tls {
				req.TLS = &tls.ConnectionState{}
			}
			rec = httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != http.StatusSeeOther {
				t.Fatalf("got %d, want 303", rec.Code)
			}
			for _, c := range rec.Result().Cookies() {
				if c.Name == "kassa_admin" && c.Secure != tc.secure {
					t.Errorf("session cookie: got Secure %v, want %v", c.Secure, tc.secure)
				}
			}
		})
	}
}

func TestSignInThrottle(t *testing.T) {
	e := newEnv(t)
	// Each try is a fresh browser, all from the same address.
	try := func(user, pass string) page {
		b := newBrowser(t, e)
		token := field(t, csrfRe, b.get("/admin/login").body)
		return b.post("/admin/login", url.Values{"csrf_token": {token}, "username": {user}, "password": {pass}})
	}
	for i := range 10 {
		if p := try("agent", fmt.Sprint("guess-", i)); p.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: got %d, want 401", i, p.status)
		}
	}
	p := try("agent", "agent-pass")
	wantText(t, "the right password after 10 failures", p, http.StatusTooManyRequests,
		"Too many failed sign-ins for this username from your address. Try again in 15 minutes.")
	if p.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// A colleague at the same address is not locked out.
	if p := try("boss", "boss-pass"); p.status != http.StatusSeeOther {
		t.Fatalf("another user from the same address: got %d, want 303", p.status)
	}
	e.clock.Advance(16 * time.Minute)
	if p := try("agent", "agent-pass"); p.status != http.StatusSeeOther {
		t.Fatalf("after the window: got %d, want 303", p.status)
	}

	// One password tried on many names locks the address out.
	e.clock.Advance(16 * time.Minute)
	for i := range 50 {
		if p := try(fmt.Sprint("user-", i), "Summer2026!"); p.status != http.StatusUnauthorized {
			t.Fatalf("spray %d: got %d, want 401", i, p.status)
		}
	}
	wantText(t, "after spraying", try("viewer", "viewer-pass"), http.StatusTooManyRequests,
		"Too many failed sign-ins from your address.")
}

// signInFrom posts the sign-in form from a fresh browser at addr (an IP
// address) and returns the answer.
func signInFrom(t *testing.T, e *env, addr, user, pass string) page {
	t.Helper()
	get := httptest.NewRequest("GET", "/admin/login", nil)
	get.RemoteAddr = addr + ":40000"
	form := httptest.NewRecorder()
	e.handler.ServeHTTP(form, get)
	values := url.Values{"csrf_token": {field(t, csrfRe, form.Body.String())}, "username": {user}, "password": {pass}}
	post := httptest.NewRequest("POST", "/admin/login", strings.NewReader(values.Encode()))
	post.RemoteAddr = addr + ":40001"
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range form.Result().Cookies() {
		post.AddCookie(c)
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, post)
	return page{status: w.Code, header: w.Header(), body: w.Body.String()}
}

// wantRetryAfter checks that p says to retry in a little under d (the
// admin's clock follows the wall clock while the test runs).
func wantRetryAfter(t *testing.T, p page, d time.Duration) {
	t.Helper()
	got, err := strconv.Atoi(p.header.Get("Retry-After"))
	if err != nil || got > int(d.Seconds()) || got < int(d.Seconds())-60 {
		t.Fatalf("Retry-After: got %q, want about %d", p.header.Get("Retry-After"), int(d.Seconds()))
	}
}

// TestSignInThrottleLetsTheOwnerIn: wrong passwords for one user from
// many addresses slow the guessing down (each address gets fewer tries)
// but never refuse the right password from an address that has not been
// guessing; an address or an (address, user) pair that guesses too much
// is refused, and the page says which.
func TestSignInThrottleLetsTheOwnerIn(t *testing.T) {
	e := newEnv(t)
	wrong, refused := 0, 0
	for a := range 40 {
		addr := fmt.Sprintf("10.1.0.%d", a+1)
		for i := range 5 {
			switch p := signInFrom(t, e, addr, "agent", fmt.Sprint("guess-", a, "-", i)); p.status {
			case http.StatusUnauthorized:
				wrong++
			case http.StatusTooManyRequests:
				refused++
				wantText(t, "a guessing address", p, http.StatusTooManyRequests,
					"Too many failed sign-ins for this username from your address.", "other addresses too")
				wantRetryAfter(t, p, 15*time.Minute)
			default:
				t.Fatalf("guess %d from %s: got %d", i, addr, p.status)
			}
		}
	}
	if want := 30 + 34*3; wrong != want || refused != 200-want {
		t.Errorf("200 guesses from 40 addresses: got %d checked and %d refused, want %d and %d", wrong, refused, want, 200-want)
	}
	if p := signInFrom(t, e, "192.0.2.10", "agent", "agent-pass"); p.status != http.StatusSeeOther {
		t.Fatalf("the right password from a fresh address under attack: got %d, want 303:\n%s", p.status, text(p.body))
	}
	// The owner's typo from their own address is told so, not refused.
	wantText(t, "a typo from a fresh address", signInFrom(t, e, "192.0.2.11", "agent", "agent-typo"), http.StatusUnauthorized,
		"The username or password is incorrect.")

	// An address that sprays names is refused, for every name.
	for i := range 50 {
		signInFrom(t, e, "10.2.0.1", fmt.Sprint("user-", i), "Summer2026!")
	}
	p := signInFrom(t, e, "10.2.0.1", "boss", "boss-pass")
	wantText(t, "a spraying address", p, http.StatusTooManyRequests, "Too many failed sign-ins from your address. Try again in 15 minutes.")
	wantRetryAfter(t, p, 15*time.Minute)

	// An (address, user) pair is refused; the user elsewhere and another
	// user there are not.
	for i := range 10 {
		signInFrom(t, e, "10.3.0.1", "boss", fmt.Sprint("guess-", i))
	}
	e.clock.Advance(5 * time.Minute)
	wantText(t, "a guessing pair", signInFrom(t, e, "10.3.0.1", "boss", "boss-pass"), http.StatusTooManyRequests,
		"Too many failed sign-ins for this username from your address. Try again in 10 minutes.")
	if p := signInFrom(t, e, "10.3.0.1", "viewer", "viewer-pass"); p.status != http.StatusSeeOther {
		t.Errorf("another user from that address: got %d, want 303", p.status)
	}
	if p := signInFrom(t, e, "10.3.0.2", "boss", "boss-pass"); p.status != http.StatusSeeOther {
		t.Errorf("the user from another address: got %d, want 303", p.status)
	}
	e.clock.Advance(10 * time.Minute)
	if p := signInFrom(t, e, "10.3.0.1", "boss", "boss-pass"); p.status != http.StatusSeeOther {
		t.Errorf("after the window: got %d, want 303", p.status)
	}
}

func TestPagesNeedASession(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t, e)
	for _, path := range []string{"/admin/search?q=R-1", "/admin/orders/" + string(e.order), "/admin/consumers/con_x", "/admin/mode", "/admin/"} {
		p := b.get(path)
		loc, _ := url.Parse(p.header.Get("Location"))
		if p.status != http.StatusSeeOther || loc.Path != "/admin/login" {
			t.Errorf("%s: got %d to %q, want 303 to /admin/login", path, p.status, p.header.Get("Location"))
		}
		if next := loc.Query().Get("next"); path != "/admin/" && next != path {
			t.Errorf("%s: got next %q, want the page", path, next)
		}
	}
	capture(t, e, e.order)
	p := b.post("/admin/orders/"+string(e.order)+"/refund", url.Values{"amount": {"1"}, "reason": {"x"}, "nonce": {"aaaaaaaaaaaaaaaaaaaaaaaa"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/admin/login") {
		t.Errorf("refund without a session: got %d to %q", p.status, p.header.Get("Location"))
	}
	if o := orderNow(t, e, e.order); o.Refunded != 0 {
		t.Fatalf("refunded %d without a session", o.Refunded)
	}

	t.Run("expired", func(t *testing.T) {
		b := signIn(t, e, "viewer")
		if p := b.get("/admin/search"); p.status != http.StatusOK {
			t.Fatalf("signed in: got %d", p.status)
		}
		e.clock.Advance(8*time.Hour + time.Second)
		if p := b.get("/admin/search"); p.status != http.StatusSeeOther {
			t.Fatalf("after 8 hours: got %d, want 303 to sign in", p.status)
		}
	})

	t.Run("tampered", func(t *testing.T) {
		b := signIn(t, e, "viewer")
		c := b.cookie("kassa_admin")
		parts := strings.Split(c.Value, ".")
		parts[1] = "admin" // promote oneself
		for _, v := range []string{strings.Join(parts, "."), c.Value + "x", "", "a.b.c.d.e", strings.Repeat("a", 5000)} {
			req, _ := http.NewRequest("GET", e.srv.URL+"/admin/mode", nil)
			req.AddCookie(&http.Cookie{Name: "kassa_admin", Value: v})
			res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther {
				t.Errorf("cookie %.40q: got %d, want 303 to sign in", v, res.StatusCode)
			}
		}
	})
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	b := signIn(t, e, "agent")
	old := b.cookie("kassa_admin")
	token := field(t, csrfRe, b.get("/admin/search").body)
	if p := b.post("/admin/logout", url.Values{}); p.status != http.StatusForbidden {
		t.Fatalf("logout without the CSRF token: got %d, want 403", p.status)
	}
	p := b.post("/admin/logout", url.Values{"csrf_token": {token}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/login" {
		t.Fatalf("logout: got %d to %q", p.status, p.header.Get("Location"))
	}
	if b.cookie("kassa_admin") != nil {
		t.Fatal("the session cookie is still there")
	}
	// A copy of the cookie kept from before is refused too.
	for _, path := range []string{"/admin/search", "/admin/api/mode"} {
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		req.AddCookie(old)
		res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s with the old cookie: got %d, want to be signed out", path, res.StatusCode)
		}
	}
}

func TestSearch(t *testing.T) {
	e := newEnv(t)
	b := signIn(t, e, "viewer")
	wantText(t, "empty search", b.get("/admin/search"), http.StatusOK, "Find an order or a consumer")
	link := `href="/admin/orders/` + string(e.order) + `"`
	consumerLink := `href="/admin/consumers/` + string(e.svc.ConsumerID(adaEmail)) + `"`
	for _, tc := range []struct {
		name, q string
		want    string
	}{
		{"order id", string(e.order), link},
		{"merchant reference", "R-1", link},
		{"email", adaEmail, consumerLink},
		{"email in capitals with spaces", "  ADA@Example.com ", consumerLink},
		{"consumer id", string(e.svc.ConsumerID(adaEmail)), consumerLink},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.get("/admin/search?" + url.Values{"q": {tc.q}}.Encode())
			wantText(t, tc.q, p, http.StatusOK, "Results for")
			if !strings.Contains(p.body, tc.want) {
				t.Fatalf("%q: no %s in:\n%s", tc.q, tc.want, text(p.body))
			}
			if strings.Contains(text(p.body), "Nothing found") {
				t.Fatalf("%q: says nothing found", tc.q)
			}
		})
	}
	t.Run("the email is masked", func(t *testing.T) {
		p := b.get("/admin/search?q=" + url.QueryEscape(adaEmail))
		if !strings.Contains(p.body, "a***@example.com") {
			t.Fatalf("no masked email in:\n%s", text(p.body))
		}
	})
	for _, q := range []string{"ord_nope", "R-2", "bob@example.com", "con_nobody", "zzz", "<script>alert(1)</script>",
		"a@", "@b", "'; DROP TABLE entries; --", "ord_" + strings.Repeat("x", 100), strings.Repeat("x", 300), "\x00\x01", "%", "ⓐ@ⓑ", "a b c"} {
		t.Run("nothing: "+strings.ToValidUTF8(q[:min(len(q), 20)], "?"), func(t *testing.T) {
			p := b.get("/admin/search?" + url.Values{"q": {q}}.Encode())
			wantText(t, q, p, http.StatusOK, "Nothing found")
			if strings.Contains(p.body, "<script>alert") {
				t.Fatal("the query was not escaped")
			}
		})
	}
}

func TestOrderPage(t *testing.T) {
	e := newEnv(t)
	path := "/admin/orders/" + string(e.order)
	t.Run("viewer", func(t *testing.T) {
		b := signIn(t, e, "viewer")
		p := b.get(path)
		wantText(t, "order", p, http.StatusOK, string(e.order), "authorized", "10.00 SEK", "pay later", "demo", "R-1",
			"approved", "a***@example.com", "Ada Lovelace", "Timeline", "order.authorized", "r1", "Webhook deliveries", "order.authorized",
			"Your role (viewer) can see this order but not act on it")
		o := orderNow(t, e, e.order)
		if o.Decision.Score != 0 && !strings.Contains(text(p.body), fmt.Sprint("Score ", o.Decision.Score)) {
			t.Errorf("the score %d is not shown", o.Decision.Score)
		}
		for _, r := range o.Decision.Reasons {
			if !strings.Contains(p.body, "<code>"+r+"</code>") {
				t.Errorf("reason %s not shown", r)
			}
		}
		if !strings.Contains(p.body, `href="/admin/consumers/`+string(e.svc.ConsumerID(adaEmail))+`"`) {
			t.Error("no link to the consumer")
		}
		for _, form := range []string{"/refund", "/cancel", "/repayments", "/resend"} {
			if strings.Contains(p.body, form+`"`) {
				t.Errorf("a viewer sees the %s form", form)
			}
		}
	})
	t.Run("agent", func(t *testing.T) {
		b := signIn(t, e, "agent")
		p := b.get(path)
		for _, form := range []string{path + "/cancel", path + "/webhooks/e1/resend"} {
			if !strings.Contains(p.body, `action="`+form+`"`) {
				t.Errorf("no form posting to %s", form)
			}
		}
		wantText(t, "not captured", p, http.StatusOK, "Nothing captured is left to refund")
	})
	t.Run("unknown", func(t *testing.T) {
		b := signIn(t, e, "viewer")
		for _, id := range []string{"ord_nope", "nope", "ord_" + strings.Repeat("x", 80), "%3Cscript%3E"} {
			wantText(t, id, b.get("/admin/orders/"+id), http.StatusNotFound, "Not found")
		}
	})
}

func TestRefundPage(t *testing.T) {
	e := newEnv(t)
	capture(t, e, e.order)
	path := "/admin/orders/" + string(e.order)
	b := signIn(t, e, "agent")
	csrf, nonce := b.orderForm(e.order)
	refund := func(nonce, amount, reason string) page {
		return b.post(path+"/refund", url.Values{"csrf_token": {csrf}, "nonce": {nonce}, "amount": {amount}, "amount_unit": {"major"}, "reason": {reason}})
	}

	t.Run("bad input", func(t *testing.T) {
		n := e.store.Count()
		for _, tc := range []struct{ amount, reason, want string }{
			{"", "damaged", "Enter the amount to refund"},
			{"abc", "damaged", "Enter the amount to refund in SEK"},
			{"0", "damaged", "Enter the amount to refund in SEK"},
			{"-1", "damaged", "Enter the amount to refund in SEK"},
			{"1.234", "damaged", "Enter the amount to refund in SEK"},
			{"1,000", "damaged", "Enter the amount to refund in SEK"},
			{"1e3", "damaged", "Enter the amount to refund in SEK"},
			{"99999999999999999999", "damaged", "Enter the amount to refund in SEK"},
			{"1.00", "", "Enter a reason"},
			{"1.00", strings.Repeat("x", 501), "500 characters or fewer"},
		} {
			p := refund(nonce, tc.amount, tc.reason)
			wantText(t, tc.amount+"/"+tc.reason, p, http.StatusUnprocessableEntity, "There is a problem", tc.want)
			if !strings.Contains(p.body, `aria-invalid="true"`) {
				t.Errorf("%q: no field marked invalid", tc.amount)
			}
		}
		wantCount(t, "bad input", e.store, n)
	})

	t.Run("too large", func(t *testing.T) {
		n := e.store.Count()
		p := refund(nonce, "10.01", "damaged")
		wantText(t, "10.01 of 10.00", p, http.StatusUnprocessableEntity, "more than the 10.00 SEK that can be refunded")
		if !strings.Contains(p.body, `value="10.01"`) {
			t.Error("the amount typed is not kept")
		}
		wantCount(t, "too large", e.store, n)
	})

	t.Run("viewer", func(t *testing.T) {
		v := signIn(t, e, "viewer")
		token := field(t, csrfRe, v.get(path).body)
		n := e.store.Count()
		p := v.post(path+"/refund", url.Values{"csrf_token": {token}, "nonce": {nonce}, "amount": {"1"}, "reason": {"x"}})
		wantText(t, "viewer refunds", p, http.StatusForbidden, "Not allowed", "viewer")
		wantCount(t, "viewer", e.store, n)
	})

	t.Run("no CSRF token", func(t *testing.T) {
		n := e.store.Count()
		for _, token := range []string{"", "x", csrf + "x"} {
			p := b.post(path+"/refund", url.Values{"csrf_token": {token}, "nonce": {nonce}, "amount": {"1"}, "reason": {"x"}})
			wantText(t, "token "+token, p, http.StatusForbidden, "expired")
		}
		// Another session's token is no good either.
		other := field(t, csrfRe, signIn(t, e, "agent").get(path).body)
		p := b.post(path+"/refund", url.Values{"csrf_token": {other}, "nonce": {nonce}, "amount": {"1"}, "reason": {"x"}})
		wantText(t, "another session's token", p, http.StatusForbidden)
		wantCount(t, "no CSRF", e.store, n)
	})

	t.Run("no nonce", func(t *testing.T) {
		n := e.store.Count()
		p := b.post(path+"/refund", url.Values{"csrf_token": {csrf}, "amount": {"1"}, "reason": {"x"}})
		wantText(t, "no nonce", p, http.StatusBadRequest)
		wantCount(t, "no nonce", e.store, n)
	})

	t.Run("refund twice with one form", func(t *testing.T) {
		for i := range 2 {
			p := refund(nonce, "2,50", "Damaged in transit")
			if p.status != http.StatusSeeOther || p.header.Get("Location") != path {
				t.Fatalf("send %d: got %d to %q, want 303 to the order:\n%s", i, p.status, p.header.Get("Location"), text(p.body))
			}
			want := "Refunded 2.50 SEK."
			if i == 1 {
				want = "already recorded"
			}
			wantText(t, "after the refund", b.follow(p), http.StatusOK, want)
		}
		if o := orderNow(t, e, e.order); o.Refunded != 250 || len(o.Refunds) != 1 {
			t.Fatalf("got refunded %d in %d refunds, want 250 in 1", o.Refunded, len(o.Refunds))
		}
		if n := countKind(t, e, string(e.order), checkout.KindOrderRefunded); n != 1 {
			t.Fatalf("got %d refund entries, want 1", n)
		}
		// The refund entry itself names who refunded and why: no second
		// write that could fail on its own.
		if actions := staffActions(t, e.store, string(e.order)); len(actions) != 0 {
			t.Fatalf("got staff.action entries %v, want none", actions)
		}
		refunds := entryData(t, e.store, string(e.order), checkout.KindOrderRefunded)
		if len(refunds) != 1 || refunds[0]["amount"] != float64(250) {
			t.Fatalf("got refund entries %v, want one of 250", refunds)
		}
		wantActor(t, "refund entry", refunds[0], "agent", "support", "Damaged in transit")
		wantText(t, "timeline", b.get(path), http.StatusOK, "by agent (support); reason: Damaged in transit")
		// The message is shown once; the page then has a fresh nonce.
		p := b.get(path)
		if strings.Contains(text(p.body), "already recorded") {
			t.Error("the message is shown again")
		}
		if field(t, nonceRe, p.body) == nonce {
			t.Error("the page reuses a spent nonce")
		}
		wantText(t, "refunded", p, http.StatusOK, "Refund", "2.50 SEK", "order.refunded")
	})

	t.Run("same nonce, another amount", func(t *testing.T) {
		n := e.store.Count()
		p := refund(nonce, "3.00", "again")
		wantText(t, "replayed nonce with another amount", p, http.StatusConflict, "already sent with a different amount")
		if field(t, nonceRe, p.body) == nonce {
			t.Error("the form offers the spent nonce again")
		}
		wantCount(t, "conflict", e.store, n)
	})

	t.Run("a script posts minor units", func(t *testing.T) {
		// Without the pages' amount_unit=major, an amount is in minor
		// units, as everywhere else in kassa's interface.
		_, nonce := b.orderForm(e.order)
		p := b.post(path+"/refund", url.Values{"csrf_token": {csrf}, "nonce": {nonce}, "amount": {"50"}, "reason": {"script"}})
		wantText(t, "minor units", b.follow(p), http.StatusOK, "Refunded 0.50 SEK.")
		if p := b.post(path+"/refund", url.Values{"csrf_token": {csrf}, "nonce": {"another-form-nonce-000001"}, "amount": {"0.50"}, "reason": {"script"}}); p.status != http.StatusUnprocessableEntity {
			t.Fatalf("a decimal without amount_unit: got %d, want 422", p.status)
		}
	})

	t.Run("the rest", func(t *testing.T) {
		_, nonce := b.orderForm(e.order)
		wantText(t, "refund the rest", b.follow(refund(nonce, "7", "Returned")), http.StatusOK, "Refunded 7.00 SEK.")
		if o := orderNow(t, e, e.order); o.Refunded != 1000 || o.Status != "closed" {
			t.Fatalf("got refunded %d status %q, want 1000 closed", o.Refunded, o.Status)
		}
		p := refund("a-form-from-before-0123", "1", "more")
		wantText(t, "refund a closed order", p, http.StatusConflict, "Not possible for this order now", "nothing captured to refund")
	})
}

// TestRefundRightsUnavailable refunds in a second region an order
// captured in the first, which cannot be reached: the page says to try
// again shortly, and nothing is written.
func TestRefundRightsUnavailable(t *testing.T) {
	e := newEnv(t)
	capture(t, e, e.order)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	k1 := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 2
	k2 := ed25519.NewKeyFromSeed(seed)
	keys := ledger.Keys{"r1": k1.Public().(ed25519.PublicKey), "r2": k2.Public().(ed25519.PublicKey)}
	store, err := ledger.Open(ctx, ledger.Options{Path: filepath.Join(t.TempDir(), "r2.db"), Region: "r2", Key: k2, Keys: keys, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	es, err := e.store.EntriesAfter(ctx, "r1", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Apply(ctx, es); err != nil {
		t.Fatal(err)
	}
	cfg := e.config
	cfg.Region, cfg.Regions = "r2", []string{"r1", "r2"}
	credit := scoring.New(store, cfg)
	svc := checkout.New(store, credit, nil, nil, checkout.Config{Region: "r2", Peers: []string{"r1"}, PublicURL: "http://kassa.test",
		AllowLoopback: true, Logger: log, Merchants: []checkout.MerchantConfig{{ID: "demo", APISecret: "sk_test_demo"}},
		Consumers: checkout.Consumers{Key: []byte("identity-key-for-tests")}, FingerprintKey: []byte("fingerprint-key-for-tests")})
	r := mux.NewRouter()
	admin.New(store, svc, nil, staff, log).WithCredit(credit).WithUI(admin.UI{Merchants: []string{"demo"}}).Routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	e2 := &env{srv: srv, store: store, svc: svc, clock: clocktest.Wall()}

	b := signIn(t, e2, "agent")
	csrf, nonce := b.orderForm(e.order)
	n := store.Count()
	path := "/admin/orders/" + string(e.order)
	for range 2 { // and again, with the same form
		p := b.post(path+"/refund", url.Values{"csrf_token": {csrf}, "nonce": {nonce}, "amount": {"1.00"}, "amount_unit": {"major"}, "reason": {"Returned"}})
		wantText(t, "refund in r2", p, http.StatusServiceUnavailable, "cannot be reached", "Try again shortly")
		if p.header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		if field(t, nonceRe, p.body) != nonce {
			t.Error("the form sent back has a new nonce: sending it again would not be the same refund")
		}
	}
	wantCount(t, "rights unavailable", store, n)
}

func TestCancelPage(t *testing.T) {
	e := newEnv(t)
	path := "/admin/orders/" + string(e.order)
	b := signIn(t, e, "agent")
	csrf, nonce := b.orderForm(e.order)
	n := e.store.Count()
	p := b.post(path+"/cancel", url.Values{"csrf_token": {csrf}, "nonce": {nonce}})
	wantText(t, "cancel without a reason", p, http.StatusUnprocessableEntity, "Enter a reason")
	wantCount(t, "no reason", e.store, n)

	for range 2 {
		p = b.post(path+"/cancel", url.Values{"csrf_token": {csrf}, "nonce": {nonce}, "reason": {"Shopper asked by phone"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("cancel: got %d:\n%s", p.status, text(p.body))
		}
	}
	wantText(t, "after cancel", b.follow(p), http.StatusOK, "already recorded", "cancelled")
	if o := orderNow(t, e, e.order); o.Status != "cancelled" {
		t.Fatalf("got status %q, want cancelled", o.Status)
	}
	if n := countKind(t, e, string(e.order), checkout.KindOrderCancelled); n != 1 {
		t.Fatalf("got %d cancel entries, want 1", n)
	}
	if actions := staffActions(t, e.store, string(e.order)); len(actions) != 0 {
		t.Fatalf("got staff.action entries %v, want none", actions)
	}
	cancels := entryData(t, e.store, string(e.order), checkout.KindOrderCancelled)
	if len(cancels) != 1 {
		t.Fatalf("got cancel entries %v, want one", cancels)
	}
	wantActor(t, "cancel entry", cancels[0], "agent", "support", "Shopper asked by phone")

	p = b.post(path+"/cancel", url.Values{"csrf_token": {csrf}, "nonce": {"another-form-0123456789"}, "reason": {"again"}})
	wantText(t, "cancel a cancelled order", p, http.StatusConflict, "Not possible for this order now")
}

func TestRepaymentPage(t *testing.T) {
	e := newEnv(t)
	capture(t, e, e.order)
	path := "/admin/orders/" + string(e.order)
	b := signIn(t, e, "agent")
	csrf, nonce := b.orderForm(e.order)
	repay := func(amount, ref string) page {
		return b.post(path+"/repayments", url.Values{"csrf_token": {csrf}, "nonce": {nonce}, "amount": {amount}, "amount_unit": {"major"}, "reference": {ref}, "note": {"phoned in"}})
	}
	n := e.store.Count()
	wantText(t, "no reference", repay("1", ""), http.StatusUnprocessableEntity, "Enter the bank's reference")
	wantText(t, "bad amount", repay("x", "BANK-1"), http.StatusUnprocessableEntity, "Enter the amount repaid in SEK")
	wantText(t, "too large", repay("10.01", "BANK-1"), http.StatusUnprocessableEntity, "more than the 10.00 SEK still owed")
	wantCount(t, "refused", e.store, n)

	wantText(t, "repay", b.follow(repay("3", "BANK-1")), http.StatusOK, "Recorded a repayment of 3.00 SEK.", "Still owed 7.00 SEK")
	wantText(t, "the same reference again", b.follow(repay("3", "BANK-1")), http.StatusOK, "already recorded")
	if o := orderNow(t, e, e.order); o.Repaid != 300 {
		t.Fatalf("got repaid %d, want 300", o.Repaid)
	}
	if actions := staffActions(t, e.store, string(e.order)); len(actions) != 0 {
		t.Fatalf("got staff.action entries %v, want none", actions)
	}
	repaid := entryData(t, e.store, string(e.order), checkout.KindOrderRepaid)
	if len(repaid) != 1 {
		t.Fatalf("got repayment entries %v, want one", repaid)
	}
	wantActor(t, "repayment entry", repaid[0], "agent", "support", "phoned in")
	wantText(t, "another amount, same reference", repay("4", "BANK-1"), http.StatusUnprocessableEntity, "recorded before with another amount")
	v := signIn(t, e, "viewer")
	p := v.post(path+"/repayments", url.Values{"csrf_token": {field(t, csrfRe, v.get(path).body)}, "amount": {"1"}, "reference": {"BANK-2"}})
	wantText(t, "viewer", p, http.StatusForbidden, "Not allowed")
}

func TestResendPage(t *testing.T) {
	e := newEnv(t)
	path := "/admin/orders/" + string(e.order)
	b := signIn(t, e, "agent")
	csrf, _ := b.orderForm(e.order)
	p := b.post(path+"/webhooks/e1/resend", url.Values{"csrf_token": {csrf}})
	wantText(t, "resend", b.follow(p), http.StatusOK, "queued to be sent again")
	if len(e.wh.resent) != 1 {
		t.Fatalf("got %d resends, want 1", len(e.wh.resent))
	}
	wantText(t, "unknown event", b.post(path+"/webhooks/nope/resend", url.Values{"csrf_token": {csrf}}), http.StatusNotFound)
	v := signIn(t, e, "viewer")
	p = v.post(path+"/webhooks/e1/resend", url.Values{"csrf_token": {field(t, csrfRe, v.get(path).body)}})
	wantText(t, "viewer", p, http.StatusForbidden)
	if len(e.wh.resent) != 1 {
		t.Fatalf("got %d resends, want 1", len(e.wh.resent))
	}
}

func TestConsumerPage(t *testing.T) {
	e := newEnv(t)
	id := e.svc.ConsumerID(adaEmail)
	b := signIn(t, e, "viewer")
	p := b.get("/admin/consumers/" + string(id))
	wantText(t, "consumer", p, http.StatusOK, string(id), "a***@example.com", "Home region r1", "Credit in SEK",
		"Limit 1,000.00 SEK", "Exposure 10.00 SEK", "Secured (from rights) 10.00 SEK", "Unsecured (from budgets) 0.00 SEK",
		"Available 990.00 SEK", "Overdue 0.00 SEK", "Days past due 0", "Repaid 0.00 SEK", "Shopped in r1", "r1 (home) 990.00 SEK")
	if !strings.Contains(p.body, `href="/admin/orders/`+string(e.order)+`"`) {
		t.Fatal("no link to the consumer's order")
	}
	for _, bad := range []string{"con_nobody", "nobody", "con_" + strings.Repeat("x", 80)} {
		wantText(t, bad, b.get("/admin/consumers/"+bad), http.StatusNotFound, "Not found")
	}
}

func TestModePage(t *testing.T) {
	e := newEnv(t)
	v := signIn(t, e, "viewer")
	p := v.get("/admin/mode")
	wantText(t, "viewer", p, http.StatusOK, "This region is in normal mode", "Only the admin role can switch")
	token := field(t, csrfRe, p.body)
	wantText(t, "viewer switches", v.post("/admin/mode", url.Values{"csrf_token": {token}, "mode": {"card_only"}, "reason": {"x"}}),
		http.StatusForbidden, "Not allowed")
	a := signIn(t, e, "agent")
	wantText(t, "agent switches", a.post("/admin/mode", url.Values{"csrf_token": {field(t, csrfRe, a.get("/admin/mode").body)},
		"mode": {"card_only"}, "reason": {"x"}}), http.StatusForbidden, "Not allowed")

	b := signIn(t, e, "boss")
	p = b.get("/admin/mode")
	token = field(t, csrfRe, p.body)
	if !strings.Contains(p.body, `name="mode" value="card_only"`) {
		t.Fatal("no mode choice for an admin")
	}
	n := e.store.Count()
	wantText(t, "no reason", b.post("/admin/mode", url.Values{"csrf_token": {token}, "mode": {"card_only"}}), http.StatusUnprocessableEntity, "Enter a reason")
	wantText(t, "unknown mode", b.post("/admin/mode", url.Values{"csrf_token": {token}, "mode": {"off"}, "reason": {"x"}}), http.StatusUnprocessableEntity, "Choose one of the modes")
	wantText(t, "no mode", b.post("/admin/mode", url.Values{"csrf_token": {token}, "reason": {"x"}}), http.StatusUnprocessableEntity, "Choose one of the modes")
	wantCount(t, "refused", e.store, n)
	if m := e.credit.Policy().Mode; m != scoring.ModeNormal {
		t.Fatalf("got mode %q, want normal", m)
	}

	p = b.post("/admin/mode", url.Values{"csrf_token": {token}, "mode": {"card_only"}, "reason": {"Incident 42"}})
	wantText(t, "switched", b.follow(p), http.StatusOK, "now in card only mode", "This region is in card only mode", "Incident 42", "boss")
	if m := e.credit.Policy().Mode; m != scoring.ModeCardOnly {
		t.Fatalf("got mode %q, want card_only", m)
	}
}

func TestAPIWithSessionCookie(t *testing.T) {
	e := newEnv(t)
	b := signIn(t, e, "boss")
	token := field(t, regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`), b.get("/admin/search").body)
	api := func(method, path, body, csrf string) page {
		req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		return b.do(req)
	}
	if p := api("GET", "/admin/api/orders/"+string(e.order), "", ""); p.status != http.StatusOK {
		t.Fatalf("GET with the cookie: got %d %s", p.status, p.body)
	}
	if p := api("GET", "/admin/api/consumers?email="+adaEmail, "", ""); p.status != http.StatusOK {
		t.Fatalf("GET consumer with the cookie: got %d %s", p.status, p.body)
	}
	body := `{"mode": "conservative", "reason": "load test"}`
	for _, csrf := range []string{"", "wrong"} {
		p := api("POST", "/admin/api/mode", body, csrf)
		var got apiError
		json.Unmarshal([]byte(p.body), &got)
		if p.status != http.StatusForbidden || got.Error.Code != "csrf_token_required" {
			t.Fatalf("POST with the cookie and token %q: got %d %s, want 403 csrf_token_required", csrf, p.status, p.body)
		}
	}
	if m := e.credit.Policy().Mode; m != scoring.ModeNormal {
		t.Fatalf("got mode %q after refused posts", m)
	}
	if p := api("POST", "/admin/api/mode", body, token); p.status != http.StatusOK {
		t.Fatalf("POST with the cookie and token: got %d %s", p.status, p.body)
	}
	if m := e.credit.Policy().Mode; m != scoring.ModeConservative {
		t.Fatalf("got mode %q, want conservative", m)
	}
	// HTTP Basic needs no token.
	if status, body := call(t, e, "POST", "/admin/api/mode", "boss", `{"mode": "normal", "reason": "done"}`); status != http.StatusOK {
		t.Fatalf("POST with Basic: got %d %s", status, body)
	}
	// Basic credentials that are wrong are refused even with a good cookie.
	req, _ := http.NewRequest("GET", e.srv.URL+"/admin/api/mode", nil)
	req.SetBasicAuth("boss", "wrong")
	if p := b.do(req); p.status != http.StatusUnauthorized {
		t.Fatalf("wrong Basic with a cookie: got %d, want 401", p.status)
	}
	// A viewer's cookie does not carry an admin's rights.
	v := signIn(t, e, "viewer")
	vt := field(t, regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`), v.get("/admin/search").body)
	req, _ = http.NewRequest("POST", e.srv.URL+"/admin/api/mode", strings.NewReader(body))
	req.Header.Set("X-CSRF-Token", vt)
	if p := v.do(req); p.status != http.StatusForbidden {
		t.Fatalf("viewer's cookie on POST mode: got %d, want 403", p.status)
	}
}
