package region

import (
	"context"

	"kassa/cards"
	"kassa/reconcile"
)

// settlementSource reads the acquirer's settlement files through the
// region's acquirer client.
func settlementSource(c *cards.Client) reconcile.Source {
	return reconcile.SourceFunc(func(ctx context.Context, day string) ([]reconcile.Line, error) {
		ls, err := c.Settlement(ctx, day)
		if err != nil {
			return nil, err
		}
		out := make([]reconcile.Line, len(ls))
		for i, l := range ls {
			out[i] = reconcile.Line{Line: l.Line, Raw: l.Raw, Type: l.Type, OperationID: l.OperationID, Payment: l.Payment,
				Reference: l.Reference, IdempotencyKey: l.IdempotencyKey, Amount: l.Amount, Currency: l.Currency}
		}
		return out, nil
	})
}

// newReconciler builds the reconciliation of the acquirer's settlement
// files, reading them from source.
func (r *Region) newReconciler(source reconcile.Source, opts settings) *reconcile.Reconciler {
	regions := []string{r.cfg.Region}
	for _, p := range r.cfg.Peers {
		regions = append(regions, p.ID)
	}
	return reconcile.New(r.ledger, source, reconcile.Config{Region: r.cfg.Region, Regions: regions,
		Settings: r.cfg.Reconciliation, Now: opts.now, Logger: r.log})
}

// reconcileSettlements runs the previous day's reconciliation when it is
// due here, checking every reconciliation.interval until ctx is done.
func (r *Region) reconcileSettlements(ctx context.Context) {
	every(ctx, r.cfg.Reconciliation.Interval, func() {
		if _, err := r.recon.Scheduled(ctx); err != nil {
			r.log.Error("reconcile the acquirer's settlement file", "err", err)
		}
	})
}

// Reconciler returns the region's reconciliation of the acquirer's
// settlement files.
func (r *Region) Reconciler() *reconcile.Reconciler { return r.recon }
