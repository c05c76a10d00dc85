// Package ledger owns kassa's unit of truth and of replication: signed,
// immutable entries, their canonical encoding, the per-origin hash chains, the
// SQLite store that holds them and the state derived from them.
//
// Invariants:
//
//   - An entry never changes once written. Its id is the SHA-256 of its
//     canonical encoding and its signature is its origin's ed25519 signature
//     over the same bytes, so any change to a stored entry is detectable
//     (see Verify). Signatures are checked by the rules of ZIP 215, one at a
//     time or in batches alike, so an entry is accepted or refused whatever
//     it arrived with.
//   - Entries of one origin form a chain: seq 1, 2, 3, ... with no gaps, each
//     prev the id of seq-1, hlc strictly increasing. A region applies an
//     origin's entries only in that order.
//   - Every entry's postings sum to zero per currency (double entry), so the
//     sum of all balances in a currency is always zero.
//   - Derived state (balances, the version vector, the digest) is a function
//     of the set of entries held, never of the order they arrived in, and is
//     committed in the same transaction as the entries it sums.
//   - Lookup keys (an entry's subject, its data's "ref" and the first
//     MaxRefs distinct strings of its data's "refs") are indexed in the
//     same transaction as the entry, so EntriesByRef sees an entry once it
//     is held; EntriesBySubject, served from memory for busy subjects, sees
//     it once the commit that stored it has finished, before any writer of
//     that commit is answered. ("refs" are indexed since migration
//     0003; no entry written before it carried any.)
//   - A rejected entry changes nothing. A different entry at an (origin, seq)
//     already held is a fork: quarantined in its own table, never merged.
//   - One goroutine writes; it commits waiting requests in groups. Once a
//     write is queued it is committed or failed as a whole whatever the caller
//     does, and a failed commit leaves storage and memory as they were.
//   - Marks (SetMark) are local bookkeeping kept beside the entries, such as
//     a component's cursor into the local order; they are not entries, are
//     never replicated and are no part of the derived state or the digest.
//
// The package imports no other kassa package.
package ledger
