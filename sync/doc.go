// Package sync owns replication between regions: signed pushes of ledger
// entries to every peer (relaying what peers lack, whatever its origin),
// vector exchanges that repair lost pushes, pulls of a region's own chain
// when it starts from a restored or empty disk, credit rights requests, and
// the status and metrics of all that. Import it as regionsync. The protocol
// is described in docs/sync.md.
//
// Invariants: a request is accepted only with a fresh signature by a
// configured peer, and every entry in it is still verified against its
// origin's key; no body is read before the headers show a fresh request
// from a configured peer with a free slot, and at most four bodies of
// MaxBodyBytes are read at once; a refused request changes nothing;
// pipelined pushes from one peer reach the ledger in chain order whatever
// order they arrive in; the cursor for a peer never moves back while the
// same process of the peer answers, and is replaced by a new process's
// first answer. A peer whose last exchange failed without an answer is
// Down until an exchange succeeds, and gets at most one rights request per
// Interval (a probe of DownProbeBudget, or longer for a peer whose answers
// take longer) meanwhile; so is a peer that has left every request
// unanswered for SilentAfter, or for a few times its usual answer time
// when that is longer. A lookup is answered
// from this region's ledger alone, never by asking further peers, and its
// entries are applied only after the same checks as a push. The status it serves is derived from the ledger and from
// observations of peers only; it never holds or prints secrets.
package sync
