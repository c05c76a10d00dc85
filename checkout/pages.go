package checkout

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"kassa/cards"
	"kassa/httperr"
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
	svc     *Service
	limiter *ratelimit.Limiter
	ready   func() bool
	asset   func(name string) string
	form    *template.Template
	message *template.Template
}

// NewPages returns the checkout pages over svc. limiter (may be nil) limits
// form posts per merchant and per client address; ready (may be nil)
// reports whether the region takes writes; asset maps a static file name to
// its URL (nil: "/static/" + name).
func NewPages(svc *Service, limiter *ratelimit.Limiter, ready func() bool, asset func(name string) string) *Pages {
	if asset == nil {
		asset = func(name string) string { return "/static/" + name }
	}
	// The templates are embedded, so a parse error is a bug in this
	// binary, found by every test that renders a page.
	layout := template.Must(template.ParseFS(templates.FS, "checkout_layout.html"))
	return &Pages{
		svc: svc, limiter: limiter, ready: ready, asset: asset,
		form:    template.Must(template.Must(layout.Clone()).ParseFS(templates.FS, "checkout_form.html")),
		message: template.Must(template.Must(layout.Clone()).ParseFS(templates.FS, "checkout_message.html")),
	}
}

// Routes registers the pages on r.
func (p *Pages) Routes(r *mux.Router) {
	r.HandleFunc("/checkout/{id}", p.show).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/checkout/{id}", p.submit).Methods(http.MethodPost)
}

// The form's field names. Errors from the service name fields as the
// merchant API does ("consumer.email"); fieldKeys translates.
const (
	fEmail      = "email"
	fGivenName  = "given_name"
	fFamilyName = "family_name"
	fPostalCode = "postal_code"
	fCountry    = "country"
	fMethod     = "method"
	fNumber     = "card_number"
	fExpMonth   = "card_exp_month"
	fExpYear    = "card_exp_year"
	fCVC        = "card_cvc"
	fCSRF       = "csrf_token"
)

// formOrder is the order of the fields on the page, and so of the errors in
// the summary.
var formOrder = []string{fEmail, fGivenName, fFamilyName, fPostalCode, fCountry, fMethod, fNumber, fExpMonth, fExpYear, fCVC}

var fieldKeys = map[string]string{
	"consumer.email": fEmail, "consumer.given_name": fGivenName, "consumer.family_name": fFamilyName,
	"consumer.postal_code": fPostalCode, "consumer.country": fCountry, "method": fMethod,
	"card": fNumber, cards.FieldNumber: fNumber, cards.FieldExpMonth: fExpMonth,
	cards.FieldExpYear: fExpYear, cards.FieldCVC: fCVC,
}

var methods = []string{"pay_later", "instalments", "card"}

// shopperForm is what the shopper posted. The card number and CVC are held
// only to make the request: the page never writes them back.
type shopperForm struct {
	Email, GivenName, FamilyName, PostalCode, Country string
	Method, ExpMonth, ExpYear                         string
	number, cvc                                       string
}

func readForm(r *http.Request) shopperForm {
	v := func(name string) string { return strings.TrimSpace(r.PostForm.Get(name)) }
	return shopperForm{
		Email: v(fEmail), GivenName: v(fGivenName), FamilyName: v(fFamilyName), PostalCode: v(fPostalCode),
		Country: strings.ToUpper(v(fCountry)), Method: v(fMethod), ExpMonth: v(fExpMonth), ExpYear: v(fExpYear),
		number: v(fNumber), cvc: v(fCVC),
	}
}

func (f shopperForm) consumer() Consumer {
	return Consumer{Email: f.Email, GivenName: f.GivenName, FamilyName: f.FamilyName, PostalCode: f.PostalCode, Country: f.Country}
}

