package page

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"kassa/htmlpage"
	"kassa/httperr"
	"kassa/invoice"
	"kassa/money"
)

// view is what a page template sees; the layout and the message page are
// the hosted checkout's, so it has their fields.
type view struct {
	text  pageText
	asset func(string) string

	Lang, Title, Merchant string

	// The invoice page.
	Heading, Action, CSRF string
	Summary               []row
	Schedule              []instalmentView
	Bank                  []row
	Reference, Owed       string
	CardIntro, PayLabel   string
	CardHint              string
	Field                 map[string]fieldView
	ExpiryErrors          []fieldView
	Problems              []problemView
	Decision              *decisionView
	Languages             []langLink

	// A page that only says something.
	Message *messageView
}

type row struct{ Label, Value string }

type instalmentView struct {
	Number                int
	Due, Amount, Status   string
	Paid, Overdue, Strong bool
}

type fieldView struct {
	htmlpage.Field
	Type, Autocomplete string
	MaxLength          int
	ErrorPrefix        string
	GroupError         bool
}

type problemView struct{ Target, Message string }

type decisionView struct{ Title, Reason, Next string }

type langLink struct {
	Lang, Label, Href string
	Current           bool
}

type messageView struct {
	Title      string
	Body       []string
	Link, Text string
	Reference  string // correlation id, for errors
	Intro      string
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

func (p *Pages) newView(r *http.Request, inv *invoice.Invoice) *view {
	locale := ""
	if inv != nil {
		locale = inv.Locale
	}
	lang := language(r.URL.Query().Get("lang"), locale)
	if inv == nil && r.URL.Query().Get("lang") == "" {
		lang = acceptLanguage(r.Header.Get("Accept-Language"))
	}
	v := &view{asset: p.cfg.Asset, Lang: lang, text: pageTexts[lang]}
	if inv != nil {
		v.Merchant = inv.MerchantName
	}
	return v
}

// acceptLanguage picks a translation from an Accept-Language header, for
// a page that knows no invoice.
func acceptLanguage(header string) string {
	for _, part := range strings.Split(header, ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		lang, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if _, ok := pageTexts[lang]; ok {
			return lang
		}
	}
	return "en"
}

func (p *Pages) renderPage(w http.ResponseWriter, r *http.Request, status int, inv invoice.Invoice, cookie string, f payForm, problems map[string]string, declined string) {
	v := p.newView(r, &inv)
	amount := func(n int64) string { return money.Format(n, inv.Currency, inv.Locale) }
	owed := amount(inv.Owed)
	v.Title = v.T("title.invoice", inv.Number, v.Merchant)
	v.Heading = v.T("heading", inv.Number, owed)
	if inv.Status == invoice.Overdue {
		v.Heading = v.T("heading.overdue", inv.Number, owed)
	}
	v.Action = p.link(r, inv, "")
	v.Action = strings.Replace(v.Action, "/invoices/"+inv.Token, "/invoices/"+inv.Token+"/pay", 1)
	v.CSRF = csrf.Token(cookie, inv.Token)

	v.Summary = []row{{v.T("summary.number"), inv.Number}, {v.T("summary.issued"), date(v.Lang, inv.IssuedAt)}, {v.T("summary.amount"), amount(inv.Amount)}}
	if inv.Credited > 0 {
		v.Summary = append(v.Summary, row{v.T("summary.credited"), "−" + amount(inv.Credited)})
	}
	if inv.Fees > 0 {
		v.Summary = append(v.Summary, row{v.T("summary.fees"), amount(inv.Fees)})
	}
	if inv.Paid > 0 {
		v.Summary = append(v.Summary, row{v.T("summary.paid"), "−" + amount(inv.Paid)})
	}
	now := p.cfg.Now()
	for _, in := range inv.Instalments {
		iv := instalmentView{Number: in.Number, Due: date(v.Lang, in.DueAt), Amount: amount(in.Amount)}
		switch {
		case in.Paid >= in.Amount:
			iv.Status, iv.Paid = v.T("schedule.paid"), true
		case now.After(in.DueAt):
			iv.Status, iv.Overdue = v.T("schedule.overdue"), true
		case in.Paid > 0:
			iv.Status = v.T("schedule.part", amount(in.Paid))
		default:
			iv.Status = v.T("schedule.open")
		}
		v.Schedule = append(v.Schedule, iv)
	}

	v.Reference = inv.Reference
	v.Bank = []row{{v.T("bank.payee"), inv.Payee.Name}}
	if inv.Payee.Bankgiro != "" {
		v.Bank = append(v.Bank, row{v.T("bank.bankgiro"), inv.Payee.Bankgiro})
	}
	if inv.Payee.IBAN != "" {
		v.Bank = append(v.Bank, row{v.T("bank.iban"), inv.Payee.IBAN})
	}
	if inv.Payee.BIC != "" {
		v.Bank = append(v.Bank, row{v.T("bank.bic"), inv.Payee.BIC})
	}

	v.Owed = owed
	v.CardIntro = v.T("card.intro", owed)
	v.PayLabel = v.T("pay", owed)
	if f.number != "" || f.cvc != "" {
		v.CardHint = v.T("card.again") // the page never writes the card back
	}
	prefix := v.T("error.prefix")
	field := func(key, id, autocomplete, width string, max int, value string, hint bool) fieldView {
		fv := fieldView{Field: htmlpage.Field{ID: id, Name: key, Label: v.T(key + ".label"), Value: value, InputMode: "numeric", Width: width},
			Type: "text", Autocomplete: autocomplete, MaxLength: max, ErrorPrefix: prefix}
		if id, ok := problems[key]; ok {
			fv.Error = v.T(id)
		}
		if hint {
			fv.Hint = v.T(key + ".hint")
		}
		return fv
	}
	v.Field = map[string]fieldView{
		// The card number and security code are never written back.
		fNumber:   field(fNumber, "card-number", "cc-number", "w-number", 23, "", false),
		fExpMonth: field(fExpMonth, "card-exp-month", "cc-exp-month", "w-short", 2, f.ExpMonth, false),
		fExpYear:  field(fExpYear, "card-exp-year", "cc-exp-year", "w-short", 4, f.ExpYear, false),
		fCVC:      field(fCVC, "card-cvc", "cc-csc", "w-short", 4, "", true),
	}
	for _, key := range []string{fExpMonth, fExpYear} {
		if fv := v.Field[key]; fv.Error != "" {
			fv.GroupError = true
			v.Field[key] = fv
			v.ExpiryErrors = append(v.ExpiryErrors, fv)
		}
	}
	for _, key := range formOrder {
		if problems[key] != "" {
			v.Problems = append(v.Problems, problemView{Target: v.Field[key].ID, Message: v.T(problems[key])})
		}
	}
	if len(v.Problems) > 0 {
		v.Title = v.T("title.error", v.Title)
	}
	if declined != "" {
		d := &decisionView{Title: v.T("decline.title"), Reason: v.T("decline.card"), Next: v.T("decline.next")}
		if _, ok := pageTexts["en"]["decline."+declined]; ok {
			d.Reason = v.T("decline." + declined)
		}
		v.Decision = d
	}
	for _, l := range []struct{ lang, label string }{{"en", "English"}, {"sv", "Svenska"}, {"de", "Deutsch"}} {
		v.Languages = append(v.Languages, langLink{Lang: l.lang, Label: l.label, Href: "/invoices/" + inv.Token + "?lang=" + l.lang, Current: l.lang == v.Lang})
	}
	p.render(w, r, status, p.page, v)
}

// renderMessage shows a page that only says something (kind is the prefix
// of its message ids) with a link back to the invoice when linkText is set.
func (p *Pages) renderMessage(w http.ResponseWriter, r *http.Request, status int, inv *invoice.Invoice, kind, linkText string, args ...any) {
	v := p.newView(r, inv)
	m := &messageView{Title: v.T(kind + ".title"), Body: []string{v.T(kind+".body", args...)}}
	if next := v.T(kind + ".next"); next != kind+".next" {
		m.Body = append(m.Body, next)
	}
	if linkText != "" && inv != nil {
		m.Link, m.Text = p.link(r, *inv, ""), v.T(linkText)
	}
	p.message1(w, r, status, v, m)
}

func (p *Pages) thanks(w http.ResponseWriter, r *http.Request, inv invoice.Invoice, a Attempt) {
	v := p.newView(r, &inv)
	brand := map[string]string{"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "discover": "Discover"}[a.Brand]
	if brand == "" {
		brand = a.Brand
	}
	m := &messageView{Title: v.T("thanks.title"), Body: []string{
		v.T("thanks.body", money.Format(a.Amount, a.Currency, inv.Locale), inv.Number, brand, a.Last4), v.T("thanks.next")}}
	m.Link, m.Text = p.link(r, inv, ""), v.T("pending.link")
	p.message1(w, r, http.StatusOK, v, m)
}

func (p *Pages) message1(w http.ResponseWriter, r *http.Request, status int, v *view, m *messageView) {
	v.Title = m.Title
	if v.Merchant != "" {
		v.Title += " – " + v.Merchant
	}
	v.Message = m
	p.render(w, r, status, p.message, v)
}

// internalError logs err with a correlation id and shows the shopper the
// id to quote, never the error.
func (p *Pages) internalError(w http.ResponseWriter, r *http.Request, inv *invoice.Invoice, err error) {
	cid := httperr.CorrelationID(w)
	p.cfg.Logger.Error("invoice page failed", "method", r.Method, "correlation_id", cid, "err", err)
	v := p.newView(r, inv)
	shop := v.Merchant
	if shop == "" {
		shop = v.T("error.shop")
	}
	m := &messageView{Title: v.T("error.title"), Body: []string{v.T("error.body")}, Intro: v.T("error.next", shop), Reference: cid}
	if inv != nil {
		m.Link, m.Text = p.link(r, *inv, ""), v.T("busy.link")
	}
	p.message1(w, r, http.StatusInternalServerError, v, m)
}

// render executes a page into a buffer first, so a template error becomes
// a clean error page rather than half a page.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, t *template.Template, v *view) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		cid := httperr.CorrelationID(w)
		p.cfg.Logger.Error("render invoice page", "correlation_id", cid, "err", err)
		buf.Reset()
		fmt.Fprintf(&buf, "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Error</title>"+
			"<p>Sorry, something went wrong. Nothing was charged. Reference: %s</p></html>", template.HTMLEscapeString(cid))
		status = http.StatusInternalServerError
	}
	htmlpage.SetHeaders(w.Header(), "")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}
