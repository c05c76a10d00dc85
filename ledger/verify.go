package ledger

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"sort"
	"strings"
)

// VerifyError names the first problem Verify found.
type VerifyError struct {
	Origin  RegionID
	Seq     uint64
	ID      Hash // zero when the entry could not be decoded
	Problem string
}

func (e *VerifyError) Error() string {
	if e.Origin == "" {
		return e.Problem
	}
	if e.ID.IsZero() {
		return fmt.Sprintf("entry %s/%d: %s", e.Origin, e.Seq, e.Problem)
	}
	return fmt.Sprintf("entry %s/%d (%s): %s", e.Origin, e.Seq, e.ID, e.Problem)
}

// VerifyReport summarises a database that verified clean.
type VerifyReport struct {
	Entries int64
	Vector  map[RegionID]uint64
	Digest  Digest
	Forks   int
	// Region is the region the database belongs to; StoredKeys lists the
	// origins checked with keys the database recorded (the caller gave
	// none): that finds corruption, not someone able to rewrite the file.
	Region     RegionID
	StoredKeys []RegionID
}

// Identity returns the region and public key a ledger database is bound
// to, without opening it for writing.
func Identity(ctx context.Context, path string) (RegionID, ed25519.PublicKey, error) {
	db, err := openReadOnly(path)
	if err != nil {
		return "", nil, fmt.Errorf("ledger: %w", err)
	}
	defer db.Close()
	var region, pub []byte
	if err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'region'`).Scan(&region); err != nil {
		return "", nil, fmt.Errorf("ledger: %s has no region: %w", path, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'public_key'`).Scan(&pub); err != nil {
		return "", nil, fmt.Errorf("ledger: %s has no public key: %w", path, err)
	}
	return RegionID(region), ed25519.PublicKey(pub), nil
}

