package checkout

import (
	"context"
	"errors"
	"sort"
	"strings"
)

// MerchantInfo is a merchant as support staff see it.
type MerchantInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Merchants returns every merchant this region knows, ordered by id. It is
// the one list of merchants support staff search: whatever adds merchants
// to the service adds them here.
func (s *Service) Merchants() []MerchantInfo {
	out := make([]MerchantInfo, 0, len(s.merchants))
	for _, m := range s.merchants {
		name := m.name
		if name == "" {
			name = m.id
		}
		out = append(out, MerchantInfo{ID: m.id, Name: name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// FindMerchants returns the merchants whose id is q, or whose name
// contains q in any case, ordered by id.
func (s *Service) FindMerchants(q string) []MerchantInfo {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil
	}
	lower := strings.ToLower(q)
	var out []MerchantInfo
	for _, m := range s.Merchants() {
		if m.ID == q || strings.Contains(strings.ToLower(m.Name), lower) {
			out = append(out, m)
		}
	}
	return out
}

// OrdersByConsumer returns the orders of a consumer, whatever the method,
// newest first, at most limit, and whether there are more. It finds orders
// whose authorization names the consumer among its refs: an authorization
// written before authorizations had refs is not found here (the credit
// engine still knows the consumer's credit orders).
func (s *Service) OrdersByConsumer(ctx context.Context, c ConsumerID, limit int) ([]Order, bool, error) {
	return s.ordersByRef(ctx, consumerRef(c), limit)
}

// OrdersWithReference returns the orders with a merchant reference in any
// merchant, newest first, at most limit, and whether there are more. Like
// OrdersByConsumer it finds authorizations that have refs.
func (s *Service) OrdersWithReference(ctx context.Context, reference string, limit int) ([]Order, bool, error) {
	return s.ordersByRef(ctx, referenceRef(reference), limit)
}

func (s *Service) ordersByRef(ctx context.Context, ref string, limit int) ([]Order, bool, error) {
	es, err := s.store.EntriesByRef(ctx, ref)
	if err != nil {
		return nil, false, err
	}
	// Newest first: entries come oldest first.
	var ids []OrderID
	seen := map[OrderID]bool{}
	for i := len(es) - 1; i >= 0; i-- {
		id := OrderID(es[i].Subject)
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	var out []Order
	for _, id := range ids {
		if len(out) == limit {
			return out, true, nil
		}
		o, err := s.Order(ctx, "", id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		out = append(out, o)
	}
	return out, false, nil
}
