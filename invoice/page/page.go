package page

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"kassa/cards"
	"kassa/htmlpage"
	"kassa/invoice"
	"kassa/ratelimit"
	"kassa/templates"
)

// Invoices finds an invoice by the token of its link (the invoice book).
type Invoices interface {
	ByToken(token string) (invoice.Invoice, bool)
}

// Payer pays an invoice by card (*Payments).
type Payer interface {
	Pay(ctx context.Context, inv invoice.Invoice, card cards.Card) (Attempt, error)
	Attempt(ctx context.Context, invoiceID, key string) (Attempt, bool, error)
}

// Limiter limits form posts per client address, as the hosted checkout's
// does (*ratelimit.Limiter): AllowClient returns false and how many
// seconds to wait when the client's tokens are out.
type Limiter interface {
	AllowClient(client string) (wait int, ok bool)
}

// Config configures Pages. Every field may be left zero.
type Config struct {
	Limiter Limiter                  // limits form posts; nil: no limit
	Ready   func() bool              // whether the region takes writes; nil: always
	Asset   func(name string) string // a static file's URL; nil: "/static/" + name
	Secure  bool                     // mark the CSRF cookie Secure even on plain HTTP (behind a TLS proxy)
	Now     func() time.Time         // nil: time.Now
	Logger  *slog.Logger             // nil: slog.Default()
}

// Pages serves the shopper's invoice page: GET /invoices/{token} shows
// what is owed, the schedule, what is paid, the payment reference and bank
// details and a card form; POST /invoices/{token}/pay pays what is owed by
// card and redirects to the page, which then says it is paid. It is safe
// for concurrent use.
type Pages struct {
	book    Invoices
	payer   Payer
	cfg     Config
	page    *template.Template
	message *template.Template
}

