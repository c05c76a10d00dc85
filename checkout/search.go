package checkout

import (
	"context"
	"strings"
)

// FindMerchants returns the merchants, configured or from the ledger,
// whose id is q, or whose name contains q in any case, ordered by id.
func (s *Service) FindMerchants(ctx context.Context, q string) ([]MerchantInfo, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, nil
	}
	all, err := s.Merchants(ctx)
	if err != nil {
		return nil, err
	}
	lower := strings.ToLower(q)
	var out []MerchantInfo
	for _, m := range all {
		if m.ID == q || strings.Contains(strings.ToLower(m.Name), lower) {
			out = append(out, m)
		}
	}
	return out, nil
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
	return s.ordersOf(ctx, "", ids, limit)
}
