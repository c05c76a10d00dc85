package admin

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"kassa/htmlpage"
	"kassa/httperr"
	"kassa/ratelimit"
	"kassa/templates"
)

// UI configures the admin web UI.
type UI struct {
	// Merchants are the merchant ids a search for a merchant reference
	// looks in (references are unique per merchant only).
	Merchants []string
	// Asset maps a static file name to its URL; nil: "/static/" + name.
	Asset func(name string) string
	// Secure marks the UI's cookies Secure on every request, not only on
	// those that came over TLS: set it in production and whenever a proxy
	// in front terminates TLS.
	Secure bool
	// SessionTTL is how long a sign-in lasts; DefaultSessionTTL if zero.
	SessionTTL time.Duration
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// WithUI configures the admin web UI. Call it before serving.
func (a *API) WithUI(u UI) *API {
	if u.Asset == nil {
		u.Asset = func(name string) string { return "/static/" + name }
	}
	if u.SessionTTL <= 0 {
		u.SessionTTL = DefaultSessionTTL
	}
	if u.Now == nil {
		u.Now = time.Now
	}
	u.Merchants = append([]string(nil), u.Merchants...)
	sort.Strings(u.Merchants)
	a.ui = u
	a.throttle = ratelimit.NewThrottle(u.Now)
	a.sessions.ttl, a.sessions.now, a.sessions.secure = u.SessionTTL, u.Now, u.Secure
	a.feed.now = u.Now
	return a
}

// parsePages parses every page with the shared layout. The templates are
// embedded, so a parse error is a bug in this binary that every test
// rendering a page finds.
func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"money":  money,
		"amount": formatAmount,
		"when":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"iso":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"label":  func(v any) string { return label(fmt.Sprint(v)) },
		"diff":   diffValue,
	}
	layout := template.Must(template.New("admin").Funcs(funcs).ParseFS(templates.FS, "admin_layout.html"))
	pages := map[string]*template.Template{}
	for _, name := range []string{"login", "search", "order", "consumer", "mode", "message", "dashboard", "audit", "staff", "staff_member", "password", "merchants", "merchant_secrets", "reconciliation", "reconciliation_day",
		"settlements", "mail", "repayments"} {
		pages[name] = template.Must(template.Must(layout.Clone()).ParseFS(templates.FS, "admin_"+name+".html"))
	}
	return pages
}

func (a *API) pageRoutes(r *mux.Router) {
	get := []string{http.MethodGet, http.MethodHead}
	r.HandleFunc("/admin", a.home).Methods(get...)
	r.HandleFunc("/admin/", a.page("viewer", a.dashboardPage)).Methods(get...)
	r.HandleFunc("/admin/audit", a.page("viewer", a.auditPageHandler)).Methods(get...)
	r.HandleFunc("/admin/login", a.loginForm).Methods(get...)
	r.HandleFunc("/admin/login", a.login).Methods(http.MethodPost)
	r.HandleFunc("/admin/logout", a.logout).Methods(http.MethodPost)
	r.HandleFunc("/admin/search", a.page("viewer", a.search)).Methods(get...)
	r.HandleFunc("/admin/orders/{id}", a.page("viewer", a.orderPage)).Methods(get...)
	r.HandleFunc("/admin/orders/{id}/refund", a.page("support", a.refundAction)).Methods(http.MethodPost)
	r.HandleFunc("/admin/orders/{id}/cancel", a.page("support", a.cancelAction)).Methods(http.MethodPost)
	r.HandleFunc("/admin/orders/{id}/repayments", a.page("support", a.repayAction)).Methods(http.MethodPost)
	r.HandleFunc("/admin/orders/{id}/capture", a.page("support", a.captureAction)).Methods(http.MethodPost)
	r.HandleFunc("/admin/orders/{id}/release", a.page("support", a.releaseAction)).Methods(http.MethodPost)
	r.HandleFunc("/admin/orders/{id}/extend", a.page("support", a.extendAction)).Methods(http.MethodPost)
	r.HandleFunc("/admin/orders/{id}/webhooks/{event}/resend", a.page("support", a.resendAction)).Methods(http.MethodPost)
	// An action's address opened in the browser (a reload after the
	// session expired, a pasted link) shows its order.
	for _, action := range []string{"refund", "cancel", "repayments", "capture", "release", "extend"} {
		r.HandleFunc("/admin/orders/{id}/"+action, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, orderPath(mux.Vars(r)["id"]), http.StatusSeeOther)
		}).Methods(get...)
	}
	r.HandleFunc("/admin/consumers/{id}", a.page("viewer", a.consumerPage)).Methods(get...)
	r.HandleFunc("/admin/mode", a.page("viewer", a.modePage)).Methods(get...)
	r.HandleFunc("/admin/mode", a.page("admin", a.modeAction)).Methods(http.MethodPost)
	r.HandleFunc("/admin/repayments", a.page("support", a.repaymentsForm)).Methods(get...)
	r.HandleFunc("/admin/repayments", a.pageLimited("support", maxImportForm, a.repaymentsImport)).Methods(http.MethodPost)
	a.merchantPageRoutes(r)
}

