package reconcile_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"kassa/clocktest"
	"kassa/ledger"
	"kassa/reconcile"
)

var staff = reconcile.Actor{Name: "agent", Role: "support"}

// newReconciler is r1's reconciler over s, its clock on the day after day.
func newReconciler(s *ledger.Store, src reconcile.Source, clk *clocktest.Clock, region string) *reconcile.Reconciler {
	return reconcile.New(s, src, reconcile.Config{Region: region, Regions: []string{"r1", "r2", "r3"},
		Settings: reconcile.DefaultSettings(), Now: clk.Now})
}

func TestReconcileRunCleanDay(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, "r1")
	for i, o := range clean {
		record(t, s, "ord_"+string(rune('a'+i)), o)
	}
	rec := newReconciler(s, &file{lines: lines(clean...)}, clocktest.At(ledgerStart), "r1")
	d, err := rec.Run(ctx, day, staff)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != reconcile.StatusClean || d.Open != 0 || len(d.Differences) != 0 || len(d.Runs) != 1 {
		t.Fatalf("got %+v, want one clean run", d)
	}
	run := d.Latest
	if run.By != "agent" || run.Role != "support" || run.Lines != 5 || run.Matched != 5 || run.Differences != 0 {
		t.Errorf("got run %+v", run)
	}
	if run.File["SEK"] != run.Ledger["SEK"] || run.File["SEK"].Captured != 3500 {
		t.Errorf("got totals %+v and %+v", run.File, run.Ledger)
	}
	es := entriesOf(t, s, reconcile.Subject(day))
	if len(es) != 1 || es[0].Kind != reconcile.KindRun {
		t.Fatalf("got entries %v, want one run", es)
	}
	days, err := rec.Days(ctx, 10)
	if err != nil || len(days) != 1 || days[0].Day != day || days[0].Status != reconcile.StatusClean {
		t.Fatalf("got days %+v, %v", days, err)
	}
}

// TestRerun: a difference is recorded once however often the day is run;
// once its cause is gone it is no longer present and the day is clean.
func TestReconcileRerun(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, "r1")
	for i, o := range clean {
		record(t, s, "ord_"+string(rune('a'+i)), o)
	}
	f := &file{lines: lines(with(clean, 1, func(o *op) { o.amount = 2600 })...)}
	rec := newReconciler(s, f, clocktest.At(ledgerStart), "r1")
	first, err := rec.Run(ctx, day, staff)
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != reconcile.StatusOpen || first.Open != 1 || len(first.Differences) != 1 {
		t.Fatalf("got %+v, want one open difference", first)
	}
	diff := first.Differences[0]
	if diff.Kind != reconcile.AmountMismatch || diff.Line != 3 || !diff.Present || !strings.Contains(diff.Raw, ",k2,2600,") {
		t.Fatalf("got %+v, want line 3's amount", diff)
	}
	second, err := rec.Run(ctx, day, reconcile.Actor{Name: reconcile.BySchedule})
	if err != nil {
		t.Fatal(err)
	}
	es := entriesOf(t, s, reconcile.Subject(day))
	if n := countKind(es, reconcile.KindDifference); n != 1 {
		t.Fatalf("got %d difference entries after two runs, want 1", n)
	}
	if len(second.Runs) != 2 || second.Differences[0].ID != diff.ID || !second.ScheduledRun() {
		t.Fatalf("got %+v", second)
	}
	// The acquirer corrects its file: the difference is gone.
	f.lines = lines(clean...)
	third, err := rec.Run(ctx, day, staff)
	if err != nil {
		t.Fatal(err)
	}
	if third.Status != reconcile.StatusClean || third.Open != 0 || len(third.Differences) != 1 || third.Differences[0].Present {
		t.Fatalf("got %+v, want a clean day with the old difference no longer present", third)
	}
}

func TestReconcileRunWritesNothingWhenTheFileCannotBeRead(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, "r1")
	rec := newReconciler(s, &file{err: errors.New("acquirer down")}, clocktest.At(ledgerStart), "r1")
	if _, err := rec.Run(ctx, day, staff); err == nil || !strings.Contains(err.Error(), "acquirer down") {
		t.Fatalf("got %v, want the source's error", err)
	}
	for _, bad := range []string{"2026-3-14", "yesterday", "2026-02-30", "2026-03-16"} {
		if _, err := rec.Run(ctx, bad, staff); !errors.Is(err, reconcile.ErrBadDay) {
			t.Errorf("day %q: got %v, want ErrBadDay", bad, err)
		}
	}
	if _, err := reconcile.New(s, nil, reconcile.Config{Region: "r1"}).Run(ctx, day, staff); !errors.Is(err, reconcile.ErrNoSource) {
		t.Errorf("no source: got %v", err)
	}
	if s.Count() != 0 {
		t.Fatalf("got %d entries, want none", s.Count())
	}
}

