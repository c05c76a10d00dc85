package checkout

import (
	"sort"
	"strconv"
	"strings"
)

// The hosted pages speak the shopper's language where kassa has a
// translation (English, Swedish, German) and English otherwise; the html
// lang attribute always names the language the text is in, so a screen
// reader reads it with the right voice. Amounts follow the session's locale
// whatever the language.

// pageText is one language's messages, keyed by message id.
type pageText map[string]string

var pageTexts = map[string]pageText{
	"en": {
		"skip":                        "Skip to main content",
		"secure":                      "Secure checkout by kassa",
		"footer":                      "Payments by kassa. Card numbers and security codes are never stored.",
		"title.checkout":              "Checkout – %s",
		"title.error":                 "Error: %s",
		"heading":                     "Pay %s to %s",
		"summary.title":               "Your order",
		"summary.item":                "Item",
		"summary.amount":              "Amount",
		"summary.total":               "Total",
		"summary.quantity":            "%d × %s",
		"summary.reference":           "Order reference: %s",
		"details.legend":              "Your details",
		"email.label":                 "Email address",
		"email.hint":                  "We send your receipt and any invoice here.",
		"given_name.label":            "First name",
		"family_name.label":           "Last name",
		"postal_code.label":           "Postcode",
		"country.label":               "Country",
		"method.legend":               "How would you like to pay?",
		"method.pay_later":            "Pay later",
		"method.pay_later.hint":       "Get your order first, then pay the invoice within 30 days. No fee if you pay on time.",
		"method.instalments":          "Pay in 3",
		"method.instalments.hint":     "3 interest-free payments of %s, one every 30 days.",
		"method.instalments.hint.odd": "3 interest-free payments, one every 30 days: %s, then 2 × %s.",
		"method.card":                 "Card",
		"method.card.hint":            "Visa, Mastercard or American Express. Paid now.",
		"method.recommended":          "Available",
		"card.legend":                 "Card details",
		"card.only":                   "Only needed if you pay by card.",
		"card.again":                  "For your security, enter your card number and security code again.",
		"card_number.label":           "Card number",
		"card_exp.legend":             "Expiry date",
		"card_exp.hint":               "As shown on the card, for example 04 / 2030",
		"card_exp_month.label":        "Month",
		"card_exp_year.label":         "Year",
		"card_cvc.label":              "Security code (CVC)",
		"card_cvc.hint":               "The last 3 digits on the back of the card, or 4 on the front for American Express.",
		"pay":                         "Pay %s",
		"paying":                      "Paying…",
		"cancel":                      "Cancel and return to %s",
		"errors.title":                "There is a problem",
		"error.prefix":                "Error:",
		"email.missing":               "Enter your email address",
		"email.invalid":               "Enter an email address in the correct format, like name@example.com",
		"given_name.missing":          "Enter your first name",
		"given_name.invalid":          "First name must be 100 characters or fewer",
		"family_name.missing":         "Enter your last name",
		"family_name.invalid":         "Last name must be 100 characters or fewer",
		"postal_code.missing":         "Enter your postcode",
		"postal_code.invalid":         "Postcode must be 12 characters or fewer",
		"country.missing":             "Select your country",
		"country.invalid":             "Select your country",
		"method.missing":              "Select how you would like to pay",
		"method.invalid":              "Select how you would like to pay",
		"card_number.missing":         "Enter your card number",
		"card_number.invalid":         "Enter a valid card number: check the digits on your card",
		"card_exp_month.missing":      "Enter the month the card expires",
		"card_exp_month.invalid":      "Expiry month must be a number from 1 to 12",
		"card_exp_year.missing":       "Enter the year the card expires",
		"card_exp_year.invalid":       "Enter the expiry year as shown on the card, like 2030",
		"card_exp.expired":            "This card has expired: check the date or use another card",
		"card_cvc.missing":            "Enter the security code",
		"card_cvc.invalid":            "Enter the security code: 3 digits, or 4 for American Express",
		"decline.title":               "We couldn't approve this payment",
		"decline.title.card":          "Your card was declined",
		"decline.card_card_declined":  "Your bank declined the payment. Nothing was charged.",
		"decline.card_insufficient_funds": "Your bank declined the payment because there is not enough money available on the card. " +
			"Nothing was charged.",
		"decline.card_expired_card":               "Your bank says this card has expired. Nothing was charged.",
		"decline.card_incorrect_cvc":              "Your bank did not accept the security code. Nothing was charged.",
		"decline.card_processing_error":           "Your bank could not process the payment just now. Nothing was charged, and you can try again.",
		"decline.card_not_charged":                "We could not complete the card payment. Nothing was charged.",
		"decline.card":                            "Your bank declined the payment. Nothing was charged.",
		"decline.pay_later_switched_off":          "Pay later and Pay in 3 are not available right now.",
		"decline.country_not_offered":             "Pay later and Pay in 3 are not offered in this country.",
		"decline.amount_over_pay_later_limit":     "This amount is more than we can offer with Pay later or Pay in 3.",
		"decline.amount_below_instalment_minimum": "This order is too small to split into 3 payments.",
		"decline.credit_limit_reached":            "This order is more than the Pay later credit you have available right now.",
		"decline.card_only_mode":                  "Pay later and Pay in 3 are not available right now.",
		"decline.currency_not_offered":            "Pay later and Pay in 3 are not offered in this currency.",
		"decline.credit":                          "We could not offer Pay later or Pay in 3 for this order.",
		"next.card_only":                          "You can still pay by card: card is selected below.",
		"next.card":                               "Try another card, or choose another way to pay below.",
		"next.other":                              "Choose another way to pay below.",
		"unavailable.title":                       "Card payments are unavailable right now",
		"unavailable.body":                        "We couldn't reach the card network. Nothing was charged.",
		"unavailable.next":                        "Try again in a moment, or choose another way to pay below.",
		"notfound.title":                          "We can't find this checkout",
		"notfound.body":                           "The link may be wrong or incomplete. Nothing was charged.",
		"notfound.next":                           "Go back to the shop and start the payment again.",
		"expired.title":                           "This checkout has expired",
		"expired.body":                            "For your security, a checkout is only open for a limited time. Nothing was charged.",
		"expired.next":                            "Go back to %s to start again.",
		"expired.link":                            "Return to %s",
		"paid.title":                              "This order is already paid",
		"paid.body":                               "This checkout is complete, so there is nothing more to pay. You will not be charged again.",
		"paid.link":                               "Continue to %s",
		"pending.title":                           "We're confirming your payment",
		"pending.body":                            "Your bank hasn't confirmed the card payment yet. Please don't pay again: you will not be charged twice.",
		"pending.next":                            "This usually takes a minute or two. Check again in a moment.",
		"pending.link":                            "Check again",
		"forbidden.title":                         "Please reload the checkout page",
		"forbidden.body":                          "We couldn't confirm that this form came from the checkout page, so nothing was sent and nothing was charged.",
		"forbidden.next":                          "This can happen when the page was open for a long time, or when your browser blocks cookies for this site.",
		"forbidden.link":                          "Reload the checkout page",
		"busy.title":                              "Please try again in a moment",
		"busy.body":                               "We're handling a lot of payments right now. Nothing was charged.",
		"busy.link":                               "Back to the checkout",
		"error.title":                             "Sorry, something went wrong",
		"error.body":                              "Nothing was charged. Please try again in a moment.",
		"error.next":                              "If it keeps happening, contact %s and quote this reference:",
		"error.shop":                              "the shop",
		"country.SE":                              "Sweden",
		"country.NO":                              "Norway",
		"country.DK":                              "Denmark",
		"country.FI":                              "Finland",
		"country.DE":                              "Germany",
		"country.AT":                              "Austria",
		"country.NL":                              "Netherlands",
		"country.GB":                              "United Kingdom",
		"country.US":                              "United States",
	},
	"sv": {
		"skip":                                    "Hoppa till huvudinnehållet",
		"secure":                                  "Säker betalning via kassa",
		"footer":                                  "Betalning via kassa. Kortnummer och säkerhetskoder sparas aldrig.",
		"title.checkout":                          "Kassa – %s",
		"title.error":                             "Fel: %s",
		"heading":                                 "Betala %s till %s",
		"summary.title":                           "Din beställning",
		"summary.item":                            "Vara",
		"summary.amount":                          "Belopp",
		"summary.total":                           "Totalt",
		"summary.quantity":                        "%d × %s",
		"summary.reference":                       "Ordernummer: %s",
		"details.legend":                          "Dina uppgifter",
		"email.label":                             "E-postadress",
		"email.hint":                              "Hit skickar vi kvittot och eventuell faktura.",
		"given_name.label":                        "Förnamn",
		"family_name.label":                       "Efternamn",
		"postal_code.label":                       "Postnummer",
		"country.label":                           "Land",
		"method.legend":                           "Hur vill du betala?",
		"method.pay_later":                        "Betala senare",
		"method.pay_later.hint":                   "Få din beställning först och betala fakturan inom 30 dagar. Ingen avgift om du betalar i tid.",
		"method.instalments":                      "Dela upp i 3",
		"method.instalments.hint":                 "3 räntefria betalningar på %s, en var 30:e dag.",
		"method.instalments.hint.odd":             "3 räntefria betalningar, en var 30:e dag: %s, sedan 2 × %s.",
		"method.card":                             "Kort",
		"method.card.hint":                        "Visa, Mastercard eller American Express. Betalas nu.",
		"method.recommended":                      "Tillgängligt",
		"card.legend":                             "Kortuppgifter",
		"card.only":                               "Behövs bara om du betalar med kort.",
		"card.again":                              "Av säkerhetsskäl behöver du ange kortnummer och säkerhetskod igen.",
		"card_number.label":                       "Kortnummer",
		"card_exp.legend":                         "Giltigt till",
		"card_exp.hint":                           "Som det står på kortet, till exempel 04 / 2030",
		"card_exp_month.label":                    "Månad",
		"card_exp_year.label":                     "År",
		"card_cvc.label":                          "Säkerhetskod (CVC)",
		"card_cvc.hint":                           "De 3 sista siffrorna på kortets baksida, eller 4 siffror på framsidan för American Express.",
		"pay":                                     "Betala %s",
		"paying":                                  "Betalar…",
		"cancel":                                  "Avbryt och gå tillbaka till %s",
		"errors.title":                            "Något behöver rättas",
		"error.prefix":                            "Fel:",
		"email.missing":                           "Ange din e-postadress",
		"email.invalid":                           "Ange en e-postadress i rätt format, till exempel namn@exempel.se",
		"given_name.missing":                      "Ange ditt förnamn",
		"given_name.invalid":                      "Förnamnet får vara högst 100 tecken",
		"family_name.missing":                     "Ange ditt efternamn",
		"family_name.invalid":                     "Efternamnet får vara högst 100 tecken",
		"postal_code.missing":                     "Ange ditt postnummer",
		"postal_code.invalid":                     "Postnumret får vara högst 12 tecken",
		"country.missing":                         "Välj ditt land",
		"country.invalid":                         "Välj ditt land",
		"method.missing":                          "Välj hur du vill betala",
		"method.invalid":                          "Välj hur du vill betala",
		"card_number.missing":                     "Ange ditt kortnummer",
		"card_number.invalid":                     "Ange ett giltigt kortnummer: kontrollera siffrorna på kortet",
		"card_exp_month.missing":                  "Ange månaden då kortet går ut",
		"card_exp_month.invalid":                  "Månaden ska vara ett tal från 1 till 12",
		"card_exp_year.missing":                   "Ange året då kortet går ut",
		"card_exp_year.invalid":                   "Ange året som det står på kortet, till exempel 2030",
		"card_exp.expired":                        "Kortet har gått ut: kontrollera datumet eller använd ett annat kort",
		"card_cvc.missing":                        "Ange säkerhetskoden",
		"card_cvc.invalid":                        "Ange säkerhetskoden: 3 siffror, eller 4 för American Express",
		"decline.title":                           "Vi kunde inte godkänna betalningen",
		"decline.title.card":                      "Ditt kort nekades",
		"decline.card_card_declined":              "Din bank nekade betalningen. Inget har dragits.",
		"decline.card_insufficient_funds":         "Din bank nekade betalningen eftersom det inte finns tillräckligt med pengar på kortet. Inget har dragits.",
		"decline.card_expired_card":               "Din bank säger att kortet har gått ut. Inget har dragits.",
		"decline.card_incorrect_cvc":              "Din bank godkände inte säkerhetskoden. Inget har dragits.",
		"decline.card_processing_error":           "Din bank kunde inte genomföra betalningen just nu. Inget har dragits, och du kan försöka igen.",
		"decline.card_not_charged":                "Vi kunde inte slutföra kortbetalningen. Inget har dragits.",
		"decline.card":                            "Din bank nekade betalningen. Inget har dragits.",
		"decline.pay_later_switched_off":          "Betala senare och Dela upp i 3 är inte tillgängliga just nu.",
		"decline.country_not_offered":             "Betala senare och Dela upp i 3 erbjuds inte i det här landet.",
		"decline.amount_over_pay_later_limit":     "Beloppet är högre än vi kan erbjuda med Betala senare eller Dela upp i 3.",
		"decline.amount_below_instalment_minimum": "Beställningen är för liten för att delas upp i 3 betalningar.",
		"decline.credit_limit_reached":            "Beställningen är större än den kredit för Betala senare du har tillgänglig just nu.",
		"decline.card_only_mode":                  "Betala senare och Dela upp i 3 är inte tillgängliga just nu.",
		"decline.currency_not_offered":            "Betala senare och Dela upp i 3 erbjuds inte i den här valutan.",
		"decline.credit":                          "Vi kunde inte erbjuda Betala senare eller Dela upp i 3 för den här beställningen.",
		"next.card_only":                          "Du kan fortfarande betala med kort: kort är valt nedan.",
		"next.card":                               "Försök med ett annat kort, eller välj ett annat sätt att betala nedan.",
		"next.other":                              "Välj ett annat sätt att betala nedan.",
		"unavailable.title":                       "Kortbetalning fungerar inte just nu",
		"unavailable.body":                        "Vi når inte kortnätverket. Inget har dragits.",
		"unavailable.next":                        "Försök igen om en stund, eller välj ett annat sätt att betala nedan.",
		"notfound.title":                          "Vi hittar inte den här betalningen",
		"notfound.body":                           "Länken kan vara fel eller ofullständig. Inget har dragits.",
		"notfound.next":                           "Gå tillbaka till butiken och börja om betalningen.",
		"expired.title":                           "Betalningen har gått ut",
		"expired.body":                            "Av säkerhetsskäl är en betalning bara öppen en begränsad tid. Inget har dragits.",
		"expired.next":                            "Gå tillbaka till %s för att börja om.",
		"expired.link":                            "Tillbaka till %s",
		"paid.title":                              "Beställningen är redan betald",
		"paid.body":                               "Betalningen är klar, så det finns inget mer att betala. Du debiteras inte igen.",
		"paid.link":                               "Fortsätt till %s",
		"pending.title":                           "Vi bekräftar din betalning",
		"pending.body":                            "Din bank har inte bekräftat kortbetalningen än. Betala inte igen: du debiteras aldrig två gånger.",
		"pending.next":                            "Det brukar ta någon minut. Kontrollera igen om en stund.",
		"pending.link":                            "Kontrollera igen",
		"forbidden.title":                         "Ladda om betalsidan",
		"forbidden.body":                          "Vi kunde inte bekräfta att formuläret kom från betalsidan, så inget skickades och inget har dragits.",
		"forbidden.next":                          "Det kan hända om sidan har varit öppen länge, eller om din webbläsare blockerar kakor för den här webbplatsen.",
		"forbidden.link":                          "Ladda om betalsidan",
		"busy.title":                              "Försök igen om en stund",
		"busy.body":                               "Vi hanterar väldigt många betalningar just nu. Inget har dragits.",
		"busy.link":                               "Tillbaka till betalningen",
		"error.title":                             "Något gick fel",
		"error.body":                              "Inget har dragits. Försök igen om en stund.",
		"error.next":                              "Om det händer igen, kontakta %s och uppge den här referensen:",
		"error.shop":                              "butiken",
		"country.SE":                              "Sverige",
		"country.NO":                              "Norge",
		"country.DK":                              "Danmark",
		"country.FI":                              "Finland",
		"country.DE":                              "Tyskland",
		"country.AT":                              "Österrike",
		"country.NL":                              "Nederländerna",
		"country.GB":                              "Storbritannien",
		"country.US":                              "USA",
	},
	"de": {
		"skip":                                    "Zum Inhalt springen",
		"secure":                                  "Sichere Zahlung mit kassa",
		"footer":                                  "Zahlungsabwicklung durch kassa. Kartennummern und Prüfnummern werden nie gespeichert.",
		"title.checkout":                          "Kasse – %s",
		"title.error":                             "Fehler: %s",
		"heading":                                 "%s an %s bezahlen",
		"summary.title":                           "Ihre Bestellung",
		"summary.item":                            "Artikel",
		"summary.amount":                          "Betrag",
		"summary.total":                           "Gesamt",
		"summary.quantity":                        "%d × %s",
		"summary.reference":                       "Bestellnummer: %s",
		"details.legend":                          "Ihre Angaben",
		"email.label":                             "E-Mail-Adresse",
		"email.hint":                              "Hierhin senden wir den Beleg und gegebenenfalls die Rechnung.",
		"given_name.label":                        "Vorname",
		"family_name.label":                       "Nachname",
		"postal_code.label":                       "Postleitzahl",
		"country.label":                           "Land",
		"method.legend":                           "Wie möchten Sie bezahlen?",
		"method.pay_later":                        "Später bezahlen",
		"method.pay_later.hint":                   "Erst die Bestellung erhalten, dann die Rechnung innerhalb von 30 Tagen bezahlen. Keine Gebühr bei pünktlicher Zahlung.",
		"method.instalments":                      "In 3 Raten",
		"method.instalments.hint":                 "3 zinsfreie Raten zu je %s, alle 30 Tage eine.",
		"method.instalments.hint.odd":             "3 zinsfreie Raten, alle 30 Tage eine: %s, danach 2 × %s.",
		"method.card":                             "Karte",
		"method.card.hint":                        "Visa, Mastercard oder American Express. Sofort bezahlt.",
		"method.recommended":                      "Verfügbar",
		"card.legend":                             "Kartendaten",
		"card.only":                               "Nur bei Zahlung mit Karte nötig.",
		"card.again":                              "Geben Sie zu Ihrer Sicherheit Kartennummer und Prüfnummer bitte erneut ein.",
		"card_number.label":                       "Kartennummer",
		"card_exp.legend":                         "Gültig bis",
		"card_exp.hint":                           "Wie auf der Karte, zum Beispiel 04 / 2030",
		"card_exp_month.label":                    "Monat",
		"card_exp_year.label":                     "Jahr",
		"card_cvc.label":                          "Prüfnummer (CVC)",
		"card_cvc.hint":                           "Die 3 Ziffern auf der Rückseite der Karte, bei American Express 4 Ziffern auf der Vorderseite.",
		"pay":                                     "%s bezahlen",
		"paying":                                  "Zahlung läuft…",
		"cancel":                                  "Abbrechen und zurück zu %s",
		"errors.title":                            "Bitte prüfen Sie Ihre Angaben",
		"error.prefix":                            "Fehler:",
		"email.missing":                           "Geben Sie Ihre E-Mail-Adresse ein",
		"email.invalid":                           "Geben Sie eine gültige E-Mail-Adresse ein, zum Beispiel name@beispiel.de",
		"given_name.missing":                      "Geben Sie Ihren Vornamen ein",
		"given_name.invalid":                      "Der Vorname darf höchstens 100 Zeichen lang sein",
		"family_name.missing":                     "Geben Sie Ihren Nachnamen ein",
		"family_name.invalid":                     "Der Nachname darf höchstens 100 Zeichen lang sein",
		"postal_code.missing":                     "Geben Sie Ihre Postleitzahl ein",
		"postal_code.invalid":                     "Die Postleitzahl darf höchstens 12 Zeichen lang sein",
		"country.missing":                         "Wählen Sie Ihr Land",
		"country.invalid":                         "Wählen Sie Ihr Land",
		"method.missing":                          "Wählen Sie, wie Sie bezahlen möchten",
		"method.invalid":                          "Wählen Sie, wie Sie bezahlen möchten",
		"card_number.missing":                     "Geben Sie Ihre Kartennummer ein",
		"card_number.invalid":                     "Geben Sie eine gültige Kartennummer ein: Prüfen Sie die Ziffern auf Ihrer Karte",
		"card_exp_month.missing":                  "Geben Sie den Monat ein, in dem die Karte abläuft",
		"card_exp_month.invalid":                  "Der Monat muss eine Zahl von 1 bis 12 sein",
		"card_exp_year.missing":                   "Geben Sie das Jahr ein, in dem die Karte abläuft",
		"card_exp_year.invalid":                   "Geben Sie das Jahr wie auf der Karte ein, zum Beispiel 2030",
		"card_exp.expired":                        "Diese Karte ist abgelaufen: Prüfen Sie das Datum oder verwenden Sie eine andere Karte",
		"card_cvc.missing":                        "Geben Sie die Prüfnummer ein",
		"card_cvc.invalid":                        "Geben Sie die Prüfnummer ein: 3 Ziffern, bei American Express 4",
		"decline.title":                           "Wir konnten diese Zahlung nicht genehmigen",
		"decline.title.card":                      "Ihre Karte wurde abgelehnt",
		"decline.card_card_declined":              "Ihre Bank hat die Zahlung abgelehnt. Es wurde nichts belastet.",
		"decline.card_insufficient_funds":         "Ihre Bank hat die Zahlung abgelehnt, weil das verfügbare Guthaben der Karte nicht reicht. Es wurde nichts belastet.",
		"decline.card_expired_card":               "Laut Ihrer Bank ist diese Karte abgelaufen. Es wurde nichts belastet.",
		"decline.card_incorrect_cvc":              "Ihre Bank hat die Prüfnummer nicht akzeptiert. Es wurde nichts belastet.",
		"decline.card_processing_error":           "Ihre Bank konnte die Zahlung gerade nicht ausführen. Es wurde nichts belastet; Sie können es erneut versuchen.",
		"decline.card_not_charged":                "Wir konnten die Kartenzahlung nicht abschließen. Es wurde nichts belastet.",
		"decline.card":                            "Ihre Bank hat die Zahlung abgelehnt. Es wurde nichts belastet.",
		"decline.pay_later_switched_off":          "Später bezahlen und Ratenzahlung sind gerade nicht verfügbar.",
		"decline.country_not_offered":             "Später bezahlen und Ratenzahlung werden in diesem Land nicht angeboten.",
		"decline.amount_over_pay_later_limit":     "Dieser Betrag ist höher, als wir mit Später bezahlen oder Ratenzahlung anbieten können.",
		"decline.amount_below_instalment_minimum": "Diese Bestellung ist zu klein für 3 Raten.",
		"decline.credit_limit_reached":            "Diese Bestellung übersteigt den Rahmen, der Ihnen für Später bezahlen gerade zur Verfügung steht.",
		"decline.card_only_mode":                  "Später bezahlen und Ratenzahlung sind gerade nicht verfügbar.",
		"decline.currency_not_offered":            "Später bezahlen und Ratenzahlung werden in dieser Währung nicht angeboten.",
		"decline.credit":                          "Wir konnten für diese Bestellung weder Später bezahlen noch Ratenzahlung anbieten.",
		"next.card_only":                          "Sie können mit Karte bezahlen: Karte ist unten ausgewählt.",
		"next.card":                               "Versuchen Sie es mit einer anderen Karte oder wählen Sie unten eine andere Zahlungsart.",
		"next.other":                              "Wählen Sie unten eine andere Zahlungsart.",
		"unavailable.title":                       "Kartenzahlung ist gerade nicht möglich",
		"unavailable.body":                        "Wir erreichen das Kartennetz nicht. Es wurde nichts belastet.",
		"unavailable.next":                        "Versuchen Sie es gleich noch einmal oder wählen Sie unten eine andere Zahlungsart.",
		"notfound.title":                          "Wir finden diesen Bezahlvorgang nicht",
		"notfound.body":                           "Der Link ist vielleicht falsch oder unvollständig. Es wurde nichts belastet.",
		"notfound.next":                           "Gehen Sie zurück zum Shop und starten Sie die Zahlung erneut.",
		"expired.title":                           "Dieser Bezahlvorgang ist abgelaufen",
		"expired.body":                            "Zu Ihrer Sicherheit ist ein Bezahlvorgang nur begrenzte Zeit offen. Es wurde nichts belastet.",
		"expired.next":                            "Gehen Sie zurück zu %s, um neu zu beginnen.",
		"expired.link":                            "Zurück zu %s",
		"paid.title":                              "Diese Bestellung ist bereits bezahlt",
		"paid.body":                               "Der Bezahlvorgang ist abgeschlossen; es gibt nichts mehr zu bezahlen. Es wird nichts erneut belastet.",
		"paid.link":                               "Weiter zu %s",
		"pending.title":                           "Wir bestätigen Ihre Zahlung",
		"pending.body":                            "Ihre Bank hat die Kartenzahlung noch nicht bestätigt. Bitte nicht erneut bezahlen: Es wird nie doppelt belastet.",
		"pending.next":                            "Das dauert meist ein bis zwei Minuten. Sehen Sie gleich noch einmal nach.",
		"pending.link":                            "Erneut prüfen",
		"forbidden.title":                         "Bitte laden Sie die Zahlungsseite neu",
		"forbidden.body":                          "Wir konnten nicht bestätigen, dass das Formular von der Zahlungsseite kam. Es wurde nichts gesendet und nichts belastet.",
		"forbidden.next":                          "Das kann passieren, wenn die Seite lange offen war oder Ihr Browser Cookies für diese Website blockiert.",
		"forbidden.link":                          "Zahlungsseite neu laden",
		"busy.title":                              "Bitte versuchen Sie es gleich noch einmal",
		"busy.body":                               "Gerade sind sehr viele Zahlungen unterwegs. Es wurde nichts belastet.",
		"busy.link":                               "Zurück zur Zahlung",
		"error.title":                             "Leider ist ein Fehler aufgetreten",
		"error.body":                              "Es wurde nichts belastet. Bitte versuchen Sie es gleich noch einmal.",
		"error.next":                              "Wenn das wieder passiert, wenden Sie sich an %s und nennen Sie diese Referenz:",
		"error.shop":                              "den Shop",
		"country.SE":                              "Schweden",
		"country.NO":                              "Norwegen",
		"country.DK":                              "Dänemark",
		"country.FI":                              "Finnland",
		"country.DE":                              "Deutschland",
		"country.AT":                              "Österreich",
		"country.NL":                              "Niederlande",
		"country.GB":                              "Vereinigtes Königreich",
		"country.US":                              "Vereinigte Staaten",
	},
}