// expiry reads the month and year, a two-digit year meaning 20xx, and adds
// to problems when either is missing or not a number.
func (f shopperForm) expiry(problems map[string]string) (month, year int) {
	month, err := strconv.Atoi(f.ExpMonth)
	switch {
	case f.ExpMonth == "":
		problems[fExpMonth] = fExpMonth + ".missing"
	case err != nil:
		problems[fExpMonth] = fExpMonth + ".invalid"
	}
	year, err = strconv.Atoi(f.ExpYear)
	switch {
	case f.ExpYear == "":
		problems[fExpYear] = fExpYear + ".missing"
	case err != nil:
		problems[fExpYear] = fExpYear + ".invalid"
	case len(f.ExpYear) == 2:
		year += 2000
	}
	return month, year
}

// request builds the authorization request; card data only for a card.
func (f shopperForm) request(month, year int) AuthorizeRequest {
	req := AuthorizeRequest{Method: f.Method, Consumer: f.consumer()}
	if f.Method == "card" {
		req.Card = &CardInput{Number: f.number, ExpMonth: month, ExpYear: year, CVC: f.cvc}
	}
	return req
}

// check finds every problem with the form at once, so the shopper can fix
// them in one go; the service reports only the first. It applies the
// service's own rules (AuthorizeRequest.Validate and cards.Check) rather
// than a copy of them: after each error it puts a valid stand-in into the
// failing field and asks again, at most once per field. The result maps a
// form field to a message id.
func check(f shopperForm, now time.Time) map[string]string {
	problems := map[string]string{}
	kind := func(key, value string) string {
		if value == "" {
			return key + ".missing"
		}
		return key + ".invalid"
	}
	if !contains(methods, f.Method) {
		problems[fMethod] = kind(fMethod, f.Method)
	}
	probe := AuthorizeRequest{Method: "pay_later", Consumer: f.consumer()}
	stand := map[string]func(){
		"consumer.email":       func() { probe.Consumer.Email = "shopper@example.com" },
		"consumer.given_name":  func() { probe.Consumer.GivenName = "A" },
		"consumer.family_name": func() { probe.Consumer.FamilyName = "B" },
		"consumer.postal_code": func() { probe.Consumer.PostalCode = "1" },
		"consumer.country":     func() { probe.Consumer.Country = "SE" },
	}
	values := map[string]string{fEmail: f.Email, fGivenName: f.GivenName, fFamilyName: f.FamilyName, fPostalCode: f.PostalCode, fCountry: f.Country}
	for range stand {
		var fe *FieldError
		if !errors.As(probe.Validate(), &fe) || stand[fe.Field] == nil {
			break
		}
		key := fieldKeys[fe.Field]
		problems[key] = kind(key, values[key])
		stand[fe.Field]()
	}
	if f.Method != "card" {
		return problems
	}

	for key, value := range map[string]string{fNumber: f.number, fCVC: f.cvc} {
		if value == "" {
			problems[key] = kind(key, value)
		}
	}
	month, year := f.expiry(problems)
	card := cards.Card{Number: f.number, ExpMonth: month, ExpYear: year, CVC: f.cvc}
	// The stand-in number keeps the brand of the typed one, so the CVC is
	// held to the right length.
	amex := card.Brand() == cards.BrandAmex
	standIn := func(key string) {
		switch key {
		case fNumber:
			card.Number = "4242424242424242"
			if amex {
				card.Number = "378282246310005"
			}
		case fExpMonth:
			card.ExpMonth = 12
		case fExpYear:
			card.ExpYear = now.Year() + 1
		case fCVC:
			card.CVC = "123"
			if amex {
				card.CVC = "1234"
			}
		}
	}
	for key := range problems {
		standIn(key)
	}
	for range 4 {
		var fe *cards.FieldError
		if !errors.As(cards.Check(card, now), &fe) {
			break
		}
		key := fieldKeys[fe.Field]
		if key == "" || problems[key] != "" {
			break // a rule this page does not know; the service will say
		}
		problems[key] = key + ".invalid"
		if fe.Code == cards.CodeExpiredCard {
			problems[key] = "card_exp.expired"
		}
		standIn(key)
	}
	return problems
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
		p.renderForm(w, r, http.StatusOK, sess, p.csrfCookie(w, r), f, nil, nil)
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
	cookie, err := r.Cookie(csrfCookieName)
	if err != nil || !hmac.Equal([]byte(csrfToken(cookie.Value, sess.ID)), []byte(r.PostForm.Get(fCSRF))) {
		p.renderMessage(w, r, http.StatusForbidden, &sess, "forbidden", p.checkoutLink(sess, "forbidden.link"))
		return
	}
	switch sess.Status {
	case "expired":
		p.expired(w, r, sess)
		return
	case "processing":
		p.pending(w, r, sess, http.StatusAccepted)
		return
	}
	if p.ready != nil && !p.ready() {
		w.Header().Set("Retry-After", "2")
		p.renderMessage(w, r, http.StatusServiceUnavailable, &sess, "busy", p.checkoutLink(sess, "busy.link"))
		return
	}
	if p.limiter != nil {
		if wait, ok := p.limiter.Allow(sess.Merchant, ratelimit.ClientKey(r)); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			p.renderMessage(w, r, http.StatusTooManyRequests, &sess, "busy", p.checkoutLink(sess, "busy.link"))
			return
		}
	}

	f := readForm(r)
	now := p.svc.cfg.Now()
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
	var fe *FieldError
	switch {
	case errors.As(err, &fe) && sess.Status != "complete":
		key := fieldKeys[fe.Field]
		if key == "" {
			key = fMethod
		}
		p.renderForm(w, r, http.StatusUnprocessableEntity, sess, cookie.Value, f, map[string]string{key: key + ".invalid"}, nil)
	case errors.As(err, &fe), errors.Is(err, ErrSessionComplete):
		http.Redirect(w, r, "/checkout/"+string(sess.ID), http.StatusSeeOther)
	case errors.Is(err, ErrSessionExpired):
		p.expired(w, r, sess)
	case errors.Is(err, ErrNotFound):
		p.notFound(w, r)
	case errors.Is(err, ErrAcquirerUnavailable):
		// Nothing was charged; the shopper may try again or pay another way.
		w.Header().Set("Retry-After", "5")
		p.renderForm(w, r, http.StatusServiceUnavailable, sess, cookie.Value, f, nil, &Decision{Outcome: "unavailable"})
	case errors.Is(err, ErrRightsUnavailable), errors.Is(err, ErrNotReady):
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
func (p *Pages) session(w http.ResponseWriter, r *http.Request) (Session, bool) {
	id := mux.Vars(r)["id"]
	if !strings.HasPrefix(id, "ses_") || len(id) > 64 {
		p.notFound(w, r)
		return Session{}, false
	}
	sess, err := p.svc.Session(r.Context(), "", SessionID(id))
	switch {
	case errors.Is(err, ErrNotFound):
		p.notFound(w, r)
		return Session{}, false
	case err != nil:
		p.internalError(w, r, nil, err)
		return Session{}, false
	}
	return sess, true
}

// confirmationURL is the merchant's confirmation URL with the order and
// session added to its query.
func confirmationURL(sess Session, oid OrderID) string {
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

// The CSRF guard is a double-submit cookie: a random value in a cookie, and
// in the form an HMAC of the session id under that value. A page on another
// site can neither read the cookie nor set the field to match it. Unlike a
// server-side key it needs no secret shared by the regions and survives a
// restart, so a form rendered by one region can be posted to another.
const csrfCookieName = "kassa_checkout"

func csrfToken(cookie string, sid SessionID) string {
	m := hmac.New(sha256.New, []byte(cookie))
	m.Write([]byte("kassa checkout form\x00"))
	m.Write([]byte(sid))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfCookie returns the shopper's CSRF cookie value, setting a new one if
// the request has none.
func (p *Pages) csrfCookie(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookieName); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	var b [32]byte
	rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookieName, Value: v, Path: "/checkout/", HttpOnly: true,
		Secure:   r.TLS != nil || strings.HasPrefix(p.svc.cfg.PublicURL, "https:"),
		SameSite: http.SameSiteLaxMode,
	})
	return v
}

