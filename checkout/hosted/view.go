package hosted

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"kassa/checkout"
	"kassa/htmlpage"
	"kassa/httperr"
	"kassa/money"
)

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

// fieldView is one field of the form as the templates draw it.
type fieldView struct {
	htmlpage.Field
	Type, Autocomplete string
	MaxLength          int
	ErrorPrefix        string
	GroupError         bool // the enclosing group shows the error
	Options            []option
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

func (p *Pages) newView(r *http.Request, sess *checkout.Session) *view {
	v := &view{asset: p.cfg.Asset}
	if sess != nil {
		v.Lang, v.text = language(sess.Locale)
		v.Merchant = p.svc.MerchantName(sess.Merchant)
	} else {
		lang := acceptLanguage(r.Header.Get("Accept-Language"))
		v.Lang, v.text = lang, pageTexts[lang]
	}
	return v
}

func (p *Pages) renderForm(w http.ResponseWriter, r *http.Request, status int, sess checkout.Session, cookie string, f shopperForm, problems map[string]string, d *checkout.Decision) {
	v := p.newView(r, &sess)
	amount := func(n int64) string { return money.Format(n, sess.Currency, sess.Locale) }
	total := amount(sess.Amount)
	v.Title = v.T("title.checkout", v.Merchant)
	v.Heading = v.T("heading", total, v.Merchant)
	v.Action = "/checkout/" + string(sess.ID)
	v.CSRF = csrf.Token(cookie, string(sess.ID))
	v.Total = total
	v.Reference = v.T("summary.reference", sess.MerchantReference)
	for _, l := range sess.Lines {
		lv := lineView{Name: l.Name, Total: amount(l.Total)}
		if l.Quantity > 1 {
			lv.Detail = v.T("summary.quantity", l.Quantity, amount(l.UnitPrice))
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
			Field: htmlpage.Field{ID: id, Name: key, Label: v.T(key + ".label"), Value: value, InputMode: inputMode, Width: width, Error: msg(key)},
			Type:  typ, Autocomplete: autocomplete, MaxLength: max, ErrorPrefix: prefix,
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
		} else if slices.Contains(d.Reasons, "amount_below_instalment_minimum") {
			selected = "pay_later"
		}
	}
	per, rem := sess.Amount/3, sess.Amount%3
	// The schedule the service will write: an invoice due after
	// InvoiceDays, instalments that far apart, the odd minor units first.
	days := p.svc.InvoiceDays()
	instalments := v.T("method.instalments.hint", amount(per), days)
	if rem != 0 {
		instalments = v.T("method.instalments.hint.odd", days, amount(per+rem), amount(per))
	}
	for _, m := range methods {
		mv := methodView{Value: m, ID: "method-" + m, Label: v.T("method." + m), Hint: v.T("method." + m + ".hint"), Checked: m == selected}
		switch m {
		case "pay_later":
			mv.Hint = v.T("method.pay_later.hint", days)
		case "instalments":
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
func (p *Pages) decision(v *view, method string, d *checkout.Decision) *decisionView {
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

func (p *Pages) checkoutLink(sess checkout.Session, textID string) [2]string {
	return [2]string{"/checkout/" + string(sess.ID), textID}
}

// renderMessage shows a page that only says something (kind is the prefix
// of its message ids) with one link.
func (p *Pages) renderMessage(w http.ResponseWriter, r *http.Request, status int, sess *checkout.Session, kind string, link [2]string, body ...string) {
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

// elsewhere answers for a session this region does not hold while some
// other region that might cannot be asked: not "not found", but "try
// again in a moment", with a link back to the same page.
func (p *Pages) elsewhere(w http.ResponseWriter, r *http.Request, id checkout.SessionID) {
	w.Header().Set("Retry-After", "2")
	p.renderMessage(w, r, http.StatusServiceUnavailable, nil, "elsewhere", [2]string{"/checkout/" + string(id), "elsewhere.link"})
}

func (p *Pages) expired(w http.ResponseWriter, r *http.Request, sess checkout.Session) {
	p.renderMessage(w, r, http.StatusGone, &sess, "expired", [2]string{sess.URLs.Cancel, "expired.link"})
}

func (p *Pages) paid(w http.ResponseWriter, r *http.Request, sess checkout.Session) {
	p.renderMessage(w, r, http.StatusOK, &sess, "paid", [2]string{confirmationURL(sess, sess.OrderID), "paid.link"})
}

func (p *Pages) pending(w http.ResponseWriter, r *http.Request, sess checkout.Session, status int) {
	p.renderMessage(w, r, status, &sess, "pending", p.checkoutLink(sess, "pending.link"))
}

// internalError logs err with the correlation id and shows the shopper a
// page with the id to quote, never the error.
func (p *Pages) internalError(w http.ResponseWriter, r *http.Request, sess *checkout.Session, err error) {
	cid := httperr.CorrelationID(w)
	p.cfg.Logger.Error("checkout page failed", "method", r.Method, "path", r.URL.Path, "correlation_id", cid, "err", err)
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

// render executes a page into a buffer first, so a template error becomes
// a clean error page rather than half a page.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, t *template.Template, v *view) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		cid := httperr.CorrelationID(w)
		p.cfg.Logger.Error("render checkout page", "path", r.URL.Path, "correlation_id", cid, "err", err)
		buf.Reset()
		fmt.Fprintf(&buf, "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Error</title>"+
			"<p>Sorry, something went wrong. Nothing was charged. Reference: %s</p></html>", template.HTMLEscapeString(cid))
		status, v.formTarget = http.StatusInternalServerError, ""
	}
	// The form may redirect to the merchant's confirmation page.
	htmlpage.SetHeaders(w.Header(), v.formTarget)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