func openReadOnly(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// Verify checks the ledger database at path without changing it: SQLite's
// own integrity check, then every entry's encoding, id, signature (against
// keys), chain link, sequence and double-entry sums, and finally that the
// stored derived state (balances, vector, digest) equals what the entries
// give. It returns a *VerifyError naming the first problem, or another error
// if the file cannot be read at all.
func Verify(ctx context.Context, path string, keys Keys) (VerifyReport, error) {
	var rep VerifyReport
	db, err := openReadOnly(path)
	if err != nil {
		return rep, fmt.Errorf("ledger: verify: %w", err)
	}
	defer db.Close()

	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&check); err != nil {
		return rep, &VerifyError{Problem: fmt.Sprintf("not a readable SQLite database: %v", classify(err))}
	}
	if check != "ok" {
		return rep, &VerifyError{Problem: "SQLite integrity check: " + check}
	}

	keys = maps.Clone(keys)
	if keys == nil {
		keys = Keys{}
	}
	recorded := Keys{}
	if krows, err := db.QueryContext(ctx, `SELECT key, value FROM meta WHERE key LIKE 'key:%' OR key IN ('region', 'public_key')`); err == nil {
		var own []byte
		for krows.Next() {
			var k string
			var v []byte
			if krows.Scan(&k, &v) != nil {
				continue
			}
			switch {
			case k == "region":
				rep.Region = RegionID(v)
			case k == "public_key":
				own = v
			default:
				recorded[RegionID(strings.TrimPrefix(k, "key:"))] = ed25519.PublicKey(v)
			}
		}
		krows.Close()
		if rep.Region != "" && own != nil {
			recorded[rep.Region] = ed25519.PublicKey(own)
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT origin, seq, id, body FROM entries ORDER BY origin, seq`)
	if err != nil {
		return rep, &VerifyError{Problem: fmt.Sprintf("no ledger tables: %v", err)}
	}
	defer rows.Close()
	heads := make(map[RegionID]head)
	balances := make(map[[2]string]int64)
	var digest Digest
	for rows.Next() {
		var (
			origin   string
			seq      uint64
			id, body []byte
		)
		if err := rows.Scan(&origin, &seq, &id, &body); err != nil {
			return rep, err
		}
		bad := func(h Hash, format string, args ...any) error {
			return &VerifyError{Origin: RegionID(origin), Seq: seq, ID: h, Problem: fmt.Sprintf(format, args...)}
		}
		var stored Hash
		copy(stored[:], id)
		e, err := DecodeEntry(body)
		if err != nil {
			return rep, bad(stored, "undecodable: %v", err)
		}
		got := e.ID()
		switch {
		case got != stored:
			return rep, bad(stored, "content does not match its id (hashes to %s)", got.Short())
		case e.Origin != RegionID(origin) || e.Seq != seq:
			return rep, bad(got, "indexed as %s/%d but the entry says %s/%d", origin, seq, e.Origin, e.Seq)
		}
		pub, ok := keys[e.Origin]
		if !ok {
			if pub, ok = recorded[e.Origin]; ok {
				keys[e.Origin] = pub
				rep.StoredKeys = append(rep.StoredKeys, e.Origin)
			}
		}
		if !ok {
			return rep, bad(got, "origin %q has no configured public key", e.Origin)
		}
		if err := e.VerifySignature(pub); err != nil {
			return rep, bad(got, "signature does not verify with %s's key", e.Origin)
		}
		h := heads[e.Origin]
		switch {
		case e.Seq != h.Seq+1:
			return rep, bad(got, "sequence gap: previous held is %d", h.Seq)
		case e.Prev != h.ID:
			return rep, bad(got, "chain broken: prev is %s, entry %d is %s", e.Prev.Short(), h.Seq, h.ID.Short())
		case h.Seq > 0 && !h.HLC.Less(e.HLC):
			return rep, bad(got, "hlc %s does not follow %s", e.HLC, h.HLC)
		}
		heads[e.Origin] = head{Seq: e.Seq, ID: got, HLC: e.HLC}
		for _, p := range e.Postings {
			balances[[2]string{p.Account, p.Currency}] += int64(p.Amount)
		}
		digest = digest.Add(got)
		rep.Entries++
	}
	if err := rows.Err(); err != nil {
		return rep, err
	}

	if err := verifyDerived(ctx, db, heads, balances, digest); err != nil {
		return rep, err
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM forks`).Scan(&rep.Forks); err != nil {
		return rep, err
	}
	rep.Vector = make(map[RegionID]uint64, len(heads))
	for o, h := range heads {
		rep.Vector[o] = h.Seq
	}
	rep.Digest = digest
	return rep, nil
}

func verifyDerived(ctx context.Context, db *sql.DB, heads map[RegionID]head, balances map[[2]string]int64, digest Digest) error {
	stored := make(map[[2]string]int64)
	rows, err := db.QueryContext(ctx, `SELECT account, currency, amount FROM balances`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k [2]string
		var a int64
		if err := rows.Scan(&k[0], &k[1], &a); err != nil {
			rows.Close()
			return err
		}
		stored[k] = a
	}
	rows.Close()
	keys := make([][2]string, 0, len(balances))
	for k := range balances {
		keys = append(keys, k)
	}
	for k := range stored {
		if _, ok := balances[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0] < keys[j][0] || keys[i][0] == keys[j][0] && keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		if balances[k] != stored[k] {
			return &VerifyError{Problem: fmt.Sprintf("derived balance of %s %s is %d, entries sum to %d", k[0], k[1], stored[k], balances[k])}
		}
	}

	rows, err = db.QueryContext(ctx, `SELECT origin, seq, head FROM vector`)
	if err != nil {
		return err
	}
	seen := 0
	for rows.Next() {
		var (
			origin string
			seq    uint64
			id     []byte
		)
		if err := rows.Scan(&origin, &seq, &id); err != nil {
			rows.Close()
			return err
		}
		h := heads[RegionID(origin)]
		if h.Seq != seq || string(h.ID[:]) != string(id) {
			rows.Close()
			return &VerifyError{Problem: fmt.Sprintf("version vector says %s is at %d, entries reach %d", origin, seq, h.Seq)}
		}
		seen++
	}
	rows.Close()
	if seen != len(heads) {
		return &VerifyError{Problem: fmt.Sprintf("version vector lists %d origins, entries have %d", seen, len(heads))}
	}

	var d []byte
	err = db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'digest'`).Scan(&d)
	if errors.Is(err, sql.ErrNoRows) {
		d = make([]byte, len(Digest{}))
	} else if err != nil {
		return err
	}
	if string(d) != string(digest[:]) {
		return &VerifyError{Problem: fmt.Sprintf("stored digest does not match the entries (entries give %s)", digest)}
	}
	return nil
}
