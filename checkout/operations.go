package checkout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"kassa/account"
	"kassa/ledger"
)

// AmountError is an amount outside what the order allows.
type AmountError struct {
	Requested, Allowed int64
	What               string
}

func (e *AmountError) Error() string {
	return fmt.Sprintf("amount %d exceeds the %d that can be %s", e.Requested, e.Allowed, e.What)
}

// Capture captures amount (0: everything not yet captured or released) of
// an authorized order. Captures never exceed the authorization: the amount
// is spent from capture rights this region owns, under a ledger guard.
func (s *Service) Capture(ctx context.Context, merchantID string, oid OrderID, key string, amount int64, hash string) (Order, bool, error) {
	return s.CaptureBy(ctx, Actor{}, merchantID, oid, key, amount, hash)
}

// CaptureBy is Capture done by staff: the capture entry names by.
func (s *Service) CaptureBy(ctx context.Context, by Actor, merchantID string, oid OrderID, key string, amount int64, hash string) (Order, bool, error) {
	return s.operate(ctx, by, merchantID, oid, "capture", key, hash, func(st *orderState) (ledger.Draft, error) {
		switch st.Status {
		case "authorized", "part_captured":
		case "expired":
			return ledger.Draft{}, fmt.Errorf("%w: the authorization expired on %s; extend it before it expires", ErrInvalidState, st.ExpiresAt.Format(time.RFC3339))
		default:
			return ledger.Draft{}, fmt.Errorf("%w: order is %s", ErrInvalidState, st.Status)
		}
		if s.cfg.Now().After(st.ExpiresAt) {
			return ledger.Draft{}, fmt.Errorf("%w: the authorization of the rest expired on %s", ErrInvalidState, st.ExpiresAt.Format(time.RFC3339))
		}
		if st.open() <= 0 {
			return ledger.Draft{}, fmt.Errorf("%w: nothing left to capture (order is %s)", ErrInvalidState, st.Status)
		}
		amount, err := within(amount, st.open(), "captured")
		if err != nil {
			return ledger.Draft{}, err
		}
		if st.Method == "card" {
			return s.requestDraft(st, "capture", amount, st.auth.Payment), nil
		}
		cur := ledger.Amount(amount)
		rights := account.CaptureRights(string(oid)).In(s.cfg.Region)
		d := ledger.Draft{Kind: KindOrderCaptured, Postings: []ledger.Posting{
			{Account: rights, Amount: -cur, Currency: st.Currency},
			{Account: account.RefundRights(string(oid)).In(s.cfg.Region), Amount: cur, Currency: st.Currency},
			{Account: debtor(st.Method, st.Consumer), Amount: cur, Currency: st.Currency},
			{Account: account.MerchantPayable(st.Merchant), Amount: -cur, Currency: st.Currency},
		}, Guards: []ledger.Guard{{Account: rights, Currency: st.Currency}}}
		if h := st.auth.Credit; h != nil {
			// The consumer now owes what was captured, by the schedule.
			d.Postings = append(d.Postings,
				ledger.Posting{Account: account.DebtRights(string(oid)).In(s.cfg.Region), Amount: cur, Currency: st.Currency},
				ledger.Posting{Account: account.Owed(string(oid)), Amount: -cur, Currency: st.Currency})
			d.Data = mustJSON(opData{Consumer: h.Consumer, Due: schedule(st.Method, amount, s.cfg.Now(), s.cfg.InvoiceDays)})
		}
		return d, nil
	}, func(st *orderState) (account.Rights, int64) {
		if amount == 0 {
			return account.CaptureRights(string(oid)), st.open()
		}
		return account.CaptureRights(string(oid)), amount
	})
}

// Refund refunds amount (0: everything captured and not yet refunded).
// Refunds never exceed the captures: they are spent from refund rights.
func (s *Service) Refund(ctx context.Context, merchantID string, oid OrderID, key string, amount int64, hash string) (Order, bool, error) {
	return s.RefundBy(ctx, Actor{}, merchantID, oid, key, amount, hash)
}