// New returns the invoice pages over the invoice book and payer.
func New(book Invoices, payer Payer, cfg Config) *Pages {
	if cfg.Asset == nil {
		cfg.Asset = func(name string) string { return "/static/" + name }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// The templates are embedded: a parse error is a bug in this binary,
	// found by every test that renders a page.
	layout := template.Must(template.ParseFS(templates.FS, "checkout_layout.html"))
	return &Pages{book: book, payer: payer, cfg: cfg,
		page:    template.Must(template.Must(layout.Clone()).ParseFS(templates.FS, "invoice_page.html")),
		message: template.Must(template.Must(layout.Clone()).ParseFS(templates.FS, "checkout_message.html")),
	}
}

// Routes registers the pages on r.
func (p *Pages) Routes(r *mux.Router) {
	r.HandleFunc("/invoices/{token}", p.show).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/invoices/{token}/pay", p.pay).Methods(http.MethodPost)
}

// maxToken bounds a token read from a path; longer is no token.
const maxToken = 128

// invoiceOf loads the invoice the path names and answers the page itself
// when it is unknown (404) or its link expired (410).
func (p *Pages) invoiceOf(w http.ResponseWriter, r *http.Request) (invoice.Invoice, bool) {
	token := mux.Vars(r)["token"]
	var inv invoice.Invoice
	ok := token != "" && len(token) <= maxToken
	if ok {
		inv, ok = p.book.ByToken(token)
	}
	if !ok {
		p.renderMessage(w, r, http.StatusNotFound, nil, "notfound", "")
		return invoice.Invoice{}, false
	}
	if !inv.LinkExpiresAt.IsZero() && !p.cfg.Now().Before(inv.LinkExpiresAt) {
		p.renderMessage(w, r, http.StatusGone, &inv, "expired", "")
		return invoice.Invoice{}, false
	}
	return inv, true
}

// settled reports whether nothing is owed on inv.
func settled(inv invoice.Invoice) bool {
	return inv.Owed <= 0 || inv.Status == invoice.Paid || inv.Status == invoice.Credited
}

// show answers GET /invoices/{token}; ?paid=KEY after a payment says how
// that payment ended.
func (p *Pages) show(w http.ResponseWriter, r *http.Request) {
	inv, ok := p.invoiceOf(w, r)
	if !ok {
		return
	}
	if key := r.URL.Query().Get("paid"); key != "" && len(key) <= 255 {
		a, found, err := p.payer.Attempt(r.Context(), inv.ID, key)
		switch {
		case err != nil:
			p.internalError(w, r, &inv, err)
			return
		case found && a.Status == AttemptPaid:
			p.thanks(w, r, inv, a)
			return
		case found && a.Status == AttemptPending:
			p.renderMessage(w, r, http.StatusOK, &inv, "pending", "pending.link")
			return
		}
	}
	if settled(inv) {
		p.renderMessage(w, r, http.StatusOK, &inv, "paid", "", inv.Number)
		return
	}
	p.renderPage(w, r, http.StatusOK, inv, csrf.Ensure(w, r, p.cfg.Secure), payForm{}, nil, "")
}

// pay answers POST /invoices/{token}/pay.
func (p *Pages) pay(w http.ResponseWriter, r *http.Request) {
	inv, ok := p.invoiceOf(w, r)
	if !ok {
		return
	}
	if p.cfg.Limiter != nil {
		if wait, ok := p.cfg.Limiter.AllowClient(ratelimit.ClientKey(r)); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			p.renderMessage(w, r, http.StatusTooManyRequests, &inv, "busy", "busy.link")
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.renderMessage(w, r, http.StatusBadRequest, &inv, "forbidden", "forbidden.link")
		return
	}
	f := decodeForm(r.PostForm)
	if !csrf.Check(r, inv.Token, f.csrf) {
		p.renderMessage(w, r, http.StatusForbidden, &inv, "forbidden", "forbidden.link")
		return
	}
	cookie, _ := r.Cookie(csrf.Cookie) // Check found it
	if settled(inv) {
		http.Redirect(w, r, p.link(r, inv, ""), http.StatusSeeOther)
		return
	}
	if p.cfg.Ready != nil && !p.cfg.Ready() {
		w.Header().Set("Retry-After", "2")
		p.renderMessage(w, r, http.StatusServiceUnavailable, &inv, "busy", "busy.link")
		return
	}
	if problems := f.check(p.cfg.Now()); len(problems) > 0 {
		p.renderPage(w, r, http.StatusUnprocessableEntity, inv, cookie.Value, f, problems, "")
		return
	}
	a, err := p.payer.Pay(r.Context(), inv, f.card())
	var fe *cards.FieldError
	switch {
	case errors.As(err, &fe):
		key := cardFields[fe.Field]
		p.renderPage(w, r, http.StatusUnprocessableEntity, inv, cookie.Value, f, map[string]string{key: key + ".invalid"}, "")
	case errors.Is(err, ErrNothingOwed):
		http.Redirect(w, r, p.link(r, inv, ""), http.StatusSeeOther)
	case errors.Is(err, ErrNotReady):
		w.Header().Set("Retry-After", "2")
		p.renderMessage(w, r, http.StatusServiceUnavailable, &inv, "busy", "busy.link")
	case err != nil:
		p.internalError(w, r, &inv, err)
	case a.Status == AttemptFailed && a.Code == CodeUnavailable:
		w.Header().Set("Retry-After", "5")
		p.renderPage(w, r, http.StatusServiceUnavailable, inv, cookie.Value, f, nil, a.Code)
	case a.Status == AttemptFailed:
		p.renderPage(w, r, http.StatusPaymentRequired, inv, cookie.Value, f, nil, a.Code)
	default:
		// Paid or pending: the page after the redirect says which, and a
		// reload never posts the card again.
		http.Redirect(w, r, p.link(r, inv, a.Key), http.StatusSeeOther)
	}
}

// link is the invoice page's path, in the language asked for, with the
// payment to report on.
func (p *Pages) link(r *http.Request, inv invoice.Invoice, paid string) string {
	q := url.Values{}
	if l := r.URL.Query().Get("lang"); l != "" && pageTexts[l] != nil {
		q.Set("lang", l)
	}
	if paid != "" {
		q.Set("paid", paid)
	}
	u := "/invoices/" + url.PathEscape(inv.Token)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// csrf guards the pay form with the hosted checkout's double-submit
// cookie (see htmlpage.CSRF): a token for one invoice does not pay
// another, and a page rendered by one region can be posted to another.
var csrf = htmlpage.CSRF{Cookie: "kassa_invoice", Path: "/invoices/", Purpose: "kassa invoice form"}
