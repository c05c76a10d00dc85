package ledger_test

// Benchmarks of the write path next to the machine's own ceiling, measured in
// the same run: raw batched SQLite inserts of the same rows (no signing, no
// hashing, no validation) and ed25519 signing alone across every core. The
// target is that committed entries/s reach at least 60% of
// min(insert ceiling, signing ceiling); BenchmarkLedgerVsCeiling prints that
// ratio. docs/BENCHMARKS.md records the figures and the command. Targets live
// here, never in timed tests.

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"kassa/ceiling"
	"kassa/ledger"
)

// benchPool is how many distinct drafts the benchmarks cycle through.
const benchPool = 1 << 14

// benchCallers are the concurrent Append callers of BenchmarkAppend: a region
// under checkout load has many requests waiting on the ledger at once. The
// callers wait for their commit before appending again, so the store's
// groups can hold at most about half of them (one group commits while the
// next is staged).
var benchCallers = []int{64, 256, 1024}

var (
	benchLocal  = newRegion("eu-north")
	benchRemote = newRegion("us-east")
)

// benchDrafts returns benchPool realistic drafts, the same on every call: an
// order id as subject, 2 to 4 postings in SEK (consumer, merchant, kassa's fee
// and its VAT) over 50,000 consumers and 200 merchants, and a ~100-byte JSON
// payload.
var benchDrafts = sync.OnceValue(func() []ledger.Draft {
	rng := rand.New(rand.NewPCG(42, 1))
	out := make([]ledger.Draft, benchPool)
	for i := range out {
		amount := ledger.Amount(500 + rng.IntN(500_000))
		fee := amount * 3 / 100
		vat := fee / 5
		consumer := fmt.Sprintf("consumer:c%05d:receivable", rng.IntN(50_000))
		merchant := fmt.Sprintf("merchant:m%03d:payable", rng.IntN(200))
		var postings []ledger.Posting
		switch i % 3 {
		case 0:
			postings = []ledger.Posting{
				{Account: consumer, Amount: amount, Currency: "SEK"},
				{Account: merchant, Amount: -amount, Currency: "SEK"},
			}
		case 1:
			postings = []ledger.Posting{
				{Account: consumer, Amount: amount, Currency: "SEK"},
				{Account: merchant, Amount: -(amount - fee), Currency: "SEK"},
				{Account: "kassa:revenue", Amount: -fee, Currency: "SEK"},
			}
		default:
			postings = []ledger.Posting{
				{Account: consumer, Amount: amount, Currency: "SEK"},
				{Account: merchant, Amount: -(amount - fee), Currency: "SEK"},
				{Account: "kassa:revenue", Amount: -(fee - vat), Currency: "SEK"},
				{Account: "kassa:vat", Amount: -vat, Currency: "SEK"},
			}
		}
		kind := "order.authorized"
		if i%2 == 1 {
			kind = "order.captured"
		}
		out[i] = ledger.Draft{
			Kind:     kind,
			Subject:  fmt.Sprintf("order-%016x", rng.Uint64()),
			Postings: postings,
			Data: fmt.Appendf(nil, `{"merchant_reference":"A-%08d","amount":%d,"currency":"SEK","method":"pay_later","lines":%d}`,
				rng.IntN(100_000_000), amount, 1+rng.IntN(5)),
		}
	}
	return out
})

// benchChain holds a signed chain of benchRemote's entries built from
// benchDrafts, extended on demand so that every benchmark round reuses it.
var benchChain struct {
	mu      sync.Mutex
	entries []ledger.Entry
}