// RefundBy is Refund done by staff: the refund entry names by.
func (s *Service) RefundBy(ctx context.Context, by Actor, merchantID string, oid OrderID, key string, amount int64, hash string) (Order, bool, error) {
	return s.operate(ctx, by, merchantID, oid, "refund", key, hash, func(st *orderState) (ledger.Draft, error) {
		open := st.Captured - st.Refunded - st.refunding
		if open <= 0 {
			return ledger.Draft{}, fmt.Errorf("%w: nothing captured to refund (order is %s)", ErrInvalidState, st.Status)
		}
		amount, err := within(amount, open, "refunded")
		if err != nil {
			return ledger.Draft{}, err
		}
		if st.Method == "card" {
			return s.requestDraft(st, "refund", amount, st.auth.Payment), nil
		}
		cur := ledger.Amount(amount)
		rights := account.RefundRights(string(oid)).In(s.cfg.Region)
		d := ledger.Draft{Kind: KindOrderRefunded, Postings: []ledger.Posting{
			{Account: rights, Amount: -cur, Currency: st.Currency},
			{Account: account.Refunded(string(oid)), Amount: cur, Currency: st.Currency},
			{Account: account.MerchantPayable(st.Merchant), Amount: cur, Currency: st.Currency},
			{Account: debtor(st.Method, st.Consumer), Amount: -cur, Currency: st.Currency},
		}, Guards: []ledger.Guard{{Account: rights, Currency: st.Currency}}}
		if h := st.auth.Credit; h != nil {
			// A refund settles the consumer's debt as far as it is unpaid
			// (what was repaid already is owed back to the consumer), and
			// gives that much exposure back.
			if err := s.settleDebt(ctx, &d, st, h, amount); err != nil {
				return ledger.Draft{}, err
			}
		}
		return d, nil
	}, func(st *orderState) (account.Rights, int64) {
		if amount == 0 {
			return account.RefundRights(string(oid)), st.Captured - st.Refunded - st.refunding
		}
		return account.RefundRights(string(oid)), amount
	})
}

// Cancel releases everything not captured; an order with captures cannot be
// cancelled (release the rest instead).
func (s *Service) Cancel(ctx context.Context, merchantID string, oid OrderID, key, hash string) (Order, bool, error) {
	return s.release(ctx, Actor{}, merchantID, oid, "cancel", key, hash)
}

// CancelBy is Cancel done by staff: the cancel entry names by.
func (s *Service) CancelBy(ctx context.Context, by Actor, merchantID string, oid OrderID, key, hash string) (Order, bool, error) {
	return s.release(ctx, by, merchantID, oid, "cancel", key, hash)
}

// Release releases the part of the authorization not captured.
func (s *Service) Release(ctx context.Context, merchantID string, oid OrderID, key, hash string) (Order, bool, error) {
	return s.release(ctx, Actor{}, merchantID, oid, "release", key, hash)
}

// ReleaseBy is Release done by staff: the release entry names by.
func (s *Service) ReleaseBy(ctx context.Context, by Actor, merchantID string, oid OrderID, key, hash string) (Order, bool, error) {
	return s.release(ctx, by, merchantID, oid, "release", key, hash)
}

func (s *Service) release(ctx context.Context, by Actor, merchantID string, oid OrderID, op, key, hash string) (Order, bool, error) {
	kind := KindOrderReleased
	if op == "cancel" {
		kind = KindOrderCancelled
	}
	return s.operate(ctx, by, merchantID, oid, op, key, hash, func(st *orderState) (ledger.Draft, error) {
		if st.Status != "authorized" && st.Status != "part_captured" && st.Status != "expired" {
			return ledger.Draft{}, fmt.Errorf("%w: order is %s", ErrInvalidState, st.Status)
		}
		if op == "cancel" && st.Captured+st.capturing > 0 {
			return ledger.Draft{}, fmt.Errorf("%w: order has captures; release the rest or refund", ErrInvalidState)
		}
		open := st.open()
		if open <= 0 {
			return ledger.Draft{}, fmt.Errorf("%w: nothing left to release", ErrInvalidState)
		}
		if st.Method == "card" {
			return s.requestDraft(st, op, open, st.auth.Payment), nil
		}
		cur := ledger.Amount(open)
		rights := account.CaptureRights(string(oid)).In(s.cfg.Region)
		back := st.returnable(st.auth.Credit, open)
		d := ledger.Draft{Kind: kind, Postings: append([]ledger.Posting{
			{Account: rights, Amount: -cur, Currency: st.Currency},
			{Account: account.Authorized(string(oid)), Amount: cur, Currency: st.Currency},
		}, creditReturn(st.auth.Credit, st.Currency, s.cfg.Region, back)...), Guards: []ledger.Guard{{Account: rights, Currency: st.Currency}}}
		if back > 0 {
			d.Data = mustJSON(opData{Returned: back, Hold: st.auth.Credit.Region})
		}
		return d, nil
	}, func(st *orderState) (account.Rights, int64) {
		return account.CaptureRights(string(oid)), st.open()
	})
}