// pageCountries are offered in the shopper's country list.
var pageCountries = []string{"AT", "DE", "DK", "FI", "GB", "NL", "NO", "SE", "US"}

// language picks the translation for a locale such as "sv-SE" and the
// html lang tag of the text: the locale itself when the translation is its
// language, else the translation's language.
func language(locale string) (string, pageText) {
	lang, _, _ := strings.Cut(locale, "-")
	if t, ok := pageTexts[lang]; ok {
		return locale, t
	}
	return "en", pageTexts["en"]
}

// acceptLanguage picks a translation from an Accept-Language header, for
// pages that know no session: the first supported language listed.
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

// countryOptions lists the countries by name in the text's language, with
// the session's own country added if kassa has no name for it.
func countryOptions(t func(string, ...any) string, selected, sessionCountry string) []option {
	codes := append([]string(nil), pageCountries...)
	for _, c := range []string{sessionCountry, selected} {
		if c != "" && !contains(codes, c) && countryRe.MatchString(c) {
			codes = append(codes, c)
		}
	}
	opts := make([]option, 0, len(codes))
	for _, c := range codes {
		name := t("country." + c)
		if name == "country."+c {
			name = c
		}
		opts = append(opts, option{Value: c, Label: name, Selected: c == selected})
	}
	sort.SliceStable(opts, func(i, j int) bool { return opts[i].Label < opts[j].Label })
	return opts
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// numberStyle is how a locale writes an amount of money.
type numberStyle struct {
	group, decimal string
	symbolFirst    bool              // "£1.00", "€ 1,00" rather than "1,00 €"
	spaced         bool              // a space between symbol and number
	symbols        map[string]string // currency -> symbol; others show their code
}

const nbsp = "\u00a0"

var numberStyles = map[string]numberStyle{
	"sv":    {group: nbsp, decimal: ",", spaced: true, symbols: map[string]string{"SEK": "kr", "EUR": "€", "GBP": "£", "USD": "US$"}},
	"nb":    {group: nbsp, decimal: ",", spaced: true, symbols: map[string]string{"NOK": "kr", "EUR": "€", "GBP": "£", "USD": "USD"}},
	"da":    {group: ".", decimal: ",", spaced: true, symbols: map[string]string{"DKK": "kr.", "EUR": "€", "GBP": "£", "USD": "US$"}},
	"fi":    {group: nbsp, decimal: ",", spaced: true, symbols: map[string]string{"EUR": "€", "GBP": "£", "USD": "$"}},
	"de":    {group: ".", decimal: ",", spaced: true, symbols: map[string]string{"EUR": "€", "GBP": "£", "USD": "$"}},
	"de-AT": {group: nbsp, decimal: ",", symbolFirst: true, spaced: true, symbols: map[string]string{"EUR": "€", "GBP": "£", "USD": "$"}},
	"nl":    {group: ".", decimal: ",", symbolFirst: true, spaced: true, symbols: map[string]string{"EUR": "€", "GBP": "£", "USD": "US$"}},
	"en-GB": {group: ",", decimal: ".", symbolFirst: true, symbols: map[string]string{"GBP": "£", "EUR": "€", "USD": "US$"}},
	"en":    {group: ",", decimal: ".", symbolFirst: true, symbols: map[string]string{"USD": "$", "EUR": "€", "GBP": "£"}},
}

// minorDigits are the currencies whose minor unit is not a hundredth (ISO
// 4217); every other currency has two decimals.
var minorDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// MinorDigits is how many decimals currency's minor unit has: amounts in
// kassa are in minor units, and pages show them in the major unit.
func MinorDigits(currency string) int {
	if d, ok := minorDigits[currency]; ok {
		return d
	}
	return 2
}

// formatMoney writes an amount in minor units as the locale writes money:
// formatMoney(25900, "SEK", "sv-SE") is "259,00 kr", (25900, "GBP",
// "en-GB") is "£259.00". Spaces inside are non-breaking, so an amount never
// wraps across lines.
func formatMoney(amount int64, currency, locale string) string {
	style, ok := numberStyles[locale]
	if !ok {
		lang, _, _ := strings.Cut(locale, "-")
		if style, ok = numberStyles[lang]; !ok {
			style = numberStyles["en"]
		}
	}
	digits := MinorDigits(currency)
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	unit := int64(1)
	for range digits {
		unit *= 10
	}
	whole := strconv.FormatInt(amount/unit, 10)
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(style.group)
		}
		b.WriteRune(r)
	}
	number := b.String()
	if digits > 0 {
		frac := strconv.FormatInt(amount%unit, 10)
		number += style.decimal + strings.Repeat("0", digits-len(frac)) + frac
	}
	symbol, ok := style.symbols[currency]
	if !ok {
		symbol = currency
	}
	space := ""
	if style.spaced || !ok {
		space = nbsp
	}
	if style.symbolFirst {
		return sign + symbol + space + number
	}
	return sign + number + space + symbol
}
