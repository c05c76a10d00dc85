package invoice

import (
	"fmt"
	"strings"
	"time"
)

// The emails speak the shopper's language where kassa has a translation
// (English, Swedish, German, as the hosted checkout) and English
// otherwise. Amounts follow the order's locale (money.Format).

// mailText is one language's messages, keyed by message id.
type mailText map[string]string

var mailTexts = map[string]mailText{
	"en": {
		"subject.invoice":         "Your invoice %s from %s",
		"subject.before":          "Reminder: invoice %s is due on %s",
		"subject.due":             "Invoice %s is due today",
		"subject.overdue":         "Overdue: invoice %s",
		"greeting":                "Hello %s,",
		"intro.invoice":           "Thank you for shopping at %s. You chose to pay later: here is your invoice.",
		"intro.instalments":       "Thank you for shopping at %s. You chose to pay in 3: here is your invoice with its payment plan.",
		"intro.before":            "A friendly reminder: %s of invoice %s from %s is due on %s.",
		"intro.due":               "%s of invoice %s from %s is due today.",
		"intro.overdue":           "We have not received %s of invoice %s from %s, which was due on %s. A reminder fee of %s has been added.",
		"intro.overdue.nofee":     "We have not received %s of invoice %s from %s, which was due on %s.",
		"owed":                    "Amount to pay",
		"number":                  "Invoice number",
		"issued":                  "Invoice date",
		"schedule":                "Payment plan",
		"instalment":              "Payment %d",
		"due":                     "due %s",
		"paid":                    "paid",
		"fees":                    "Reminder fees",
		"already":                 "Already paid or credited",
		"pay.heading":             "How to pay",
		"pay.link":                "See and pay your invoice, by card or bank transfer:",
		"pay.bank":                "Or transfer the amount to the account below with the payment reference, so we can match your payment:",
		"reference":               "Payment reference",
		"payee":                   "Payee",
		"iban":                    "IBAN",
		"bic":                     "BIC",
		"bankgiro":                "Bankgiro",
		"footer":                  "This email was sent by kassa on behalf of %s. If you have already paid, please disregard it.",
		"instalment.amount.label": "Amount",
	},
	"sv": {
		"subject.invoice":         "Din faktura %s från %s",
		"subject.before":          "Påminnelse: faktura %s förfaller %s",
		"subject.due":             "Faktura %s förfaller i dag",
		"subject.overdue":         "Förfallen: faktura %s",
		"greeting":                "Hej %s,",
		"intro.invoice":           "Tack för att du handlade hos %s. Du valde att betala senare: här är din faktura.",
		"intro.instalments":       "Tack för att du handlade hos %s. Du valde att dela upp betalningen på 3: här är din faktura med betalplan.",
		"intro.before":            "En vänlig påminnelse: %s av faktura %s från %s förfaller %s.",
		"intro.due":               "%s av faktura %s från %s förfaller i dag.",
		"intro.overdue":           "Vi har inte fått %s av faktura %s från %s, som förföll %s. En påminnelseavgift på %s har lagts till.",
		"intro.overdue.nofee":     "Vi har inte fått %s av faktura %s från %s, som förföll %s.",
		"owed":                    "Att betala",
		"number":                  "Fakturanummer",
		"issued":                  "Fakturadatum",
		"schedule":                "Betalplan",
		"instalment":              "Betalning %d",
		"due":                     "förfaller %s",
		"paid":                    "betald",
		"fees":                    "Påminnelseavgifter",
		"already":                 "Redan betalt eller krediterat",
		"pay.heading":             "Så betalar du",
		"pay.link":                "Se och betala din faktura, med kort eller banköverföring:",
		"pay.bank":                "Eller för över beloppet till kontot nedan med betalningsreferensen (OCR), så att vi kan koppla din betalning:",
		"reference":               "Betalningsreferens (OCR)",
		"payee":                   "Mottagare",
		"iban":                    "IBAN",
		"bic":                     "BIC",
		"bankgiro":                "Bankgiro",
		"footer":                  "Det här mejlet skickades av kassa för %s räkning. Har du redan betalat kan du bortse från det.",
		"instalment.amount.label": "Belopp",
	},
	"de": {
		"subject.invoice":         "Ihre Rechnung %s von %s",
		"subject.before":          "Erinnerung: Rechnung %s ist am %s fällig",
		"subject.due":             "Rechnung %s ist heute fällig",
		"subject.overdue":         "Überfällig: Rechnung %s",
		"greeting":                "Hallo %s,",
		"intro.invoice":           "Vielen Dank für Ihren Einkauf bei %s. Sie haben Rechnungskauf gewählt: Hier ist Ihre Rechnung.",
		"intro.instalments":       "Vielen Dank für Ihren Einkauf bei %s. Sie haben die Zahlung in 3 Raten gewählt: Hier ist Ihre Rechnung mit Zahlungsplan.",
		"intro.before":            "Eine freundliche Erinnerung: %s der Rechnung %s von %s ist am %s fällig.",
		"intro.due":               "%s der Rechnung %s von %s ist heute fällig.",
		"intro.overdue":           "Wir haben %s der Rechnung %s von %s, fällig am %s, noch nicht erhalten. Eine Mahngebühr von %s wurde hinzugefügt.",
		"intro.overdue.nofee":     "Wir haben %s der Rechnung %s von %s, fällig am %s, noch nicht erhalten.",
		"owed":                    "Zu zahlen",
		"number":                  "Rechnungsnummer",
		"issued":                  "Rechnungsdatum",
		"schedule":                "Zahlungsplan",
		"instalment":              "Rate %d",
		"due":                     "fällig am %s",
		"paid":                    "bezahlt",
		"fees":                    "Mahngebühren",
		"already":                 "Bereits bezahlt oder gutgeschrieben",
		"pay.heading":             "So bezahlen Sie",
		"pay.link":                "Rechnung ansehen und bezahlen, per Karte oder Überweisung:",
		"pay.bank":                "Oder überweisen Sie den Betrag mit dem Verwendungszweck unten auf dieses Konto, damit wir Ihre Zahlung zuordnen können:",
		"reference":               "Verwendungszweck (Zahlungsreferenz)",
		"payee":                   "Empfänger",
		"iban":                    "IBAN",
		"bic":                     "BIC",
		"bankgiro":                "Bankgiro",
		"footer":                  "Diese E-Mail wurde von kassa im Auftrag von %s gesendet. Falls Sie bereits bezahlt haben, betrachten Sie sie bitte als gegenstandslos.",
		"instalment.amount.label": "Betrag",
	},
}

// language returns the language the emails to locale are written in, and
// its messages: the locale's language where kassa has it, else English.
func language(locale string) (string, mailText) {
	lang, _, _ := strings.Cut(strings.ToLower(locale), "-")
	if t, ok := mailTexts[lang]; ok {
		return lang, t
	}
	return "en", mailTexts["en"]
}

// translator formats one language's messages; a missing id shows as
// itself (the tests hold every language to the same ids).
func translator(t mailText) func(id string, args ...any) string {
	return func(id string, args ...any) string {
		s, ok := t[id]
		if !ok {
			s = mailTexts["en"][id]
		}
		if s == "" {
			return id
		}
		if len(args) == 0 {
			return s
		}
		return fmt.Sprintf(s, args...)
	}
}

var monthsDE = [...]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}

// date writes a due or issue date as the language writes dates, in UTC
// (the day kassa counts from).
func date(lang string, t time.Time) string {
	t = t.UTC()
	switch lang {
	case "sv":
		return t.Format("2006-01-02")
	case "de":
		return fmt.Sprintf("%d. %s %d", t.Day(), monthsDE[t.Month()-1], t.Year())
	}
	return t.Format("2 January 2006")
}
