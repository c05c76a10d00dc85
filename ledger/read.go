package ledger

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Balance returns the balance of account in currency: the sum of every
// posting to it. An account never posted to has balance zero.
func (s *Store) Balance(ctx context.Context, account, currency string) (Amount, error) {
	var a int64
	st, err := s.stmt(ctx, `SELECT amount FROM balances WHERE account = ? AND currency = ?`)
	if err != nil {
		return 0, err
	}
	err = st.QueryRowContext(ctx, account, currency).Scan(&a)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return Amount(a), err
}

// BalancesByPrefix returns the balance in currency of every account whose
// name starts with prefix (one indexed range read: a consumer's credit
// accounts, an order's rights). Accounts never posted to are absent.
func (s *Store) BalancesByPrefix(ctx context.Context, prefix, currency string) (map[string]Amount, error) {
	if prefix == "" {
		return nil, fmt.Errorf("ledger: empty account prefix")
	}
	// The accounts starting with prefix sort between prefix and prefix
	// with its last byte raised by one.
	upper := []byte(prefix)
	upper[len(upper)-1]++
	st, err := s.stmt(ctx, `SELECT account, amount FROM balances WHERE account >= ? AND account < ? AND currency = ?`)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, prefix, string(upper), currency)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]Amount{}
	for rows.Next() {
		var a string
		var n int64
		if err := rows.Scan(&a, &n); err != nil {
			return nil, err
		}
		out[a] = Amount(n)
	}
	return out, rows.Err()
}

// AccountBalance is one row of Balances.
type AccountBalance struct {
	Account  string `json:"account"`
	Currency string `json:"currency"`
	Amount   Amount `json:"amount"`
}

// Balances returns every account's balance, sorted by account and currency.
// Zero balances are included: an account that was posted to stays listed.
func (s *Store) Balances(ctx context.Context) ([]AccountBalance, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT account, currency, amount FROM balances ORDER BY account, currency`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AccountBalance
	for rows.Next() {
		var b AccountBalance
		if err := rows.Scan(&b.Account, &b.Currency, &b.Amount); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// EntriesAfter returns up to limit entries of origin with seq > after, in seq
// order. It is how a peer (or a restored region) catches up on one chain.
func (s *Store) EntriesAfter(ctx context.Context, origin RegionID, after uint64, limit int) ([]Entry, error) {
	return s.queryEntries(ctx, `SELECT body FROM entries WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?`, string(origin), after, limit)
}

// Wire is an entry in its wire form (canonical bytes and signature, as
// stored and as pushed to peers), with the origin and seq that place it.
type Wire struct {
	Origin RegionID
	Seq    uint64
	Body   []byte
}

// WireAfter returns up to limit entries of origin with seq > after, in seq
// order, in their wire form: what a push sends, read without decoding and
// encoding each entry again; a limit of zero or less returns none. While
// the tail holds the first entry asked for, the answer comes from memory,
// else from the database. The bodies are shared with the store and with
// other callers: they must not be changed.
func (s *Store) WireAfter(ctx context.Context, origin RegionID, after uint64, limit int) ([]Wire, error) {
	s.mu.RLock()
	head := s.heads[origin].Seq
	s.mu.RUnlock()
	if head <= after || limit <= 0 {
		return nil, nil
	}
	if ws, ok := s.tail.wireAfter(origin, after, limit); ok {
		return ws, nil
	}
	return s.wireFromDatabase(ctx, origin, after, limit)
}

// wireFromDatabase is WireAfter read from the database alone.
func (s *Store) wireFromDatabase(ctx context.Context, origin RegionID, after uint64, limit int) ([]Wire, error) {
	st, err := s.stmt(ctx, `SELECT seq, body FROM entries WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?`)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, string(origin), after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Wire
	for rows.Next() {
		w := Wire{Origin: origin}
		if err := rows.Scan(&w.Seq, &w.Body); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// EntriesSince returns up to limit entries in the order this region stored
// them, starting after local position pos, and the position of the last one.
// Positions are local to this database.
func (s *Store) EntriesSince(ctx context.Context, pos int64, limit int) ([]Entry, int64, error) {
	if es, last, ok, err := s.tail.since(pos, nil, limit); ok {
		return es, last, err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT pos, origin, seq, body FROM entries WHERE pos > ? ORDER BY pos LIMIT ?`, pos, limit)
	if err != nil {
		return nil, pos, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var body []byte
		var origin string
		var seq uint64
		if err := rows.Scan(&pos, &origin, &seq, &body); err != nil {
			return nil, pos, err
		}
		e, err := DecodeEntry(body)
		if err != nil {
			return nil, pos, fmt.Errorf("%w: stored entry %s/%d (local position %d): %v", ErrCorrupt, origin, seq, pos, err)
		}
		out = append(out, e)
	}
	return out, pos, rows.Err()
}

