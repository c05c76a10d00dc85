package checkout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"kassa/account"
	"kassa/ledger"
)

// KindCreditBalance is the entry that records money a consumer paid beyond
// the debt it was paid towards (a bank transfer larger than the invoice, a
// card payment that met a debt another payment had settled meanwhile): the
// money is in kassa's bank account and kassa owes it to the consumer, as a
// credit balance on consumer:<id>:balance.
const KindCreditBalance = "consumer.credit_balance"

// Overpayment is money a consumer paid that no debt took.
type Overpayment struct {
	Consumer ConsumerID
	Currency string
	Amount   int64 // minor units, positive
	// Reference is the payment's own id (the bank's transaction id, the
	// acquirer's payment): one credit balance entry per reference.
	Reference string
	Order     OrderID // the order the payment was meant for, if any
	PaidAt    time.Time
	By        Actor // the staff member who imported it (zero for none)
}

// ErrInvalidOverpayment is an Overpayment without a consumer, currency,
// reference or positive amount.
var ErrInvalidOverpayment = errors.New("checkout: an overpayment needs a consumer, a currency, a reference and a positive amount")

type balanceData struct {
	Consumer  ConsumerID `json:"consumer"`
	Amount    int64      `json:"amount"`
	Currency  string     `json:"currency"`
	Reference string     `json:"reference"`
	Order     OrderID    `json:"order,omitempty"`
	PaidAt    int64      `json:"paid_at"`
	By        *Actor     `json:"by,omitempty"`
	Refs      []string   `json:"refs"`
}

func overpaidRef(reference string) string { return "overpaid:" + reference }

// CreditBalance records p as a credit balance the consumer is owed. The
// same reference recorded before is a replay (true) and writes nothing;
// within a region one entry per reference is written even when calls race.
// It is safe for concurrent use.
func (s *Service) CreditBalance(ctx context.Context, p Overpayment) (replayed bool, err error) {
	if p.Consumer == "" || len(p.Currency) != 3 || p.Amount <= 0 || p.Reference == "" {
		return false, ErrInvalidOverpayment
	}
	ref := overpaidRef(p.Reference)
	defer s.lock(ref)()
	es, err := s.store.EntriesByRef(ctx, ref)
	if err != nil {
		return false, err
	}
	for _, e := range es {
		if e.Kind == KindCreditBalance {
			return true, nil
		}
	}
	d := balanceData{Consumer: p.Consumer, Amount: p.Amount, Currency: p.Currency, Reference: p.Reference, Order: p.Order,
		PaidAt: p.PaidAt.UnixMilli(), Refs: []string{ref, consumerRef(p.Consumer)}}
	if p.By != (Actor{}) {
		d.By = &p.By
	}
	amt := ledger.Amount(p.Amount)
	_, err = s.store.Append(context.WithoutCancel(ctx), ledger.Draft{Kind: KindCreditBalance, Subject: string(p.Consumer),
		Postings: []ledger.Posting{
			{Account: account.BankRepayments, Amount: amt, Currency: p.Currency},
			{Account: account.ConsumerBalance(string(p.Consumer)), Amount: -amt, Currency: p.Currency},
		}, Data: mustJSON(d)})
	if err != nil {
		return false, fmt.Errorf("checkout: record a credit balance: %w", err)
	}
	return false, nil
}

// Balance returns the credit balance kassa owes consumer c in currency
// (zero or more).
func (s *Service) Balance(ctx context.Context, c ConsumerID, currency string) (int64, error) {
	b, err := s.store.Balance(ctx, account.ConsumerBalance(string(c)), currency)
	if err != nil {
		return 0, err
	}
	return -int64(b), nil
}
