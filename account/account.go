package account

import (
	"errors"
	"fmt"
	"strings"
)

// ErrMalformed is returned by the parsers for a string that is not a name
// this package builds.
var ErrMalformed = errors.New("account: malformed name")

// Kind is what an account is for.
type Kind uint8

// The kinds of account. The zero Kind names none.
const (
	KindCreditRights Kind = iota + 1
	KindCreditLimit
	KindCreditExposure
	KindCreditUnsecured
	KindUnsecuredBudget
	KindCaptureRights
	KindRefundRights
	KindDebtRights
	KindAuthorized
	KindOwed
	KindRepaid
	KindRefunded
	KindMerchantPayable
	KindConsumerReceivable
	KindAcquirerClearing
	KindRevenue
	KindBankRepayments
	KindAcquiring
	KindConsumerBalance
)

// spelling says how each kind is written (read only): the word before the id, the
// word after it, and whether a region follows. A kind with no id (the
// unsecured budget) has an empty tail; one with neither id nor region
// (revenue, bank repayments) is head:tail.
var spelling = [...]struct {
	head, tail string
	perRegion  bool
	name       string
}{
	KindCreditRights:       {"credit", "rights", true, "credit rights"},
	KindCreditLimit:        {"credit", "limit", false, "credit limit"},
	KindCreditExposure:     {"credit", "exposure", false, "credit exposure"},
	KindCreditUnsecured:    {"credit", "unsecured", false, "unsecured exposure"},
	KindUnsecuredBudget:    {"unsecured", "", true, "unsecured budget"},
	KindCaptureRights:      {"order", "capture", true, "capture rights"},
	KindRefundRights:       {"order", "refund", true, "refund rights"},
	KindDebtRights:         {"order", "debt", true, "debt rights"},
	KindAuthorized:         {"order", "authorized", false, "authorized"},
	KindOwed:               {"order", "owed", false, "owed"},
	KindRepaid:             {"order", "repaid", false, "repaid"},
	KindRefunded:           {"order", "refunded", false, "refunded"},
	KindMerchantPayable:    {"merchant", "payable", false, "merchant payable"},
	KindConsumerReceivable: {"consumer", "receivable", false, "consumer receivable"},
	KindAcquirerClearing:   {"acquirer", "clearing", false, "acquirer clearing"},
	KindRevenue:            {"kassa", "revenue", false, "revenue"},
	KindBankRepayments:     {"bank", "repayments", false, "bank repayments"},
	KindAcquiring:          {"order", "acquiring", true, "at the acquirer"},
	KindConsumerBalance:    {"consumer", "balance", false, "consumer credit balance"},
}

func (k Kind) valid() bool { return k > 0 && int(k) < len(spelling) }

// String names the kind in words, for logs and errors.
func (k Kind) String() string {
	if !k.valid() {
		return fmt.Sprintf("account.Kind(%d)", uint8(k))
	}
	return spelling[k].name
}

// PerRegion reports whether an account of kind k exists once per region
// (rights and unsecured budgets).
func (k Kind) PerRegion() bool { return k.valid() && spelling[k].perRegion }

// Transferable reports whether regions transfer accounts of kind k between
// them: the rights kinds.
func (k Kind) Transferable() bool {
	return k.PerRegion() && k != KindUnsecuredBudget && k != KindAcquiring
}

// hasID reports whether names of kind k carry an id (an order, consumer,
// merchant or acquirer).
func (k Kind) hasID() bool { return k.valid() && k != KindUnsecuredBudget && !k.fixed() }

// fixed reports whether k names one account, with neither id nor region.
func (k Kind) fixed() bool { return k == KindRevenue || k == KindBankRepayments }

// Name is a parsed account name.
type Name struct {
	Kind Kind
	// ID is the order, consumer, merchant or acquirer the account belongs
	// to; empty for the unsecured budget, revenue and bank repayments.
	ID string
	// Region is the region that owns a per-region account; empty for the
	// others.
	Region string
}

// String spells the account name: the inverse of Parse. It returns the
// empty string for a Name without a valid Kind.
func (n Name) String() string {
	if !n.Kind.valid() {
		return ""
	}
	s := spelling[n.Kind]
	switch {
	case n.Kind == KindUnsecuredBudget:
		return s.head + ":" + n.Region
	case n.Kind.fixed():
		return s.head + ":" + s.tail
	case s.perRegion:
		return s.head + ":" + n.ID + ":" + s.tail + ":" + n.Region
	}
	return s.head + ":" + n.ID + ":" + s.tail
}