// remoteChain returns the first n entries of benchRemote's chain.
func remoteChain(n int) []ledger.Entry {
	benchChain.mu.Lock()
	defer benchChain.mu.Unlock()
	have := len(benchChain.entries)
	if have >= n {
		return benchChain.entries[:n]
	}
	drafts := benchDrafts()
	var prev ledger.Hash
	if have > 0 {
		prev = benchChain.entries[have-1].ID()
	}
	grown := append(benchChain.entries, make([]ledger.Entry, n-have)...)
	// Links need each id in turn; signatures do not, so sign in parallel.
	for i := have; i < n; i++ {
		d := drafts[i%len(drafts)]
		grown[i] = ledger.Entry{
			Origin: benchRemote.id, Seq: uint64(i + 1), Prev: prev,
			HLC:  ledger.HLC{Wall: 1_790_000_000_000 + int64(i/8), Logical: uint32(i % 8)},
			Kind: d.Kind, Subject: d.Subject, Postings: d.Postings, Data: d.Data,
		}
		prev = grown[i].ID()
	}
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := have + w; i < n; i += workers {
				grown[i].Sign(benchRemote.key)
			}
		}()
	}
	wg.Wait()
	benchChain.entries = grown
	return grown
}

// benchMessages returns the canonical bytes and signatures of benchPool
// entries, what the signing and verifying ceilings work on.
var benchMessages = sync.OnceValues(func() ([][]byte, [][]byte) {
	es := remoteChain(benchPool)
	msgs, sigs := make([][]byte, len(es)), make([][]byte, len(es))
	for i := range es {
		msgs[i], sigs[i] = es[i].Canonical(), es[i].Sig
	}
	return msgs, sigs
})

// openBenchStore opens a store in a fresh temp dir with the production
// defaults (wall clock, synchronous NORMAL, default MaxBatch) and metrics in a
// private registry, so the benchmark can report the group size it achieved.
func openBenchStore(tb testing.TB, r region, all ...region) (*ledger.Store, *prometheus.Registry) {
	tb.Helper()
	reg := prometheus.NewRegistry()
	s, err := ledger.Open(context.Background(), ledger.Options{
		Path:    filepath.Join(tb.TempDir(), "kassa.db"),
		Region:  r.id,
		Key:     r.key,
		Keys:    keysOf(append(all, r)...),
		Logger:  quietLogger(),
		Metrics: ledger.NewMetrics(reg),
	})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, reg
}

// entriesPerCommit reads the store's commit-size histogram: the average
// number of entries per transaction so far.
func entriesPerCommit(tb testing.TB, reg *prometheus.Registry) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "kassa_ledger_commit_entries" && len(mf.GetMetric()) > 0 {
			h := mf.GetMetric()[0].GetHistogram()
			if h.GetSampleCount() > 0 {
				return h.GetSampleSum() / float64(h.GetSampleCount())
			}
		}
	}
	return 0
}

// appendConcurrently appends n drafts to s from callers goroutines and
// returns how long that took.
func appendConcurrently(tb testing.TB, s *ledger.Store, n, callers int) time.Duration {
	tb.Helper()
	drafts := benchDrafts()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if _, err := s.Append(context.Background(), drafts[i%benchPool]); err != nil {
					tb.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkAppend measures signed entries committed per second with group
// commit, with many callers waiting on the one writer.
func BenchmarkAppend(b *testing.B) {
	for _, callers := range benchCallers {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			drafts := benchDrafts()
			s, reg := openBenchStore(b, benchLocal)
			var next atomic.Int64
			b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) - 1
					if _, err := s.Append(context.Background(), drafts[i%benchPool]); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(entriesPerCommit(b, reg), "entries/commit")
			// The WAL stays bounded however long the run (checkpoints in the
			// background, the commit's own as a backstop).
			if fi, err := os.Stat(s.Path() + "-wal"); err == nil {
				b.ReportMetric(float64(fi.Size())/(1<<20), "wal-MiB")
			}
		})
	}
}

