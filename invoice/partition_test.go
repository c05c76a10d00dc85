package invoice_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"kassa/clocktest"
	"kassa/invoice"
	"kassa/ledger"
	"kassa/region"
)

// TestRemindersOnceAcrossAPartition: three regions, the one that wrote
// the capture cut off and its mail server down. The others take over the
// invoice email and every reminder; after the heal nothing is sent twice
// and a fee written twice counts once.
func TestRemindersOnceAcrossAPartition(t *testing.T) {
	clock := clocktest.Wall()
	// Each step below moves the clock 1h1m: a mail takeover of 2h puts r2's
	// turn (rank 1) and r3's (rank 2) at different steps, as real time
	// would, rather than both at the jump that makes either due.
	rs := startRegions(t, 3, clock, func(c *region.Config) {
		c.Invoice.TakeoverAfter = time.Hour
		c.Mail.TakeoverAfter = 2 * time.Hour
	})
	ctx := context.Background()
	w := rs[0] // writes the capture
	const email = "partition@example.com"
	o := buy(t, w.r, "part-1", "pay_later", email, "en-GB", 40000)
	capture(t, w.r, o.ID, "part-1", 0)
	for _, tr := range rs {
		waitFor(t, "the capture in "+tr.id, func() bool {
			tr.r.Invoices().CatchUp(ctx)
			return len(tr.r.Invoices().ForOrder(o.ID)) == 1
		})
	}
	// Cut w off, mail and network, before it could send anything.
	w.mail.set(true)
	w.net.set(true)
	for _, tr := range rs[1:] {
		tr.net.cutFrom(w.host, true)
	}
	inv := rs[1].r.Invoices().ForOrder(o.ID)[0]
	due := inv.Instalments[0].DueAt
	tick := func(tr *testRegion) {
		t.Helper()
		if _, err := tr.r.Reminders().Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, at := range []time.Time{due.Add(-3*day + time.Minute), due.Add(time.Minute), due.Add(5*day + time.Minute)} {
		clock.Advance(at.Sub(clock.Now()))
		// The writing region writes at once; the others only after
		// waiting their place in line.
		for step := 0; step < 3; step++ {
			for _, tr := range rs {
				tick(tr)
			}
			clock.Advance(time.Hour + time.Minute)
			waitFor(t, "r2 and r3 to agree", func() bool {
				return rs[1].r.Ledger().Digest() == rs[2].r.Ledger().Digest()
			})
		}
	}
	// Heal: w catches up and its mail server comes back.
	w.net.set(false)
	for _, tr := range rs[1:] {
		tr.net.cutFrom(w.host, false)
	}
	waitFor(t, "the regions to converge", func() bool {
		for _, tr := range rs {
			tick(tr) // reversals of duplicate fees
		}
		d := rs[0].r.Ledger().Digest()
		return d == rs[1].r.Ledger().Digest() && d == rs[2].r.Ledger().Digest()
	})
	w.mail.set(false)
	// Every message: the invoice and three reminders, once each.
	waitFor(t, "four emails", func() bool { return len(inbox(t, rs[1].r, email)) >= 4 })
	time.Sleep(2 * time.Second) // give a second copy every chance to be sent: the assertion is that none is
	for _, tr := range rs {
		tr.r.Invoices().CatchUp(ctx)
	}
	ms := inbox(t, rs[1].r, email)
	perRef := map[string]int{}
	ids := map[string]int{}
	for _, m := range ms {
		ids[m.ID]++
		h, err := ledger.ParseHash(m.ID)
		if err != nil {
			t.Fatal(err)
		}
		e, err := rs[1].r.Ledger().Entry(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		ref := "invoice"
		if e.Kind == invoice.KindReminder {
			var d struct {
				Ref string `json:"ref"`
			}
			json.Unmarshal(e.Data, &d)
			ref = d.Ref
		}
		perRef[ref]++
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("message %s delivered %d times, want once", id, n)
		}
	}
	if len(perRef) != 4 {
		t.Errorf("got emails for %v, want the invoice and 3 reminders", perRef)
	}
	for ref, n := range perRef {
		if n != 1 {
			t.Errorf("%s sent %d times, want once", ref, n)
		}
	}
	// The partition made duplicates: each reminder written by w and by
	// the region that took over, and one fee reversed.
	copies, _ := rs[1].r.Ledger().EntriesByKind(ctx, invoice.KindReminder)
	reversals, _ := rs[1].r.Ledger().EntriesByKind(ctx, invoice.KindReminderReversed)
	if len(copies) != 6 || len(reversals) != 1 {
		t.Errorf("got %d reminder entries and %d reversals, want 6 (two copies of each) and 1", len(copies), len(reversals))
	}
	// The fee counts once, in every region.
	for _, tr := range rs {
		inv, _ := tr.r.Invoices().ByID(o.ID, inv.ID)
		debt, _, err := tr.r.Checkout().Debt(ctx, o.ID)
		if err != nil || inv.Fees != 6000 || debt != 46000 {
			t.Errorf("%s: fees %d, debt %d (%v), want 6000 and 46000", tr.id, inv.Fees, debt, err)
		}
	}
}
