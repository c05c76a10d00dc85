// Package cards owns card data handling and the acquirer that charges cards:
// validation of what a shopper typed, the safe facts kassa may keep about a
// card, a simulated acquirer served over HTTP, and the idempotent client that
// calls an acquirer.
//
// Invariants:
//
//   - A full card number or CVC never leaves the request that carried it. A
//     Card prints, logs and marshals to JSON as its brand and last four only
//     (String, Format, LogValue, MarshalJSON); what kassa stores is Facts:
//     brand, last four, expiry and a keyed fingerprint.
//   - A fingerprint is HMAC-SHA256(key, digits) cut to 32 hex characters, so
//     regions sharing the key compute the same fingerprint for the same card
//     without asking each other, and nobody without the key can recover the
//     number from it by trying the roughly 10^9 candidates behind one BIN.
//   - Every acquirer call carries an idempotency key, and only because it
//     does is the client allowed to retry: the acquirer answers a repeated
//     key with the first answer and never charges twice. The same key with a
//     different payment is refused.
//   - A client error says whether money may have moved. ErrUnknownOutcome:
//     the request may have reached the acquirer, so the payment must be
//     recorded as unknown and settled later with Lookup (or by repeating
//     Authorize with the same key and payment). ErrUnavailable and
//     ErrRejected: the acquirer provably did not charge.
//   - The Simulator keeps of a card only its brand and last four, plus a
//     keyed digest of the whole request so it can tell a replay from a
//     conflicting reuse of a key. It logs nothing.
//   - The Simulator keeps books per payment (authorized, captured, refunded,
//     voided) and enforces them itself: captured+voided <= authorized and
//     refunded <= captured after every operation, however the operations
//     are ordered, repeated or faulted. An operation it refuses moves
//     nothing. Captures, refunds and voids carry idempotency keys in the
//     same namespace as authorizations, with the same replay and conflict
//     rules. Its settlement file for a day lists exactly the captures and
//     refunds that succeeded that day (UTC), so its sums equal the books.
//
// The package declares no Acquirer interface: the consumer (checkout)
// declares the one it needs, and Client satisfies it.
//
// # Test cards
//
// The Simulator answers these numbers (any future expiry, any well-formed
// CVC: three digits, four for Amex) as follows; TestCards returns the same
// table. Any other number that passes Check is approved. A card that fails
// Check is declined with Check's code (invalid_number, invalid_expiry,
// expired_card, invalid_cvc).
//
//	number               brand       outcome
//	4242 4242 4242 4242  visa        approved
//	5555 5555 5555 4444  mastercard  approved
//	3782 822463 10005    amex        approved
//	4000 0000 0000 0002  visa        declined: card_declined
//	4000 0000 0000 9995  visa        declined: insufficient_funds
//	4000 0000 0000 0069  visa        declined: expired_card (whatever the expiry)
//	4000 0000 0000 0127  visa        declined: incorrect_cvc (whatever the CVC)
//	4000 0000 0000 0119  visa        declined: processing_error (always; the shopper may try again)
//	4000 0000 0000 3220  visa        approved and charged, but the answer is held back
//	                                 (Simulator.Stall, default 30s, or until the caller
//	                                 hangs up): the "outcome unknown" case; a lookup by
//	                                 idempotency key answers at once with the approval
//	4000 0000 0000 0341  visa        approved; every capture refused: capture_refused
//	4000 0000 0000 5506  visa        approved; captures work, every refund refused: refund_refused
//
// # Failures on demand
//
// Besides the test cards, Simulator.SetFaults makes a share of requests
// fail the ways a real acquirer does: refused (processing_refused), 503
// before processing (nothing recorded), 500 after the operation is
// committed, or an answer held back after it is committed. The faults are
// drawn from a seeded generator, so a run can be repeated; see Faults.
//
// docs/cards.md describes the acquirer protocol and what a caller does with
// each error.
package cards