// BenchmarkAppendGuarded is BenchmarkAppend with every draft spending one
// unit of rights under a guard, as checkout's authorizations, captures and
// credit decisions do; compare its entries/s with BenchmarkAppend's in the
// same run to see what guards cost the writer.
//
//	go test ./ledger -run '^$' -bench 'Append(Guarded)?/callers=256' -benchtime 3s
func BenchmarkAppendGuarded(b *testing.B) {
	for _, callers := range benchCallers {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			s, reg := openBenchStore(b, benchLocal)
			const accounts = 1024
			for a := 0; a < accounts; a++ {
				if _, err := s.Append(context.Background(), ledger.Draft{Kind: "rights.granted", Postings: []ledger.Posting{
					{Account: fmt.Sprintf("rights:%d", a), Amount: 1 << 40, Currency: "SEK"},
					{Account: fmt.Sprintf("granted:%d", a), Amount: -(1 << 40), Currency: "SEK"}}}); err != nil {
					b.Fatal(err)
				}
			}
			var next atomic.Int64
			b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					a := fmt.Sprintf("rights:%d", (next.Add(1)-1)%accounts)
					d := ledger.Draft{Kind: "spend", Postings: []ledger.Posting{
						{Account: a, Amount: -1, Currency: "SEK"}, {Account: "spent", Amount: 1, Currency: "SEK"}},
						Guards: []ledger.Guard{{Account: a, Currency: "SEK"}}}
					if _, err := s.Append(context.Background(), d); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(entriesPerCommit(b, reg), "entries/commit")
		})
	}
}

// ceilingRow is what one entry puts in SQLite, prepared ahead so that the
// insert ceiling pays for nothing but SQLite.
type ceilingRow struct {
	origin, kind, subject string
	wall                  int64
	body                  []byte
	postings              []ledger.Posting
}

var ceilingRows = sync.OnceValue(func() []ceilingRow {
	es := remoteChain(benchPool)
	rows := make([]ceilingRow, len(es))
	for i, e := range es {
		body, err := e.MarshalBinary()
		if err != nil {
			panic(err)
		}
		rows[i] = ceilingRow{string(e.Origin), e.Kind, e.Subject, e.HLC.Wall, body, e.Postings}
	}
	return rows
})

// ceilingDB is a bare SQLite database with the ledger's schema and the
// store's write-connection DSN, written without the store.
type ceilingDB struct {
	db                             *sql.DB
	entry, balance, vector, digest *sql.Stmt
	// The same inserts for ledger.EntryRows entries or ledger.BalanceRows
	// balances at once, as the store's group commit writes them.
	entries, balances *sql.Stmt
}

func openCeilingDB(tb testing.TB) *ceilingDB {
	tb.Helper()
	db, err := sql.Open("sqlite", ledger.WriteDSN(filepath.Join(tb.TempDir(), "ceiling.db")))
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	tb.Cleanup(func() { db.Close() })
	for _, f := range []string{"0001_init.sql", "0002_ref.sql"} {
		schema, err := os.ReadFile(filepath.Join("migration", f))
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := db.Exec(string(schema)); err != nil {
			tb.Fatal(err)
		}
	}
	c := &ceilingDB{db: db}
	for _, p := range []struct {
		stmt **sql.Stmt
		q    string
	}{
		{&c.entry, `INSERT INTO entries (origin, seq, id, hlc, kind, subject, body) VALUES (?, ?, ?, ?, ?, ?, ?)`},
		{&c.balance, `INSERT INTO balances (account, currency, amount) VALUES (?, ?, ?)
			ON CONFLICT (account, currency) DO UPDATE SET amount = amount + excluded.amount`},
		{&c.vector, `INSERT INTO vector (origin, seq, head, hlc_wall, hlc_logical) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq, head = excluded.head, hlc_wall = excluded.hlc_wall, hlc_logical = excluded.hlc_logical`},
		{&c.digest, `INSERT INTO meta (key, value) VALUES ('digest', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`},
		{&c.entries, `INSERT INTO entries (origin, seq, id, hlc, kind, subject, body) VALUES ` + ledger.Placeholders(ledger.EntryRows, 7)},
		{&c.balances, `INSERT INTO balances (account, currency, amount) VALUES ` + ledger.Placeholders(ledger.BalanceRows, 3) + `
			ON CONFLICT (account, currency) DO UPDATE SET amount = amount + excluded.amount`},
	} {
		if *p.stmt, err = db.Prepare(p.q); err != nil {
			tb.Fatal(err)
		}
	}
	return c
}

// randomIDs returns n random 32-byte ids: real ids are hashes, so the id
// index takes random inserts.
func randomIDs(n int) [][]byte {
	buf := make([]byte, 32*n)
	rand.NewChaCha8([32]byte{7}).Read(buf)
	ids := make([][]byte, n)
	for i := range ids {
		ids[i] = buf[32*i : 32*i+32 : 32*i+32]
	}
	return ids
}