// Rights returns the family of a rights account and true, or false for an
// account that is not a rights account.
func (n Name) Rights() (Rights, bool) {
	if !n.Kind.Transferable() {
		return Rights{}, false
	}
	return Rights{kind: n.Kind, id: n.ID}, true
}

// Parse takes an account name apart. It returns an error wrapping
// ErrMalformed for anything but a name this package builds.
func Parse(s string) (Name, error) {
	parts := strings.Split(s, ":")
	if !validParts(parts) {
		return Name{}, malformed(s)
	}
	switch len(parts) {
	case 2:
		if parts[0] == spelling[KindUnsecuredBudget].head {
			return Name{Kind: KindUnsecuredBudget, Region: parts[1]}, nil
		}
		for _, k := range []Kind{KindRevenue, KindBankRepayments} {
			if parts[0] == spelling[k].head && parts[1] == spelling[k].tail {
				return Name{Kind: k}, nil
			}
		}
	case 3:
		if k := kindOf(parts[0], parts[2], false); k != 0 {
			return Name{Kind: k, ID: parts[1]}, nil
		}
	case 4:
		if k := kindOf(parts[0], parts[2], true); k != 0 {
			return Name{Kind: k, ID: parts[1], Region: parts[3]}, nil
		}
	}
	return Name{}, malformed(s)
}

// kindOf finds the kind with an id spelled head:<id>:tail, followed by a
// region or not.
func kindOf(head, tail string, perRegion bool) Kind {
	for k := range spelling {
		s := spelling[k]
		if Kind(k).hasID() && s.head == head && s.tail == tail && s.perRegion == perRegion {
			return Kind(k)
		}
	}
	return 0
}

func validParts(parts []string) bool {
	for _, p := range parts {
		if !validPart(p) {
			return false
		}
	}
	return true
}

