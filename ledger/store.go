package ledger

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
)

//go:embed migration/*.sql
var migrations embed.FS

// Keys maps each known origin to its ed25519 public key.
type Keys map[RegionID]ed25519.PublicKey

// Options configure a Store.
type Options struct {
	// Path of the SQLite database file. It is created if absent.
	Path string
	// Region is this region's id, the origin of every appended entry.
	Region RegionID
	// Key signs appended entries. Its public half must be Keys[Region].
	Key ed25519.PrivateKey
	// Keys verifies applied entries. Entries of an origin not in it are
	// rejected with ErrUnknownOrigin.
	Keys Keys
	// Settings are the operator's tunables; a zero field takes its
	// default.
	Settings
	// Now is the wall clock; time.Now if nil.
	Now func() time.Time
	// Logger receives rejections and storage errors; slog.Default() if nil.
	Logger *slog.Logger
	// Metrics, if not nil, counts what the store does.
	Metrics *Metrics
	// Pragmas are extra SQLite pragmas for the write connection, in DSN form
	// ("max_page_count(64)"). Tests use them to simulate a full disk.
	Pragmas []string
}

// Store is one region's ledger: its entries, their derived state (balances,
// version vector, digest) and the single writer that changes them. Appending a
// local entry and applying a remote one are the only ways in; every write
// commits entries and derived state in one transaction, in groups.
// A Store is safe for concurrent use.
type Store struct {
	opt Options
	log *slog.Logger
	wdb *sql.DB // the one write connection: the committer's, and SetMark's between commits
	rdb *sql.DB // read pool
	gdb *sql.DB // one read connection of the writer's own, for guards
	cdb *sql.DB // the checkpointer's connection

	readStmts sync.Map // query -> *sql.Stmt on rdb
	clock     *clock

	// Statements of the write path, prepared once on the write connection.
	insEntry, insBalance, setVector, setDigest *sql.Stmt
	// The same inserts for entryRows entries or balanceRows balances at once.
	insEntries, insBalances *sql.Stmt
	insRef                  *sql.Stmt
	// readGuard reads one balance and the digest it belongs to, on gdb.
	readGuard *sql.Stmt

	reqs chan *writeReq
	quit chan struct{}
	done chan struct{}

	closeOnce sync.Once
	closeMu   sync.RWMutex // held for reading while a request is being queued
	closed    bool

	// guardCache holds committed balances the writer has read for guards,
	// kept up to date as commits finish; only the writer goroutine uses it.
	guardCache map[balanceKey]int64

	mu     sync.RWMutex // guards heads, digest, count
	heads  map[RegionID]head
	digest Digest
	count  int64

	// checkpoint wakes the checkpointer after a commit; checkpointDone
	// closes when it has stopped.
	checkpoint     chan struct{}
	checkpointDone chan struct{}

	changedMu sync.Mutex
	changed   chan struct{} // closed and replaced after each commit that stored entries

	tail      tail      // the latest committed entries, for followers
	subjects  *subjects // the entries of the subjects requests are busy with
	learnDone chan struct{}
}

type head struct {
	Seq uint64
	ID  Hash
	HLC HLC
}

