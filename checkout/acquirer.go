package checkout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"kassa/account"
	"kassa/cards"
	"kassa/ledger"
)

// Entry kinds of card operations at the acquirer (docs/cards.md, "Card
// operations"). A capture, refund or void of a card order is written in
// two steps: a request, which moves the amount from the region's rights
// into its acquiring account before the acquirer is called, and exactly
// one outcome written by the same region: order.captured, order.refunded,
// order.cancelled, order.released or order.voided when the acquirer did
// it, order.operation_failed when it did not.
const (
	KindCaptureRequested = "order.capture_requested"
	KindRefundRequested  = "order.refund_requested"
	KindVoidRequested    = "order.void_requested"
	KindOperationFailed  = "order.operation_failed"
)

// Statuses of a Movement.
const (
	MovementSucceeded = "succeeded"
	MovementPending   = "pending"
	MovementFailed    = "failed"
)

// AcquirerCall is what a card operation's entries record of its call to the
// acquirer: the request entry the type, key and payment; the outcome the
// acquirer's operation id and when the acquirer did it.
type AcquirerCall struct {
	Type      string `json:"type"` // capture, refund or void
	Key       string `json:"key"`  // the Idempotency-Key sent: the operation id
	Payment   string `json:"payment,omitempty"`
	Operation string `json:"operation,omitempty"`
	At        int64  `json:"at,omitempty"` // unix ms, by the acquirer's clock
}

// RefusedError is a card operation the acquirer refused: nothing moved,
// and the rights the request had set aside are back.
type RefusedError struct {
	Op   string // capture, refund, cancel or release
	Code string // the acquirer's refusal code
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("checkout: the acquirer refused the %s: %s", e.Op, e.Code)
}

func (e *RefusedError) Unwrap() error { return ErrAcquirerRefused }

// Refusal codes kassa records itself.
const (
	codeUnavailable = "acquirer_unavailable"
	codeRejected    = "acquirer_rejected"
)

// call is a card operation requested and not yet answered, as folded.
type call struct {
	op     string // capture, refund, cancel, release, void
	amount int64
	region string
	data   opData
}

// callKey names one region's call for an operation: should the same
// operation be requested in two regions cut off from each other (a
// merchant's retry sent to both), each spends its own rights and makes a
// call of its own, under a key of its own.
func callKey(opID, region string) string { return opID + "@" + region }

// callType is the acquirer operation an order operation is.
func callType(op string) string {
	switch op {
	case "capture", "refund":
		return op
	}
	return "void"
}

// requestKind is the entry kind that requests op.
func requestKind(op string) string {
	switch op {
	case "capture":
		return KindCaptureRequested
	case "refund":
		return KindRefundRequested
	}
	return KindVoidRequested
}

// isRequest reports whether kind requests a card operation.
func isRequest(kind string) bool {
	return kind == KindCaptureRequested || kind == KindRefundRequested || kind == KindVoidRequested
}

// sourceRights are the rights an operation spends: what a refusal gives
// back.
func sourceRights(op string, oid OrderID) account.Rights {
	if op == "refund" {
		return account.RefundRights(string(oid))
	}
	return account.CaptureRights(string(oid))
}

// requestDraft sets amount aside for a card operation: from this region's
// rights into its acquiring account, under a guard, so that no other
// operation can spend it while the acquirer is asked.
func (s *Service) requestDraft(st *orderState, op string, amount int64, payment string) ledger.Draft {
	cur := ledger.Amount(amount)
	rights := sourceRights(op, st.ID).In(s.cfg.Region)
	return ledger.Draft{Kind: requestKind(op), Postings: []ledger.Posting{
		{Account: rights, Amount: -cur, Currency: st.Currency},
		{Account: account.Acquiring(string(st.ID), s.cfg.Region), Amount: cur, Currency: st.Currency},
	}, Guards: []ledger.Guard{{Account: rights, Currency: st.Currency}},
		Data: mustJSON(opData{Op: op, Amount: amount, Currency: st.Currency, Merchant: st.Merchant, Method: st.Method,
			Acquirer: &AcquirerCall{Type: callType(op), Payment: payment}})}
}

