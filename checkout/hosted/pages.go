package hosted

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"kassa/checkout"
	"kassa/htmlpage"
	"kassa/ratelimit"
	"kassa/templates"
)

// Pages serves the hosted checkout that merchants send shoppers to:
// GET /checkout/{session_id} shows the order and the payment form, and
// POST /checkout/{session_id} authorizes the session and sends the shopper
// on to the merchant's confirmation URL. The pages are rendered on the
// server and work with JavaScript off. It is safe for concurrent use.
//
// A page never shows a card number or security code it was sent: a form
// re-rendered after an error keeps the shopper's details but not the card.
type Pages struct {
	svc     *checkout.Service
	cfg     Config
	form    *template.Template
	message *template.Template
}

// Limiter limits form posts per client address. AllowClient takes a token
// for the client and, when it is out, returns false and how many seconds
// to wait. Give the pages a limiter of their own (a *ratelimit.Limiter
// apart from the merchant API's): a shopper's posts must not spend the
// merchant's API limits, nor a flood of junk posts make its API calls 429.
type Limiter interface {
	AllowClient(client string) (wait int, ok bool)
}

// Config configures Pages. Every field may be left zero.
type Config struct {
	Limiter Limiter                  // limits form posts; nil: no limit
	Ready   func() bool              // whether the region takes writes; nil: always
	Asset   func(name string) string // a static file's URL; nil: "/static/" + name
	Secure  bool                     // mark the CSRF cookie Secure even on plain HTTP (behind a TLS proxy)
	Logger  *slog.Logger             // nil: slog.Default()
}

// New returns the checkout pages over svc.
func New(svc *checkout.Service, cfg Config) *Pages {
	if cfg.Asset == nil {
		cfg.Asset = func(name string) string { return "/static/" + name }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// The templates are embedded, so a parse error is a bug in this
	// binary, found by every test that renders a page.
	layout := template.Must(template.ParseFS(templates.FS, "checkout_layout.html"))
	return &Pages{
		svc: svc, cfg: cfg,
		form:    template.Must(template.Must(layout.Clone()).ParseFS(templates.FS, "checkout_form.html")),
		message: template.Must(template.Must(layout.Clone()).ParseFS(templates.FS, "checkout_message.html")),
	}
}

// Routes registers the pages on r.
func (p *Pages) Routes(r *mux.Router) {
	r.HandleFunc("/checkout/{id}", p.show).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/checkout/{id}", p.submit).Methods(http.MethodPost)
}

// show answers GET /checkout/{id}.
func (p *Pages) show(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.session(w, r)
	if !ok {
		return
	}
	switch sess.Status {
	case "complete":
		p.paid(w, r, sess)
	case "processing":
		p.pending(w, r, sess, http.StatusOK)
	case "expired":
		p.expired(w, r, sess)
	default:
		f := shopperForm{Country: sess.Country, Method: "pay_later"}
		p.renderForm(w, r, http.StatusOK, sess, csrf.Ensure(w, r, p.cfg.Secure), f, nil, nil)
	}
}

// submit answers POST /checkout/{id}.
func (p *Pages) submit(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.session(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		p.renderMessage(w, r, http.StatusBadRequest, &sess, "forbidden", p.checkoutLink(sess, "forbidden.link"))
		return
	}
	if !csrf.Check(r, string(sess.ID), r.PostForm.Get(fCSRF)) {
		p.renderMessage(w, r, http.StatusForbidden, &sess, "forbidden", p.checkoutLink(sess, "forbidden.link"))
		return
	}
	cookie, _ := r.Cookie(csrf.Cookie) // Check found it
	switch sess.Status {
	case "expired":
		p.expired(w, r, sess)
		return
	case "processing":
		p.pending(w, r, sess, http.StatusAccepted)
		return
	}
	if p.cfg.Ready != nil && !p.cfg.Ready() {
		w.Header().Set("Retry-After", "2")
		p.renderMessage(w, r, http.StatusServiceUnavailable, &sess, "busy", p.checkoutLink(sess, "busy.link"))
		return
	}
	if p.cfg.Limiter != nil {
		if wait, ok := p.cfg.Limiter.AllowClient(ratelimit.ClientKey(r)); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			p.renderMessage(w, r, http.StatusTooManyRequests, &sess, "busy", p.checkoutLink(sess, "busy.link"))
			return
		}
	}

	f := readForm(r)
	now := p.svc.Now()
	problems := check(f, now)
	if sess.Status == "complete" {
		// Only a repeat of the request that paid gets its order back
		// (the shopper pressed Pay twice); anything else is told the
		// order is paid.
		problems = nil
	}
	if len(problems) > 0 {
		p.renderForm(w, r, http.StatusUnprocessableEntity, sess, cookie.Value, f, problems, nil)
		return
	}
	month, year := f.expiry(map[string]string{})
	req := f.request(month, year)
	// A shopper who closes the tab must not turn a card charge into an
	// unknown outcome: the acquirer client's own timeout bounds the call.
	o, _, err := p.svc.Authorize(context.WithoutCancel(r.Context()), "", sess.ID, req, p.svc.AuthorizeHash(req))
	if err == nil {
		// Answer only once the decision is as durable as the region
		// promises; pressing Pay again replays it and waits again.
		err = p.svc.Acknowledge(r.Context())
	}
	var fe *checkout.FieldError
	switch {
	case errors.As(err, &fe) && sess.Status != "complete":
		key := fieldKeys[fe.Field]
		if key == "" {
			key = fMethod
		}
		p.renderForm(w, r, http.StatusUnprocessableEntity, sess, cookie.Value, f, map[string]string{key: key + ".invalid"}, nil)
	case errors.As(err, &fe), errors.Is(err, checkout.ErrSessionComplete):
		http.Redirect(w, r, "/checkout/"+string(sess.ID), http.StatusSeeOther)
	case errors.Is(err, checkout.ErrSessionExpired):
		p.expired(w, r, sess)
	case errors.Is(err, checkout.ErrNotFound):
		p.notFound(w, r)
	case errors.Is(err, checkout.ErrMaybeElsewhere):
		p.elsewhere(w, r, sess.ID)
	case errors.Is(err, checkout.ErrAcquirerUnavailable):
		// Nothing was charged; the shopper may try again or pay another way.
		w.Header().Set("Retry-After", "5")
		p.renderForm(w, r, http.StatusServiceUnavailable, sess, cookie.Value, f, nil, &checkout.Decision{Outcome: "unavailable"})
	case errors.Is(err, checkout.ErrRightsUnavailable), errors.Is(err, checkout.ErrNotReady), errors.Is(err, checkout.ErrNotReplicated):
		w.Header().Set("Retry-After", "5")
		p.renderMessage(w, r, http.StatusServiceUnavailable, &sess, "busy", p.checkoutLink(sess, "busy.link"))
	case err != nil:
		p.internalError(w, r, &sess, err)
	case o.Status == "declined":
		p.renderForm(w, r, http.StatusPaymentRequired, sess, cookie.Value, f, nil, &o.Decision)
	case o.Status == "pending":
		p.pending(w, r, sess, http.StatusAccepted)
	default:
		http.Redirect(w, r, confirmationURL(sess, o.ID), http.StatusSeeOther)
	}
}

