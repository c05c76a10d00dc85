package checkout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"kassa/account"
	"kassa/cards"
	"kassa/ledger"
)

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("checkout: stored entry data: %w", err)
	}
	return nil
}

func sortStrings(s []string) { sort.Strings(s) }

func defaultLocale(country string) string {
	switch country {
	case "SE":
		return "sv-SE"
	case "DE", "AT":
		return "de-" + country
	case "FI":
		return "fi-FI"
	case "NO":
		return "nb-NO"
	case "DK":
		return "da-DK"
	case "NL":
		return "nl-NL"
	case "GB":
		return "en-GB"
	}
	return "en-US"
}

// AuthorizeHash fingerprints an authorization request for idempotency. The
// card enters only as its keyed fingerprint and expiry: an unkeyed hash of a
// card number could be reversed by trying every number.
func (s *Service) AuthorizeHash(req AuthorizeRequest) string {
	c := req.Card
	req.Card = nil
	parts := [][]byte{[]byte("authorize"), mustJSON(req)}
	if c != nil {
		f := s.cfg.FingerprintKey.Facts(cards.Card{Number: c.Number, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear})
		parts = append(parts, []byte(fmt.Sprintf("%s|%d|%d", f.Fingerprint, c.ExpMonth, c.ExpYear)))
	}
	return RequestHash(parts...)
}

// Authorize decides on a session and, when approved, creates its order. The
// card number and CVC in req are used for the acquirer call and dropped.
// A declined decision returns the order view with status "declined" and
// outcome "declined" or "card_only"; the session stays open for another try.
// A card call whose outcome is unknown returns status "pending".
func (s *Service) Authorize(ctx context.Context, merchantID string, sid SessionID, req AuthorizeRequest, hash string) (Order, bool, error) {
	return s.authorize(ctx, merchantID, sid, "", req, hash)
}

// AuthorizeWithKey is Authorize under a merchant's Idempotency-Key: the same
// key with the same request replays the result (a decline too), the same key
// with another request is ErrIdempotencyConflict, and another key for a
// session that already has an order is ErrSessionComplete.
func (s *Service) AuthorizeWithKey(ctx context.Context, merchantID string, sid SessionID, key string, req AuthorizeRequest, hash string) (Order, bool, error) {
	return s.authorize(ctx, merchantID, sid, derive("key_", "authorize", merchantID, key), req, hash)
}

