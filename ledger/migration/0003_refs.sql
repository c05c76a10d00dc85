-- More lookup keys taken from an entry's data (the top-level string array
-- "refs"), for entries found by more than one thing (an order by its
-- shopper as well as by its merchant reference). Derived from the entry, so
-- equal in every region; entries written before this table have none.
CREATE TABLE entry_refs (
	ref TEXT NOT NULL,
	id  BLOB NOT NULL, -- entries.id
	PRIMARY KEY (ref, id)
) WITHOUT ROWID;
