-- A secondary lookup key taken from an entry's data ("ref"), so that callers
-- can find entries by something other than their subject (an order by its
-- merchant reference). Derived from the entry, so equal in every region.
ALTER TABLE entries ADD COLUMN ref TEXT;
CREATE INDEX entries_ref ON entries (ref) WHERE ref IS NOT NULL;
