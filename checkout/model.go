package checkout

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"kassa/ledger"
	"kassa/money"
	"kassa/netguard"
)

// Line is one order line. Amounts are in minor units.
type Line struct {
	Name      string `json:"name"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
	Total     int64  `json:"total"`
}

// URLs are where the shopper and the merchant's server are sent.
type URLs struct {
	Confirmation string `json:"confirmation"`
	Cancel       string `json:"cancel"`
	Notification string `json:"notification,omitempty"`
}

// SessionRequest is the body of POST /v1/sessions.
type SessionRequest struct {
	Amount            int64  `json:"amount"`
	Currency          string `json:"currency"`
	Country           string `json:"country"`
	Locale            string `json:"locale,omitempty"`
	MerchantReference string `json:"merchant_reference"`
	Lines             []Line `json:"lines"`
	URLs              URLs   `json:"urls"`
}

// Session is a checkout session as the API shows it.
type Session struct {
	ID                SessionID `json:"id"`
	Object            string    `json:"object"`
	Status            string    `json:"status"` // open, processing, complete, expired
	Merchant          string    `json:"merchant"`
	Amount            int64     `json:"amount"`
	Currency          string    `json:"currency"`
	Country           string    `json:"country"`
	Locale            string    `json:"locale"`
	MerchantReference string    `json:"merchant_reference"`
	Lines             []Line    `json:"lines"`
	URLs              URLs      `json:"urls"`
	CheckoutURL       string    `json:"checkout_url"`
	OrderID           OrderID   `json:"order_id,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
	ExpiresAt         time.Time `json:"expires_at"`
	Region            string    `json:"region"`
}