// insertRange writes rows from seq first+1 to seq end (cycling through
// rows, ids from ids) in transactions of batch rows: the entries, each
// touched balance once per transaction, the vector row and the digest, as a
// group commit does.
func (c *ceilingDB) insertRange(tb testing.TB, rows []ceilingRow, ids [][]byte, first, end, batch int) {
	tb.Helper()
	type key struct{ account, currency string }
	sums := make(map[key]int64)
	for lo := first; lo < end; lo += batch {
		hi := min(end, lo+batch)
		tx, err := c.db.Begin()
		if err != nil {
			tb.Fatal(err)
		}
		entry, balance := tx.Stmt(c.entry), tx.Stmt(c.balance)
		entries, balances := tx.Stmt(c.entries), tx.Stmt(c.balances)
		clear(sums)
		args := make([]any, 0, 7*ledger.EntryRows)
		for i := lo; i < hi; {
			if hi-i >= ledger.EntryRows {
				args = args[:0]
				for j := i; j < i+ledger.EntryRows; j++ {
					r := &rows[j%len(rows)]
					args = append(args, r.origin, j+1, ids[j], r.wall, r.kind, r.subject, r.body)
				}
				if _, err := entries.Exec(args...); err != nil {
					tb.Fatal(err)
				}
				i += ledger.EntryRows
				continue
			}
			r := &rows[i%len(rows)]
			if _, err := entry.Exec(r.origin, i+1, ids[i], r.wall, r.kind, r.subject, r.body); err != nil {
				tb.Fatal(err)
			}
			i++
		}
		for i := lo; i < hi; i++ {
			for _, p := range rows[i%len(rows)].postings {
				sums[key{p.Account, p.Currency}] += int64(p.Amount)
			}
		}
		// In key order, as the store does: B-tree pages visited in order.
		keys := make([]key, 0, len(sums))
		for k := range sums {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b key) int {
			return cmp.Or(strings.Compare(a.account, b.account), strings.Compare(a.currency, b.currency))
		})
		for len(keys) >= ledger.BalanceRows {
			args = args[:0]
			for _, k := range keys[:ledger.BalanceRows] {
				args = append(args, k.account, k.currency, sums[k])
			}
			if _, err := balances.Exec(args...); err != nil {
				tb.Fatal(err)
			}
			keys = keys[ledger.BalanceRows:]
		}
		for _, k := range keys {
			if _, err := balance.Exec(k.account, k.currency, sums[k]); err != nil {
				tb.Fatal(err)
			}
		}
		last := &rows[(hi-1)%len(rows)]
		if _, err := tx.Stmt(c.vector).Exec(last.origin, hi, ids[hi-1], last.wall, 0); err != nil {
			tb.Fatal(err)
		}
		if _, err := tx.Stmt(c.digest).Exec(ids[hi-1]); err != nil {
			tb.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			tb.Fatal(err)
		}
	}
}

// ceilingBatches are the transaction sizes of the insert ceiling: from what
// the store's group commit achieves with 64 to 256 callers up to its
// MaxBatch.
var ceilingBatches = []int{64, 128, 256, 1024}