func TestReconcileResolve(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, "r1")
	rec := newReconciler(s, &file{lines: lines(clean[0])}, clocktest.At(ledgerStart), "r1")
	d, err := rec.Run(ctx, day, staff)
	if err != nil || len(d.Differences) != 1 {
		t.Fatalf("got %+v, %v", d, err)
	}
	id := d.Differences[0].ID
	before := s.Count()
	for _, note := range []string{"", "   \n"} {
		if _, err := rec.Resolve(ctx, day, id, staff, note); !errors.Is(err, reconcile.ErrNoteRequired) {
			t.Fatalf("note %q: got %v, want ErrNoteRequired", note, err)
		}
	}
	if _, err := rec.Resolve(ctx, day, id, staff, strings.Repeat("é", reconcile.MaxNote+1)); !errors.Is(err, reconcile.ErrNoteTooLong) {
		t.Fatalf("long note: got %v", err)
	}
	if _, err := rec.Resolve(ctx, day, "rd_nope", staff, "checked"); !errors.Is(err, reconcile.ErrNotFound) {
		t.Fatalf("unknown id: got %v", err)
	}
	if s.Count() != before {
		t.Fatalf("refused resolutions wrote %d entries", s.Count()-before)
	}
	got, err := rec.Resolve(ctx, day, id, staff, "Refund booked by hand, ticket 7")
	if err != nil || got.Resolution == nil || got.Resolution.Staff != "agent" || got.Resolution.Role != "support" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if _, err := rec.Resolve(ctx, day, id, staff, "again"); !errors.Is(err, reconcile.ErrResolved) {
		t.Fatalf("twice: got %v, want ErrResolved", err)
	}
	d, _ = rec.Day(ctx, day)
	if d.Status != reconcile.StatusResolved || d.Open != 0 || d.Differences[0].Resolution.Note != "Refund booked by hand, ticket 7" {
		t.Fatalf("got %+v", d)
	}
}

// dayEntries writes a day's reconciliation in two regions (runs,
// differences and resolutions in both) and returns every entry.
func dayEntries(t *testing.T) (r1, r2 *ledger.Store, all []ledger.Entry) {
	ctx := context.Background()
	r1, r2 = MustOpen(t, "r1"), MustOpen(t, "r2")
	clk := clocktest.At(ledgerStart)
	f1 := &file{lines: lines(with(clean, 0, func(o *op) { o.amount = 1 })...)}
	f2 := &file{lines: lines(append(clean[1:], clean[2])...)}
	rec1, rec2 := newReconciler(r1, f1, clk, "r1"), newReconciler(r2, f2, clk, "r2")
	for _, rec := range []*reconcile.Reconciler{rec1, rec2} {
		d, err := rec.Run(ctx, day, staff)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rec.Resolve(ctx, day, d.Differences[0].ID, staff, "seen"); err != nil {
			t.Fatal(err)
		}
		if _, err := rec.Run(ctx, day, reconcile.Actor{Name: reconcile.BySchedule}); err != nil {
			t.Fatal(err)
		}
	}
	// Both resolve the same difference, each before seeing the other's.
	f2.lines = f1.lines
	d2, err := rec2.Run(ctx, day, staff)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := rec1.Day(ctx, day)
	for _, r := range d1.Differences {
		if rr, ok := d2.Difference(r.ID); ok && rr.Resolution == nil {
			if _, err := rec2.Resolve(ctx, day, r.ID, reconcile.Actor{Name: "boss", Role: "admin"}, "also seen"); err != nil {
				t.Fatal(err)
			}
		}
	}
	all = append(entriesOf(t, r1, reconcile.Subject(day)), entriesOf(t, r2, reconcile.Subject(day))...)
	return r1, r2, all
}

// TestFoldIsAFunctionOfTheSet: any order and any duplicates of the same
// entries fold to the same day.
func TestReconcileFoldIsAFunctionOfTheSet(t *testing.T) {
	_, _, all := dayEntries(t)
	want := reconcile.Fold(day, all)
	if len(want.Runs) != 5 || len(want.Differences) < 2 {
		t.Fatalf("got %+v, want runs and differences from both regions", want)
	}
	rapid.Check(t, func(rt *rapid.T) {
		es := rapid.Permutation(all).Draw(rt, "order")
		dups := rapid.SliceOfN(rapid.IntRange(0, len(all)-1), 0, 5).Draw(rt, "dups")
		for _, i := range dups {
			es = append(es, all[i])
		}
		if got := reconcile.Fold(day, es); !reflect.DeepEqual(got, want) {
			rt.Fatalf("got %+v, want %+v", got, want)
		}
	})
}

