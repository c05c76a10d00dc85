package ledger

import (
	"context"
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
	remote []Entry
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
// the stored entry once it is durable (fsynced as Options.Synchronous says).
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
	res, err := s.submit(ctx, &writeReq{draft: &d})
	if err != nil {
		return Entry{}, err
	}
	return res.entry, res.err
}

// ApplyResult says what happened to each entry passed to Apply.
type ApplyResult struct {
	Applied    int
	Duplicates int
	Rejected   []*RejectError
}

// Apply stores entries written by any region (this one included, when its
// own chain comes back from peers after a restore). Each entry is checked on
// its own: schema, the origin's signature, its chain link and its place in
// the origin's sequence; entries already held are skipped cheaply by id.
// Entries of one origin must arrive in seq order, but the slice may mix
// origins and orders: Apply sorts it. A rejected entry changes nothing and is
// reported in the result; an entry with the same (origin, seq) as a held one
// but a different id is quarantined as a fork. The error is non-nil only when
// storage failed, and then nothing of the call was stored.
func (s *Store) Apply(ctx context.Context, entries []Entry) (ApplyResult, error) {
	var res ApplyResult
	if len(entries) == 0 {
		return res, nil
	}
	ids := make([]Hash, len(entries))
	for i := range entries {
		ids[i] = entries[i].ID()
	}
	known, err := s.knownIDs(ctx, ids)
	if err != nil {
		return res, err
	}
	type cand struct {
		e  Entry
		id Hash
	}
	cands := make([]cand, 0, len(entries))
	seen := make(map[Hash]bool, len(entries))
	for i := range entries {
		if known[ids[i]] || seen[ids[i]] {
			res.Duplicates++
			continue
		}
		seen[ids[i]] = true
		cands = append(cands, cand{entries[i], ids[i]})
	}
	// Verify schema and signatures in parallel: verification, not SQLite, is
	// what bounds how fast a region can take in its peers' entries.
	errs := make([]error, len(cands))
	parallel(len(cands), func(i int) {
		e := &cands[i].e
		if err := e.Validate(); err != nil {
			errs[i] = err
			return
		}
		pub, ok := s.opt.Keys[e.Origin]
		if !ok {
			errs[i] = fmt.Errorf("%w %q", ErrUnknownOrigin, e.Origin)
			return
		}
		errs[i] = e.VerifySignature(pub)
	})
	valid := make([]Entry, 0, len(cands))
	for i, c := range cands {
		if errs[i] != nil {
			res.Rejected = append(res.Rejected, s.reject(c.e, c.id, errs[i]))
			continue
		}
		valid = append(valid, c.e)
	}
	if len(valid) == 0 {
		return res, nil
	}
	sort.Slice(valid, func(i, j int) bool {
		if valid[i].Origin != valid[j].Origin {
			return valid[i].Origin < valid[j].Origin
		}
		return valid[i].Seq < valid[j].Seq
	})
	wr, err := s.submit(ctx, &writeReq{remote: valid})
	if err != nil {
		return res, err
	}
	if wr.err != nil {
		return res, wr.err
	}
	for i, oerr := range wr.outcomes {
		switch {
		case oerr == nil:
			res.Applied++
		case errors.Is(oerr, errDuplicate):
			res.Duplicates++
		default:
			res.Rejected = append(res.Rejected, s.reject(valid[i], valid[i].ID(), oerr))
		}
	}
	return res, nil
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

func (s *Store) knownIDs(ctx context.Context, ids []Hash) (map[Hash]bool, error) {
	known := make(map[Hash]bool)
	const chunk = 500
	for lo := 0; lo < len(ids); lo += chunk {
		part := ids[lo:min(len(ids), lo+chunk)]
		args := make([]any, len(part))
		q := make([]byte, 0, len(part)*2)
		for i, id := range part {
			args[i] = id[:]
			if i > 0 {
				q = append(q, ',')
			}
			q = append(q, '?')
		}
		rows, err := s.rdb.QueryContext(ctx, `SELECT id FROM entries WHERE id IN (`+string(q)+`)`, args...)
		if err != nil {
			return nil, classify(fmt.Errorf("ledger: look up ids: %w", err))
		}
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				rows.Close()
				return nil, err
			}
			var h Hash
			copy(h[:], b)
			known[h] = true
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return known, nil
}

// submit queues r for the writer and waits for its result. Once queued, the
// request is committed or failed by the writer whatever happens to ctx.
func (s *Store) submit(ctx context.Context, r *writeReq) (writeResult, error) {
	r.done = make(chan writeResult, 1)
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return writeResult{}, ErrClosed
	}
	select {
	case s.reqs <- r:
		s.closeMu.RUnlock()
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return writeResult{}, ctx.Err()
	}
	return <-r.done, nil
}