func orderPath(id string) string { return "/admin/orders/" + url.PathEscape(id) }

// view is what every page template sees; Main is the page's own data.
type view struct {
	asset func(string) string

	Title    string
	Section  string // the navigation item to mark as current
	Region   string
	Staff    *staffView
	CSRF     string
	Flash    *flash
	Problems []problem
	Main     any
}

type staffView struct{ Name, Role string }

// problem is one entry of a page's error summary, linking to the field or
// form it is about.
type problem struct{ Target, Message string }

// Asset is the URL of a static file.
func (v *view) Asset(name string) string { return v.asset(name) }

func (a *API) newView(r *http.Request, s *session) *view {
	v := &view{asset: a.ui.Asset, Region: string(a.store.Region())}
	if s != nil {
		v.Staff = &staffView{Name: s.user.name, Role: s.user.role}
		v.CSRF = a.sessions.csrf(*s)
	}
	return v
}

// render executes a page into a buffer first, so a template error becomes
// a clean error page rather than half a page.
func (a *API) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	if len(v.Problems) > 0 && !strings.HasPrefix(v.Title, "Error: ") {
		v.Title = "Error: " + v.Title
	}
	var buf bytes.Buffer
	if err := a.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		cid := httperr.CorrelationID(w)
		a.log.Error("admin: render page", "page", name, "path", r.URL.Path, "correlation_id", cid, "err", err)
		buf.Reset()
		fmt.Fprintf(&buf, "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Error</title>"+
			"<p>Sorry, this page could not be shown. Reference: %s</p></html>", template.HTMLEscapeString(cid))
		status = http.StatusInternalServerError
	}
	htmlpage.SetHeaders(w.Header(), "")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// messagePage is a page that only says something, with a way on.
type messagePage struct {
	Heading   string
	Body      []string
	Link      string
	LinkText  string
	Reference string // a correlation id to quote, for errors
}

func (a *API) message(w http.ResponseWriter, r *http.Request, v *view, status int, m messagePage) {
	v.Title, v.Main = m.Heading, m
	a.render(w, r, status, "message", v)
}

func (a *API) notFound(w http.ResponseWriter, r *http.Request, v *view, what string) {
	a.message(w, r, v, http.StatusNotFound, messagePage{Heading: "Not found",
		Body: []string{"There is no " + what + " here. It may not have reached this region yet, or the address is mistyped."},
		Link: "/admin/search", LinkText: "Search again"})
}

// internalError logs err with a correlation id and shows the page with the
// id to quote, never the error.
func (a *API) internalError(w http.ResponseWriter, r *http.Request, v *view, err error) {
	cid := httperr.CorrelationID(w)
	a.log.Error("admin page failed", "method", r.Method, "path", r.URL.Path, "correlation_id", cid, "err", err)
	a.message(w, r, v, http.StatusInternalServerError, messagePage{Heading: "Something went wrong",
		Body:      []string{"This page could not be completed. If you were acting on an order, reload it to see whether the action was recorded before you try again."},
		Reference: cid, Link: "/admin/search", LinkText: "Back to search"})
}

type pageHandler func(w http.ResponseWriter, r *http.Request, s session, v *view)

// maxForm bounds a form post; the largest field is a 500-character reason.
const maxForm = 64 << 10

// page serves a page to a signed-in staff member of at least role. Someone
// not signed in is sent to sign in (and back here afterwards, for a GET);
// a POST must carry the session's CSRF token.
func (a *API) page(role string, h pageHandler) http.HandlerFunc {
	return a.pageLimited(role, maxForm, h)
}