// Extend moves the authorization's expiry to AuthTTL from now (or from the
// current expiry, if later), but never beyond MaxAuthLifetime after the
// authorization: an extension that would go further stops there, and once
// the expiry is there, Extend returns ErrInvalidState saying until when the
// authorization lasts.
func (s *Service) Extend(ctx context.Context, merchantID string, oid OrderID, key, hash string) (Order, bool, error) {
	return s.ExtendBy(ctx, Actor{}, merchantID, oid, key, hash)
}

// ExtendBy is Extend done by staff: the extension entry names by.
func (s *Service) ExtendBy(ctx context.Context, by Actor, merchantID string, oid OrderID, key, hash string) (Order, bool, error) {
	return s.operate(ctx, by, merchantID, oid, "extend", key, hash, func(st *orderState) (ledger.Draft, error) {
		if st.Status != "authorized" && st.Status != "part_captured" {
			return ledger.Draft{}, fmt.Errorf("%w: order is %s", ErrInvalidState, st.Status)
		}
		// From the winning authorization's timestamp, which every region
		// reads the same, so every region caps at the same instant.
		limit := st.CreatedAt.Add(MaxAuthLifetime)
		if !st.ExpiresAt.Before(limit) {
			return ledger.Draft{}, fmt.Errorf("%w: the authorization cannot be extended beyond %d days after it was authorized (%s); it expires on %s",
				ErrInvalidState, int(MaxAuthLifetime.Hours()/24), st.CreatedAt.Format(time.RFC3339), st.ExpiresAt.Format(time.RFC3339))
		}
		from := s.cfg.Now()
		if st.ExpiresAt.After(from) {
			from = st.ExpiresAt
		}
		until := from.Add(s.cfg.AuthTTL)
		if until.After(limit) {
			until = limit
		}
		return ledger.Draft{Kind: KindOrderExtended, Data: mustJSON(opData{ExpiresAt: until.UnixMilli()})}, nil
	}, nil)
}

// operate runs one idempotent operation on an order: it replays an earlier
// operation under the same key, makes sure this region owns the rights the
// operation spends (asking their owner if not), and appends the entry,
// naming by if staff did it. A card operation's entry is a request: the
// acquirer is called after it is written, and the answer recorded.
func (s *Service) operate(ctx context.Context, by Actor, merchantID string, oid OrderID, op, key, hash string,
	build func(*orderState) (ledger.Draft, error), needs func(*orderState) (rights account.Rights, amount int64)) (Order, bool, error) {
	opID := operationID(op, oid, merchantID, key)
	o, replayed, perform, err := s.operateLocked(ctx, by, merchantID, oid, opID, op, hash, build, needs)
	if err != nil || perform == performNone {
		return o, replayed, err
	}
	o, err = s.perform(ctx, oid, opID, perform == performFirst)
	return o, replayed, err
}

// What operateLocked leaves to do after the order's lock is let go.
const (
	performNone  = iota
	performFirst // the request was just written: call the acquirer
	performAgain // a replayed request still pending here: call again
)