// perform makes the acquirer call of the card operation opID that this
// region requested, and records its outcome. first is true for the call
// made right after the request was written: if the acquirer cannot be
// reached then, no call under the key ever reached it, so the rights go
// back and the caller gets ErrAcquirerUnavailable (a 503 means nothing was
// done). Any later call (a retry of a pending operation, the reconciler)
// leaves the operation pending instead: an earlier call may have done it.
func (s *Service) perform(ctx context.Context, oid OrderID, opID string, first bool) (Order, error) {
	if !s.enter(opID) {
		// The same operation is being performed by another goroutine:
		// it is pending until that call ends.
		st, err := s.order(ctx, oid)
		if err != nil {
			return Order{}, err
		}
		return st.answer(opID), nil
	}
	defer s.leave(opID)
	st, err := s.order(ctx, oid)
	if err != nil {
		return Order{}, err
	}
	c, ok := st.calls[callKey(opID, s.cfg.Region)]
	if !ok {
		return st.answer(opID), st.refusal(opID)
	}
	a := *c.data.Acquirer
	a.Key = callKey(opID, s.cfg.Region)
	if a.Payment == "" {
		// An authorization written before payments were recorded:
		// find it at the acquirer by the authorization's key.
		res, found, err := s.acquirer.Lookup(ctx, string(oid)+":"+st.auth.RequestHash)
		switch {
		case err != nil:
			return s.unanswered(ctx, oid, opID, c, first, err)
		case !found || !res.Approved:
			return s.outcome(ctx, oid, opID, cards.OperationResult{RefusalCode: "payment_not_found"}, false)
		}
		a.Payment = res.ID
	}
	req := cards.Operation{IdempotencyKey: a.Key, Payment: a.Payment, Amount: c.amount, Currency: c.data.Currency, Reference: string(oid)}
	actx := context.WithoutCancel(ctx)
	var res cards.OperationResult
	switch a.Type {
	case "capture":
		res, err = s.acquirer.Capture(actx, req)
	case "refund":
		res, err = s.acquirer.Refund(actx, req)
	default:
		res, err = s.acquirer.Void(actx, req)
	}
	if err != nil {
		return s.unanswered(ctx, oid, opID, c, first, err)
	}
	if res.Payment == "" {
		res.Payment = a.Payment
	}
	return s.outcome(ctx, oid, opID, res, false)
}

// unanswered handles a call without a definite answer.
func (s *Service) unanswered(ctx context.Context, oid OrderID, opID string, c *call, first bool, err error) (Order, error) {
	switch {
	case errors.Is(err, cards.ErrUnknownOutcome):
		s.log.Warn("card operation outcome unknown; the reconciler settles it", "order", oid, "op", c.op, "err", err)
	case errors.Is(err, cards.ErrUnavailable) && !first:
		s.log.Warn("acquirer unavailable; the card operation stays pending", "order", oid, "op", c.op, "err", err)
	case errors.Is(err, cards.ErrUnavailable):
		o, oerr := s.outcome(ctx, oid, opID, cards.OperationResult{RefusalCode: codeUnavailable}, true)
		if oerr != nil && !errors.Is(oerr, ErrAcquirerRefused) {
			return o, oerr
		}
		return o, fmt.Errorf("%w: %v", ErrAcquirerUnavailable, err)
	default:
		// ErrRejected or ErrIdempotencyConflict: the acquirer did not do
		// it, and repeating the call would not change that.
		s.log.Error("acquirer rejected a card operation", "order", oid, "op", c.op, "err", err)
		return s.outcome(ctx, oid, opID, cards.OperationResult{RefusalCode: codeRejected}, false)
	}
	st, oerr := s.order(ctx, oid)
	if oerr != nil {
		return Order{}, oerr
	}
	return st.answer(opID), nil
}