// Entry returns the entry with the given id, or ErrNotFound.
func (s *Store) Entry(ctx context.Context, id Hash) (Entry, error) {
	es, err := s.queryEntries(ctx, `SELECT body FROM entries WHERE id = ?`, id[:])
	if err != nil {
		return Entry{}, err
	}
	if len(es) == 0 {
		return Entry{}, fmt.Errorf("%w: entry %s", ErrNotFound, id.Short())
	}
	return es[0], nil
}

// EntriesBySubject returns every entry about subject (an order, a consumer),
// ordered by hlc and then origin: the same order in every region.
//
// The subjects a region is busy with are answered from memory (see
// subjects): a subject is read from the database once, or not at all when
// this process stored its first entry, and then kept up to date as entries
// about it commit.
func (s *Store) EntriesBySubject(ctx context.Context, subject string) ([]Entry, error) {
	if subject == "" {
		return nil, nil
	}
	s.closeMu.RLock()
	closed := s.closed
	s.closeMu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if es, ok := s.subjects.get(subject); ok {
		return es, nil
	}
	st, err := s.stmt(ctx, `SELECT body, (SELECT COALESCE(MAX(pos), 0) FROM entries) FROM entries
		WHERE subject = ? AND subject <> '' ORDER BY hlc, origin, seq`)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, subject)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		out  []Entry
		snap int64 // the last position the statement's snapshot holds
	)
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body, &snap); err != nil {
			return nil, err
		}
		e, err := DecodeEntry(body)
		if err != nil {
			return nil, fmt.Errorf("%w: stored entry: %v", ErrCorrupt, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	return s.tail.complete(subject, out, snap)
}

// learn reads the subjects stored before Open into the filter of stored
// subjects, a batch at a time so that checkpoints are not held off, and
// then lets the filter answer. Subjects stored since Open are in it already
// (commits add them). It stops early when the store closes; the filter is
// then never asked, which costs reads, not answers.
func (s *Store) learn(stored int64) {
	defer close(s.learnDone)
	if stored == 0 {
		s.subjects.learn(nil, true)
		return
	}
	after := ""
	for {
		select {
		case <-s.quit:
			return
		default:
		}
		batch, err := s.subjectsAfter(after, 4096)
		if err != nil {
			s.log.Warn("ledger: reading stored subjects; each subject is read from the database once", "err", err)
			return
		}
		if len(batch) > 0 {
			after = batch[len(batch)-1]
		}
		s.subjects.learn(batch, len(batch) < 4096)
		if len(batch) < 4096 {
			return
		}
	}
}

func (s *Store) subjectsAfter(after string, limit int) ([]string, error) {
	rows, err := s.rdb.Query(`SELECT DISTINCT subject FROM entries WHERE subject > ? AND subject <> '' ORDER BY subject LIMIT ?`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var subject string
		if err := rows.Scan(&subject); err != nil {
			return nil, err
		}
		out = append(out, subject)
	}
	return out, rows.Err()
}

// EntriesByRef returns every entry whose data has the top-level string field
// "ref" equal to ref, or ref among the strings of its top-level array
// "refs", in the same order as EntriesBySubject. Both are indexed.
func (s *Store) EntriesByRef(ctx context.Context, ref string) ([]Entry, error) {
	return s.queryEntries(ctx, `SELECT body FROM (
		SELECT body, hlc, origin, seq FROM entries WHERE ref = ?1
		UNION ALL
		SELECT e.body, e.hlc, e.origin, e.seq FROM entry_refs r JOIN entries e ON e.id = r.id
		WHERE r.ref = ?1 AND e.ref IS NOT ?1
	) ORDER BY hlc, origin, seq`, ref)
}

// EntriesOfKindsSince returns the entries of the given kinds stored after
// local position pos, in local order, at most limit of them, and the
// position read up to: every entry up to it, of any kind, was considered,
// so a caller that keeps it misses none and reads none twice. Only the
// kinds asked for are decoded, so following rare kinds costs little while
// other entries pour in.
func (s *Store) EntriesOfKindsSince(ctx context.Context, pos int64, kinds []string, limit int) ([]Entry, int64, error) {
	if len(kinds) > 0 {
		if es, last, ok, err := s.tail.since(pos, kinds, limit); ok {
			return es, last, err
		}
	}
	var head int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT COALESCE(MAX(pos), 0) FROM entries`).Scan(&head); err != nil {
		return nil, pos, err
	}
	if head <= pos || len(kinds) == 0 {
		return nil, max(pos, head), nil
	}
	args := []any{pos, head}
	for _, k := range kinds {
		args = append(args, k)
	}
	args = append(args, limit)
	q := `SELECT pos, origin, seq, body FROM entries WHERE pos > ? AND pos <= ? AND kind IN (?` +
		strings.Repeat(",?", len(kinds)-1) + `) ORDER BY pos LIMIT ?`
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, pos, err
	}
	defer rows.Close()
	var out []Entry
	last := pos
	for rows.Next() {
		var body []byte
		var origin string
		var seq uint64
		if err := rows.Scan(&last, &origin, &seq, &body); err != nil {
			return nil, pos, err
		}
		e, err := DecodeEntry(body)
		if err != nil {
			return nil, pos, fmt.Errorf("%w: stored entry %s/%d (local position %d): %v", ErrCorrupt, origin, seq, last, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, pos, err
	}
	if len(out) < limit {
		last = head // nothing else of these kinds up to the head
	}
	return out, last, nil
}

// EntriesByKind returns every entry of a kind. It scans the table: it is
// for start-up and maintenance, not for request paths.
func (s *Store) EntriesByKind(ctx context.Context, kind string) ([]Entry, error) {
	return s.queryEntries(ctx, `SELECT body FROM entries WHERE kind = ? ORDER BY hlc, origin, seq`, kind)
}

// MaxRefs is how many strings of an entry's "refs" are indexed; the rest
// are not.
const MaxRefs = 16

// refsOf decodes, once, what an entry's data asks to be found by: its
// "ref" field (nil, SQL NULL, when absent or empty) and the distinct
// non-empty strings of its top-level array "refs", at most MaxRefs of them.
func refsOf(data json.RawMessage) (ref any, refs []string) {
	if !bytes.Contains(data, []byte(`"ref`)) {
		return nil, nil
	}
	var v struct {
		Ref  string   `json:"ref"`
		Refs []string `json:"refs"`
	}
	if json.Unmarshal(data, &v) != nil {
		// A "refs" of another shape must not hide the "ref".
		var r struct {
			Ref string `json:"ref"`
		}
		json.Unmarshal(data, &r)
		v.Ref, v.Refs = r.Ref, nil
	}
	if v.Ref != "" {
		ref = v.Ref
	}
	for _, r := range v.Refs {
		if r != "" && !slices.Contains(refs, r) && len(refs) < MaxRefs {
			refs = append(refs, r)
		}
	}
	return ref, refs
}