// BenchmarkCeilingInsert measures raw batched SQLite inserts of the rows
// Append writes, with pre-signed bodies: the storage ceiling of the write
// path on this machine.
func BenchmarkCeilingInsert(b *testing.B) {
	for _, batch := range ceilingBatches {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			rows := ceilingRows()
			ids := randomIDs(b.N)
			c := openCeilingDB(b)
			b.ResetTimer()
			c.insertRange(b, rows, ids, 0, b.N, batch)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkCeilingSign measures ed25519 signing of the entries' canonical
// bytes on every core: the signing ceiling of the write path.
func BenchmarkCeilingSign(b *testing.B) {
	msgs, _ := benchMessages()
	b.ResetTimer()
	ceiling.Sign(benchLocal.key, msgs, b.N)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signatures/s")
}

// BenchmarkVerify measures ed25519 verification of signed entries on every
// core: what bounds how fast a region can take in its peers' entries.
func BenchmarkVerify(b *testing.B) {
	msgs, sigs := benchMessages()
	pub := benchRemote.key.Public().(ed25519.PublicKey)
	b.ResetTimer()
	if _, err := ceiling.Verify(pub, msgs, sigs, b.N); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}

// applyBatch is how many entries a sync push hands to Apply at once.
const applyBatch = 512

// BenchmarkApply measures a region taking in another region's signed
// entries through Apply, applyBatch at a time, as a sync receiver does.
func BenchmarkApply(b *testing.B) {
	chain := remoteChain(b.N)
	s, reg := openBenchStore(b, benchLocal, benchRemote)
	b.ResetTimer()
	for lo := 0; lo < b.N; lo += applyBatch {
		part := chain[lo:min(b.N, lo+applyBatch)]
		res, err := s.Apply(context.Background(), part)
		if err != nil {
			b.Fatal(err)
		}
		if res.Applied != len(part) {
			b.Fatalf("got %+v, want %d applied", res, len(part))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(entriesPerCommit(b, reg), "entries/commit")
}

// vsRound is how many entries each part of one BenchmarkLedgerVsCeiling
// iteration writes or signs, in vsSlices interleaved slices.
const (
	vsRound  = 1 << 16
	vsSlices = 8
)

// BenchmarkLedgerVsCeiling measures, in each iteration and on vsRound
// entries each: Append from many callers; the insert ceiling in transactions
// of 1024 rows (the store's MaxBatch, so no group commit can batch better)
// and in transactions as large as the store's groups so far on average; and
// the signing ceiling. The parts run in turns of vsRound/vsSlices entries,
// each on its own growing database, so they see the same table sizes and the
// same noise from the rest of the machine.
//
// It reports the rates and ratio = append / min(insert at 1024 rows per
// transaction, sign), whose target is at least 0.6. ratio-same is the same
// against inserts at the store's mean group size; it is not a strict
// ceiling, because groups of varying size touch fewer pages than uniform
// ones of the same mean.
func BenchmarkLedgerVsCeiling(b *testing.B) {
	for _, callers := range []int{256, 1024} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			benchLedgerVsCeiling(b, callers)
		})
	}
}

func benchLedgerVsCeiling(b *testing.B, callers int) {
	rows := ceilingRows()
	msgs, _ := benchMessages()
	slice := vsRound / vsSlices
	var appendTime, sameTime, bigTime, signTime time.Duration
	var perCommit float64
	for it := 0; it < b.N; it++ {
		s, reg := openBenchStore(b, benchLocal)
		ids := randomIDs(vsRound)
		same, big := openCeilingDB(b), openCeilingDB(b)
		for lo := 0; lo < vsRound; lo += slice {
			appendTime += appendConcurrently(b, s, slice, callers)
			batch := int(math.Ceil(entriesPerCommit(b, reg)))
			start := time.Now()
			same.insertRange(b, rows, ids, lo, lo+slice, batch)
			sameTime += time.Since(start)
			start = time.Now()
			big.insertRange(b, rows, ids, lo, lo+slice, 1024)
			bigTime += time.Since(start)
			signTime += ceiling.Sign(benchLocal.key, msgs, slice)
		}
		perCommit += entriesPerCommit(b, reg)
		s.Close()
		same.db.Close()
		big.db.Close()
	}
	total := float64(b.N * vsRound)
	appendRate := total / appendTime.Seconds()
	sameRate := total / sameTime.Seconds()
	bigRate := total / bigTime.Seconds()
	signRate := total / signTime.Seconds()
	b.ReportMetric(appendRate, "append-entries/s")
	b.ReportMetric(perCommit/float64(b.N), "append-entries/commit")
	b.ReportMetric(sameRate, "insert-same-rows/s")
	b.ReportMetric(bigRate, "insert1024-rows/s")
	b.ReportMetric(signRate, "sign-sigs/s")
	b.ReportMetric(appendRate/min(bigRate, signRate), "ratio")
	b.ReportMetric(appendRate/min(sameRate, signRate), "ratio-same")
}
