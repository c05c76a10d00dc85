package invoice

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"kassa/checkout"
	"kassa/ledger"
	"kassa/mail"
	"kassa/money"
	"kassa/outbox"
	"kassa/templates"
)

// DefaultDeliveredKind is the entry kind that records a delivered email
// (the mail outbox's).
const DefaultDeliveredKind = mail.KindDelivered

// ComposerConfig configures a Composer.
type ComposerConfig struct {
	// BaseURL is where the invoice links point, without a trailing slash:
	// <BaseURL>/invoices/<token>.
	BaseURL string
	// DeliveredKind is the kind of the entries that record a delivered
	// email (DefaultDeliveredKind if empty): a reminder written twice is
	// sent once, and a copy is dropped once another copy was delivered.
	DeliveredKind string
}

// Composer writes the invoice and reminder emails (a mail.Composer): the
// invoice email for a credit order's capture, and a reminder email for
// each reminder entry. It is safe for concurrent use.
type Composer struct {
	book  *Book
	store *ledger.Store
	cfg   ComposerConfig
	html  *htmltemplate.Template
	text  *texttemplate.Template
}

var _ mail.Composer = (*Composer)(nil)

// NewComposer returns the composer of the invoices in book. It returns an
// error if the email templates do not parse.
func NewComposer(book *Book, store *ledger.Store, cfg ComposerConfig) (*Composer, error) {
	if cfg.DeliveredKind == "" {
		cfg.DeliveredKind = DefaultDeliveredKind
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	h, err := htmltemplate.ParseFS(templates.FS, "mail_invoice.html")
	if err != nil {
		return nil, fmt.Errorf("invoice: parse the email templates: %w", err)
	}
	t, err := texttemplate.ParseFS(templates.FS, "mail_invoice.txt")
	if err != nil {
		return nil, fmt.Errorf("invoice: parse the email templates: %w", err)
	}
	return &Composer{book: book, store: store, cfg: cfg, html: h, text: t}, nil
}

// Carries reports whether entries of kind ask for an email: captures (of
// credit orders; a card capture is ErrNoMail) and reminders.
func (c *Composer) Carries(kind string) bool {
	return kind == checkout.KindOrderCaptured || kind == KindReminder
}

// Route implements mail.Router: the emails of an order go somewhere if it
// is a credit order authorized with the shopper's sealed email. A card
// order, or a credit order authorized before emails were kept, has none
// (outbox.ErrNoRoute: its captures are not tracked as mail at all); an
// order whose authorization has not reached this region is
// outbox.ErrNotHeld.
func (c *Composer) Route(ctx context.Context, group string) error {
	oid := checkout.OrderID(group)
	if contact, ok := c.book.contact(oid); ok {
		if contact == "" {
			return fmt.Errorf("invoice: order %s was authorized before emails were kept: %w", oid, outbox.ErrNoRoute)
		}
		return nil
	}
	// Not a credit order as far as the book knows: a card order, or one
	// whose authorization has not arrived.
	es, err := c.store.EntriesBySubject(ctx, group)
	if err != nil {
		return err
	}
	authorized := false
	for i := range es {
		if es[i].Kind != checkout.KindOrderAuthorized {
			continue
		}
		if _, a, ok := factOf(&es[i]); ok && a != nil && a.contact != "" {
			return nil // folded into the book in a moment
		}
		authorized = true
	}
	if authorized {
		return fmt.Errorf("invoice: order %s is not a credit order with an email: %w", oid, outbox.ErrNoRoute)
	}
	return fmt.Errorf("invoice: the authorization of order %s: %w", oid, outbox.ErrNotHeld)
}

// Compose returns the email e asks for. It wraps mail.ErrNoMail for a
// capture of a card order, an invoice nothing is owed on, a reminder of an
// instalment settled meanwhile and a copy of a reminder another copy of
// which was delivered; outbox.ErrNotHeld while the order's authorization
// has not reached this region.
func (c *Composer) Compose(ctx context.Context, e *ledger.Entry) (mail.Message, error) {
	f, _, ok := factOf(e)
	if !ok || (e.Kind != checkout.KindOrderCaptured && e.Kind != KindReminder) {
		return mail.Message{}, fmt.Errorf("%w: %s %s is not about a credit order's invoice", mail.ErrNoMail, e.Kind, e.ID().Short())
	}
	id := f.rem.Invoice
	if e.Kind == checkout.KindOrderCaptured {
		id = ID(f.op)
	}
	oid := checkout.OrderID(e.Subject)
	inv, ok := c.book.ByID(oid, id)
	if !ok || inv.Email == "" {
		// The book follows the ledger as it commits: it may not have
		// folded e yet.
		if err := c.book.CatchUp(ctx); err != nil {
			return mail.Message{}, err
		}
		inv, ok = c.book.ByID(oid, id)
	}
	switch {
	case !ok:
		return mail.Message{}, fmt.Errorf("%w: invoice %s of order %s", outbox.ErrNotHeld, id, oid)
	case !c.book.hasAuth(oid):
		return mail.Message{}, fmt.Errorf("%w: the authorization of order %s", outbox.ErrNotHeld, oid)
	case !strings.Contains(inv.Email, "@") || strings.Contains(inv.Email, "***@"):
		return mail.Message{}, fmt.Errorf("%w: order %s has no readable email (authorized before emails were kept, or checkout.secret_key differs)", mail.ErrNoMail, oid)
	case inv.Owed <= 0:
		return mail.Message{}, fmt.Errorf("%w: nothing is owed on invoice %s", mail.ErrNoMail, inv.Number)
	}
	if e.Kind == checkout.KindOrderCaptured {
		return c.render(e, inv, "", 0)
	}
	k := f.rem.Instalment - 1
	if k < 0 || k >= len(inv.Instalments) || inv.Instalments[k].Paid >= inv.Instalments[k].Amount {
		return mail.Message{}, fmt.Errorf("%w: instalment %d of invoice %s is settled", mail.ErrNoMail, f.rem.Instalment, inv.Number)
	}
	if dup, err := c.deliveredElsewhere(ctx, e, f.rem.Ref); err != nil {
		return mail.Message{}, err
	} else if dup {
		return mail.Message{}, fmt.Errorf("%w: another copy of reminder %s was delivered", mail.ErrNoMail, f.rem.Ref)
	}
	return c.render(e, inv, f.rem.Step, f.rem.Instalment)
}

// deliveredElsewhere reports whether another copy of the reminder ref
// (two regions wrote it during a partition) has been delivered.
func (c *Composer) deliveredElsewhere(ctx context.Context, e *ledger.Entry, ref string) (bool, error) {
	copies, err := c.store.EntriesByRef(ctx, ref)
	if err != nil {
		return false, err
	}
	self := e.ID()
	for i := range copies {
		if copies[i].Kind != KindReminder || copies[i].ID() == self {
			continue
		}
		rs, err := c.store.EntriesBySubject(ctx, copies[i].ID().String())
		if err != nil {
			return false, err
		}
		for _, r := range rs {
			if r.Kind == c.cfg.DeliveredKind {
				return true, nil
			}
		}
	}
	return false, nil
}

// mailView is what the email templates show.
type mailView struct {
	Lang, Subject, Greeting, Intro, Footer string
	Number, Issued, Reference, Owed        string
	Fees, Already                          string // empty: none
	Schedule                               []instalmentView
	Link                                   string
	Payee                                  Payee
	T                                      func(string, ...any) string
}

type instalmentView struct {
	Label, Due, Amount string
	Paid               bool
}

// render writes the email of inv: the invoice (step "") or a reminder
// about instalment n.
func (c *Composer) render(e *ledger.Entry, inv Invoice, step string, n int) (mail.Message, error) {
	lang, texts := language(inv.Locale)
	t := translator(texts)
	amt := func(x int64) string { return money.Format(x, inv.Currency, inv.Locale) }
	v := mailView{
		Lang: lang, T: t, Number: inv.Number, Issued: date(lang, inv.IssuedAt), Reference: inv.Reference,
		Owed: amt(inv.Owed), Link: c.cfg.BaseURL + "/invoices/" + inv.Token, Payee: inv.Payee,
		Footer: t("footer", inv.MerchantName),
	}
	name := inv.GivenName
	if name == "" {
		name = strings.SplitN(inv.Email, "@", 2)[0]
	}
	v.Greeting = t("greeting", name)
	if inv.Fees > 0 {
		v.Fees = amt(inv.Fees)
	}
	if x := inv.Paid + inv.Credited; x > 0 {
		v.Already = amt(x)
	}
	for _, in := range inv.Instalments {
		v.Schedule = append(v.Schedule, instalmentView{Label: t("instalment", in.Number), Due: t("due", date(lang, in.DueAt)),
			Amount: amt(in.Amount), Paid: in.Paid >= in.Amount})
	}
	switch step {
	case "":
		v.Subject = t("subject.invoice", inv.Number, inv.MerchantName)
		v.Intro = t("intro.invoice", inv.MerchantName)
		if len(inv.Instalments) > 1 {
			v.Intro = t("intro.instalments", inv.MerchantName)
		}
	default:
		in := inv.Instalments[n-1]
		open, due := amt(in.Amount-in.Paid), date(lang, in.DueAt)
		switch step {
		case StepBefore:
			v.Subject = t("subject.before", inv.Number, due)
			v.Intro = t("intro.before", open, inv.Number, inv.MerchantName, due)
		case StepDue:
			v.Subject = t("subject.due", inv.Number)
			v.Intro = t("intro.due", open, inv.Number, inv.MerchantName)
		default:
			v.Subject = t("subject.overdue", inv.Number)
			if fee := feeOf(e); fee > 0 {
				v.Intro = t("intro.overdue", open, inv.Number, inv.MerchantName, due, amt(fee))
			} else {
				v.Intro = t("intro.overdue.nofee", open, inv.Number, inv.MerchantName, due)
			}
		}
	}
	var h, x bytes.Buffer
	if err := c.html.ExecuteTemplate(&h, "mail_invoice.html", v); err != nil {
		return mail.Message{}, fmt.Errorf("invoice: render the email of %s: %w", inv.Number, err)
	}
	if err := c.text.ExecuteTemplate(&x, "mail_invoice.txt", v); err != nil {
		return mail.Message{}, fmt.Errorf("invoice: render the email of %s: %w", inv.Number, err)
	}
	return mail.Message{ID: e.ID().String(), To: inv.Email, Subject: v.Subject, Text: x.String(), HTML: h.String(), Locale: lang}, nil
}

func feeOf(e *ledger.Entry) int64 {
	var d reminderData
	if json.Unmarshal(e.Data, &d) != nil {
		return 0
	}
	return d.Fee
}