// Open opens (creating if needed) the ledger database at opt.Path, applies the
// embedded migrations, loads the derived state and starts the writer. It
// returns ErrCorrupt for a file that is not a healthy SQLite database and
// ErrRegionMismatch when the database was written by another region or key.
func Open(ctx context.Context, opt Options) (*Store, error) {
	if opt.Path == "" {
		return nil, errors.New("ledger: no database path")
	}
	if !validName(string(opt.Region), MaxOriginLen, false) {
		return nil, fmt.Errorf("ledger: invalid region id %q", opt.Region)
	}
	if len(opt.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("ledger: no signing key")
	}
	if pub, ok := opt.Keys[opt.Region]; !ok || !pub.Equal(opt.Key.Public()) {
		return nil, fmt.Errorf("ledger: keys must hold this region's public key for %q", opt.Region)
	}
	for origin, pub := range opt.Keys {
		if err := CheckPublicKey(pub); err != nil {
			return nil, fmt.Errorf("ledger: key of %q: %w", origin, err)
		}
	}
	switch strings.ToUpper(opt.Synchronous) {
	case "":
		opt.Synchronous = DefaultSynchronous
	case "NORMAL", "FULL":
		opt.Synchronous = strings.ToUpper(opt.Synchronous)
	default:
		return nil, fmt.Errorf("ledger: synchronous must be NORMAL or FULL, got %q", opt.Synchronous)
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = DefaultMaxBatch
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if fi, err := os.Stat(opt.Path); err == nil && fi.Size() > 0 && fi.Size() < 512 {
		return nil, fmt.Errorf("%w: %s is %d bytes, too short for a database", ErrCorrupt, opt.Path, fi.Size())
	}

	s := &Store{
		opt:        opt,
		log:        opt.Logger,
		clock:      &clock{now: opt.Now},
		reqs:       make(chan *writeReq, 4*opt.MaxBatch),
		quit:       make(chan struct{}),
		done:       make(chan struct{}),
		heads:      make(map[RegionID]head),
		guardCache: map[balanceKey]int64{},

		changed: make(chan struct{}),
	}
	var err error
	if s.wdb, err = sql.Open("sqlite", dsn(opt.Path, opt.Synchronous, false, 0, opt.Pragmas)); err != nil {
		return nil, fmt.Errorf("ledger: open %s: %w", opt.Path, err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if s.rdb, err = sql.Open("sqlite", dsn(opt.Path, opt.Synchronous, true, busyWait, nil)); err != nil {
		s.wdb.Close()
		return nil, fmt.Errorf("ledger: open %s: %w", opt.Path, err)
	}
	// Readers are cheap in WAL mode; request handlers make several reads
	// each, so the pool is generous.
	s.rdb.SetMaxOpenConns(max(16, runtime.GOMAXPROCS(0)*8))
	s.rdb.SetMaxIdleConns(max(16, runtime.GOMAXPROCS(0)*8))
	// The writer checks guards while staging; it must never queue for a
	// read connection behind request handlers.
	if s.gdb, err = sql.Open("sqlite", dsn(opt.Path, opt.Synchronous, true, busyWait, nil)); err != nil {
		s.rdb.Close()
		s.wdb.Close()
		return nil, fmt.Errorf("ledger: open %s: %w", opt.Path, err)
	}
	s.gdb.SetMaxOpenConns(1)
	if s.cdb, err = sql.Open("sqlite", dsn(opt.Path, opt.Synchronous, false, busyWait, nil)); err != nil {
		s.gdb.Close()
		s.rdb.Close()
		s.wdb.Close()
		return nil, fmt.Errorf("ledger: open %s: %w", opt.Path, err)
	}
	s.cdb.SetMaxOpenConns(1)
	// The write connection waits for the lock in retryBusy (see busy.go);
	// the backup may be checkpointing while the store opens.
	if err := retryBusy(ctx, nil, func() error { return s.migrate(ctx) }); err != nil {
		s.closeDBs()
		return nil, classify(fmt.Errorf("ledger: migrate %s: %w", opt.Path, err))
	}
	if err := retryBusy(ctx, nil, func() error { return s.checkIdentity(ctx) }); err != nil {
		s.closeDBs()
		return nil, err
	}
	if err := s.load(ctx); err != nil {
		s.closeDBs()
		return nil, classify(fmt.Errorf("ledger: load %s: %w", opt.Path, err))
	}
	if err := s.prepare(ctx); err != nil {
		s.closeDBs()
		return nil, classify(fmt.Errorf("ledger: prepare %s: %w", opt.Path, err))
	}
	s.subjects = newSubjects(s.count)
	s.tail.subjects = s.subjects
	s.checkpoint, s.checkpointDone = make(chan struct{}, 1), make(chan struct{})
	s.learnDone = make(chan struct{})
	go s.checkpointer()
	go s.writer()
	go s.learn(s.count)
	return s, nil
}

// dsn is the connection string for a connection to path. A connection
// that meets SQLite's lock taken waits up to busy for it inside SQLite; the
// write connection is given none and waits in retryBusy instead.
func dsn(path, synchronous string, readOnly bool, busy time.Duration, extra []string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+synchronous+")")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
		// Statement journals (a multi-row insert's undo within its
		// transaction) stay in memory instead of a temporary file written
		// page by page.
		q.Add("_pragma", "temp_store(MEMORY)")
		// The checkpointer goroutine copies the WAL back on its own
		// connection, so commits need not (see checkpointer). But only a
		// checkpoint that finishes before the next write lets SQLite start
		// the WAL over, which a checkpoint racing a stream of commits never
		// does: so a commit still checkpoints when the WAL passes
		// backstopFrames, by then copying little that the checkpointer has
		// not, and the WAL file is cut back to walLimitBytes after that.
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", backstopFrames))
		q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", walLimitBytes))
	}
	for _, p := range extra {
		q.Add("_pragma", p)
	}
	return "file:" + path + "?" + q.Encode()
}

// classify maps SQLite's result codes to the ledger's sentinels so callers
// (and operators reading the message) see what happened.
func classify(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case 11, 26: // SQLITE_CORRUPT, SQLITE_NOTADB
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	case 13: // SQLITE_FULL
		return fmt.Errorf("%w: %w", ErrStorageFull, err)
	}
	return err
}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migration/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		} else if n > 0 {
			continue
		}
		b, err := fs.ReadFile(migrations, name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(b)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO migrations (name) VALUES (?)`, name); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// checkIdentity binds the database to one region and key on first use and
// refuses it to any other, so a mixed-up data directory or key file cannot
// write a second chain under the same origin.
func (s *Store) checkIdentity(ctx context.Context) error {
	pub := []byte(s.opt.Key.Public().(ed25519.PublicKey))
	for _, kv := range []struct {
		key  string
		want []byte
	}{{"region", []byte(s.opt.Region)}, {"public_key", pub}} {
		var got []byte
		err := s.wdb.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, kv.key).Scan(&got)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := s.wdb.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)`, kv.key, kv.want); err != nil {
				return classify(fmt.Errorf("ledger: record %s: %w", kv.key, err))
			}
		case err != nil:
			return classify(fmt.Errorf("ledger: read %s: %w", kv.key, err))
		case string(got) != string(kv.want):
			if kv.key == "region" {
				return fmt.Errorf("%w: %s holds region %q, this is %q", ErrRegionMismatch, s.opt.Path, got, s.opt.Region)
			}
			return fmt.Errorf("%w: %s was written with another key than the configured key file", ErrRegionMismatch, s.opt.Path)
		}
	}
	// Remember the other regions' keys the entries are checked with, so
	// `kassa verify` can check a database without its region's config.
	for origin, pub := range s.opt.Keys {
		if origin == s.opt.Region {
			continue
		}
		if _, err := s.wdb.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
			"key:"+string(origin), []byte(pub)); err != nil {
			return classify(fmt.Errorf("ledger: record %s's key: %w", origin, err))
		}
	}
	return nil
}

