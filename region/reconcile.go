package region

import (
	"context"

	"kassa/reconcile"
)

// newReconciler builds the reconciliation of the acquirer's settlement
// files, reading them from source (nil: staff see that the file cannot be
// read, and the schedule does nothing).
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
