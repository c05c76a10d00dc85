package outbox

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"kassa/ledger"
)

// dispatch starts the attempts that are due, as many as Concurrency allows.
func (o *Outbox) dispatch(ctx context.Context, wg *sync.WaitGroup) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.cfg.Now()
	for o.busy < o.cfg.Concurrency && o.queue.Len() > 0 && ctx.Err() == nil {
		j := o.queue[0]
		if j.next.After(now) {
			return
		}
		heap.Pop(&o.queue)
		if b := o.blockerLocked(j, now); b != nil {
			j.blocked = true
			b.waiters = append(b.waiters, j)
			continue
		}
		j.running = true
		o.busy++
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.attempt(ctx, j)
		}()
	}
}

// attempt makes one delivery attempt of j and schedules what follows.
func (o *Outbox) attempt(ctx context.Context, j *job) {
	defer o.wake()
	// Settled since it was queued: another region's record arrived, or this
	// one delivered it before a restart.
	if done, err := o.isSettled(ctx, j.message, j.request); err == nil && done {
		o.finish(j)
		return
	}
	now := o.cfg.Now()
	if j.sent {
		o.record(ctx, j, o.cfg.Kinds.Delivered, "")
		return
	}
	if j.attempts == 0 && !now.Before(j.created.Add(o.cfg.MaxAge)) {
		// Already too old when this process first got to it (the region
		// was down, or this is an old message found on a first start): the
		// recipient's time to receive it is over.
		o.record(ctx, j, o.cfg.Kinds.Failed, "not attempted within max_age")
		return
	}
	o.mu.Lock()
	m := Message{
		ID: j.message, Kind: j.kind, Group: j.group, Request: j.request, Origin: j.origin,
		Takeover: j.origin != o.self, Created: j.created, Attempt: j.attempts + 1,
	}
	o.mu.Unlock()
	receipt, err := o.ch.Send(ctx, m)
	if err == nil && receipt != nil {
		if cerr := receipt.check(); cerr != nil {
			// Nothing could record this delivery: a failed attempt, so
			// that support sees why, rather than a record that never
			// commits.
			err = fmt.Errorf("%s %s: %w", o.cfg.Name, j.message.Short(), cerr)
		}
	}
	var unsent *unsentError
	switch {
	case errors.Is(err, ErrNoRoute):
		o.finish(j)
	case ctx.Err() != nil:
		// Shutting down: not the recipient's failure. A restart delivers it.
		o.requeue(j, false)
	case errors.As(err, &unsent):
		o.retry(ctx, j, now, err.Error(), false)
	case err != nil:
		o.log.Debug(o.cfg.Name+" attempt failed", "event", j.message.Short(), "subject", j.group, "attempt", j.attempts+1, "err", err)
		o.retry(ctx, j, now, err.Error(), true)
	default:
		o.mu.Lock()
		j.attempts++
		j.sent, j.lastErr, j.receipt = true, "", receipt
		o.mu.Unlock()
		if receipt == nil && o.cfg.RecordBatch > 1 {
			o.awaitRecord(j)
			return
		}
		o.record(ctx, j, o.cfg.Kinds.Delivered, "")
	}
}

// record writes j's outcome to the ledger, which settles it in every region.
func (o *Outbox) record(ctx context.Context, j *job, kind, cause string) {
	o.mu.Lock()
	if j.settled {
		o.mu.Unlock()
		o.finish(j)
		return
	}
	w := o.delivered(j)
	if kind == o.cfg.Kinds.Delivered && j.receipt != nil {
		w.Refs, w.Content = j.receipt.Refs, j.receipt.Content
	}
	o.mu.Unlock()
	if kind == o.cfg.Kinds.Failed {
		w.Status, w.Error = "failed", cause
	}
	_, err := o.store.Append(context.WithoutCancel(ctx), ledger.Draft{Kind: kind, Subject: j.message.String(), Data: mustJSON(w)})
	if err != nil {
		// Try to record again later; a delivered message is not sent again
		// by this process, though another region may take it over.
		o.log.Error("record "+o.cfg.Name+" outcome", "event", j.message.Short(), "subject", j.group, "status", w.Status, "err", err)
		o.requeue(j, true)
		return
	}
	name := o.cfg.Name
	switch {
	case kind == o.cfg.Kinds.Failed:
		o.log.Warn(name+" given up", "event", j.message.Short(), "type", j.kind, "subject", j.group, "attempts", j.attempts, "last_error", cause)
	case w.Takeover:
		o.log.Info(name+" delivered on behalf of its region", "event", j.message.Short(), "type", j.kind, "subject", j.group, "origin", j.origin, "attempts", j.attempts)
	default:
		o.log.Debug(name+" delivered", "event", j.message.Short(), "type", j.kind, "subject", j.group, "attempts", j.attempts)
	}
	o.finish(j)
}

// delivered is the record of j's delivery; the caller holds o.mu.
func (o *Outbox) delivered(j *job) record {
	return record{
		Message: j.message.String(), Request: j.request.String(), Group: j.group, Ref: j.group,
		Type: j.kind, Status: "delivered", Attempts: j.attempts, Takeover: j.origin != o.self,
	}
}

// retry schedules j's next attempt with backoff, or gives it up when the
// next one would come after MaxAge. counted says whether this was an
// attempt at the recipient (or only at finding what to send).
func (o *Outbox) retry(ctx context.Context, j *job, now time.Time, cause string, counted bool) {
	deadline := j.created.Add(o.cfg.MaxAge)
	o.mu.Lock()
	if counted {
		j.attempts++
	}
	j.lastErr = truncate(cause, maxErrorChars)
	wait := o.backoffLocked(max(j.attempts, 1))
	j.next = now.Add(wait)
	if j.next.After(deadline) {
		j.next = deadline
	}
	giveUp := !now.Before(deadline)
	o.mu.Unlock()
	if giveUp {
		o.record(ctx, j, o.cfg.Kinds.Failed, j.lastErr)
		return
	}
	o.requeue(j, false)
}

// backoffLocked is the wait after the nth failed attempt: RetryMin doubled
// n-1 times, capped at RetryMax, with equal jitter (at least half the wait,
// so retries never bunch up at zero, and never all at the same instant
// across messages).
func (o *Outbox) backoffLocked(n int) time.Duration {
	wait := o.cfg.RetryMin
	for i := 1; i < n && wait < o.cfg.RetryMax; i++ {
		wait *= 2
	}
	wait = min(wait, o.cfg.RetryMax)
	if half := int64(wait / 2); half > 0 {
		wait = time.Duration(half + o.rng.Int64N(half+1))
	}
	return wait
}

// requeue puts j back in the queue after an attempt; soon says to try again
// after the shortest wait (a failed write of its outcome).
func (o *Outbox) requeue(j *job, soon bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	j.running = false
	o.busy--
	if _, ok := o.jobs[j.request]; !ok || j.settled {
		o.removeLocked(j)
		return
	}
	if soon {
		j.next = o.cfg.Now().Add(o.cfg.RetryMin)
	}
	heap.Push(&o.queue, j)
}

// finish forgets j after its attempt.
func (o *Outbox) finish(j *job) {
	o.mu.Lock()
	defer o.mu.Unlock()
	j.running = false
	o.busy--
	o.removeLocked(j)
}