func (s *Store) load(ctx context.Context) error {
	rows, err := s.rdb.QueryContext(ctx, `SELECT origin, seq, head, hlc_wall, hlc_logical FROM vector`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			origin string
			h      head
			id     []byte
		)
		if err := rows.Scan(&origin, &h.Seq, &id, &h.HLC.Wall, &h.HLC.Logical); err != nil {
			return err
		}
		copy(h.ID[:], id)
		s.heads[RegionID(origin)] = h
		s.clock.observe(h.HLC)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var d []byte
	switch err := s.rdb.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'digest'`).Scan(&d); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	default:
		copy(s.digest[:], d)
	}
	if err := s.rdb.QueryRowContext(ctx, `SELECT COALESCE(MAX(pos), 0) FROM entries`).Scan(&s.tail.floor); err != nil {
		return err
	}
	return s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM entries`).Scan(&s.count)
}

// Region returns this store's region id.
func (s *Store) Region() RegionID { return s.opt.Region }

// Path returns the database file's path.
func (s *Store) Path() string { return s.opt.Path }

// Vector returns the version vector: for each origin, the highest seq up to
// which this region holds every entry.
func (s *Store) Vector() map[RegionID]uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v := make(map[RegionID]uint64, len(s.heads))
	for o, h := range s.heads {
		v[o] = h.Seq
	}
	return v
}