// writer is the only goroutine that writes to the database. It takes every
// request waiting (up to MaxBatch) and commits them in one transaction.
func (s *Store) writer() {
	defer close(s.done)
	batch := make([]*writeReq, 0, s.opt.MaxBatch)
	for {
		var first *writeReq
		select {
		case first = <-s.reqs:
		case <-s.quit:
			// Close holds closeMu while closing quit, so nothing more can be
			// queued: drain what is there and stop.
			for {
				select {
				case r := <-s.reqs:
					s.commit([]*writeReq{r})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < s.opt.MaxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.commit(batch)
	}
}

// commit writes one group of requests in a single transaction. Entry-level
// rejections (gap, chain, fork) are decided against the staged state and do
// not fail the group; a storage error fails every request in it, and then the
// in-memory state is left exactly as it was before.
func (s *Store) commit(batch []*writeReq) {
	start := time.Now()
	s.mu.RLock()
	staged := make(map[RegionID]head, 4)
	digest, count := s.digest, s.count
	lookup := func(o RegionID) head {
		if h, ok := staged[o]; ok {
			return h
		}
		return s.heads[o]
	}
	s.mu.RUnlock()

	results := make([]writeResult, len(batch))
	var toSign []*Entry
	var inserts []pending

	tx, err := s.wdb.Begin()
	if err != nil {
		s.failAll(batch, classify(fmt.Errorf("ledger: begin: %w", err)))
		return
	}
	defer tx.Rollback()

	for i, r := range batch {
		if r.draft != nil {
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
			id := e.ID()
			staged[e.Origin] = head{Seq: e.Seq, ID: id, HLC: e.HLC}
			results[i].entry = *e
			toSign = append(toSign, e)
			inserts = append(inserts, pending{e, id})
			digest = digest.Add(id)
			count++
			continue
		}
		results[i].outcomes = make([]error, len(r.remote))
		for j := range r.remote {
			e := &r.remote[j]
			id := e.ID()
			h := lookup(e.Origin)
			switch {
			case e.Seq <= h.Seq:
				results[i].outcomes[j] = s.checkHeld(tx, e, id)
				continue
			case e.Seq > h.Seq+1:
				results[i].outcomes[j] = fmt.Errorf("%w: have %s up to %d, got %d", ErrGap, e.Origin, h.Seq, e.Seq)
				continue
			case e.Prev != h.ID:
				results[i].outcomes[j] = fmt.Errorf("%w: prev %s is not %s/%d (%s)", ErrChain, e.Prev.Short(), e.Origin, h.Seq, h.ID.Short())
				continue
			case h.Seq > 0 && !h.HLC.Less(e.HLC):
				results[i].outcomes[j] = fmt.Errorf("%w: hlc %s does not follow %s", ErrMalformed, e.HLC, h.HLC)
				continue
			}
			staged[e.Origin] = head{Seq: e.Seq, ID: id, HLC: e.HLC}
			inserts = append(inserts, pending{e, id})
			digest = digest.Add(id)
			count++
			s.clock.observe(e.HLC)
		}
	}

	parallel(len(toSign), func(i int) { toSign[i].Sign(s.opt.Key) })
	for i, r := range batch {
		if r.draft != nil {
			results[i].entry.Sig = toSign[0].Sig
			toSign = toSign[1:]
		}
	}

	if err := s.insert(tx, inserts, staged, digest); err != nil {
		s.failAll(batch, classify(fmt.Errorf("ledger: commit: %w", err)))
		return
	}
	if err := tx.Commit(); err != nil {
		s.failAll(batch, classify(fmt.Errorf("ledger: commit: %w", err)))
		return
	}

	s.mu.Lock()
	for o, h := range staged {
		s.heads[o] = h
	}
	s.digest, s.count = digest, count
	s.mu.Unlock()
	s.opt.Metrics.committed(len(inserts), time.Since(start))
	for i, r := range batch {
		r.done <- results[i]
	}
}

// checkHeld decides about an entry at an (origin, seq) this store already
// holds: the same id is a duplicate; another id is a fork, quarantined.
func (s *Store) checkHeld(tx *sql.Tx, e *Entry, id Hash) error {
	var held []byte
	if err := tx.QueryRow(`SELECT id FROM entries WHERE origin = ? AND seq = ?`, string(e.Origin), e.Seq).Scan(&held); err != nil {
		return fmt.Errorf("ledger: look up %s/%d: %w", e.Origin, e.Seq, err)
	}
	if string(held) == string(id[:]) {
		return errDuplicate
	}
	body, _ := e.MarshalBinary()
	if _, err := tx.Exec(`INSERT OR IGNORE INTO forks (id, origin, seq, body, detected_at) VALUES (?, ?, ?, ?, ?)`,
		id[:], string(e.Origin), e.Seq, body, s.opt.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("ledger: quarantine fork: %w", err)
	}
	s.opt.Metrics.fork()
	var heldID Hash
	copy(heldID[:], held)
	return fmt.Errorf("%w: %s/%d is already %s", ErrFork, e.Origin, e.Seq, heldID.Short())
}

// pending is an entry about to be inserted, with its id computed once.
type pending struct {
	e  *Entry
	id Hash
}

func (s *Store) insert(tx *sql.Tx, entries []pending, staged map[RegionID]head, digest Digest) error {
	if len(entries) > 0 {
		insEntry, err := tx.Prepare(`INSERT INTO entries (origin, seq, id, hlc, kind, subject, body) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insEntry.Close()
		insBalance, err := tx.Prepare(`INSERT INTO balances (account, currency, amount) VALUES (?, ?, ?)
			ON CONFLICT (account, currency) DO UPDATE SET amount = amount + excluded.amount`)
		if err != nil {
			return err
		}
		defer insBalance.Close()
		for _, p := range entries {
			e, id := p.e, p.id
			body, _ := e.MarshalBinary()
			if _, err := insEntry.Exec(string(e.Origin), e.Seq, id[:], e.HLC.Wall, e.Kind, e.Subject, body); err != nil {
				return fmt.Errorf("insert %s/%d: %w", e.Origin, e.Seq, err)
			}
			for _, po := range e.Postings {
				if _, err := insBalance.Exec(po.Account, po.Currency, int64(po.Amount)); err != nil {
					return fmt.Errorf("post %s/%d: %w", e.Origin, e.Seq, err)
				}
			}
		}
	}
	for o, h := range staged {
		if _, err := tx.Exec(`INSERT INTO vector (origin, seq, head, hlc_wall, hlc_logical) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq, head = excluded.head, hlc_wall = excluded.hlc_wall, hlc_logical = excluded.hlc_logical`,
			string(o), h.Seq, h.ID[:], h.HLC.Wall, h.HLC.Logical); err != nil {
			return fmt.Errorf("vector %s: %w", o, err)
		}
	}
	if len(staged) > 0 {
		if _, err := tx.Exec(`INSERT INTO meta (key, value) VALUES ('digest', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, digest[:]); err != nil {
			return fmt.Errorf("digest: %w", err)
		}
	}
	return nil
}

func (s *Store) failAll(batch []*writeReq, err error) {
	s.log.Error("ledger commit failed; nothing of the batch was stored", "entries", len(batch), "err", err)
	s.opt.Metrics.commitFailed()
	for _, r := range batch {
		r.done <- writeResult{err: err}
	}
}