// stmt returns the read statement for q, prepared once: parsing SQL is a
// large share of a small query's cost.
func (s *Store) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := s.readStmts.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.rdb.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.readStmts.LoadOrStore(q, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

func (s *Store) queryEntries(ctx context.Context, q string, args ...any) ([]Entry, error) {
	st, err := s.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		e, err := DecodeEntry(body)
		if err != nil {
			return nil, fmt.Errorf("%w: stored entry: %v", ErrCorrupt, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Fork is a quarantined entry: a second, different entry at an (origin, seq)
// this region already held.
type Fork struct {
	Entry      Entry     `json:"entry"`
	ID         Hash      `json:"id"`
	DetectedAt time.Time `json:"detected_at"`
}

// Forks returns every quarantined entry, oldest first.
func (s *Store) Forks(ctx context.Context) ([]Fork, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, body, detected_at FROM forks ORDER BY detected_at, origin, seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Fork
	for rows.Next() {
		var (
			id, body []byte
			at       string
			f        Fork
		)
		if err := rows.Scan(&id, &body, &at); err != nil {
			return nil, err
		}
		copy(f.ID[:], id)
		if f.Entry, err = DecodeEntry(body); err != nil {
			return nil, fmt.Errorf("%w: quarantined entry: %v", ErrCorrupt, err)
		}
		f.DetectedAt, _ = time.Parse(time.RFC3339Nano, at)
		out = append(out, f)
	}
	return out, rows.Err()
}