// Digest returns the order-independent digest of the set of entries held.
// Two regions holding the same entries have the same digest.
func (s *Store) Digest() Digest {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.digest
}

// Count returns how many entries the store holds.
func (s *Store) Count() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.count
}

// Close stops accepting writes, commits what is already queued, and closes
// the database. It is safe to call more than once.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		s.closeMu.Unlock()
		close(s.quit)
		<-s.done
		<-s.learnDone
		close(s.checkpoint)
		<-s.checkpointDone
		err = s.closeDBs()
	})
	return err
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.insEntry, `INSERT INTO entries (origin, seq, id, hlc, kind, subject, body, ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},
		{&s.insBalance, `INSERT INTO balances (account, currency, amount) VALUES (?, ?, ?)
			ON CONFLICT (account, currency) DO UPDATE SET amount = amount + excluded.amount`},
		{&s.setVector, `INSERT INTO vector (origin, seq, head, hlc_wall, hlc_logical) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq, head = excluded.head, hlc_wall = excluded.hlc_wall, hlc_logical = excluded.hlc_logical`},
		{&s.setDigest, `INSERT INTO meta (key, value) VALUES ('digest', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`},
		{&s.insEntries, `INSERT INTO entries (origin, seq, id, hlc, kind, subject, body, ref) VALUES ` + placeholders(entryRows, 8)},
		{&s.insBalances, `INSERT INTO balances (account, currency, amount) VALUES ` + placeholders(balanceRows, 3) + `
			ON CONFLICT (account, currency) DO UPDATE SET amount = amount + excluded.amount`},
		{&s.insRef, `INSERT OR IGNORE INTO entry_refs (ref, id) VALUES (?, ?)`},
	} {
		stmt, err := s.wdb.PrepareContext(ctx, p.sql)
		if err != nil {
			return err
		}
		*p.stmt = stmt
	}
	// One statement reads both in one snapshot.
	stmt, err := s.gdb.PrepareContext(ctx, `SELECT (SELECT amount FROM balances WHERE account = ? AND currency = ?), (SELECT value FROM meta WHERE key = 'digest')`)
	if err != nil {
		return err
	}
	s.readGuard = stmt
	return nil
}

// entryRows and balanceRows are how many rows the multi-row inserts of the
// write path take: fewer statements per commit, each well under SQLite's
// limit on parameters.
const (
	entryRows   = 32
	balanceRows = 64
)

// placeholders returns "(?, ?), (?, ?)" for rows rows of cols columns.
func placeholders(rows, cols int) string {
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	return strings.Repeat(row+", ", rows-1) + row
}

func (s *Store) closeDBs() error {
	var errs []error
	for _, stmt := range []*sql.Stmt{s.insEntry, s.insBalance, s.setVector, s.setDigest, s.insEntries, s.insBalances, s.insRef, s.readGuard} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	s.readStmts.Range(func(_, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		return true
	})
	return errors.Join(append(errs, s.cdb.Close(), s.gdb.Close(), s.rdb.Close(), s.wdb.Close())...)
}