func (s *Service) authorize(ctx context.Context, merchantID string, sid SessionID, key string, req AuthorizeRequest, hash string) (Order, bool, error) {
	oid := OrderFor(sid)
	defer s.lock(string(oid))()
	sess, data, st, err := s.sessionHere(ctx, sid)
	if err != nil {
		return Order{}, false, err
	}
	if merchantID != "" && data.Merchant != merchantID {
		return Order{}, false, ErrNotFound
	}
	if o, replayed, done, err := decided(st, key, hash); done {
		return o, replayed, err
	}
	if sess.Status == "expired" {
		return Order{}, false, ErrSessionExpired
	}
	if err := req.Validate(); err != nil {
		return Order{}, false, err
	}
	now := s.cfg.Now()
	cid := s.cfg.Consumers.ID(req.Consumer.Email)
	a := authData{
		Session: sid, Merchant: data.Merchant, MerchantReference: data.MerchantReference,
		Ref: orderRef(data.Merchant, data.MerchantReference), Method: req.Method,
		Refs:   []string{consumerRef(cid), referenceRef(data.MerchantReference)},
		Amount: data.Amount, Currency: data.Currency,
		Consumer: &ConsumerView{
			ID: cid, Email: MaskEmail(req.Consumer.Email), GivenName: strings.TrimSpace(req.Consumer.GivenName),
			FamilyName: strings.TrimSpace(req.Consumer.FamilyName), Country: req.Consumer.Country,
		},
		ExpiresAt: now.Add(s.cfg.AuthTTL).UnixMilli(), RequestHash: hash, Key: key,
		Notify: &data.URLs.Notification,
	}

	if req.Method == "card" {
		card := cards.Card{Number: req.Card.Number, ExpMonth: req.Card.ExpMonth, ExpYear: req.Card.ExpYear, CVC: req.Card.CVC}
		if err := cards.Check(card, now); err != nil {
			var fe *cards.FieldError
			if errors.As(err, &fe) {
				return Order{}, false, &FieldError{Field: fe.Field, Message: fe.Message}
			}
			return Order{}, false, err
		}
		facts := s.cfg.FingerprintKey.Facts(card)
		a.Card = &CardFacts{Brand: facts.Brand, Last4: facts.Last4, ExpMonth: facts.ExpMonth, ExpYear: facts.ExpYear, Fingerprint: facts.Fingerprint}
		// One key per order and card attempt: a retry of the same attempt
		// never charges twice; another card is another attempt.
		idem := string(oid) + ":" + hash
		res, err := s.acquirer.Authorize(ctx, cards.Payment{IdempotencyKey: idem, Amount: data.Amount, Currency: data.Currency, Reference: string(oid), Card: card})
		switch {
		case errors.Is(err, cards.ErrUnknownOutcome):
			a.Decision = Decision{Outcome: "pending", Reasons: []string{"card_outcome_unknown"}}
			s.log.Warn("card authorization outcome unknown; the reconciler settles it", "order", oid, "err", err)
			return s.record(ctx, st, KindOrderPending, oid, a, nil)
		case errors.Is(err, cards.ErrUnavailable):
			// Provably never reached the acquirer: nothing was charged, so
			// the shopper can simply try again.
			return Order{}, false, fmt.Errorf("%w: %v", ErrAcquirerUnavailable, err)
		case err != nil:
			return Order{}, false, fmt.Errorf("checkout: card authorization: %w", err)
		case !res.Approved:
			a.Decision = Decision{Outcome: "declined", Reasons: []string{"card_" + res.DeclineCode}}
			return s.record(ctx, st, KindOrderDeclined, oid, a, nil)
		}
		a.Decision = Decision{Outcome: "approved", Reasons: []string{"card_approved"}}
		a.Payment = res.ID
		o, replayed, err := s.record(ctx, st, KindOrderAuthorized, oid, a, s.authPostings(oid, a))
		if ge := (*ledger.GuardError)(nil); errors.As(err, &ge) {
			// The acquirer call used the order and request as its key, so
			// an authorization of the same request elsewhere is this
			// payment.
			return s.authorizedMeanwhile(ctx, sid, key, hash, err)
		}
		return o, replayed, err
	}

	// Invoices and reminders go to the shopper: the email travels sealed,
	// as the masked one is all the ledger shows in clear.
	a.Locale = data.Locale
	if a.Contact, err = s.sealContact(oid, req.Consumer.Email); err != nil {
		return Order{}, false, fmt.Errorf("checkout: seal the shopper's email: %w", err)
	}
	in := DecisionInput{Consumer: cid, Country: req.Consumer.Country, Method: req.Method,
		Amount: data.Amount, Currency: data.Currency, Merchant: data.Merchant, Lines: data.Lines,
		OrderCountry: data.Country, NamesGiven: a.Consumer.GivenName != "" && a.Consumer.FamilyName != ""}
	// An approved decision spends rights (or budget) under guards; if a
	// concurrent decision spent them first, decide again with what is left.
	for attempt := 1; ; attempt++ {
		in.LocalOnly = attempt > 1
		d, err := s.scorer.Decide(ctx, in)
		if err != nil {
			return Order{}, false, fmt.Errorf("checkout: decision: %w", err)
		}
		a.Decision, a.Credit, a.Scoring = d, d.Credit, d.Record
		if d.Outcome != "approved" {
			return s.record(ctx, st, KindOrderDeclined, oid, a, nil)
		}
		d.Guards = append(d.Guards, ledger.Guard{Account: account.Authorized(string(oid)), Currency: a.Currency, Min: -ledger.Amount(a.Amount)})
		o, replayed, err := s.write(ctx, st, KindOrderAuthorized, oid, a, append(s.authPostings(oid, a), d.Postings...), d.Guards)
		var ge *ledger.GuardError
		if errors.As(err, &ge) && ge.Account == account.Authorized(string(oid)) {
			return s.authorizedMeanwhile(ctx, sid, key, hash, err)
		}
		if errors.As(err, &ge) {
			if attempt < 5 {
				continue
			}
			// Others keep winning the same rights or budget: answer
			// rather than fail, as a decision would without rights.
			a.Decision = Decision{Outcome: "card_only", Reasons: []string{"credit_rights_unavailable"}, Score: d.Score}
			a.Credit = nil
			return s.record(ctx, st, KindOrderDeclined, oid, a, nil)
		}
		return o, replayed, err
	}
}

// decided answers an authorization of an order that already has one (or a
// decline or a pending card outcome) from the order's state st: the same
// key and request replay it, the same key with another request is a
// conflict, and another key for an authorized session is ErrSessionComplete.
// done is false when st leaves the authorization to be decided.
func decided(st *orderState, key, hash string) (o Order, replayed, done bool, err error) {
	if st == nil {
		return Order{}, false, false, nil
	}
	var last *authData
	switch {
	case st.winner != nil:
		last = &st.auth
	case st.declined != nil:
		last = st.declined
	}
	if last != nil && key != "" && last.Key == key {
		if last.RequestHash != hash {
			return Order{}, false, true, ErrIdempotencyConflict
		}
		return st.asOfDecision(key, hash), true, true, nil
	}
	if last != nil && key == "" && last.Key == "" && last.RequestHash == hash && st.Status != "declined" {
		return st.asOfDecision(key, hash), true, true, nil
	}
	if st.winner != nil {
		return Order{}, false, true, ErrSessionComplete
	}
	if st.Status == "pending" {
		// A card outcome is being settled: nothing else may start.
		return st.Order, true, true, nil
	}
	return Order{}, false, false, nil
}

