package scoring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"kassa/account"
	"kassa/checkout"
	"kassa/ledger"
)

// Granting and moving credit rights: the home's grant, answering peers'
// requests, and rebalancing ahead of demand.

// grantPostings grant c a line of limit in cur, owned by region.
func grantPostings(c checkout.ConsumerID, cur string, limit int64, region string) []ledger.Posting {
	return []ledger.Posting{
		{Account: account.CreditLimit(string(c)), Amount: -ledger.Amount(limit), Currency: cur},
		{Account: account.CreditRights(string(c)).In(region), Amount: ledger.Amount(limit), Currency: cur},
	}
}

// grantAndTransfer grants c's line in cur as its home and gives to the
// rights it asked for in the same entry: one entry instead of a grant and
// a transfer, for a new consumer's first checkout in another region.
func (e *Engine) grantAndTransfer(ctx context.Context, p *Policy, c checkout.ConsumerID, cur, to string, amount int64) (ledger.Entry, error) {
	limit := p.CreditLimit[cur]
	if limit <= 0 {
		return ledger.Entry{}, ErrNoRights
	}
	n := min(limit, amount)
	if limit > amount {
		n += int64(p.GrantShare * float64(limit-amount))
	}
	data, _ := json.Marshal(map[string]any{"consumer": c, "currency": cur, "limit": limit, "home": e.cfg.Region,
		"to": to, "amount": n, "cause": "request"})
	mine := account.CreditRights(string(c)).In(e.cfg.Region)
	entry, err := e.store.Append(context.WithoutCancel(ctx), ledger.Draft{
		Kind: KindCreditGranted, Subject: account.LineSubject(string(c), cur), Data: data,
		Postings: []ledger.Posting{
			{Account: account.CreditLimit(string(c)), Amount: -ledger.Amount(limit), Currency: cur},
			{Account: mine, Amount: ledger.Amount(limit - n), Currency: cur},
			{Account: account.CreditRights(string(c)).In(to), Amount: ledger.Amount(n), Currency: cur},
		},
		Guards: []ledger.Guard{{Account: account.CreditLimit(string(c)), Currency: cur, Min: -ledger.Amount(limit)}},
	})
	if err == nil {
		e.transfers.WithLabelValues("request").Inc()
	}
	return entry, err
}

// GrantRights answers a peer's request for a consumer's credit rights
// (subject account.LineSubject, account the consumer's
// account.CreditRights prefix): it grants what was asked plus GrantShare
// of what this region would keep, so the asker has room for the consumer's
// next orders. The home region grants the line first if there is none yet.
func (e *Engine) GrantRights(ctx context.Context, subject, prefix, to string, amount int64) (ledger.Entry, error) {
	line, err := account.ParseLine(subject)
	c, cur := checkout.ConsumerID(line.Consumer), line.Currency
	if err != nil || prefix != account.CreditRights(line.Consumer).Prefix() || to == e.cfg.Region || !contains(e.cfg.Regions, to) {
		return ledger.Entry{}, fmt.Errorf("scoring: not a credit rights request: subject %q, account %q", subject, prefix)
	}
	p := e.policy.Load()
	mine := account.CreditRights(string(c)).In(e.cfg.Region)
	have, err := e.balance(ctx, mine, cur)
	if err != nil {
		return ledger.Entry{}, err
	}
	if have <= 0 && Home(c, e.cfg.Regions) == e.cfg.Region {
		lim, err := e.balance(ctx, account.CreditLimit(string(c)), cur)
		if err != nil {
			return ledger.Entry{}, err
		}
		if lim == 0 {
			if e.cfg.MayGrant != nil && !e.cfg.MayGrant() {
				return ledger.Entry{}, ErrCatchingUp
			}
			entry, err := e.grantAndTransfer(ctx, p, c, cur, to, amount)
			if !errors.Is(err, ledger.ErrInsufficient) {
				return entry, err
			}
			// Granted meanwhile (a concurrent request or checkout): give
			// from the line as it is.
			if have, err = e.balance(ctx, mine, cur); err != nil {
				return ledger.Entry{}, err
			}
		}
	}
	n := min(have, amount)
	if have > amount {
		n += int64(p.GrantShare * float64(have-amount))
	}
	if n <= 0 {
		return ledger.Entry{}, ErrNoRights
	}
	e.transfers.WithLabelValues("request").Inc()
	return e.transfer(ctx, c, cur, to, n, "request")
}

func (e *Engine) transfer(ctx context.Context, c checkout.ConsumerID, cur, to string, n int64, cause string) (ledger.Entry, error) {
	mine := account.CreditRights(string(c)).In(e.cfg.Region)
	data, _ := json.Marshal(map[string]any{"from": e.cfg.Region, "to": to, "rights": "credit", "amount": n, "cause": cause})
	return e.store.Append(context.WithoutCancel(ctx), ledger.Draft{
		Kind: checkout.KindRightsTransferred, Subject: account.LineSubject(string(c), cur), Data: data,
		Postings: []ledger.Posting{
			{Account: mine, Amount: -ledger.Amount(n), Currency: cur},
			{Account: account.CreditRights(string(c)).In(to), Amount: ledger.Amount(n), Currency: cur},
		},
		Guards: []ledger.Guard{{Account: mine, Currency: cur}},
	})
}

// Rebalance moves rights ahead of demand: for consumers whose home is this
// region and who recently shopped on credit in another region, it tops
// that region's rights up to RebalanceShare of the limit, so the region can
// approve the consumer's next order even if it is cut off from home. It
// returns how many transfers it wrote.
func (e *Engine) Rebalance(ctx context.Context) (int, error) {
	if err := e.book.catchUp(ctx); err != nil {
		return 0, err
	}
	p := e.policy.Load()
	if p.RebalanceShare <= 0 {
		e.book.takeTouched()
		return 0, nil
	}
	now := e.cfg.Now()
	n := 0
	touched := e.book.takeTouched()
	for i, k := range touched {
		if Home(k.consumer, e.cfg.Regions) != e.cfg.Region {
			continue
		}
		l, err := e.line(ctx, k.consumer, k.currency)
		if err != nil {
			e.book.touch(touched[i:]...)
			return n, err
		}
		if !l.exists {
			continue
		}
		h := e.book.get(k, now, 0)
		target := int64(p.RebalanceShare * float64(l.limit))
		regions := sortedKeys(h.regions)
		for _, r := range regions {
			if r == e.cfg.Region || !contains(e.cfg.Regions, r) || now.Sub(h.regions[r]) > p.RebalanceWindow {
				continue
			}
			mine := l.byRegion[e.cfg.Region]
			want := min(target-l.byRegion[r], mine)
			if want <= 0 {
				continue
			}
			if _, err := e.transfer(ctx, k.consumer, k.currency, r, want, "rebalance"); err != nil {
				if errors.Is(err, ledger.ErrInsufficient) {
					continue // spent meanwhile
				}
				e.book.touch(touched[i:]...) // the next run tries again
				return n, err
			}
			e.transfers.WithLabelValues("rebalance").Inc()
			l.byRegion[e.cfg.Region] -= want
			l.byRegion[r] += want
			n++
		}
	}
	return n, nil
}
