-- Entries in the order this region applied them. pos is local only (a push
-- cursor); (origin, seq) and id are global.
CREATE TABLE entries (
	pos     INTEGER PRIMARY KEY,
	origin  TEXT    NOT NULL,
	seq     INTEGER NOT NULL,
	id      BLOB    NOT NULL UNIQUE,
	hlc     INTEGER NOT NULL, -- wall milliseconds
	kind    TEXT    NOT NULL,
	subject TEXT    NOT NULL,
	body    BLOB    NOT NULL, -- canonical bytes followed by the signature
	UNIQUE (origin, seq)
);
CREATE INDEX entries_subject ON entries (subject) WHERE subject <> '';

-- Derived state, maintained in the same transaction as the entries it sums.
CREATE TABLE balances (
	account  TEXT    NOT NULL,
	currency TEXT    NOT NULL,
	amount   INTEGER NOT NULL,
	PRIMARY KEY (account, currency)
) WITHOUT ROWID;

-- The version vector: highest contiguous seq per origin and that entry's id,
-- which the next entry's prev must equal.
CREATE TABLE vector (
	origin TEXT    PRIMARY KEY,
	seq    INTEGER NOT NULL,
	head   BLOB    NOT NULL,
	hlc_wall    INTEGER NOT NULL,
	hlc_logical INTEGER NOT NULL
) WITHOUT ROWID;

-- Second, different entries at an (origin, seq) already held: never merged,
-- kept for operators.
CREATE TABLE forks (
	id          BLOB    PRIMARY KEY,
	origin      TEXT    NOT NULL,
	seq         INTEGER NOT NULL,
	body        BLOB    NOT NULL,
	detected_at TEXT    NOT NULL
) WITHOUT ROWID;

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;
