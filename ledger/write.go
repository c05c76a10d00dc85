package ledger

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"
)

// writeReq is one caller's request to the writer: a local draft to sign and
// append, or remote entries (signatures already verified) to apply.
type writeReq struct {
	draft  *Draft
	remote []*remote // verified, sorted by (origin, seq)
	done   chan writeResult
}

type writeResult struct {
	entry    Entry   // the appended entry, for a draft
	outcomes []error // per remote entry: nil (applied), errDuplicate, or a rejection
	err      error   // the whole request failed; nothing of it was stored
}

// errDuplicate marks a remote entry already held; it is not a rejection.
var errDuplicate = errors.New("duplicate")

// Append signs draft as this region's next entry and commits it. It returns
// the stored entry once committed: fsynced with Synchronous FULL; with NORMAL
// it survives a crash of the process but not a power loss.
// A draft that fails validation is refused with ErrMalformed or ErrUnbalanced
// and nothing is written. Once queued, the write is not abandoned when ctx is
// cancelled: Append waits for the commit, so a caller hanging up can never
// leave a half-known outcome behind. ErrStorageFull means nothing was stored.
func (s *Store) Append(ctx context.Context, draft Draft) (Entry, error) {
	if err := draft.Validate(); err != nil {
		return Entry{}, err
	}
	d := draft
	d.Postings = append([]Posting(nil), draft.Postings...)
	d.Guards = append([]Guard(nil), draft.Guards...)
	res, err := s.submit(ctx, &writeReq{draft: &d})
	if err != nil {
		return Entry{}, err
	}
	return res.entry, res.err
}

func (s *Store) reject(e Entry, id Hash, err error) *RejectError {
	re := &RejectError{Origin: e.Origin, Seq: e.Seq, ID: id, Err: err}
	s.opt.Metrics.rejected(Reason(err))
	if errors.Is(err, ErrFork) {
		s.log.Error("fork quarantined", "origin", e.Origin, "seq", e.Seq, "id", id.Short(), "err", err)
	} else if !errors.Is(err, ErrGap) {
		s.log.Warn("entry rejected", "origin", e.Origin, "seq", e.Seq, "id", id.Short(), "reason", Reason(err), "err", err)
	}
	return re
}