// TestFoldEqualAcrossStores: two regions that receive each other's
// entries, in different orders, show the same day.
func TestReconcileFoldEqualAcrossStores(t *testing.T) {
	ctx := context.Background()
	r1, r2, _ := dayEntries(t)
	e1, err := r1.EntriesAfter(ctx, "r1", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := r2.EntriesAfter(ctx, "r2", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	a, b := MustOpen(t, "r3"), MustOpen(t, "r3")
	rnd := rand.New(rand.NewPCG(1, 2))
	// a gets r1's entries first, b r2's; each in batches of random size.
	for _, apply := range []struct {
		s     *ledger.Store
		first []ledger.Entry
		then  []ledger.Entry
	}{{a, e1, e2}, {b, e2, e1}} {
		for _, es := range [][]ledger.Entry{apply.first, apply.then} {
			for len(es) > 0 {
				n := 1 + rnd.IntN(len(es))
				if _, err := apply.s.Apply(ctx, es[:n]); err != nil {
					t.Fatal(err)
				}
				es = es[n:]
			}
		}
	}
	views := map[string]reconcile.Day{}
	for name, s := range map[string]*ledger.Store{"r1": r1, "a": a, "b": b} {
		if s == r1 {
			if _, err := r1.Apply(ctx, e2); err != nil {
				t.Fatal(err)
			}
		}
		d, err := newReconciler(s, nil, clocktest.At(ledgerStart), "r3").Day(ctx, day)
		if err != nil {
			t.Fatal(err)
		}
		views[name] = d
	}
	if !reflect.DeepEqual(views["a"], views["b"]) || !reflect.DeepEqual(views["a"], views["r1"]) {
		t.Fatalf("regions disagree:\na  %+v\nb  %+v\nr1 %+v", views["a"], views["b"], views["r1"])
	}
	// The first resolution in fold order wins; both are in the record.
	d := views["a"]
	if d.Latest.Region != "r2" || d.Latest.Differences == 0 {
		t.Fatalf("got latest run %+v, want r2's last", d.Latest)
	}
}

func TestReconcileSchedule(t *testing.T) {
	ctx := context.Background()
	s1, s2 := MustOpen(t, "r1"), MustOpen(t, "r2")
	record(t, s1, "ord_a", clean[0])
	f := &file{lines: lines(clean[0])}
	midnight := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	clk := clocktest.At(midnight.Add(time.Hour))
	rec1, rec2 := newReconciler(s1, f, clk, "r1"), newReconciler(s2, f, clk, "r2")

	if d, due := rec1.Due(); d != day || due {
		t.Fatalf("at 01:00: got %s, %v, want %s not due", d, due, day)
	}
	if ran, err := rec1.Scheduled(ctx); ran || err != nil {
		t.Fatalf("at 01:00: ran %v, %v", ran, err)
	}
	clk.Advance(time.Hour) // 02:00: r1's turn
	if ran, err := rec2.Scheduled(ctx); ran || err != nil {
		t.Fatalf("r2 at 02:00: ran %v, %v, want its turn 15 minutes later", ran, err)
	}
	if ran, err := rec1.Scheduled(ctx); !ran || err != nil {
		t.Fatalf("r1 at 02:00: ran %v, %v", ran, err)
	}
	if ran, err := rec1.Scheduled(ctx); ran || err != nil {
		t.Fatalf("r1 again: ran %v, %v, want the day skipped", ran, err)
	}
	// r2 holds r1's run by its turn, and skips the day.
	es, _ := s1.EntriesAfter(ctx, "r1", 0, 100)
	if _, err := s2.Apply(ctx, es); err != nil {
		t.Fatal(err)
	}
	clk.Advance(15 * time.Minute)
	if ran, err := rec2.Scheduled(ctx); ran || err != nil {
		t.Fatalf("r2 with r1's run: ran %v, %v", ran, err)
	}
	// A failed read is retried at the next check.
	clk.Advance(24 * time.Hour)
	f.err = errors.New("file not ready")
	if ran, err := rec1.Scheduled(ctx); ran || err == nil {
		t.Fatalf("failing source: ran %v, %v", ran, err)
	}
	f.err = nil
	if ran, err := rec1.Scheduled(ctx); !ran || err != nil {
		t.Fatalf("retry: ran %v, %v", ran, err)
	}
	off := reconcile.DefaultSettings()
	off.Enabled = false
	recOff := reconcile.New(s1, f, reconcile.Config{Region: "r1", Settings: off, Now: clk.Now})
	clk.Advance(24 * time.Hour)
	if ran, err := recOff.Scheduled(ctx); ran || err != nil {
		t.Fatalf("disabled: ran %v, %v", ran, err)
	}
}

func TestReconcileSettingsValidate(t *testing.T) {
	if err := reconcile.DefaultSettings().Validate(); err != nil {
		t.Fatal(err)
	}
	for key, f := range map[string]func(*reconcile.Settings){
		"interval": func(s *reconcile.Settings) { s.Interval = 0 },
		"delay":    func(s *reconcile.Settings) { s.Delay = 24 * time.Hour },
		"stagger":  func(s *reconcile.Settings) { s.Stagger = -time.Second },
	} {
		s := reconcile.DefaultSettings()
		f(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("bad %s: got %v", key, err)
		}
	}
}