// session loads the session named in the path, answering the page itself
// when there is none.
func (p *Pages) session(w http.ResponseWriter, r *http.Request) (checkout.Session, bool) {
	id := mux.Vars(r)["id"]
	if !strings.HasPrefix(id, "ses_") || len(id) > 64 {
		p.notFound(w, r)
		return checkout.Session{}, false
	}
	sess, err := p.svc.Session(r.Context(), "", checkout.SessionID(id))
	switch {
	case errors.Is(err, checkout.ErrNotFound):
		p.notFound(w, r)
		return checkout.Session{}, false
	case errors.Is(err, checkout.ErrMaybeElsewhere):
		p.elsewhere(w, r, checkout.SessionID(id))
		return checkout.Session{}, false
	case err != nil:
		p.internalError(w, r, nil, err)
		return checkout.Session{}, false
	}
	return sess, true
}

// confirmationURL is the merchant's confirmation URL with the order and
// session added to its query.
func confirmationURL(sess checkout.Session, oid checkout.OrderID) string {
	u, err := url.Parse(sess.URLs.Confirmation)
	if err != nil { // validated when the session was created
		return sess.URLs.Confirmation
	}
	q := u.Query()
	q.Set("order_id", string(oid))
	q.Set("session_id", string(sess.ID))
	u.RawQuery = q.Encode()
	return u.String()
}

// csrf guards the checkout form with a double-submit cookie (see
// htmlpage.CSRF): a token for one session does not post another's form,
// and a form rendered by one region can be posted to another.
var csrf = htmlpage.CSRF{Cookie: "kassa_checkout", Path: "/checkout/", Purpose: "kassa checkout form"}