// pageLimited is page for a form whose posts may be up to limit bytes.
func (a *API) pageLimited(role string, limit int64, h pageHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := a.sessions.read(r, a.lookup(r.Context()))
		if !ok {
			target := "/admin/login"
			if safeMethod(r.Method) {
				target += "?" + url.Values{"next": {r.URL.RequestURI()}}.Encode()
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		v := a.newView(r, &s)
		if !safeMethod(r.Method) {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if err := r.ParseForm(); err != nil || !a.sessions.csrfOK(s, r.PostForm.Get(csrfField)) {
				a.message(w, r, v, http.StatusForbidden, messagePage{Heading: "This form has expired",
					Body: []string{"Nothing was changed. Go back, reload the page and try again."},
					Link: "/admin/search", LinkText: "Back to search"})
				return
			}
		} else {
			v.Flash = a.sessions.takeFlash(w, r, s)
		}
		if roleRank[s.user.role] < roleRank[role] {
			a.message(w, r, v, http.StatusForbidden, messagePage{Heading: "Not allowed",
				Body: []string{fmt.Sprintf("Your role (%s) may not do this: it needs the %s role. Nothing was changed.", s.user.role, role),
					"Ask a colleague with that role, or an administrator to change your role."},
				Link: "/admin/search", LinkText: "Back to search"})
			return
		}
		h(w, r, s, v)
	}
}

// done ends an action: it leaves a message for the page it redirects to
// (post, redirect, get: a reload does not send the form again).
func (a *API) done(w http.ResponseWriter, r *http.Request, s session, path, kind, text string) {
	a.sessions.setFlash(w, r, s, flash{Kind: kind, Text: text, Path: path})
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// home sends /admin to the dashboard at /admin/.
func (a *API) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
}

// safeNext is where to go after signing in: a page of the admin UI, never
// another site.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n") || !strings.HasPrefix(u.Path, "/admin/") ||
		strings.HasPrefix(u.Path, "/admin/api/") || u.Path == "/admin/login" || u.Path == "/admin/logout" ||
		path.Clean(u.Path) != u.Path || strings.Contains(strings.ToLower(u.EscapedPath()), "%2e") {
		// Dot segments, plain or escaped, could climb out of /admin/.
		return "/admin/search"
	}
	return next
}

type loginPage struct {
	Token, Next, Username string
	Error                 string
}

func (a *API) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, ok := a.sessions.read(r, a.lookup(r.Context())); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	a.renderLogin(w, r, http.StatusOK, loginPage{Next: next})
}

func (a *API) renderLogin(w http.ResponseWriter, r *http.Request, status int, p loginPage) {
	v := a.newView(r, nil)
	v.Title = "Sign in – kassa admin"
	p.Token = a.sessions.loginToken(w, r)
	if p.Error != "" {
		v.Problems = []problem{{Target: "username", Message: p.Error}}
	}
	v.Main = p
	a.render(w, r, status, "login", v)
}

// login answers POST /admin/login. Wrong credentials get the same answer
// whichever of the two was wrong.
func (a *API) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		a.renderLogin(w, r, http.StatusBadRequest, loginPage{Next: "/admin/search", Error: "The form could not be read. Please sign in again."})
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	name := r.PostForm.Get("username")
	shown := name // what the form shows again
	if len(shown) > ratelimit.MaxName {
		shown = ""
	}
	if !a.sessions.loginOK(r, r.PostForm.Get(csrfField)) {
		a.renderLogin(w, r, http.StatusForbidden, loginPage{Next: next, Username: shown,
			Error: "The sign-in form had expired (or cookies are off for this site). Please sign in again."})
		return
	}
	u, refusal, ok := a.attempt(r.Context(), ratelimit.ClientKey(r), name, r.PostForm.Get("password"))
	if refusal != nil {
		w.Header().Set("Retry-After", strconv.Itoa(refusal.RetryAfter()))
		a.renderLogin(w, r, http.StatusTooManyRequests, loginPage{Next: next, Username: shown, Error: refusalText(*refusal)})
		return
	}
	if !ok {
		a.renderLogin(w, r, http.StatusUnauthorized, loginPage{Next: next, Username: shown,
			Error: "The username or password is incorrect."})
		return
	}
	a.sessions.start(w, r, u)
	a.sessions.clearCookie(w, r, loginCookie)
	a.log.Info("admin: signed in", "staff", u.name, "role", u.role)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	s, ok := a.sessions.read(r, a.lookup(r.Context()))
	if ok {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil || !a.sessions.csrfOK(s, r.PostForm.Get(csrfField)) {
			a.message(w, r, a.newView(r, &s), http.StatusForbidden, messagePage{Heading: "This form has expired",
				Body: []string{"You are still signed in. Reload the page and sign out again."},
				Link: "/admin/search", LinkText: "Back to search"})
			return
		}
	}
	a.sessions.end(w, r, s)
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}
