package ledger_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"kassa/ledger"
)

// subjectIDs lists es's entries as origin/seq, in the order given.
func subjectIDs(es []ledger.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = fmt.Sprintf("%s/%d %s", e.Origin, e.Seq, e.ID().Short())
	}
	return out
}

// sameAsDatabase fails t unless what s answers for subject, from memory or
// not, is what its database holds, in the same order.
func sameAsDatabase(t interface {
	Helper()
	Fatal(...any)
	Fatalf(string, ...any)
}, s *ledger.Store, subject string) {
	t.Helper()
	ctx := context.Background()
	got, err := s.EntriesBySubject(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ledger.SubjectFromDatabase(ctx, s, subject)
	if err != nil {
		t.Fatal(err)
	}
	g, w := subjectIDs(got), subjectIDs(want)
	if fmt.Sprint(g) != fmt.Sprint(w) {
		t.Fatalf("subject %q: memory answers %v, the database holds %v", subject, g, w)
	}
}

// TestSubjectsMatchDatabase: whatever mix of local appends, entries applied
// from another region (whose clock runs behind, so they fold before entries
// already held), reads, restarts, a trimmed tail and small memory limits,
// EntriesBySubject answers exactly what the database holds, in its order.
func TestSubjectsMatchDatabase(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		r1, r2 := newRegion("r1"), newRegion("r2")
		path := filepath.Join(t.TempDir(), fmt.Sprintf("s%d.db", rapid.Int().Draw(rt, "db")))
		a, err := ledger.Open(ctx, ledger.Options{Path: path, Region: r1.id, Key: r1.key, Keys: keysOf(r1, r2),
			Now: newTestClock().Now, Logger: quietLogger()})
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { a.Close() }()
		// r2's clock is an hour behind: its entries fold first.
		bclock := newTestClock()
		bclock.Advance(-time.Hour)
		b, err := ledger.Open(ctx, ledger.Options{Path: filepath.Join(t.TempDir(), fmt.Sprintf("b%d.db", rapid.Int().Draw(rt, "bdb"))),
			Region: r2.id, Key: r2.key, Keys: keysOf(r1, r2), Now: bclock.Now, Logger: quietLogger()})
		if err != nil {
			rt.Fatal(err)
		}
		defer b.Close()
		subjects := []string{"ses_a", "ord_a", "con_b", "ses_c", "mode:r1", "x"}
		subject := rapid.SampledFrom(subjects)
		var sent uint64
		draft := func(s string, n int) ledger.Draft {
			d := sale(n, ledger.Amount(1+n))
			d.Subject = s
			return d
		}
		n := 0
		rt.Repeat(map[string]func(*rapid.T){
			"append": func(rt *rapid.T) {
				n++
				if _, err := a.Append(ctx, draft(subject.Draw(rt, "subject"), n)); err != nil {
					rt.Fatal(err)
				}
			},
			"apply": func(rt *rapid.T) {
				for range rapid.IntRange(1, 3).Draw(rt, "entries") {
					n++
					if _, err := b.Append(ctx, draft(subject.Draw(rt, "subject"), n)); err != nil {
						rt.Fatal(err)
					}
				}
				es, err := b.EntriesAfter(ctx, r2.id, sent, 100)
				if err != nil {
					rt.Fatal(err)
				}
				if _, err := a.Apply(ctx, es); err != nil {
					rt.Fatal(err)
				}
				sent += uint64(len(es))
			},
			"read": func(rt *rapid.T) {
				sameAsDatabase(rt, a, subject.Draw(rt, "subject"))
			},
			"restart": func(rt *rapid.T) {
				a.Close()
				if a, err = ledger.Open(ctx, ledger.Options{Path: path, Region: r1.id, Key: r1.key, Keys: keysOf(r1, r2),
					Now: newTestClock().Now, Logger: quietLogger()}); err != nil {
					rt.Fatal(err)
				}
				if rapid.Bool().Draw(rt, "wait") {
					ledger.WaitSubjectsLearned(a)
				}
			},
			"limits": func(rt *rapid.T) {
				ledger.SetTailCap(a, rapid.IntRange(1, 8).Draw(rt, "tail"))
				ledger.SetSubjectLimits(a, rapid.IntRange(1, 4).Draw(rt, "subjects"), rapid.IntRange(1, 6).Draw(rt, "entries"))
			},
		})
		for _, s := range subjects {
			sameAsDatabase(rt, a, s)
		}
	})
}

