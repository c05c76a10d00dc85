package ledger

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
)

// ApplyResult says what happened to each entry passed to Apply.
type ApplyResult struct {
	Applied    int
	Duplicates int
	Rejected   []*RejectError
}

// WireError says which entry of an ApplyWire call did not decode. Nothing of
// that call was stored.
type WireError struct {
	Index int
	Err   error
}

func (e *WireError) Error() string { return fmt.Sprintf("entry %d: %v", e.Index, e.Err) }
func (e *WireError) Unwrap() error { return e.Err }

// remote is one entry from another region (or this region's own chain coming
// back) on its way in: the entry, its id and its stored form, each computed
// once.
type remote struct {
	e         Entry
	id        Hash
	body      []byte // canonical bytes followed by the signature
	validated bool   // schema already checked (decoded from the wire form)
}

func (r *remote) canonical() []byte { return r.body[:len(r.body)-len(r.e.Sig)] }

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
	rs := make([]remote, len(entries))
	parallel(len(entries), func(i int) {
		e := &entries[i]
		c := e.Canonical()
		body := append(make([]byte, 0, len(c)+len(e.Sig)), c...)
		rs[i] = remote{e: *e, id: sha256.Sum256(c), body: append(body, e.Sig...)}
	})
	p, err := s.verify(ctx, rs)
	if err != nil {
		return ApplyResult{}, err
	}
	return p.Apply(ctx)
}

// ApplyWire is Apply for entries in their wire form (MarshalBinary), as
// peers send them: each is decoded once, and its bytes serve the id, the
// signature check and the stored body without being encoded again. If any
// entry does not decode, the error is a *WireError naming it and nothing is
// stored. The store keeps references to the bytes of wire (the latest
// entries are served to followers from memory): the caller must not change
// them afterwards.
func (s *Store) ApplyWire(ctx context.Context, wire [][]byte) (ApplyResult, error) {
	p, err := s.PrepareWire(ctx, wire)
	if err != nil {
		return ApplyResult{}, err
	}
	return p.Apply(ctx)
}

// Prepared holds entries that have been decoded, checked against what the
// store holds and verified, ready to be handed to the writer. Apply is
// PrepareWire then Prepared.Apply; splitting them lets a caller verify one
// batch while an earlier one commits, and still hand the batches to the
// writer in their order: the writer stages batches in the order their Apply
// calls reached it.
type Prepared struct {
	s     *Store
	res   ApplyResult
	valid []*remote
}

// PrepareWire decodes and verifies entries in their wire form (see
// ApplyWire, whose rule about wire's bytes holds here too) without storing
// anything.
func (s *Store) PrepareWire(ctx context.Context, wire [][]byte) (*Prepared, error) {
	rs := make([]remote, len(wire))
	errs := make([]error, len(wire))
	parallel(len(wire), func(i int) {
		b := wire[i]
		if err := rs[i].e.UnmarshalBinary(b); err != nil {
			errs[i] = err
			return
		}
		rs[i].id = sha256.Sum256(b[:len(b)-ed25519.SignatureSize])
		rs[i].body = b[:len(b):len(b)]
		rs[i].validated = true
	})
	for i, err := range errs {
		if err != nil {
			return nil, &WireError{Index: i, Err: err}
		}
	}
	return s.verify(ctx, rs)
}

// verify skips what the store holds and verifies the rest.
func (s *Store) verify(ctx context.Context, rs []remote) (*Prepared, error) {
	p := &Prepared{s: s}
	if len(rs) == 0 {
		return p, nil
	}
	known, err := s.knownIDs(ctx, rs)
	if err != nil {
		return nil, err
	}
	cands := make([]*remote, 0, len(rs))
	seen := make(map[Hash]bool, len(rs))
	for i := range rs {
		r := &rs[i]
		if known[r.id] || seen[r.id] {
			p.res.Duplicates++
			continue
		}
		seen[r.id] = true
		cands = append(cands, r)
	}
	// Verify schema and signatures on every core, the signatures in batches:
	// checking signatures one by one was the largest cost of taking in a
	// peer's entries.
	errs := make([]error, len(cands))
	parallel(len(cands), func(i int) {
		r := cands[i]
		if !r.validated {
			if err := r.e.Validate(); err != nil {
				errs[i] = err
				return
			}
		}
		if _, ok := s.opt.Keys[r.e.Origin]; !ok {
			errs[i] = fmt.Errorf("%w %q", ErrUnknownOrigin, r.e.Origin)
		}
	})
	checks := make([]sigCheck, 0, len(cands))
	checked := make([]int, 0, len(cands))
	for i, r := range cands {
		if errs[i] != nil {
			continue
		}
		if len(r.e.Sig) != ed25519.SignatureSize {
			errs[i] = ErrSignature
			continue
		}
		checks = append(checks, sigCheck{pub: s.opt.Keys[r.e.Origin], msg: r.canonical(), sig: r.e.Sig})
		checked = append(checked, i)
	}
	for j, ok := range verifySigs(checks) {
		if !ok {
			errs[checked[j]] = ErrSignature
		}
	}
	for i, r := range cands {
		if errs[i] != nil {
			p.res.Rejected = append(p.res.Rejected, s.reject(r.e, r.id, errs[i]))
			continue
		}
		p.valid = append(p.valid, r)
	}
	sort.Slice(p.valid, func(i, j int) bool {
		if p.valid[i].e.Origin != p.valid[j].e.Origin {
			return p.valid[i].e.Origin < p.valid[j].e.Origin
		}
		return p.valid[i].e.Seq < p.valid[j].e.Seq
	})
	return p, nil
}

// Apply is Submit followed by waiting for the commit.
func (p *Prepared) Apply(ctx context.Context) (ApplyResult, error) {
	wait, err := p.Submit(ctx)
	if err != nil {
		return ApplyResult{}, err
	}
	return wait()
}

// Submit hands the prepared entries to the writer, which stages them after
// everything handed to it before, and returns a function that waits for
// their commit and says what became of each entry. The error is non-nil only
// if the store is closed or ctx ends before the entries were handed over;
// then nothing of them was stored.
func (p *Prepared) Submit(ctx context.Context) (wait func() (ApplyResult, error), err error) {
	res := p.res
	if len(p.valid) == 0 {
		return func() (ApplyResult, error) { return res, nil }, nil
	}
	req := &writeReq{remote: p.valid}
	if err := p.s.enqueue(ctx, req); err != nil {
		return nil, err
	}
	return func() (ApplyResult, error) {
		wr := <-req.done
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
				res.Rejected = append(res.Rejected, p.s.reject(p.valid[i].e, p.valid[i].id, oerr))
			}
		}
		return res, nil
	}, nil
}

// knownIDs returns which of rs's ids this store already holds. Only entries
// at or below their origin's head can be held (a chain is stored without
// gaps), so only those are looked up.
func (s *Store) knownIDs(ctx context.Context, rs []remote) (map[Hash]bool, error) {
	known := make(map[Hash]bool)
	var ids []Hash
	s.mu.RLock()
	for i := range rs {
		if rs[i].e.Seq <= s.heads[rs[i].e.Origin].Seq {
			ids = append(ids, rs[i].id)
		}
	}
	s.mu.RUnlock()
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