// view is what a page template sees.
type view struct {
	text  pageText
	asset func(string) string

	Lang, Title, Merchant string
	CorrelationID         string

	// The checkout form.
	Heading, Action, CSRF       string
	Lines                       []lineView
	Total, Reference            string
	Field                       map[string]fieldView
	Methods                     []methodView
	MethodError                 string
	ExpiryErrors                []fieldView
	PayLabel, CancelURL, Cancel string
	CardHint                    string
	Problems                    []problemView
	Decision                    *decisionView
	formTarget                  string // an origin the form may redirect to

	// A page that only says something.
	Message *messageView
}

type lineView struct{ Name, Detail, Total string }

type option struct {
	Value, Label string
	Selected     bool
}

type fieldView struct {
	ID, Name, Label, Hint, Value         string
	Type, Autocomplete, InputMode, Width string
	MaxLength                            int
	Error, ErrorPrefix                   string
	GroupError                           bool // the enclosing group shows the error
	Options                              []option
}

// Describe is the field's aria-describedby: its hint and its error.
func (f fieldView) Describe() string {
	var ids []string
	if f.Hint != "" {
		ids = append(ids, f.ID+"-hint")
	}
	if f.Error != "" {
		ids = append(ids, f.ID+"-error")
	}
	return strings.Join(ids, " ")
}