func (s *Service) operateLocked(ctx context.Context, by Actor, merchantID string, oid OrderID, opID, op, hash string,
	build func(*orderState) (ledger.Draft, error), needs func(*orderState) (rights account.Rights, amount int64)) (Order, bool, int, error) {
	defer s.lock(string(oid))()
	asked := false // rights are asked for at most once per call
	for {
		st, err := s.orderHere(ctx, oid)
		if err != nil {
			return Order{}, false, performNone, err
		}
		// An empty merchant is support staff (repayments), who may act on
		// any merchant's order.
		if (merchantID != "" && st.Merchant != merchantID) || st.Status == "" {
			return Order{}, false, performNone, ErrNotFound
		}
		if st.winner == nil {
			return Order{}, false, performNone, fmt.Errorf("%w: order is %s", ErrInvalidState, st.Status)
		}
		if prev, ok := st.ops[opID]; ok && !st.retry[opID] {
			if prev.RequestHash != hash {
				return Order{}, false, performNone, ErrIdempotencyConflict
			}
			if err := st.refusal(opID); err != nil {
				return st.answer(opID), true, performNone, err
			}
			if _, ok := st.calls[callKey(opID, s.cfg.Region)]; ok {
				return st.answer(opID), true, performAgain, nil
			}
			// The same answer as the first time: the order right after it.
			then := st.asOf(func(e *ledger.Entry) bool { return opIDOf(e) == opID })
			then.Operation = st.answer(opID).Operation
			return then, true, performNone, nil
		}
		if voided, err := s.voidLostAuthorization(ctx, st); err != nil {
			return Order{}, false, performNone, err
		} else if voided {
			continue // look again, with the void folded in
		}
		d, err := build(st)
		if err != nil {
			return Order{}, false, performNone, err
		}
		if needs != nil && !asked {
			rights, want := needs(st)
			have, err := s.store.Balance(ctx, rights.In(s.cfg.Region), st.Currency)
			if err != nil {
				return Order{}, false, performNone, err
			}
			if int64(have) < want {
				// The rights are elsewhere: ask for them, then look again
				// (the answer also brings any operation made there under
				// this key).
				asked = true
				if err := s.acquireRights(ctx, st, rights, want-int64(have)); err != nil {
					return Order{}, false, performNone, err
				}
				continue
			}
		}
		var data opData
		if len(d.Data) > 0 {
			_ = jsonUnmarshal(d.Data, &data)
		}
		data.ID, data.RequestHash, data.Op = opID, hash, op
		by.stamp(&data)
		for _, p := range d.Postings {
			if p.Amount > 0 && p.Account != account.MerchantPayable(st.Merchant) {
				data.Amount = int64(p.Amount)
				break
			}
		}
		if d.Kind == KindOrderCaptured || d.Kind == KindOrderRefunded {
			data.Currency, data.Merchant, data.Method = st.Currency, st.Merchant, st.Method
			settlementRefs(&data, s.cfg.Now(), false)
		}
		d.Subject, d.Data = string(oid), mustJSON(data)
		e, err := s.store.Append(context.WithoutCancel(ctx), d)
		var ge *ledger.GuardError
		if errors.As(err, &ge) {
			return Order{}, false, performNone, fmt.Errorf("%w: %v", ErrRightsUnavailable, err)
		}
		if err != nil {
			return Order{}, false, performNone, fmt.Errorf("checkout: record %s: %w", op, err)
		}
		if st, err = st.with(e, s.cfg.Now()); err != nil {
			return Order{}, false, performNone, err
		}
		if isRequest(e.Kind) {
			s.owe(oid)
			return st.answer(opID), false, performFirst, nil
		}
		return st.answer(opID), false, performNone, nil
	}
}

