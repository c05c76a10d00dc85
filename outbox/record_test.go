package outbox_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"kassa/ledger"
	"kassa/outbox"
)

// batched records up to 16 deliveries in one entry.
func batched(c *outbox.Config) { c.RecordBatch = ledger.MaxRefs }

// deliveredEntries counts n's email.delivered entries.
func (n *node) deliveredEntries(t *testing.T) int {
	t.Helper()
	es, err := n.store.EntriesByKind(context.Background(), "email.delivered")
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// Deliveries made within RecordWait share a record, sixteen at most: the
// other region, holding those records, knows each message delivered and
// never takes one over, and both show each delivery as delivered.
func TestDeliveriesShareARecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rl := newRelay()
		rl.gate = make(chan struct{})
		r1, r2 := startNodesWith(t, rl, func(c *outbox.Config) { batched(c); c.Concurrency = 32 })
		var ids []ledger.Hash
		for i := range 22 {
			ids = append(ids, r1.issue(t, fmt.Sprintf("ord-%d", i)))
		}
		synctest.Wait() // all 22 at the relay
		close(rl.gate)
		time.Sleep(time.Second)
		synctest.Wait()
		for _, id := range ids {
			if as := rl.of(id); len(as) != 1 || as[0].region != "r1" || !as[0].accepted {
				t.Fatalf("message %s: got attempts %+v, want one accepted by r1", id.Short(), as)
			}
		}
		// 22 deliveries at once: a full record of 16, then the other 6.
		if got := r1.deliveredEntries(t); got != 2 {
			t.Fatalf("%d email.delivered entries for 22 deliveries at once, want 2", got)
		}
		r1.copyTo(t, r2)
		time.Sleep(3 * takeover)
		synctest.Wait()
		for _, id := range ids {
			if n := len(rl.of(id)); n != 1 {
				t.Fatalf("message %s: the relay saw %d attempts, want 1 (taken over despite its record)", id.Short(), n)
			}
		}
		for _, n := range []*node{r1, r2} {
			for _, order := range []string{"ord-0", "ord-21"} {
				if dl := n.delivery(t, order); dl.Status != "delivered" || dl.Region != "r1" || dl.Attempts != 1 || dl.SettledAt == nil {
					t.Fatalf("%s: %s: got %+v, want delivered by r1 in one attempt", n.id, order, dl)
				}
			}
		}
	})
}

// The second message of a group goes out as soon as the first is
// delivered, not once the first's record is written, and both share it.
func TestGroupGoesOnBeforeTheRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rl := newRelay()
		r1, _ := startNodesWith(t, rl, batched)
		first, second := r1.issue(t, "two-1"), r1.issue(t, "two-1")
		start := time.Now()
		time.Sleep(time.Second)
		synctest.Wait()
		a1, a2 := rl.of(first), rl.of(second)
		if len(a1) != 1 || len(a2) != 1 || !a2[0].at.Equal(start) || a2[0].at.Before(a1[0].at) {
			t.Fatalf("got attempts %+v then %+v, want the second right after the first, at %s", a1, a2, start)
		}
		if got := r1.deliveredEntries(t); got != 1 {
			t.Fatalf("%d email.delivered entries for two deliveries at once, want 1", got)
		}
		ds, err := r1.box.Deliveries(context.Background(), "two-1")
		if err != nil || len(ds) != 2 || ds[0].Status != "delivered" || ds[1].Status != "delivered" || ds[0].EventID != first.String() {
			t.Fatalf("got %+v, %v, want both delivered, the first first", ds, err)
		}
	})
}

// Deliveries still waiting for their record when the outbox stops are
// recorded before Run returns, so a restart does not send them again.
func TestWaitingRecordsWrittenOnStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rl := newRelay()
		r1, _ := startNodesWith(t, rl, batched)
		id := r1.issue(t, "ord-1")
		synctest.Wait() // delivered; its record waits for company
		if as := rl.of(id); len(as) != 1 || !as[0].accepted {
			t.Fatalf("got attempts %+v, want one accepted", as)
		}
		if got := r1.deliveredEntries(t); got != 0 {
			t.Fatalf("%d records before RecordWait passed, want none yet", got)
		}
		r1.stop()
		if got := r1.records(t, "email.delivered", id); got != 1 {
			t.Fatalf("%d records of the delivery after the outbox stopped, want 1", got)
		}
	})
}