// Consumer is the shopper as the merchant or the checkout page gives them.
type Consumer struct {
	Email      string `json:"email"`
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

// CardInput is card data from the request. It is never stored or logged.
type CardInput struct {
	Number   string `json:"number"`
	ExpMonth int    `json:"exp_month"`
	ExpYear  int    `json:"exp_year"`
	CVC      string `json:"cvc"`
}

// AuthorizeRequest is the body of POST /v1/sessions/{id}/authorize.
type AuthorizeRequest struct {
	Method   string     `json:"method"`
	Consumer Consumer   `json:"consumer"`
	Card     *CardInput `json:"card,omitempty"`
}

// Decision is a credit or card decision with its reasons.
type Decision struct {
	Outcome string   `json:"outcome"` // approved, declined, card_only, pending
	Reasons []string `json:"reasons"`
	Score   int      `json:"score,omitempty"`

	// What an approved credit decision spends, written atomically with the
	// authorization: postings and guards (rights or unsecured budget), and
	// the hold that says where the exposure goes back. Record is the
	// decision's inputs and points, kept with the order for support staff
	// (never shown to the merchant).
	Credit   *CreditHold      `json:"-"`
	Postings []ledger.Posting `json:"-"`
	Guards   []ledger.Guard   `json:"-"`
	Record   json.RawMessage  `json:"-"`
}

// CardFacts is what is kept of a card.
type CardFacts struct {
	Brand       string `json:"brand"`
	Last4       string `json:"last4"`
	ExpMonth    int    `json:"exp_month"`
	ExpYear     int    `json:"exp_year"`
	Fingerprint string `json:"fingerprint"`
}

// Movement is one capture, refund or void. A card operation is pending
// from when kassa asks the acquirer until the acquirer's answer is
// recorded, then succeeded or failed (FailureCode says why).
type Movement struct {
	ID          string    `json:"id"`
	Type        string    `json:"type,omitempty"` // capture, refund, cancel, release, void
	Amount      int64     `json:"amount"`
	Status      string    `json:"status"`
	FailureCode string    `json:"failure_code,omitempty"`
	Region      string    `json:"region"`
	CreatedAt   time.Time `json:"created_at"`
}

// Order is an order as the API shows it.
type Order struct {
	ID                OrderID       `json:"id"`
	Object            string        `json:"object"`
	Status            string        `json:"status"`
	SessionID         SessionID     `json:"session_id"`
	Merchant          string        `json:"merchant"`
	MerchantReference string        `json:"merchant_reference"`
	Method            string        `json:"method"`
	Amount            int64         `json:"amount"`
	Currency          string        `json:"currency"`
	Captured          int64         `json:"captured"`
	Refunded          int64         `json:"refunded"`
	Released          int64         `json:"released"`
	Repaid            int64         `json:"-"` // what the consumer repaid: for support, not the merchant
	Decision          Decision      `json:"decision"`
	Consumer          *ConsumerView `json:"consumer,omitempty"`
	Card              *CardFacts    `json:"card,omitempty"`
	Captures          []Movement    `json:"captures"`
	Refunds           []Movement    `json:"refunds"`
	// Voids are a card order's cancels and releases as the acquirer
	// answers them (none for other methods).
	Voids []Movement `json:"voids,omitempty"`
	// Operation is, in the answer to a capture, refund, cancel or
	// release, the operation the request made (or replayed).
	Operation    *Movement `json:"operation,omitempty"`
	AuthorizedIn string    `json:"authorized_in,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	Conflicts    []string  `json:"conflicts,omitempty"`
}

// ConsumerView is what an order shows of its shopper.
type ConsumerView struct {
	ID         ConsumerID `json:"id"`
	Email      string     `json:"email"` // masked
	GivenName  string     `json:"given_name"`
	FamilyName string     `json:"family_name"`
	Country    string     `json:"country"`
}

// FieldError is a request field that is wrong: the API answers it as 400
// with the field named.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Message) }

var (
	countryRe   = regexp.MustCompile(`^[A-Z]{2}$`)
	referenceRe = regexp.MustCompile(`^[A-Za-z0-9._:/#-]{1,64}$`)
	localeRe    = regexp.MustCompile(`^[a-z]{2}(-[A-Z]{2})?$`)
)

// MaxAmount bounds an order: 10^10 minor units.
const MaxAmount = 10_000_000_000

func bad(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// checkText refuses, in a free-text field that shoppers, merchants or
// support staff will see, what is not text: invalid UTF-8, control
// characters (NUL, BEL, tabs, line breaks, ...) and the bidi embedding,
// override and isolate characters (U+202A-U+202E, U+2066-U+2069), which
// make text display in another order than it is stored ("Trojan Source":
// a line name that reads "Gift card" on one screen and something else on
// another). They are refused rather than stripped, so what is stored is
// exactly what was sent and a retry compares equal. The plain direction
// marks (U+200E, U+200F, U+061C) stay: they reorder no other text, and
// names in right-to-left scripts use them.
func checkText(field, s string) error {
	if !utf8.ValidString(s) {
		return bad(field, "must be UTF-8 text")
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return bad(field, "must not contain control characters (U+%04X)", r)
		case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
			return bad(field, "must not contain bidirectional embedding, override or isolate characters (U+%04X)", r)
		}
	}
	return nil
}

// Validate checks a session request; lines must add up to the amount.
func (r *SessionRequest) Validate(allowLoopback bool) error {
	if r.Amount <= 0 || r.Amount > MaxAmount {
		return bad("amount", "must be between 1 and %d minor units", int64(MaxAmount))
	}
	if !money.Known(r.Currency) {
		return bad("currency", "must be a current ISO 4217 currency code in capitals, such as SEK")
	}
	if !countryRe.MatchString(r.Country) {
		return bad("country", "must be an ISO 3166 alpha-2 code such as SE")
	}
	if r.Locale != "" && !localeRe.MatchString(r.Locale) {
		return bad("locale", "must look like sv-SE")
	}
	if !referenceRe.MatchString(r.MerchantReference) {
		return bad("merchant_reference", "must be 1-64 characters of letters, digits and ._:/#-")
	}
	if len(r.Lines) == 0 || len(r.Lines) > 100 {
		return bad("lines", "must have between 1 and 100 lines")
	}
	var sum int64
	for i, l := range r.Lines {
		f := fmt.Sprintf("lines[%d]", i)
		if n := strings.TrimSpace(l.Name); n == "" || len(n) > 200 {
			return bad(f+".name", "must be 1-200 characters")
		}
		if err := checkText(f+".name", l.Name); err != nil {
			return err
		}
		if l.Quantity < 1 || l.Quantity > 10000 {
			return bad(f+".quantity", "must be between 1 and 10000")
		}
		if l.UnitPrice < 0 || l.UnitPrice > MaxAmount {
			return bad(f+".unit_price", "must be between 0 and %d", int64(MaxAmount))
		}
		if l.Total != l.Quantity*l.UnitPrice {
			return bad(f+".total", "is %d but quantity times unit_price is %d", l.Total, l.Quantity*l.UnitPrice)
		}
		sum += l.Total
		if sum > MaxAmount {
			return bad("lines", "add up to more than %d", int64(MaxAmount))
		}
	}
	if sum != r.Amount {
		return bad("amount", "is %d but the lines add up to %d", r.Amount, sum)
	}
	for field, u := range map[string]string{"urls.confirmation": r.URLs.Confirmation, "urls.cancel": r.URLs.Cancel} {
		if err := checkURL(field, u, allowLoopback, true); err != nil {
			return err
		}
	}
	if r.URLs.Notification != "" {
		if err := checkURL("urls.notification", r.URLs.Notification, allowLoopback, false); err != nil {
			return err
		}
	}
	return nil
}

// checkURL accepts absolute http(s) URLs. In production (allowLoopback false)
// they must be https, and a server-side URL (a webhook) may not name a
// loopback, private or link-local address.
func checkURL(field, raw string, allowLoopback, browser bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || len(raw) > 2000 {
		return bad(field, "must be an absolute http(s) URL without credentials")
	}
	if allowLoopback {
		return nil
	}
	if u.Scheme != "https" {
		return bad(field, "must use https")
	}
	if !browser && netguard.InternalHost(u.Hostname()) {
		return bad(field, "must not point at a loopback, private or link-local address")
	}
	return nil
}

// Validate checks an authorization request's shape; card details are checked
// by the card rules.
func (r *AuthorizeRequest) Validate() error {
	switch r.Method {
	case "pay_later", "instalments", "card":
	default:
		return bad("method", "must be pay_later, instalments or card")
	}
	c := r.Consumer
	email := strings.TrimSpace(c.Email)
	if at := strings.LastIndex(email, "@"); at < 1 || at == len(email)-1 || len(email) > 254 || strings.ContainsAny(email, " \t\r\n<>") {
		return bad("consumer.email", "must be an email address")
	}
	if err := checkText("consumer.email", c.Email); err != nil {
		return err
	}
	if strings.TrimSpace(c.GivenName) == "" || len(c.GivenName) > 100 {
		return bad("consumer.given_name", "is required (at most 100 characters)")
	}
	if err := checkText("consumer.given_name", c.GivenName); err != nil {
		return err
	}
	if strings.TrimSpace(c.FamilyName) == "" || len(c.FamilyName) > 100 {
		return bad("consumer.family_name", "is required (at most 100 characters)")
	}
	if err := checkText("consumer.family_name", c.FamilyName); err != nil {
		return err
	}
	if pc := strings.TrimSpace(c.PostalCode); pc == "" || len(pc) > 12 {
		return bad("consumer.postal_code", "is required (at most 12 characters)")
	}
	if err := checkText("consumer.postal_code", c.PostalCode); err != nil {
		return err
	}
	if !countryRe.MatchString(c.Country) {
		return bad("consumer.country", "must be an ISO 3166 alpha-2 code such as SE")
	}
	if r.Method == "card" && r.Card == nil {
		return bad("card", "is required for method card")
	}
	if r.Method != "card" && r.Card != nil {
		return bad("card", "is only for method card")
	}
	return nil
}
