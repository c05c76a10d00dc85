package ledger

import (
	"errors"
	"fmt"
)

// Errors returned by the ledger. Every rejection wraps one of them, with the
// detail in the message, so callers test with errors.Is and show the text.
var (
	ErrMalformed      = errors.New("ledger: malformed entry")
	ErrUnbalanced     = errors.New("ledger: postings do not balance")
	ErrSignature      = errors.New("ledger: bad signature")
	ErrUnknownOrigin  = errors.New("ledger: unknown origin")
	ErrChain          = errors.New("ledger: broken chain")
	ErrGap            = errors.New("ledger: entry out of order")
	ErrFork           = errors.New("ledger: fork")
	ErrStorageFull    = errors.New("ledger: storage full")
	ErrClosed         = errors.New("ledger: store closed")
	ErrNotFound       = errors.New("ledger: not found")
	ErrCorrupt        = errors.New("ledger: database corrupt")
	ErrRegionMismatch = errors.New("ledger: database belongs to another region")
	ErrInsufficient   = errors.New("ledger: insufficient balance")
)

// GuardError is a draft refused because a guard would fail. It unwraps to
// ErrInsufficient.
type GuardError struct {
	Account  string
	Currency string
	Balance  Amount // the balance before the draft
	Min      Amount
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("ledger: insufficient balance: %s is %d %s, the entry needs it to stay at least %d", e.Account, e.Balance, e.Currency, e.Min)
}

func (e *GuardError) Unwrap() error { return ErrInsufficient }

// RejectError describes an entry that was refused. It names the entry and
// unwraps to the sentinel that says why.
type RejectError struct {
	Origin RegionID
	Seq    uint64
	ID     Hash
	Err    error
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("entry %s/%d (%s): %v", e.Origin, e.Seq, e.ID.Short(), e.Err)
}

func (e *RejectError) Unwrap() error { return e.Err }

// Reason returns a short, stable label for err, for metrics and status pages.
func Reason(err error) string {
	for _, r := range []struct {
		err   error
		label string
	}{
		{ErrMalformed, "malformed"},
		{ErrUnbalanced, "unbalanced"},
		{ErrSignature, "signature"},
		{ErrUnknownOrigin, "unknown_origin"},
		{ErrChain, "chain"},
		{ErrGap, "gap"},
		{ErrFork, "fork"},
		{ErrStorageFull, "storage_full"},
		{ErrClosed, "closed"},
	} {
		if errors.Is(err, r.err) {
			return r.label
		}
	}
	return "other"
}