// A record that cannot be written (the disk is full) keeps its deliveries
// waiting: they are neither sent again nor shown as delivered, and the
// write is tried again, after RetryMin, for as long as it fails. Both for
// a record of several deliveries (the webhooks') and for one delivery's
// record (the mail's).
func TestRecordThatCannotBeWrittenWaits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tune   func(*outbox.Config)
		logged string // the message each failed write logs
		writes [2]int // failed writes expected in 3 RetryMin: at once and after each
	}{
		{"batched", batched, "record email outcomes", [2]int{3, 4}},
		{"single", func(*outbox.Config) {}, "record email outcome", [2]int{2 * 3, 2 * 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rl := newRelay()
				rl.gate = make(chan struct{})
				failed := &countingHandler{msg: tc.logged}
				// max_page_count makes SQLite answer SQLITE_FULL, as a full disk would.
				r1, _ := startNodesWith(t, rl, func(c *outbox.Config) { tc.tune(c); c.Logger = slog.New(failed) }, "max_page_count(60)")
				a, b := r1.issue(t, "ord-1"), r1.issue(t, "ord-2")
				synctest.Wait() // both at the relay
				fillLedger(t, r1)
				close(rl.gate)
				time.Sleep(3 * retryMin)
				synctest.Wait()
				for _, id := range []ledger.Hash{a, b} {
					if as := rl.of(id); len(as) != 1 || !as[0].accepted {
						t.Fatalf("message %s: got attempts %+v, want one accepted", id.Short(), as)
					}
				}
				if got := r1.deliveredEntries(t); got != 0 {
					t.Fatalf("%d email.delivered entries on a full ledger, want none", got)
				}
				if dl := r1.delivery(t, "ord-1"); dl.Status != "pending" || dl.Attempts != 1 {
					t.Fatalf("got %+v, want pending after one accepted attempt", dl)
				}
				if n := failed.count(); n < tc.writes[0] || n > tc.writes[1] {
					t.Fatalf("writes failed %d times in 3 RetryMin, want %d-%d: tried at once and after each RetryMin", n, tc.writes[0], tc.writes[1])
				}
			})
		})
	}
}

// fillLedger appends to n's ledger, large entries and then small ones,
// until not even a small one fits, and then entries shaped like records
// (a message id's subject, a record's length) until fifty in a row do not:
// SQLite is full only for a write that needs a new page, and a record
// whose subject falls in an index page with room would still fit.
func fillLedger(t *testing.T, n *node) {
	t.Helper()
	for _, pad := range []int{3000, 300, 30} {
		for i := 0; ; i++ {
			_, err := n.store.Append(context.Background(), ledger.Draft{Kind: "filler", Subject: fmt.Sprintf("fill-%d-%d", pad, i),
				Data: []byte(`{"pad":"` + strings.Repeat("x", pad) + `"}`)})
			if errors.Is(err, ledger.ErrStorageFull) {
				break
			}
			if err != nil || i > 1000 {
				t.Fatalf("filling the ledger: %v after %d entries", err, i)
			}
		}
	}
	for i, full := 0, 0; full < 50; i++ {
		id := sha256.Sum256([]byte(fmt.Sprint(i)))
		_, err := n.store.Append(context.Background(), ledger.Draft{Kind: "filler", Subject: hex.EncodeToString(id[:]),
			Data: []byte(`{"pad":"` + strings.Repeat("x", 250) + `"}`)})
		switch {
		case errors.Is(err, ledger.ErrStorageFull):
			full++
		case err != nil || i > 5000:
			t.Fatalf("filling the ledger: %v after %d entries", err, i)
		default:
			full = 0
		}
	}
}

// countingHandler counts the log records with one message.
type countingHandler struct {
	msg string
	mu  sync.Mutex
	n   int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countingHandler) WithGroup(string) slog.Handler            { return h }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.mu.Lock()
		h.n++
		h.mu.Unlock()
	}
	return nil
}

func (h *countingHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}