// acquireRights asks the regions that hold rights on the order (as far as
// this region knows) to transfer want of them here.
func (s *Service) acquireRights(ctx context.Context, st *orderState, rights account.Rights, want int64) error {
	if s.rights == nil {
		return ErrRightsUnavailable
	}
	var last error = ErrRightsUnavailable
	for _, peer := range s.cfg.Peers {
		have, err := s.store.Balance(ctx, rights.In(peer), st.Currency)
		if err != nil || have <= 0 {
			continue
		}
		n := min(int64(have), want)
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = s.rights.RequestRights(rctx, peer, string(st.ID), rights.Prefix(), n)
		cancel()
		var down interface{ PeerDown() bool }
		if errors.As(err, &down) && down.PeerDown() {
			// The owner is known to be down: not asked, no wait.
			s.log.Debug("rights owner down, not asked", "order", st.ID, "owner", peer)
			last = fmt.Errorf("%w: %s: %v", ErrRightsUnavailable, peer, err)
			continue
		}
		if err != nil {
			s.log.Warn("rights request failed", "order", st.ID, "owner", peer, "err", err)
			last = fmt.Errorf("%w: %s: %v", ErrRightsUnavailable, peer, err)
			continue
		}
		want -= n
		if want <= 0 {
			return nil
		}
	}
	return last
}

// GrantRights transfers up to amount of this region's rights named by
// prefix (an order's capture, refund or debt rights, account.Rights.Prefix)
// on order subject to region to. It is what a peer's rights request runs.
func (s *Service) GrantRights(ctx context.Context, subject, prefix, to string, amount int64) (ledger.Entry, error) {
	oid := OrderID(subject)
	rights, err := account.ParseRights(prefix)
	if err != nil || rights.ID() != subject || rights.Kind() == account.KindCreditRights {
		return ledger.Entry{}, fmt.Errorf("checkout: no such rights account %q", prefix)
	}
	defer s.lock(subject)()
	st, err := s.order(ctx, oid)
	if err != nil {
		return ledger.Entry{}, err
	}
	if st.winner == nil {
		return ledger.Entry{}, ErrNotFound
	}
	mine := rights.In(s.cfg.Region)
	have, err := s.store.Balance(ctx, mine, st.Currency)
	if err != nil {
		return ledger.Entry{}, err
	}
	n := min(int64(have), amount)
	if n <= 0 {
		return ledger.Entry{}, errNoRightsHere
	}
	kind := "capture"
	switch rights.Kind() {
	case account.KindRefundRights:
		kind = "refund"
	case account.KindDebtRights:
		kind = "debt"
	}
	d := ledger.Draft{
		Kind: KindRightsTransferred, Subject: subject,
		Postings: []ledger.Posting{
			{Account: mine, Amount: -ledger.Amount(n), Currency: st.Currency},
			{Account: rights.In(to), Amount: ledger.Amount(n), Currency: st.Currency},
		},
		Guards: []ledger.Guard{{Account: mine, Currency: st.Currency}},
		Data:   mustJSON(opData{From: s.cfg.Region, To: to, Rights: kind, Amount: n}),
	}
	if kind == "refund" && st.auth.Credit != nil {
		// Debt travels with refund rights, so the region that refunds can
		// give the consumer's exposure back.
		debt := account.DebtRights(string(oid)).In(s.cfg.Region)
		have, err := s.store.Balance(ctx, debt, st.Currency)
		if err != nil {
			return ledger.Entry{}, err
		}
		if m := min(int64(have), n); m > 0 {
			d.Postings = append(d.Postings,
				ledger.Posting{Account: debt, Amount: -ledger.Amount(m), Currency: st.Currency},
				ledger.Posting{Account: account.DebtRights(string(oid)).In(to), Amount: ledger.Amount(m), Currency: st.Currency})
			d.Guards = append(d.Guards, ledger.Guard{Account: debt, Currency: st.Currency})
		}
	}
	return s.store.Append(context.WithoutCancel(ctx), d)
}