// outcome records the acquirer's answer to opID, unless an answer is
// recorded already, and returns the order as the caller is answered. A
// refusal returns a *RefusedError; retry marks a refusal that was no
// answer at all (the acquirer could not be reached) so the same
// Idempotency-Key may try again.
func (s *Service) outcome(ctx context.Context, oid OrderID, opID string, res cards.OperationResult, retry bool) (Order, error) {
	defer s.lock(string(oid))()
	st, err := s.order(ctx, oid)
	if err != nil {
		return Order{}, err
	}
	c, ok := st.calls[callKey(opID, s.cfg.Region)]
	if !ok {
		return st.answer(opID), st.refusal(opID) // answered meanwhile
	}
	cur := ledger.Amount(c.amount)
	acq := account.Acquiring(string(oid), s.cfg.Region)
	d := c.data
	call := *d.Acquirer
	call.Key, call.Operation = callKey(opID, s.cfg.Region), res.ID
	if res.Payment != "" {
		call.Payment = res.Payment
	}
	if !res.Created.IsZero() {
		call.At = res.Created.UnixMilli()
	}
	d.Acquirer = &call
	draft := ledger.Draft{Subject: string(oid), Guards: []ledger.Guard{{Account: acq, Currency: d.Currency}}}
	if !res.Succeeded {
		d.Code, d.Retryable = res.RefusalCode, retry
		if d.Code == "" {
			d.Code = "refused"
		}
		draft.Kind = KindOperationFailed
		draft.Postings = []ledger.Posting{
			{Account: acq, Amount: -cur, Currency: d.Currency},
			{Account: sourceRights(c.op, oid).In(s.cfg.Region), Amount: cur, Currency: d.Currency},
		}
	} else {
		at := res.Created
		if at.IsZero() {
			at = s.cfg.Now()
		}
		switch c.op {
		case "capture":
			draft.Kind = KindOrderCaptured
			draft.Postings = []ledger.Posting{
				{Account: acq, Amount: -cur, Currency: d.Currency},
				{Account: account.RefundRights(string(oid)).In(s.cfg.Region), Amount: cur, Currency: d.Currency},
				{Account: debtor(st.Method, st.Consumer), Amount: cur, Currency: d.Currency},
				{Account: account.MerchantPayable(st.Merchant), Amount: -cur, Currency: d.Currency},
			}
			settlementRefs(&d, at, true)
		case "refund":
			draft.Kind = KindOrderRefunded
			draft.Postings = []ledger.Posting{
				{Account: acq, Amount: -cur, Currency: d.Currency},
				{Account: account.Refunded(string(oid)), Amount: cur, Currency: d.Currency},
				{Account: account.MerchantPayable(st.Merchant), Amount: cur, Currency: d.Currency},
				{Account: debtor(st.Method, st.Consumer), Amount: -cur, Currency: d.Currency},
			}
			settlementRefs(&d, at, true)
		default:
			draft.Kind = map[string]string{"cancel": KindOrderCancelled, "release": KindOrderReleased, "void": KindOrderVoided}[c.op]
			draft.Postings = []ledger.Posting{
				{Account: acq, Amount: -cur, Currency: d.Currency},
				{Account: account.Authorized(string(oid)), Amount: cur, Currency: d.Currency},
			}
		}
	}
	draft.Data = mustJSON(d)
	e, err := s.store.Append(context.WithoutCancel(ctx), draft)
	if err != nil {
		return Order{}, fmt.Errorf("checkout: record the acquirer's answer to %s: %w", c.op, err)
	}
	if st, err = st.with(e, s.cfg.Now()); err != nil {
		return Order{}, err
	}
	if d.Code != "" && !retry {
		s.log.Warn("the acquirer refused a card operation", "order", oid, "op", c.op, "code", d.Code)
	}
	return st.answer(opID), st.refusal(opID)
}

