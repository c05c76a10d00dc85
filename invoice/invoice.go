// Package invoice collects pay-later and pay-in-3 debt: every capture of a
// credit order is an invoice the shopper is emailed, with a page to see
// and pay it, and reminders until it is paid.
//
// It owns invoices as a fold of the ledger (numbers, payment references
// with their check digit, the links' tokens, what is owed, credited, paid
// and charged as fees), the invoice and reminder emails (a mail.Composer),
// and the reminder schedule.
package invoice

import (
	"time"

	"kassa/checkout"
)

// Status says where an invoice stands.
type Status string

// The statuses of an invoice.
const (
	Open     Status = "open"     // something is owed, nothing overdue
	Overdue  Status = "overdue"  // something is owed past its due date and grace
	Paid     Status = "paid"     // nothing is owed; payments settled it
	Credited Status = "credited" // nothing is owed; refunds settled it (some or all)
)

// Invoice is one capture of a credit order as the shopper is asked to pay
// it.
type Invoice struct {
	// ID is "inv_" and a digest of the capture operation: the same in every
	// region without coordination.
	ID string
	// Number is the invoice's number as printed, unique across regions.
	Number string
	// Order is the order, Capture the capture operation invoiced.
	Order    checkout.OrderID
	Capture  string
	Merchant string
	// MerchantName is the shop's name as shown to the shopper.
	MerchantName string
	// Consumer, Email, GivenName and Locale say who the invoice is for.
	Consumer  checkout.ConsumerID
	Email     string
	GivenName string
	Locale    string
	Method    string // pay_later or instalments
	Currency  string
	IssuedAt  time.Time
	// Instalments is the due schedule (one for pay later, three for pay
	// in 3), oldest first, with what of each is paid.
	Instalments []Instalment
	// Amount is what was captured; Credited what refunds took off it;
	// Fees the reminder fees added; Paid the repayments applied to it.
	// Owed = Amount - Credited + Fees - Paid, never below zero.
	Amount   int64
	Credited int64
	Fees     int64
	Paid     int64
	Owed     int64
	// Reference is the payment reference (digits with a check digit) the
	// shopper's bank transfer carries; the bank-file import matches on it.
	Reference string
	// Token is the unguessable part of the invoice page's link,
	// <site_url>/invoices/<Token>.
	Token string
	// LinkExpiresAt is when the page's link stops showing the invoice.
	LinkExpiresAt time.Time
	Status        Status
	Payee         Payee
}

// Instalment is one due date of an invoice.
type Instalment struct {
	Number int // from 1
	DueAt  time.Time
	Amount int64
	Paid   int64
}

// Payee is where a bank transfer goes: the payee's bank details from the
// configuration.
type Payee struct {
	Name string `mapstructure:"name"`
	IBAN string `mapstructure:"iban"`
	BIC  string `mapstructure:"bic"`
	// Bankgiro is the Swedish giro number, when there is one.
	Bankgiro string `mapstructure:"bankgiro"`
}