// voidLostAuthorization voids a duplicate authorization this region wrote
// for an order another region authorized first (one session, one order):
// its capture rights go back, and the order's conflict is resolved.
// It reports whether it wrote anything.
func (s *Service) voidLostAuthorization(ctx context.Context, st *orderState) (bool, error) {
	for _, l := range st.losers {
		if string(l.Origin) != s.cfg.Region || st.voided[s.cfg.Region] {
			continue
		}
		var a authData
		if err := jsonUnmarshal(l.Data, &a); err != nil {
			return false, err
		}
		rights := account.CaptureRights(string(st.ID)).In(s.cfg.Region)
		have, err := s.store.Balance(ctx, rights, a.Currency)
		if err != nil {
			return false, err
		}
		// Give back what the duplicate authorization added; rights the
		// winner's captures here used stay spent.
		n := min(int64(have), a.Amount)
		reason := "duplicate authorization lost to " + string(st.winner.Origin)
		if a.Method == "card" && a.Payment != "" && a.Payment != st.auth.Payment && n > 0 {
			// A payment of its own at the acquirer: void it there (the
			// reconciler makes the call).
			d := s.requestDraft(st, "void", n, a.Payment)
			var data opData
			_ = jsonUnmarshal(d.Data, &data)
			data.ID, data.Reason = operationID("void", st.ID, "", s.cfg.Region), reason
			d.Subject, d.Data = string(st.ID), mustJSON(data)
			if _, err := s.store.Append(context.WithoutCancel(ctx), d); err != nil {
				return false, fmt.Errorf("checkout: void duplicate authorization: %w", err)
			}
			s.owe(st.ID)
			s.log.Warn("voiding a duplicate card authorization from a partition", "order", st.ID, "winner", st.winner.Origin)
			return true, nil
		}
		data := opData{Amount: n, Reason: reason}
		d := ledger.Draft{Kind: KindOrderVoided, Subject: string(st.ID)}
		if n > 0 {
			back := st.returnable(a.Credit, n)
			d.Postings = append([]ledger.Posting{
				{Account: rights, Amount: -ledger.Amount(n), Currency: a.Currency},
				{Account: account.Authorized(string(st.ID)), Amount: ledger.Amount(n), Currency: a.Currency},
			}, creditReturn(a.Credit, a.Currency, s.cfg.Region, back)...)
			d.Guards = []ledger.Guard{{Account: rights, Currency: a.Currency}}
			if back > 0 {
				data.Returned, data.Hold = back, a.Credit.Region
			}
		}
		d.Data = mustJSON(data)
		if _, err := s.store.Append(context.WithoutCancel(ctx), d); err != nil {
			return false, fmt.Errorf("checkout: void duplicate authorization: %w", err)
		}
		s.log.Warn("voided a duplicate authorization from a partition", "order", st.ID, "winner", st.winner.Origin)
		return true, nil
	}
	return false, nil
}

// settleDebt adds to d the postings that settle up to amount of a credit
// order's debt from the debt rights this region owns, and give that much
// exposure back.
func (s *Service) settleDebt(ctx context.Context, d *ledger.Draft, st *orderState, h *CreditHold, amount int64) error {
	debt := account.DebtRights(string(st.ID)).In(s.cfg.Region)
	have, err := s.store.Balance(ctx, debt, st.Currency)
	if err != nil {
		return err
	}
	y := min(int64(have), amount)
	data := opData{Consumer: h.Consumer}
	if y > 0 {
		d.Postings = append(d.Postings,
			ledger.Posting{Account: debt, Amount: -ledger.Amount(y), Currency: st.Currency},
			ledger.Posting{Account: account.Owed(string(st.ID)), Amount: ledger.Amount(y), Currency: st.Currency})
		back := st.returnable(h, y)
		d.Postings = append(d.Postings, creditReturn(h, st.Currency, s.cfg.Region, back)...)
		d.Guards = append(d.Guards, ledger.Guard{Account: debt, Currency: st.Currency})
		data.Debt, data.Returned, data.Hold = y, back, h.Region
	}
	d.Data = mustJSON(data)
	return nil
}

// Repayment is money a consumer paid towards a credit order, as a bank
// file or support staff report it.
type Repayment struct {
	Amount    int64 // what the consumer paid
	PaidAt    time.Time
	Reference string // the bank's reference; one repayment per reference
	// CapAtOwed applies at most what is owed and leaves the rest unapplied
	// (a bank file: the money arrived whatever it says); without it an
	// amount over what is owed is an *AmountError.
	CapAtOwed bool
	// By is the staff member who registered or imported the repayment
	// (zero for none); the repayment entry names them.
	By Actor
}

// ErrNothingOwed is a repayment of an order on which nothing is owed (not
// a credit order, nothing captured, or repaid already).
var ErrNothingOwed = errors.New("checkout: nothing is owed on this order")

