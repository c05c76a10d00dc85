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
	return s.apply(ctx, rs)
}

// ApplyWire is Apply for entries in their wire form (MarshalBinary), as
// peers send them: each is decoded once, and its bytes serve the id, the
// signature check and the stored body without being encoded again. If any
// entry does not decode, the error is a *WireError naming it and nothing is
// stored.
func (s *Store) ApplyWire(ctx context.Context, wire [][]byte) (ApplyResult, error) {
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
			return ApplyResult{}, &WireError{Index: i, Err: err}
		}
	}
	return s.apply(ctx, rs)
}

func (s *Store) apply(ctx context.Context, rs []remote) (ApplyResult, error) {
	var res ApplyResult
	if len(rs) == 0 {
		return res, nil
	}
	known, err := s.knownIDs(ctx, rs)
	if err != nil {
		return res, err
	}
	cands := make([]*remote, 0, len(rs))
	seen := make(map[Hash]bool, len(rs))
	for i := range rs {
		r := &rs[i]
		if known[r.id] || seen[r.id] {
			res.Duplicates++
			continue
		}
		seen[r.id] = true
		cands = append(cands, r)
	}
	if len(cands) == 0 {
		return res, nil
	}
	// Verify schema and signatures in parallel: verification, not SQLite, is
	// what bounds how fast a region can take in its peers' entries.
	errs := make([]error, len(cands))
	parallel(len(cands), func(i int) {
		r := cands[i]
		if !r.validated {
			if err := r.e.Validate(); err != nil {
				errs[i] = err
				return
			}
		}
		pub, ok := s.opt.Keys[r.e.Origin]
		if !ok {
			errs[i] = fmt.Errorf("%w %q", ErrUnknownOrigin, r.e.Origin)
			return
		}
		if len(r.e.Sig) != ed25519.SignatureSize || !ed25519.Verify(pub, r.canonical(), r.e.Sig) {
			errs[i] = ErrSignature
		}
	})
	valid := make([]*remote, 0, len(cands))
	for i, r := range cands {
		if errs[i] != nil {
			res.Rejected = append(res.Rejected, s.reject(r.e, r.id, errs[i]))
			continue
		}
		valid = append(valid, r)
	}
	if len(valid) == 0 {
		return res, nil
	}
	sort.Slice(valid, func(i, j int) bool {
		if valid[i].e.Origin != valid[j].e.Origin {
			return valid[i].e.Origin < valid[j].e.Origin
		}
		return valid[i].e.Seq < valid[j].e.Seq
	})
	req := &writeReq{remote: make([]Entry, len(valid)), ids: make([]Hash, len(valid)), bodies: make([][]byte, len(valid))}
	for i, r := range valid {
		req.remote[i], req.ids[i], req.bodies[i] = r.e, r.id, r.body
	}
	wr, err := s.submit(ctx, req)
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
			res.Rejected = append(res.Rejected, s.reject(valid[i].e, valid[i].id, oerr))
		}
	}
	return res, nil
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
