package outbox

import (
	"context"
	"time"

	"kassa/ledger"
)

// awaitRecord hands a delivered job to recordLoop, which records it with
// the deliveries that follow within RecordWait. The job no longer holds an
// attempt's slot, nor its group's next message back: it was delivered, so
// what comes after it may go. It stays tracked, so the low-water mark keeps
// it until its record is written.
func (o *Outbox) awaitRecord(j *job) {
	o.mu.Lock()
	j.running = false
	o.busy--
	if _, ok := o.jobs[j.request]; !ok || j.settled {
		// Settled elsewhere while it was delivered here.
		o.removeLocked(j)
		o.mu.Unlock()
		return
	}
	j.awaitedAt = time.Now()
	o.leaveGroupLocked(j)
	o.toRecord = append(o.toRecord, j)
	o.mu.Unlock()
	select {
	case o.recordKick <- struct{}{}:
	default:
	}
}

// recordLoop writes the records of delivered jobs until ctx is done: a
// record as soon as RecordBatch deliveries wait, or when the oldest waiting
// has waited RecordWait. What is left when ctx ends is Run's to record.
func (o *Outbox) recordLoop(ctx context.Context) {
	for {
		o.mu.Lock()
		n := len(o.toRecord)
		var due time.Time
		if n > 0 {
			due = o.toRecord[0].awaitedAt.Add(o.cfg.RecordWait)
		}
		o.mu.Unlock()
		if n == 0 || (n < o.cfg.RecordBatch && time.Now().Before(due)) {
			var timeout <-chan time.Time
			var timer *time.Timer
			if n > 0 {
				timer = time.NewTimer(time.Until(due))
				timeout = timer.C
			}
			select {
			case <-ctx.Done():
			case <-o.recordKick:
			case <-timeout:
			}
			if timer != nil {
				timer.Stop()
			}
			if ctx.Err() != nil {
				return
			}
			continue
		}
		if err := o.recordBatch(ctx); err != nil {
			// Tried again after the shortest wait, as a failed write of a
			// single record is.
			select {
			case <-ctx.Done():
				return
			case <-time.After(o.cfg.RetryMin):
			}
		}
	}
}

func (o *Outbox) waitingRecords() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.toRecord)
}

// recordAll records every delivered job still waiting, in batches, until
// one write fails or ctx ends; what is left is delivered again after a
// restart.
func (o *Outbox) recordAll(ctx context.Context) {
	for o.waitingRecords() > 0 && ctx.Err() == nil {
		if o.recordBatch(ctx) != nil {
			return
		}
	}
}

// recordBatch writes one Delivered entry for up to RecordBatch of the
// waiting jobs, the oldest first: the form of a single delivery's record
// when there is one, else a record of several. On failure they wait again
// at the front.
func (o *Outbox) recordBatch(ctx context.Context) error {
	o.mu.Lock()
	var batch []*job
	var recs []record
	rest := o.toRecord[:0]
	for _, j := range o.toRecord {
		switch {
		case o.jobs[j.request] != j:
			// Settled by another region's record meanwhile.
		case len(batch) < o.cfg.RecordBatch:
			batch = append(batch, j)
			recs = append(recs, o.delivered(j))
		default:
			rest = append(rest, j)
		}
	}
	o.toRecord = rest
	o.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	w := recs[0]
	if len(recs) > 1 {
		w = record{Deliveries: recs}
		for _, r := range recs {
			w.Refs = append(w.Refs, r.Message)
		}
	}
	_, err := o.store.Append(context.WithoutCancel(ctx), ledger.Draft{Kind: o.cfg.Kinds.Delivered, Subject: recs[0].Message, Data: mustJSON(w)})
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.toRecord = append(batch, o.toRecord...)
		o.log.Error("record "+o.cfg.Name+" outcomes", "deliveries", len(batch), "first", batch[0].message.Short(), "err", err)
		return err
	}
	for _, j := range batch {
		if o.jobs[j.request] == j {
			o.removeLocked(j)
		}
		if j.origin != o.self {
			o.log.Info(o.cfg.Name+" delivered on behalf of its region", "event", j.message.Short(), "type", j.kind, "subject", j.group, "origin", j.origin, "attempts", j.attempts)
		}
	}
	o.log.Debug(o.cfg.Name+"s delivered", "deliveries", len(batch), "first", batch[0].message.Short())
	return nil
}
