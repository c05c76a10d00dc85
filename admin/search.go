package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"kassa/checkout"
)

// maxFound bounds the orders one source of a search contributes.
const maxFound = 50

// Found is what a search found: GET /admin/api/search?q= and the search
// page.
type Found struct {
	Query     string                  `json:"query"`
	Hint      string                  `json:"hint,omitempty"` // why the query could not be used, if it could not
	Orders    []checkout.Order        `json:"orders"`
	Consumers []FoundConsumer         `json:"consumers"`
	Merchants []checkout.MerchantInfo `json:"merchants"`
}

// FoundConsumer is a consumer a search found: one whose credit this region
// knows.
type FoundConsumer struct {
	ID    checkout.ConsumerID `json:"id"`
	Email string              `json:"email,omitempty"` // masked
	Home  string              `json:"home"`
	Note  string              `json:"note"`
	// Orders are the consumer's credit orders as the credit engine knows
	// them, newest first, at most 50.
	Orders []checkout.OrderID `json:"-"`
}

// find searches for q: an order by id, by merchant reference (in every
// merchant) or by its shopper's email, whatever the method; a consumer by
// email or id; a merchant by id or name. Each is an indexed lookup.
func (a *API) find(ctx context.Context, q string) (Found, error) {
	f := Found{Query: q, Orders: []checkout.Order{}, Consumers: []FoundConsumer{}, Merchants: []checkout.MerchantInfo{}}
	if q == "" {
		return f, nil
	}
	if len(q) > 254 || strings.ContainsFunc(q, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		f.Hint = "That is longer than any order id, reference or email address."
		return f, nil
	}
	seen := map[checkout.OrderID]bool{}
	add := func(os []checkout.Order) {
		for _, o := range os {
			if !seen[o.ID] {
				seen[o.ID] = true
				f.Orders = append(f.Orders, o)
			}
		}
	}
	byID := func(ids []checkout.OrderID) error {
		for i, id := range ids {
			if i == maxFound {
				break
			}
			if seen[id] {
				continue
			}
			o, err := a.svc.Order(ctx, "", id)
			if errors.Is(err, checkout.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			add([]checkout.Order{o})
		}
		return nil
	}
	if strings.HasPrefix(q, "ord_") && len(q) <= 64 {
		if err := byID([]checkout.OrderID{checkout.OrderID(q)}); err != nil {
			return f, err
		}
	}
	if len(q) <= 64 && !strings.ContainsAny(q, " \t@") {
		// Authorizations with refs are found by reference in one lookup;
		// older ones by their merchant's reference, merchant by merchant.
		os, _, err := a.svc.OrdersWithReference(ctx, q, maxFound)
		if err != nil {
			return f, err
		}
		add(os)
		ids, err := a.merchantIDs(ctx)
		if err != nil {
			return f, err
		}
		for _, m := range ids {
			os, _, err := a.svc.OrdersByReference(ctx, m, q, "", maxFound)
			if err != nil {
				return f, err
			}
			add(os)
		}
	}
	var consumer checkout.ConsumerID
	email := ""
	switch {
	case strings.Contains(q, "@"):
		if at := strings.LastIndex(q, "@"); at < 1 || at == len(q)-1 || strings.ContainsAny(q, " \t<>") {
			f.Hint = "That looks like an email address, but not a whole one: search for name@example.com."
			break
		}
		consumer, email = a.svc.ConsumerID(q), checkout.MaskEmail(q)
	case strings.HasPrefix(q, "con_") && len(q) <= 64:
		consumer = checkout.ConsumerID(q)
	}
	if consumer != "" {
		os, _, err := a.svc.OrdersByConsumer(ctx, consumer, maxFound)
		if err != nil {
			return f, err
		}
		add(os)
		c, ok, err := a.findConsumer(ctx, consumer, email)
		if err != nil {
			return f, err
		}
		if ok {
			f.Consumers = append(f.Consumers, c)
			// Credit orders authorized before authorizations had refs.
			if err := byID(c.Orders); err != nil {
				return f, err
			}
		}
	}
	if len(q) <= 64 {
		ms, err := a.svc.FindMerchants(ctx, q)
		if err != nil {
			return f, err
		}
		f.Merchants = append(f.Merchants, ms...)
	}
	return f, nil
}

// merchantIDs are the merchants whose references a search looks in: the
// service's and any the UI was configured with.
func (a *API) merchantIDs(ctx context.Context) ([]string, error) {
	ids := append([]string(nil), a.ui.Merchants...)
	all, err := a.svc.Merchants(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range all {
		if !slices.Contains(a.ui.Merchants, m.ID) {
			ids = append(ids, m.ID)
		}
	}
	return ids, nil
}

// findConsumer reports whether this region knows a consumer's credit.
func (a *API) findConsumer(ctx context.Context, id checkout.ConsumerID, email string) (FoundConsumer, bool, error) {
	if a.credit == nil {
		return FoundConsumer{}, false, nil
	}
	c, err := a.credit.Consumer(ctx, id)
	if err != nil || len(c.Lines) == 0 {
		return FoundConsumer{}, false, err
	}
	row := FoundConsumer{ID: id, Email: email, Home: c.Home}
	var orders int64
	var curs []string
	for _, l := range c.Lines {
		orders += l.CreditOrders
		curs = append(curs, l.Currency)
		row.Orders = append(row.Orders, l.Orders...)
	}
	row.Note = fmt.Sprintf("%d credit order(s); credit in %s", orders, strings.Join(curs, ", "))
	return row, true, nil
}

// searchPage is the search form and what it found.
type searchPage struct {
	Query     string
	Searched  bool
	Hint      string
	Orders    []orderRow
	Consumers []FoundConsumer
	Merchants []checkout.MerchantInfo
}

type orderRow struct {
	ID, Merchant, Reference, Status, Method, Amount string
	Created                                         time.Time
}

func rowOf(o checkout.Order) orderRow {
	return orderRow{ID: string(o.ID), Merchant: o.Merchant, Reference: o.MerchantReference, Status: o.Status,
		Method: o.Method, Amount: money(o.Amount, o.Currency), Created: o.CreatedAt}
}

// search answers GET /admin/search?q=: an order id, a merchant reference
// (in every merchant), a shopper's email, a consumer id, or a merchant's id
// or name. Whatever q is, the answer is a page, not an error.
func (a *API) search(w http.ResponseWriter, r *http.Request, _ session, v *view) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	f, err := a.find(r.Context(), q)
	if err != nil {
		a.internalError(w, r, v, err)
		return
	}
	p := searchPage{Query: q, Searched: q != "", Hint: f.Hint, Consumers: f.Consumers, Merchants: f.Merchants}
	for _, o := range f.Orders {
		p.Orders = append(p.Orders, rowOf(o))
	}
	v.Title, v.Section, v.Main = "Search – kassa admin", "search", &p
	a.render(w, r, http.StatusOK, "search", v)
}

// searchAPI answers GET /admin/api/search?q= with what the search page
// shows, as JSON.
func (a *API) searchAPI(w http.ResponseWriter, r *http.Request, _ user) {
	f, err := a.find(r.Context(), strings.TrimSpace(r.URL.Query().Get("q")))
	if err != nil {
		a.log.Error("admin: search", "err", err)
		writeInternal(w)
		return
	}
	writeJSON(w, http.StatusOK, f)
}
