// Package sync owns replication between regions: what each region tells the
// others about the entries it holds, and (as it grows) pushing, receiving and
// anti-entropy. Import it as regionsync.
//
// Invariants: the status it serves is derived from the ledger and from
// observations of peers only; it never holds or prints secrets.
package sync