// parallel runs f(0..n-1) on up to GOMAXPROCS goroutines.
func parallel(n int, f func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min(n, (w+1)*chunk)
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// submit queues r for the writer and waits for its result. Once queued, the
// request is committed or failed by the writer whatever happens to ctx.
func (s *Store) submit(ctx context.Context, r *writeReq) (writeResult, error) {
	if err := s.enqueue(ctx, r); err != nil {
		return writeResult{}, err
	}
	return <-r.done, nil
}

// enqueue hands r to the writer, which stages requests in the order they
// were queued; the result arrives on r.done.
func (s *Store) enqueue(ctx context.Context, r *writeReq) error {
	r.done = make(chan writeResult, 1)
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case s.reqs <- r:
		s.closeMu.RUnlock()
		return nil
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
}

// The write path is a two-stage pipeline. The writer goroutine stages
// requests into a group: it assigns seq, prev and hlc against the state the
// groups before it will leave, encodes and hashes each entry once and signs
// the drafts (in parallel). The committer goroutine, the only user of the
// write connection, commits the previous group meanwhile. So signing the next
// group overlaps SQLite's work on the current one, and the group being staged
// grows with every request that arrives while the committer is busy.
//
// A group is handed over only when the committer has finished the one before,
// so at most one group is committing and one is being staged. If a commit
// fails, nothing of it was stored or published, and the staged group, whose
// sequence numbers and links assumed that commit, is staged again from the
// committed state before it is handed over: a failed commit never consumes a
// sequence number.

// signChunk bounds how many drafts the writer signs between looks at the
// committer, so that a finished commit is followed by the next without
// waiting for a long signing run.
const signChunk = 32

// group is one transaction's worth of write requests.
type group struct {
	reqs    []*writeReq
	results []writeResult
	ops     []op
	heads   map[RegionID]head // heads after this group, of the origins it moves
	digest  Digest            // digest after this group
	count   int64             // entries held after this group
	inserts int
	start   time.Time
	// deltas sums the postings staged in this group, for guards.
	deltas map[balanceKey]int64
}

// op is one step of a group's transaction, in staging order: insert an entry,
// or decide about one whose (origin, seq) is already held.
type op struct {
	e     *Entry
	id    Hash
	body  []byte // the stored form: canonical bytes and signature
	held  bool   // already held at (origin, seq): a duplicate or a fork
	local bool   // appended here from a draft (not applied from a peer)
	ref   any    // the entry's "ref" (nil for none), decoded with refs
	req   int    // index of the request in the group
	idx   int    // index of the entry among the request's remote entries
}

// writer owns staging: it is the only goroutine that assigns sequence numbers
// and the only one that talks to the committer.
func (s *Store) writer() {
	defer close(s.done)
	toCommit := make(chan *group)
	finished := make(chan error, 1)
	go s.committer(toCommit, finished)
	defer close(toCommit)

	var inflight, pending *group
	quitting := false
	batch := make([]*writeReq, 0, signChunk)
	for {
		if inflight == nil && pending != nil {
			toCommit <- pending
			inflight, pending = pending, nil
		}
		if quitting && inflight == nil && pending == nil && len(s.reqs) == 0 {
			// Close holds closeMu while closing quit, so nothing more can be
			// queued and everything queued has been committed or failed.
			return
		}
		// A finished commit comes first: it frees the committer for the
		// staged group.
		select {
		case err := <-finished:
			s.finishedCommit(inflight, err)
			inflight, pending = nil, s.afterCommit(err, pending)
			continue
		default:
		}
		reqs := s.reqs
		if pending != nil && len(pending.reqs) >= s.opt.MaxBatch {
			reqs = nil
		}
		quit := s.quit
		if quitting {
			quit = nil
		}
		select {
		case err := <-finished:
			s.finishedCommit(inflight, err)
			inflight, pending = nil, s.afterCommit(err, pending)
		case r := <-reqs:
			if pending == nil {
				pending = s.newGroup(inflight)
			}
			batch = append(batch[:0], r)
		fill:
			for len(batch) < signChunk && len(pending.reqs)+len(batch) < s.opt.MaxBatch {
				select {
				case r := <-s.reqs:
					batch = append(batch, r)
				default:
					break fill
				}
			}
			s.stage(pending, inflight, batch)
		case <-quit:
			quitting = true
		}
	}
}

// afterCommit returns the staged group ready to follow a finished commit:
// as it is after a success, staged again from the committed state after a
// failure.
func (s *Store) afterCommit(err error, pending *group) *group {
	if err == nil || pending == nil {
		return pending
	}
	g := s.newGroup(nil)
	g.start = pending.start
	s.stage(g, nil, pending.reqs)
	return g
}

// newGroup starts a group on top of base, or of the committed state if base
// is nil.
func (s *Store) newGroup(base *group) *group {
	g := &group{heads: make(map[RegionID]head, 4), start: time.Now(), deltas: map[balanceKey]int64{}}
	if base != nil {
		g.digest, g.count = base.digest, base.count
	} else {
		s.mu.RLock()
		g.digest, g.count = s.digest, s.count
		s.mu.RUnlock()
	}
	return g
}

// stage adds reqs to g, which follows base (nil: the committed state). Local
// drafts get their place in this region's chain and are signed; remote
// entries are checked against the staged chains. Entries at an (origin, seq)
// already held are left to the transaction, which can read what is held.
func (s *Store) stage(g, base *group, reqs []*writeReq) {
	lookup := func(o RegionID) head {
		if h, ok := g.heads[o]; ok {
			return h
		}
		if base != nil {
			if h, ok := base.heads[o]; ok {
				return h
			}
		}
		s.mu.RLock()
		defer s.mu.RUnlock()
		return s.heads[o]
	}
	var toSign []int
	for _, r := range reqs {
		ri := len(g.reqs)
		g.reqs = append(g.reqs, r)
		g.results = append(g.results, writeResult{})
		if r.draft != nil {
			if len(r.draft.Guards) > 0 {
				if err := s.checkGuards(g, base, r.draft); err != nil {
					g.results[ri].err = err
					continue
				}
			}
			for _, p := range r.draft.Postings {
				g.deltas[balanceKey{p.Account, p.Currency}] += int64(p.Amount)
			}
			prev := lookup(s.opt.Region)
			e := &Entry{
				Origin:   s.opt.Region,
				Seq:      prev.Seq + 1,
				Prev:     prev.ID,
				HLC:      s.clock.next(),
				Kind:     r.draft.Kind,
				Subject:  r.draft.Subject,
				Postings: r.draft.Postings,
				Data:     r.draft.Data,
			}
			// One encoding serves the id, the signature and the stored body.
			c := e.Canonical()
			body := append(make([]byte, 0, len(c)+ed25519.SignatureSize), c...)
			id := sha256.Sum256(body)
			g.heads[e.Origin] = head{Seq: e.Seq, ID: id, HLC: e.HLC}
			g.ops = append(g.ops, op{e: e, id: id, body: body, req: ri, local: true})
			toSign = append(toSign, len(g.ops)-1)
			g.digest = g.digest.Add(id)
			g.count++
			g.inserts++
			continue
		}
		outcomes := make([]error, len(r.remote))
		g.results[ri].outcomes = outcomes
		for j := range r.remote {
			e, id, body := &r.remote[j].e, r.remote[j].id, r.remote[j].body
			h := lookup(e.Origin)
			switch {
			case e.Seq <= h.Seq:
				g.ops = append(g.ops, op{e: e, id: id, body: body, held: true, req: ri, idx: j})
				continue
			case e.Seq > h.Seq+1:
				outcomes[j] = fmt.Errorf("%w: have %s up to %d, got %d", ErrGap, e.Origin, h.Seq, e.Seq)
				continue
			case e.Prev != h.ID:
				outcomes[j] = fmt.Errorf("%w: prev %s is not %s/%d (%s)", ErrChain, e.Prev.Short(), e.Origin, h.Seq, h.ID.Short())
				continue
			case h.Seq > 0 && !h.HLC.Less(e.HLC):
				outcomes[j] = fmt.Errorf("%w: hlc %s does not follow %s", ErrMalformed, e.HLC, h.HLC)
				continue
			}
			g.heads[e.Origin] = head{Seq: e.Seq, ID: id, HLC: e.HLC}
			g.ops = append(g.ops, op{e: e, id: id, body: body, req: ri, idx: j})
			for _, p := range e.Postings {
				g.deltas[balanceKey{p.Account, p.Currency}] += int64(p.Amount)
			}
			g.digest = g.digest.Add(id)
			g.count++
			g.inserts++
			s.clock.observe(e.HLC)
		}
	}
	parallel(len(toSign), func(i int) {
		o := &g.ops[toSign[i]]
		o.e.Sig = ed25519.Sign(s.opt.Key, o.body)
		o.body = append(o.body, o.e.Sig...)
	})
	for _, i := range toSign {
		g.results[g.ops[i].req].entry = *g.ops[i].e
	}
}

// committer is the only goroutine that writes to the database. It commits
// each group it is handed and says how that went.
func (s *Store) committer(in <-chan *group, finished chan<- error) {
	for g := range in {
		finished <- s.commit(g)
	}
}

// commit writes one group in a single transaction, then publishes the new
// state and answers the group's requests. Entry-level rejections (gap, chain,
// fork) were decided when staging or are decided here and do not fail the
// group; a storage error fails every request in it, and then neither storage
// nor the in-memory state has changed.
func (s *Store) commit(g *group) error {
	if err := s.write(g); err != nil {
		err = classify(fmt.Errorf("ledger: commit: %w", err))
		s.failAll(g.reqs, err)
		return err
	}
	if g.inserts > 0 {
		// In the order write inserted them: every op not already held.
		items := make([]tailItem, 0, g.inserts)
		es := make([]*Entry, 0, g.inserts)
		for i := range g.ops {
			if o := &g.ops[i]; !o.held {
				// An applied entry's bytes may be part of the caller's
				// buffer (a whole push body), which ApplyWire's callers
				// hand over for good.
				items = append(items, tailItem{kind: o.e.Kind, subject: o.e.Subject, origin: o.e.Origin, seq: o.e.Seq, body: o.body})
				es = append(es, o.e)
			}
		}
		s.tail.add(items, es)
	}
	s.mu.Lock()
	for o, h := range g.heads {
		s.heads[o] = h
	}
	s.digest, s.count = g.digest, g.count
	s.mu.Unlock()
	s.opt.Metrics.committed(g.inserts, time.Since(g.start))
	if s.opt.Metrics != nil {
		for i := range g.ops {
			if g.ops[i].local {
				s.opt.Metrics.wrote(g.ops[i].e.Kind)
			}
		}
	}
	if g.inserts > 0 {
		s.notifyChanged()
		s.wakeCheckpointer()
	}
	for i, r := range g.reqs {
		r.done <- g.results[i]
	}
	return nil
}

// checkGuards decides whether d's guards hold after d, on top of everything
// staged before it: the committed state, the group being committed (base)
// and this group so far.
func (s *Store) checkGuards(g, base *group, d *Draft) error {
	for _, gd := range d.Guards {
		k := balanceKey{gd.Account, gd.Currency}
		// The balance before this group: the writer's cache of committed
		// balances plus the group committing now, if any.
		before, err := s.balanceAfter(base, k)
		if err != nil {
			return err
		}
		after := before + g.deltas[k]
		for _, p := range d.Postings {
			if p.Account == gd.Account && p.Currency == gd.Currency {
				after += int64(p.Amount)
			}
		}
		if after < int64(gd.Min) {
			return &GuardError{Account: gd.Account, Currency: gd.Currency, Balance: Amount(after - postingSum(d, k)), Min: gd.Min}
		}
	}
	return nil
}

func postingSum(d *Draft, k balanceKey) int64 {
	var n int64
	for _, p := range d.Postings {
		if p.Account == k.account && p.Currency == k.currency {
			n += int64(p.Amount)
		}
	}
	return n
}

// balanceAfter returns the balance of k once base (the group committing now,
// if any) is committed. A balance the writer has read before comes from its
// cache of committed balances (kept by the writer alone, as commits finish);
// otherwise it reads the committed balance and digest in one snapshot: if
// that snapshot already includes base, its digest says so.
func (s *Store) balanceAfter(base *group, k balanceKey) (int64, error) {
	var pendingDelta int64
	if base != nil {
		pendingDelta = base.deltas[k]
	}
	if v, ok := s.guardCache[k]; ok {
		return v + pendingDelta, nil
	}
	var amount sql.NullInt64
	var d []byte
	if err := s.readGuard.QueryRow(k.account, k.currency).Scan(&amount, &d); err != nil {
		return 0, classify(fmt.Errorf("ledger: read balance: %w", err))
	}
	committed := amount.Int64 // as of the last commit the writer knows finished
	if base != nil && string(d) == string(base.digest[:]) {
		committed -= pendingDelta
	}
	if len(s.guardCache) >= maxGuardCache {
		clear(s.guardCache)
	}
	s.guardCache[k] = committed
	return committed + pendingDelta, nil
}

// maxGuardCache bounds the writer's cache of committed balances.
const maxGuardCache = 1 << 16

// finishedCommit brings the writer's balance cache up to date with a commit
// of g that finished with err: its deltas on success; on failure nothing is
// known, so the cache is dropped.
func (s *Store) finishedCommit(g *group, err error) {
	if err != nil || g == nil {
		clear(s.guardCache)
		return
	}
	for k, d := range g.deltas {
		if v, ok := s.guardCache[k]; ok {
			s.guardCache[k] = v + d
		}
	}
}

// balanceKey names one row of the balances table.
type balanceKey struct{ account, currency string }

func (s *Store) write(g *group) error {
	var tx *sql.Tx
	err := retryBusy(context.Background(), s.opt.Metrics, func() (err error) {
		tx, err = s.wdb.Begin()
		return err
	})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	insEntry, insBalance := tx.Stmt(s.insEntry), tx.Stmt(s.insBalance)
	insEntries, insBalances := tx.Stmt(s.insEntries), tx.Stmt(s.insBalances)
	// Entries go in entryRows at a time, in staging order; a held entry is
	// decided after everything staged before it is in.
	rows := make([]any, 0, 8*entryRows)
	var pending []*op
	flush := func() error {
		for len(pending) >= entryRows {
			rows = rows[:0]
			for _, o := range pending[:entryRows] {
				rows = appendEntryArgs(rows, o)
			}
			if _, err := insEntries.Exec(rows...); err != nil {
				return fmt.Errorf("insert %d entries from %s/%d: %w", entryRows, pending[0].e.Origin, pending[0].e.Seq, err)
			}
			pending = pending[entryRows:]
		}
		for _, o := range pending {
			if _, err := insEntry.Exec(appendEntryArgs(rows[:0], o)...); err != nil {
				return fmt.Errorf("insert %s/%d: %w", o.e.Origin, o.e.Seq, err)
			}
		}
		pending = pending[:0]
		return nil
	}
	// Balances are sums, so each touched balance is updated once per group.
	sums := make(map[balanceKey]int64)
	var refs []entryRef
	for i := range g.ops {
		o := &g.ops[i]
		if o.held {
			if err := flush(); err != nil {
				return err
			}
			g.results[o.req].outcomes[o.idx] = s.checkHeld(tx, o)
			continue
		}
		pending = append(pending, o)
		var more []string
		o.ref, more = refsOf(o.e.Data)
		for _, ref := range more {
			refs = append(refs, entryRef{ref, o.id})
		}
		for _, p := range o.e.Postings {
			sums[balanceKey{p.Account, p.Currency}] += int64(p.Amount)
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if len(refs) > 0 {
		insRef := tx.Stmt(s.insRef)
		for _, r := range refs {
			if _, err := insRef.Exec(r.ref, r.id[:]); err != nil {
				return fmt.Errorf("index ref of %s: %w", r.id.Short(), err)
			}
		}
	}
	keys := make([]balanceKey, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	// In key order: the same work whatever order the postings came in, and
	// B-tree pages visited in order.
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].account != keys[j].account {
			return keys[i].account < keys[j].account
		}
		return keys[i].currency < keys[j].currency
	})
	// A zero sum still creates the row: an account posted to stays listed.
	for len(keys) >= balanceRows {
		rows = rows[:0]
		for _, k := range keys[:balanceRows] {
			rows = append(rows, k.account, k.currency, sums[k])
		}
		if _, err := insBalances.Exec(rows...); err != nil {
			return fmt.Errorf("post %d balances from %s %s: %w", balanceRows, keys[0].account, keys[0].currency, err)
		}
		keys = keys[balanceRows:]
	}
	for _, k := range keys {
		if _, err := insBalance.Exec(k.account, k.currency, sums[k]); err != nil {
			return fmt.Errorf("post %s %s: %w", k.account, k.currency, err)
		}
	}
	for o, h := range g.heads {
		if _, err := tx.Stmt(s.setVector).Exec(string(o), h.Seq, h.ID[:], h.HLC.Wall, h.HLC.Logical); err != nil {
			return fmt.Errorf("vector %s: %w", o, err)
		}
	}
	if len(g.heads) > 0 {
		if _, err := tx.Stmt(s.setDigest).Exec(g.digest[:]); err != nil {
			return fmt.Errorf("digest: %w", err)
		}
	}
	return tx.Commit()
}

// entryRef is one row of entry_refs.
type entryRef struct {
	ref string
	id  Hash
}

// appendEntryArgs appends the values of o's entries row, in insEntry's
// order, to args.
func appendEntryArgs(args []any, o *op) []any {
	e := o.e
	return append(args, string(e.Origin), e.Seq, o.id[:], e.HLC.Wall, e.Kind, e.Subject, o.body, o.ref)
}

// checkHeld decides about an entry at an (origin, seq) this store already
// holds, in this transaction or an earlier one: the same id is a duplicate;
// another id is a fork, quarantined.
func (s *Store) checkHeld(tx *sql.Tx, o *op) error {
	e := o.e
	var held []byte
	if err := tx.QueryRow(`SELECT id FROM entries WHERE origin = ? AND seq = ?`, string(e.Origin), e.Seq).Scan(&held); err != nil {
		return fmt.Errorf("ledger: look up %s/%d: %w", e.Origin, e.Seq, err)
	}
	if string(held) == string(o.id[:]) {
		return errDuplicate
	}
	if _, err := tx.Exec(`INSERT OR IGNORE INTO forks (id, origin, seq, body, detected_at) VALUES (?, ?, ?, ?, ?)`,
		o.id[:], string(e.Origin), e.Seq, o.body, s.opt.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("ledger: quarantine fork: %w", err)
	}
	s.opt.Metrics.fork()
	var heldID Hash
	copy(heldID[:], held)
	return fmt.Errorf("%w: %s/%d is already %s", ErrFork, e.Origin, e.Seq, heldID.Short())
}

func (s *Store) failAll(reqs []*writeReq, err error) {
	s.log.Error("ledger commit failed; nothing of the batch was stored", "entries", len(reqs), "err", err)
	s.opt.Metrics.commitFailed()
	for _, r := range reqs {
		r.done <- writeResult{err: err}
	}
}