// authorizedMeanwhile answers an authorization whose write was refused by
// the order's own guard (at most one authorization per order in a
// region): another region's authorization of the same order arrived while
// this one was being decided (the same request sent there too, by a client
// that failed over). Nothing was written; the answer is the one the order
// now gives, as if the request had come after it. err is returned if the
// order still shows no authorization.
func (s *Service) authorizedMeanwhile(ctx context.Context, sid SessionID, key, hash string, err error) (Order, bool, error) {
	_, _, st, rerr := s.sessionHere(ctx, sid)
	if rerr != nil {
		return Order{}, false, err
	}
	if o, replayed, done, derr := decided(st, key, hash); done {
		return o, replayed, derr
	}
	return Order{}, false, err
}

// authPostings give the authorizing region the order's capture rights.
func (s *Service) authPostings(oid OrderID, a authData) []ledger.Posting {
	return []ledger.Posting{
		{Account: account.CaptureRights(string(oid)).In(s.cfg.Region), Amount: ledger.Amount(a.Amount), Currency: a.Currency},
		{Account: account.Authorized(string(oid)), Amount: -ledger.Amount(a.Amount), Currency: a.Currency},
	}
}

func (s *Service) record(ctx context.Context, prev *orderState, kind string, oid OrderID, a authData, postings []ledger.Posting) (Order, bool, error) {
	var guards []ledger.Guard
	if kind == KindOrderAuthorized {
		// At most one authorization per order in this region.
		guards = []ledger.Guard{{Account: account.Authorized(string(oid)), Currency: a.Currency, Min: -ledger.Amount(a.Amount)}}
	}
	return s.write(ctx, prev, kind, oid, a, postings, guards)
}

func (s *Service) write(ctx context.Context, prev *orderState, kind string, oid OrderID, a authData, postings []ledger.Posting, guards []ledger.Guard) (Order, bool, error) {
	d := ledger.Draft{Kind: kind, Subject: string(oid), Postings: postings, Data: mustJSON(a), Guards: guards}
	e, err := s.store.Append(context.WithoutCancel(ctx), d)
	if err != nil {
		return Order{}, false, fmt.Errorf("checkout: record %s: %w", kind, err)
	}
	s.pendingMu.Lock()
	if kind == KindOrderPending {
		s.pending[oid] = true
	} else {
		delete(s.pending, oid)
	}
	s.pendingMu.Unlock()
	if prev == nil {
		prev = &orderState{}
		prev.ID = oid
	}
	st, err := prev.with(e, s.cfg.Now())
	if err != nil {
		return Order{}, false, err
	}
	return st.Order, false, nil
}

// Reconcile settles card authorizations whose outcome was unknown by asking
// the acquirer under the same idempotency key, and card operations (captures,
// refunds, voids) this region requested and has no answer for by making the
// same call again under the operation's key. It returns how many it
// settled; what is still unknown stays pending for the next run. The first
// run finds what was pending before this process started.
func (s *Service) Reconcile(ctx context.Context) (int, error) {
	s.pendingMu.Lock()
	if err := s.loadOwn(ctx, &s.pendingLoaded, s.pending, KindOrderPending); err != nil {
		s.pendingMu.Unlock()
		return 0, err
	}
	var pending []OrderID
	for oid := range s.pending {
		pending = append(pending, oid)
	}
	s.pendingMu.Unlock()
	settled := 0
	for _, oid := range pending {
		n, err := s.reconcile(ctx, oid)
		if err != nil {
			return settled, err
		}
		settled += n
	}
	n, err := s.settleOperations(ctx)
	return settled + n, err
}

func (s *Service) reconcile(ctx context.Context, oid OrderID) (int, error) {
	defer s.lock(string(oid))()
	st, err := s.order(ctx, oid)
	if err != nil {
		return 0, err
	}
	if st.Status != "pending" || st.declined == nil {
		s.pendingMu.Lock()
		delete(s.pending, oid)
		s.pendingMu.Unlock()
		return 0, nil
	}
	a := *st.declined
	res, found, err := s.acquirer.Lookup(ctx, string(oid)+":"+a.RequestHash)
	if err != nil {
		return 0, nil // still unknown: try again later
	}
	switch {
	case !found:
		a.Decision = Decision{Outcome: "declined", Reasons: []string{"card_not_charged"}}
		_, _, err = s.record(ctx, st, KindOrderDeclined, oid, a, nil)
	case res.Approved:
		a.Decision = Decision{Outcome: "approved", Reasons: []string{"card_approved", "settled_by_reconciler"}}
		a.Payment = res.ID
		_, _, err = s.record(ctx, st, KindOrderAuthorized, oid, a, s.authPostings(oid, a))
	default:
		a.Decision = Decision{Outcome: "declined", Reasons: []string{"card_" + res.DeclineCode}}
		_, _, err = s.record(ctx, st, KindOrderDeclined, oid, a, nil)
	}
	if err != nil {
		return 0, err
	}
	return 1, nil
}
