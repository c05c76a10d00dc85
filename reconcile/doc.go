// Package reconcile owns the reconciliation of the card acquirer's daily
// settlement file against kassa's ledger: matching, the differences it
// finds, their resolution by support staff, and the daily schedule.
//
// A run reads the acquirer's lines for one UTC day (a Source) and the
// ledger's card operations of that day: every order.captured,
// order.refunded and invoice.card_paid (a shopper paying an invoice by
// card) entry whose data refs hold "acquirer-day:<day>", keyed by
// data.acquirer.key, the idempotency key kassa sent. It matches the two one
// to one by that key and records what it found as ledger entries with the
// subject "reconciliation:<day>":
//
//   - reconciliation.difference, one per difference not recorded before
//     (kinds: missing_in_ledger, missing_at_acquirer, amount_mismatch,
//     currency_mismatch, type_mismatch, duplicate_line);
//   - then reconciliation.run: the day, who ran it ("schedule" or a staff
//     member), lines, matched, the number of differences, the ids of every
//     difference present in this run, and totals per currency from the file
//     and from the ledger. A clean day is a run with zero differences.
//
// Staff resolve a difference with a note (reconciliation.resolved, naming
// the staff member and their role).
//
// Invariants:
//
//   - A difference's id is a hash of the day, its kind and what it is about
//     (the idempotency key, the acquirer's operation or the ledger entry, the
//     expected and actual values, and the how-many-th such difference), never
//     of when or where it was found. Re-running a day finds the same ids, and
//     a difference already recorded is not recorded again; two regions that
//     record the same difference concurrently (after a partition) record the
//     same id, which the fold counts once.
//   - A difference whose id is not among the latest run's ids is "no longer
//     present": its cause went away (say an entry replicated late or the
//     acquirer corrected its file). It stays in the record, is not open, and
//     can still be resolved with a note. Which run is the latest is decided by
//     the ledger's fold order (ledger.Position), so every region agrees.
//   - Day state (runs, differences, resolutions) is a fold of that day's
//     entries in ledger.Position order: the same in every region holding the
//     same entries, whatever order they arrived in. A difference recorded
//     twice keeps its first recording; a difference resolved twice keeps its
//     first resolution.
//   - A resolution needs a note: without one nothing is written.
//   - Entries written before the acquirer data existed lack the acquirer-day
//     ref and are not part of any run; a card entry with the ref but no
//     acquirer key matches no line and is reported missing_at_acquirer.
//   - At most MaxDifferences differences are recorded per run (the run says
//     how many there were); the rest are recorded by later runs once the
//     first are understood.
//
// Schedule: every region checks every reconciliation.interval whether the
// previous UTC day is due: delay after midnight, plus stagger times the
// region's rank among the sorted region ids. A due day that already has a
// run by the schedule (from any region) is skipped, so normally the first
// region runs it and the others find its run. Regions cut off from each
// other may both run the same day; the second run is harmless (same
// difference ids, one more run entry).
//
// The package imports only ledger.
package reconcile