type methodView struct {
	Value, ID, Label, Hint string
	Checked, Recommended   bool
}

type problemView struct{ Target, Message string }

type decisionView struct{ Title, Reason, Next string }

type messageView struct {
	Title      string
	Body       []string
	Link, Text string
	Reference  string // correlation id, for errors
	Intro      string // what to do with the reference
}

// T returns message id in the page's language, formatted with args.
func (v *view) T(id string, args ...any) string {
	s, ok := v.text[id]
	if !ok {
		s, ok = pageTexts["en"][id]
	}
	if !ok {
		return id
	}
	if len(args) > 0 && strings.Contains(s, "%") {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Asset is the URL of a static file.
func (v *view) Asset(name string) string { return v.asset(name) }

func (p *Pages) newView(r *http.Request, sess *Session) *view {
	v := &view{asset: p.asset}
	if sess != nil {
		v.Lang, v.text = language(sess.Locale)
		v.Merchant = p.svc.MerchantName(sess.Merchant)
	} else {
		lang := acceptLanguage(r.Header.Get("Accept-Language"))
		v.Lang, v.text = lang, pageTexts[lang]
	}
	return v
}

func (p *Pages) renderForm(w http.ResponseWriter, r *http.Request, status int, sess Session, cookie string, f shopperForm, problems map[string]string, d *Decision) {
	v := p.newView(r, &sess)
	money := func(amount int64) string { return formatMoney(amount, sess.Currency, sess.Locale) }
	total := money(sess.Amount)
	v.Title = v.T("title.checkout", v.Merchant)
	v.Heading = v.T("heading", total, v.Merchant)
	v.Action = "/checkout/" + string(sess.ID)
	v.CSRF = csrfToken(cookie, sess.ID)
	v.Total = total
	v.Reference = v.T("summary.reference", sess.MerchantReference)
	for _, l := range sess.Lines {
		lv := lineView{Name: l.Name, Total: money(l.Total)}
		if l.Quantity > 1 {
			lv.Detail = v.T("summary.quantity", l.Quantity, money(l.UnitPrice))
		}
		v.Lines = append(v.Lines, lv)
	}
	v.PayLabel = v.T("pay", total)
	v.CancelURL = sess.URLs.Cancel
	v.Cancel = v.T("cancel", v.Merchant)
	if u, err := url.Parse(sess.URLs.Confirmation); err == nil {
		v.formTarget = u.Scheme + "://" + u.Host
	}

	msg := func(key string) string {
		if id, ok := problems[key]; ok {
			return v.T(id)
		}
		return ""
	}
	prefix := v.T("error.prefix")
	field := func(key, id, typ, autocomplete, inputMode, width string, max int, value string, hint bool) fieldView {
		fv := fieldView{
			ID: id, Name: key, Label: v.T(key + ".label"), Value: value, Type: typ, Autocomplete: autocomplete,
			InputMode: inputMode, Width: width, MaxLength: max, Error: msg(key), ErrorPrefix: prefix,
		}
		if hint {
			fv.Hint = v.T(key + ".hint")
		}
		return fv
	}
	v.Field = map[string]fieldView{
		fEmail:      field(fEmail, "email", "email", "email", "", "", 254, f.Email, true),
		fGivenName:  field(fGivenName, "given-name", "text", "given-name", "", "", 100, f.GivenName, false),
		fFamilyName: field(fFamilyName, "family-name", "text", "family-name", "", "", 100, f.FamilyName, false),
		fPostalCode: field(fPostalCode, "postal-code", "text", "postal-code", "", "w-medium", 12, f.PostalCode, false),
		// The card number and security code are never written back.
		fNumber:   field(fNumber, "card-number", "text", "cc-number", "numeric", "w-number", 23, "", false),
		fExpMonth: field(fExpMonth, "card-exp-month", "text", "cc-exp-month", "numeric", "w-short", 2, f.ExpMonth, false),
		fExpYear:  field(fExpYear, "card-exp-year", "text", "cc-exp-year", "numeric", "w-short", 4, f.ExpYear, false),
		fCVC:      field(fCVC, "card-cvc", "text", "cc-csc", "numeric", "w-short", 4, "", true),
	}
	country := field(fCountry, "country", "", "country", "", "", 0, f.Country, false)
	country.Options = countryOptions(v.T, f.Country, sess.Country)
	v.Field[fCountry] = country
	for _, key := range []string{fExpMonth, fExpYear} {
		fv := v.Field[key]
		if fv.Error != "" {
			fv.GroupError = true
			v.Field[key] = fv
			v.ExpiryErrors = append(v.ExpiryErrors, fv)
		}
	}
	v.MethodError = msg(fMethod)
	v.CardHint = v.T("card.only")
	if f.Method == "card" && (f.number != "" || f.cvc != "") {
		// The page never writes the card back, so say why it is empty.
		v.CardHint = v.T("card.again")
	}

	selected := f.Method
	if d != nil {
		v.Decision = p.decision(v, f.Method, d)
		if d.Outcome == "card_only" {
			selected = "card"
		} else if contains(d.Reasons, "amount_below_instalment_minimum") {
			selected = "pay_later"
		}
	}
	per, rem := sess.Amount/3, sess.Amount%3
	instalments := v.T("method.instalments.hint", money(per))
	if rem != 0 {
		instalments = v.T("method.instalments.hint.odd", money(per+rem), money(per))
	}
	for _, m := range methods {
		mv := methodView{Value: m, ID: "method-" + m, Label: v.T("method." + m), Hint: v.T("method." + m + ".hint"), Checked: m == selected}
		if m == "instalments" {
			mv.Hint = instalments
		}
		mv.Recommended = m == "card" && d != nil && d.Outcome == "card_only"
		v.Methods = append(v.Methods, mv)
	}

	for _, key := range formOrder {
		if problems[key] == "" {
			continue
		}
		target := v.Field[key].ID
		if key == fMethod {
			target = "method-" + methods[0]
		}
		v.Problems = append(v.Problems, problemView{Target: target, Message: v.T(problems[key])})
	}
	if len(v.Problems) > 0 {
		v.Title = v.T("title.error", v.Title)
	}
	p.render(w, r, status, p.form, v)
}

// decision explains a declined decision in plain words, from its first
// reason code that has a text.
func (p *Pages) decision(v *view, method string, d *Decision) *decisionView {
	if d.Outcome == "unavailable" {
		return &decisionView{Title: v.T("unavailable.title"), Reason: v.T("unavailable.body"), Next: v.T("unavailable.next")}
	}
	dv := &decisionView{Title: v.T("decline.title"), Next: v.T("next.other")}
	card := method == "card"
	if card {
		dv.Title, dv.Next = v.T("decline.title.card"), v.T("next.card")
		dv.Reason = v.T("decline.card")
	} else {
		dv.Reason = v.T("decline.credit")
	}
	if d.Outcome == "card_only" {
		dv.Next = v.T("next.card_only")
	}
	for _, reason := range d.Reasons {
		if _, ok := pageTexts["en"]["decline."+reason]; ok {
			dv.Reason = v.T("decline." + reason)
			break
		}
	}
	return dv
}

func (p *Pages) checkoutLink(sess Session, textID string) [2]string {
	return [2]string{"/checkout/" + string(sess.ID), textID}
}

// renderMessage shows a page that only says something (kind is the prefix
// of its message ids) with one link.
func (p *Pages) renderMessage(w http.ResponseWriter, r *http.Request, status int, sess *Session, kind string, link [2]string, body ...string) {
	v := p.newView(r, sess)
	m := &messageView{Title: v.T(kind + ".title"), Body: []string{v.T(kind + ".body")}}
	if next := v.T(kind + ".next"); next != kind+".next" {
		if strings.Contains(next, "%s") {
			next = v.T(kind+".next", v.Merchant)
		}
		m.Body = append(m.Body, next)
	}
	m.Body = append(m.Body, body...)
	if link[0] != "" {
		m.Link, m.Text = link[0], v.T(link[1], v.Merchant)
	}
	v.Title = m.Title
	if v.Merchant != "" {
		v.Title += " – " + v.Merchant
	}
	v.Message = m
	p.render(w, r, status, p.message, v)
}

func (p *Pages) notFound(w http.ResponseWriter, r *http.Request) {
	p.renderMessage(w, r, http.StatusNotFound, nil, "notfound", [2]string{})
}

func (p *Pages) expired(w http.ResponseWriter, r *http.Request, sess Session) {
	p.renderMessage(w, r, http.StatusGone, &sess, "expired", [2]string{sess.URLs.Cancel, "expired.link"})
}

func (p *Pages) paid(w http.ResponseWriter, r *http.Request, sess Session) {
	p.renderMessage(w, r, http.StatusOK, &sess, "paid", [2]string{confirmationURL(sess, sess.OrderID), "paid.link"})
}

func (p *Pages) pending(w http.ResponseWriter, r *http.Request, sess Session, status int) {
	p.renderMessage(w, r, status, &sess, "pending", p.checkoutLink(sess, "pending.link"))
}

// internalError logs err with the correlation id and shows the shopper a
// page with the id to quote, never the error.
func (p *Pages) internalError(w http.ResponseWriter, r *http.Request, sess *Session, err error) {
	cid := httperr.CorrelationID(w)
	p.svc.log.Error("checkout page failed", "method", r.Method, "path", r.URL.Path, "correlation_id", cid, "err", err)
	v := p.newView(r, sess)
	shop := v.Merchant
	if shop == "" {
		shop = v.T("error.shop")
	}
	m := &messageView{Title: v.T("error.title"), Body: []string{v.T("error.body")}, Intro: v.T("error.next", shop), Reference: cid}
	if sess != nil {
		m.Link, m.Text = "/checkout/"+string(sess.ID), v.T("busy.link")
	}
	v.Title, v.Message = m.Title, m
	p.render(w, r, http.StatusInternalServerError, p.message, v)
}

// PageHeaders sets the security headers of kassa's HTML pages: only the
// region's own scripts, styles and images, no framing, no referrer, no
// caching. formTarget is another origin a form may send the browser to
// (empty for none).
func PageHeaders(h http.Header, formTarget string) {
	formAction := "'self'"
	if formTarget != "" {
		formAction += " " + formTarget
	}
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action "+formAction)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
}

// render executes a page into a buffer first, so a template error becomes
// a clean error page rather than half a page.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, t *template.Template, v *view) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		cid := httperr.CorrelationID(w)
		p.svc.log.Error("render checkout page", "path", r.URL.Path, "correlation_id", cid, "err", err)
		buf.Reset()
		fmt.Fprintf(&buf, "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Error</title>"+
			"<p>Sorry, something went wrong. Nothing was charged. Reference: %s</p></html>", template.HTMLEscapeString(cid))
		status, v.formTarget = http.StatusInternalServerError, ""
	}
	// The form may redirect to the merchant's confirmation page, and
	// browsers hold a form's redirects to form-action too.
	PageHeaders(w.Header(), v.formTarget)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
