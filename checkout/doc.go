// Package checkout owns sessions, orders and the rules that move an order
// from authorized to captured, refunded, cancelled or expired. What faces
// the outside lives in packages over it: the merchant API (/v1) in
// checkout/merchantapi, the hosted pages in checkout/hosted, webhooks in
// checkout/webhook. checkout imports none of them, nor html/template or a
// router.
//
// Every change is a ledger entry; an order's state is a fold of the entries
// about it, so it is the same in every region that holds the same entries.
//
// Invariants:
//
//   - Ids are derived, never random: a session's from (merchant, idempotency
//     key), its order's from the session. A retry in any region converges on
//     the same objects.
//   - The region that authorizes an order owns its capture rights (authorized
//     minus captured, in the account order:<id>:capture:<region>), and a
//     capture moves them into refund rights (order:<id>:refund:<region>;
//     package account spells every account name).
//     Only the owner debits its rights accounts, always under a ledger guard,
//     so captures never exceed the authorization and refunds never exceed
//     the captures, whatever the concurrency or partition. A region without
//     the rights asks the owner to transfer them; when it cannot, the caller
//     gets a retryable rights_unavailable, never a guess.
//   - Operations on one object in one region are serialised (striped locks),
//     so an idempotency key is checked and its object written atomically.
//   - A credit order's authorization spends its credit (from the scorer's
//     postings) in the same entry; releases, refunds and repayments give it
//     back, each at most once per authorization (debt rights per region,
//     returns tallied per hold in the fold).
//   - A request naming a well-formed session or order id this region holds
//     no entry about reads it through from the other regions (a
//     ReadThrough) and applies what comes as a push; ErrNotFound means
//     every region said it has none, ErrMaybeElsewhere that some could not
//     be asked. Creating a session, the sweep and background work never
//     read through.
//   - Card numbers and CVCs never reach an entry, a log or an error message:
//     only brand, last four, expiry and a keyed fingerprint do.
//   - Merchants are configured or ledger entries (merchant.created,
//     merchant.secrets_rotated, merchant.disabled), folded in ledger order
//     so every region holding the same entries has the same merchant table;
//     the first creation of an id wins. No entry holds a secret in plain
//     text: the API secret as its SHA-256, the webhook secret sealed under
//     the deployment's secret key.
package checkout