// TestSubjectsReadYourWrites: writers appending about shared subjects while
// readers read them each see their own entry, in order, as soon as
// Append returns; afterwards memory and database agree on every subject.
func TestSubjectsReadYourWrites(t *testing.T) {
	ctx := context.Background()
	r1 := newRegion("r1")
	a := MustOpen(t, r1)
	ledger.WaitSubjectsLearned(a)
	subjects := []string{"s0", "s1", "s2", "s3"}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				subject := subjects[(w+i)%len(subjects)]
				d := sale(w*1000+i, 1)
				d.Subject = subject
				e, err := a.Append(ctx, d)
				if err != nil {
					t.Error(err)
					return
				}
				es, err := a.EntriesBySubject(ctx, subject)
				if err != nil {
					t.Error(err)
					return
				}
				found := false
				for j := range es {
					found = found || es[j].ID() == e.ID()
					if j > 0 && es[j-1].Seq >= es[j].Seq {
						t.Errorf("%s out of order at %d", subject, j)
						return
					}
				}
				if !found {
					t.Errorf("%s: %s/%d not read back after its append", subject, e.Origin, e.Seq)
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := a.EntriesBySubject(ctx, subjects[(r+i)%len(subjects)]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	for _, s := range subjects {
		sameAsDatabase(t, a, s)
	}
}

// TestSubjectsFromMemory: a subject this process stored the first entry of
// is answered from memory, and so is one read once; a subject stored before
// a restart is found (the filter of stored subjects knows it) and a subject
// never stored is answered as empty.
func TestSubjectsFromMemory(t *testing.T) {
	ctx := context.Background()
	r1 := newRegion("r1")
	path := filepath.Join(t.TempDir(), "kassa.db")
	a := MustOpenPath(t, path, r1)
	ledger.WaitSubjectsLearned(a)
	d := sale(1, 10)
	if _, err := a.Append(ctx, d); err != nil {
		t.Fatal(err)
	}
	if !ledger.SubjectInMemory(a, d.Subject) {
		t.Fatalf("%s: a new subject's first entry is not kept in memory", d.Subject)
	}
	a.Close()

	a = MustOpenPath(t, path, r1)
	ledger.WaitSubjectsLearned(a)
	if ledger.SubjectInMemory(a, d.Subject) {
		t.Fatal("memory holds a subject no one asked for after a restart")
	}
	es, err := a.EntriesBySubject(ctx, d.Subject)
	if err != nil || len(es) != 1 {
		t.Fatalf("after a restart: %d entries, %v; want the one stored", len(es), err)
	}
	if !ledger.SubjectInMemory(a, d.Subject) {
		t.Fatalf("%s: not kept after it was read", d.Subject)
	}
	if es, err := a.EntriesBySubject(ctx, "order-never"); err != nil || len(es) != 0 {
		t.Fatalf("a subject never stored: %d entries, %v", len(es), err)
	}
	// A second entry about a subject stored before the restart joins it.
	if _, err := a.Append(ctx, sale(1, 20)); err != nil {
		t.Fatal(err)
	}
	sameAsDatabase(t, a, d.Subject)
}

// BenchmarkLearnSubjects measures how fast a reopened store reads the
// subjects already stored into its filter, after which the filter answers:
// a ledger of 200,000 entries, each about a subject of its own.
//
//	go test ./ledger -run '^$' -bench LearnSubjects -benchtime 3x
func BenchmarkLearnSubjects(b *testing.B) {
	ctx := context.Background()
	r1 := newRegion("r1")
	path := filepath.Join(b.TempDir(), "kassa.db")
	s := MustOpenPath(b, path, r1)
	const n = 200_000
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Go(func() {
			for i := w; i < n; i += 64 {
				if _, err := s.Append(ctx, sale(i, 1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	s.Close()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		s := MustOpenPath(b, path, r1)
		ledger.WaitSubjectsLearned(s)
		s.Close()
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "subjects/s")
}