// validPart reports whether p may be one part of a name: an id, a region
// or one of the fixed words.
func validPart(p string) bool {
	if p == "" {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func malformed(s string) error {
	const max = 80 // names are short; keep an error about a long input short too
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Errorf("%w: %q", ErrMalformed, s)
}

// Rights names one kind of transferable rights on one order or credit
// line: the account that each region holds its share in. The zero Rights
// names none.
type Rights struct {
	kind Kind
	id   string
}

// CaptureRights are order's authorized amount not yet captured: the
// authorizing region owns them first.
func CaptureRights(order string) Rights { return Rights{KindCaptureRights, order} }

// RefundRights are order's captured amount not yet refunded: a capture
// moves capture rights into them.
func RefundRights(order string) Rights { return Rights{KindRefundRights, order} }

// DebtRights are the part of a credit order's captures the consumer still
// owes: a refund or a repayment spends them, so the exposure given back
// never exceeds what was taken on.
func DebtRights(order string) Rights { return Rights{KindDebtRights, order} }

// CreditRights are a consumer's credit limit, held per region: a region
// approves pay-later exposure only by spending its own.
func CreditRights(consumer string) Rights { return Rights{KindCreditRights, consumer} }

// Acquiring is the account, one per region, that holds what a region has
// asked the acquirer to capture, refund or void on order and has no answer
// for yet. Only the region that made the call spends it (with the answer),
// so it is never transferred.
func Acquiring(order, region string) string {
	return Name{Kind: KindAcquiring, ID: order, Region: region}.String()
}

// Kind returns KindCaptureRights, KindRefundRights, KindDebtRights or
// KindCreditRights (zero for the zero Rights).
func (r Rights) Kind() Kind { return r.kind }

// ID returns the order or consumer the rights are on.
func (r Rights) ID() string { return r.id }

// In returns the account that holds region's share of the rights.
func (r Rights) In(region string) string {
	return Name{Kind: r.kind, ID: r.id, Region: region}.String()
}

// Prefix returns the rights' account name without a region: what a region
// short of rights asks a peer for, and what ParseRights reads back.
func (r Rights) Prefix() string { return r.In("") }

// ParseRights reads the prefix of a rights account (Rights.Prefix). It
// returns an error wrapping ErrMalformed for anything else.
func ParseRights(prefix string) (Rights, error) {
	rest, ok := strings.CutSuffix(prefix, ":")
	parts := strings.Split(rest, ":")
	if !ok || len(parts) != 3 || !validParts(parts) {
		return Rights{}, malformed(prefix)
	}
	k := kindOf(parts[0], parts[2], true)
	if !k.Transferable() {
		return Rights{}, malformed(prefix)
	}
	return Rights{kind: k, id: parts[1]}, nil
}

// Resolve returns the account named by a name or a rights prefix: a
// prefix is completed with region, a full name returned as it is. It is
// how a recorded "give it back to the rights of whoever records this"
// becomes an account.
func Resolve(nameOrPrefix, region string) string {
	if r, err := ParseRights(nameOrPrefix); err == nil {
		return r.In(region)
	}
	return nameOrPrefix
}

// CreditLimit is the account a consumer's credit line is granted from.
func CreditLimit(consumer string) string { return Name{Kind: KindCreditLimit, ID: consumer}.String() }

// CreditExposure carries the exposure approved by spending rights.
func CreditExposure(consumer string) string {
	return Name{Kind: KindCreditExposure, ID: consumer}.String()
}

// CreditUnsecured carries the exposure approved from unsecured budgets.
func CreditUnsecured(consumer string) string {
	return Name{Kind: KindCreditUnsecured, ID: consumer}.String()
}

// CreditPrefix is the prefix every credit account of consumer starts with
// (rights, limit, exposure, unsecured), for reading them all at once.
func CreditPrefix(consumer string) string { return "credit:" + consumer + ":" }

// UnsecuredBudget is what region has spent of its unsecured budget.
func UnsecuredBudget(region string) string {
	return Name{Kind: KindUnsecuredBudget, Region: region}.String()
}

// Authorized is what order authorized, a negative balance that captures
// and releases bring back toward zero.
func Authorized(order string) string { return Name{Kind: KindAuthorized, ID: order}.String() }

// Owed is what the consumer owes on a credit order.
func Owed(order string) string { return Name{Kind: KindOwed, ID: order}.String() }

// Repaid is what the consumer has repaid on a credit order.
func Repaid(order string) string { return Name{Kind: KindRepaid, ID: order}.String() }

// Refunded is what order has refunded.
func Refunded(order string) string { return Name{Kind: KindRefunded, ID: order}.String() }

// MerchantPayable is what kassa owes merchant.
func MerchantPayable(merchant string) string {
	return Name{Kind: KindMerchantPayable, ID: merchant}.String()
}

// ConsumerReceivable is what consumer owes kassa.
func ConsumerReceivable(consumer string) string {
	return Name{Kind: KindConsumerReceivable, ID: consumer}.String()
}

// ConsumerBalance is what kassa owes consumer: money paid beyond the debt
// it was paid towards, such as a bank transfer larger than the invoice. A
// credit balance is a negative balance of this account (a liability).
func ConsumerBalance(consumer string) string {
	return Name{Kind: KindConsumerBalance, ID: consumer}.String()
}

// AcquirerClearing is what card acquirer owes kassa.
func AcquirerClearing(acquirer string) string {
	return Name{Kind: KindAcquirerClearing, ID: acquirer}.String()
}

// Revenue is kassa's own revenue.
const Revenue = "kassa:revenue"

// BankRepayments is the money consumers paid into kassa's bank account
// towards their credit orders.
const BankRepayments = "bank:repayments"

// Line is a consumer's credit line in one currency, the subject of the
// entries that grant, adjust and transfer it.
type Line struct {
	Consumer string
	Currency string // ISO 4217, upper case
}

// LineSubject returns the subject of consumer's credit line in currency.
func LineSubject(consumer, currency string) string {
	return Line{Consumer: consumer, Currency: currency}.String()
}

// String returns the line's subject, credit:<consumer>:<CUR>.
func (l Line) String() string { return "credit:" + l.Consumer + ":" + l.Currency }

// ParseLine reads a credit line's subject. It returns an error wrapping
// ErrMalformed for anything else.
func ParseLine(subject string) (Line, error) {
	rest, ok := strings.CutPrefix(subject, "credit:")
	consumer, cur, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || !validPart(consumer) || !validCurrency(cur) {
		return Line{}, malformed(subject)
	}
	return Line{Consumer: consumer, Currency: cur}, nil
}

func validCurrency(s string) bool {
	return len(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z'
}