// Repay records a repayment of a pay-later or pay-in-3 order: the debt
// goes down and the consumer's credit comes back to this region. It is
// idempotent per reference: the same reference and amount replay the first
// answer whatever is owed now (a bank file can be imported again), another
// amount is ErrIdempotencyConflict. A region without the order's debt
// rights asks their owner, and answers ErrRightsUnavailable if it cannot be
// reached (the import can be re-run).
func (s *Service) Repay(ctx context.Context, oid OrderID, p Repayment) (Order, bool, error) {
	hash := RequestHash([]byte("repay"), []byte(fmt.Sprint(p.Amount)), []byte(p.Reference))
	applied := func(st *orderState) int64 {
		if p.CapAtOwed {
			return min(p.Amount, st.debt())
		}
		return p.Amount
	}
	return s.operate(ctx, p.By, "", oid, "repay", repaymentKey(p.Reference), hash, func(st *orderState) (ledger.Draft, error) {
		h := st.auth.Credit
		if h == nil {
			return ledger.Draft{}, fmt.Errorf("%w: order %s is not a credit order (method %s)", ErrNothingOwed, st.ID, st.Method)
		}
		owed := st.debt()
		if owed <= 0 {
			return ledger.Draft{}, fmt.Errorf("%w: order %s is %s, %d captured, %d repaid", ErrNothingOwed, st.ID, st.Status, st.Captured, st.Repaid)
		}
		amount := applied(st)
		if p.Amount <= 0 || amount > owed {
			return ledger.Draft{}, &AmountError{Requested: p.Amount, Allowed: owed, What: "repaid"}
		}
		y := ledger.Amount(amount)
		debt := account.DebtRights(string(oid)).In(s.cfg.Region)
		back := st.returnable(h, amount)
		return ledger.Draft{Kind: KindOrderRepaid, Postings: append([]ledger.Posting{
			{Account: account.Repaid(string(oid)), Amount: y, Currency: st.Currency},
			{Account: debt, Amount: -y, Currency: st.Currency},
			{Account: account.BankRepayments, Amount: y, Currency: st.Currency},
			{Account: debtor(st.Method, st.Consumer), Amount: -y, Currency: st.Currency},
		}, creditReturn(h, st.Currency, s.cfg.Region, back)...),
			Guards: []ledger.Guard{{Account: debt, Currency: st.Currency}},
			Data: mustJSON(opData{Consumer: h.Consumer, Debt: amount, Returned: back, Hold: h.Region, Paid: p.Amount,
				PaidAt: p.PaidAt.UnixMilli(), Reference: p.Reference}),
		}, nil
	}, func(st *orderState) (account.Rights, int64) {
		return account.DebtRights(string(oid)), applied(st)
	})
}

func repaymentKey(reference string) string { return "ref:" + reference }

// Repaid returns what the repayment under reference applied to the order's
// debt, and whether there is one.
func (s *Service) Repaid(ctx context.Context, oid OrderID, reference string) (int64, bool, error) {
	st, err := s.order(ctx, oid)
	if err != nil {
		return 0, false, err
	}
	op, ok := st.ops[operationID("repay", oid, "", repaymentKey(reference))]
	return op.Amount, ok, nil
}

// errNoRightsHere answers a peer's rights request for an order on which
// this region owns none of the rights asked for.
var errNoRightsHere error = noRightsHere{}

type noRightsHere struct{}

func (noRightsHere) Error() string  { return "checkout: this region owns none of these rights" }
func (noRightsHere) NoRights() bool { return true }
func (noRightsHere) Unwrap() error  { return ErrRightsUnavailable }

// within is the amount an operation moves: all that is open when the
// request names none (0), else the request, which must not exceed what is
// open (an *AmountError saying what was asked and what was allowed).
func within(amount, open int64, what string) (int64, error) {
	if amount == 0 {
		amount = open
	}
	if amount < 0 || amount > open {
		return 0, &AmountError{Requested: amount, Allowed: open, What: what}
	}
	return amount, nil
}