// settlementRefs stamps a capture or refund with the day it settles on
// (for card operations the acquirer's, else kassa's) and the refs the
// settlement reports and the reconciliation find it by.
func settlementRefs(d *opData, at time.Time, card bool) {
	d.Day = at.UTC().Format(time.DateOnly)
	d.Refs = append(d.Refs, "settle:"+d.Merchant+":"+d.Day)
	if card {
		d.Refs = append(d.Refs, "acquirer-day:"+d.Day)
	}
}

// answer is the order as a request for opID is answered: as it is, with
// the operation.
func (st *orderState) answer(opID string) Order {
	o := st.Order
	if m, ok := st.movement(opID); ok {
		o.Operation = &m
	}
	return o
}

// refusal returns the *RefusedError of opID if the acquirer refused it
// for good, else nil.
func (st *orderState) refusal(opID string) error {
	m, ok := st.movement(opID)
	if !ok || m.Status != MovementFailed || st.retry[opID] {
		return nil
	}
	return &RefusedError{Op: m.Type, Code: m.FailureCode}
}

// movement finds the operation opID among the order's movements.
func (st *orderState) movement(opID string) (Movement, bool) {
	for _, l := range [][]Movement{st.Captures, st.Refunds, st.Voids} {
		for _, m := range l {
			if m.ID == opID {
				return m, true
			}
		}
	}
	return Movement{}, false
}

// enter marks opID as being performed by this process, and reports false
// if it already is.
func (s *Service) enter(opID string) bool {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	if s.inflight[opID] {
		return false
	}
	s.inflight[opID] = true
	return true
}

func (s *Service) leave(opID string) {
	s.pendingMu.Lock()
	delete(s.inflight, opID)
	s.pendingMu.Unlock()
}

// owe notes that oid has a card operation this region must see answered.
func (s *Service) owe(oid OrderID) {
	s.pendingMu.Lock()
	s.owed[oid] = true
	s.pendingMu.Unlock()
}

// settleOperations performs, again, the card operations this region
// requested and has no answer for: the same call with the same
// Idempotency-Key, which the acquirer does at most once. It returns how
// many it settled.
func (s *Service) settleOperations(ctx context.Context) (int, error) {
	s.pendingMu.Lock()
	if err := s.loadOwn(ctx, &s.owedLoaded, s.owed, KindCaptureRequested, KindRefundRequested, KindVoidRequested); err != nil {
		s.pendingMu.Unlock()
		return 0, err
	}
	var owed []OrderID
	for oid := range s.owed {
		owed = append(owed, oid)
	}
	s.pendingMu.Unlock()
	settled := 0
	for _, oid := range owed {
		st, err := s.order(ctx, oid)
		if err != nil {
			return settled, err
		}
		mine := 0
		for _, c := range st.calls {
			if c.region != s.cfg.Region {
				continue
			}
			opID := c.data.ID
			mine++
			o, err := s.perform(ctx, oid, opID, false)
			if err != nil && !errors.Is(err, ErrAcquirerRefused) {
				return settled, err
			}
			if m, ok := movementOf(o, opID); ok && m.Status != MovementPending {
				settled++
				mine--
			}
		}
		if mine == 0 {
			s.pendingMu.Lock()
			delete(s.owed, oid)
			s.pendingMu.Unlock()
		}
	}
	return settled, nil
}

// loadOwn, once (loaded says whether it has), marks in into the orders
// with an entry of one of kinds that this region wrote: what the
// reconciler must look at again after a start. The caller holds
// s.pendingMu.
func (s *Service) loadOwn(ctx context.Context, loaded *bool, into map[OrderID]bool, kinds ...string) error {
	if *loaded {
		return nil
	}
	for _, kind := range kinds {
		es, err := s.store.EntriesByKind(ctx, kind)
		if err != nil {
			return err
		}
		for _, e := range es {
			if e.Origin == ledger.RegionID(s.cfg.Region) {
				into[OrderID(e.Subject)] = true
			}
		}
	}
	*loaded = true
	return nil
}

func movementOf(o Order, opID string) (Movement, bool) {
	if o.Operation != nil && o.Operation.ID == opID {
		return *o.Operation, true
	}
	return Movement{}, false
}
