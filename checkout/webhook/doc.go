// Package webhook tells merchants about their orders: on every order state
// change it POSTs a signed event to the notification URL of the order's
// session. It is the webhook channel of kassa/outbox, which makes delivery
// durable, at least once, retried with backoff and taken over by another
// region when the writing region stays down.
//
// It owns which order entries are webhook events, where an order's events
// go (the merchant and its session's notification URL, cached per order),
// the event's body (the order right after the change), the
// Kassa-Signature header, the HTTP POST and the file-settable `webhooks`
// settings (Config, with its defaults and Validate).
//
// Invariants:
//
//   - An event's id is the id of the ledger entry that made the change, and
//     every copy of it (retry, resend, takeover) has the same body.
//   - Every attempt is signed afresh with the merchant's webhook secret.
//   - Outside development mode a POST goes only to an https URL whose every
//     address is public, connected to the address that was checked
//     (kassa/netguard); redirects are never followed.
//   - Neither a secret, nor a notification URL's path or query, nor an
//     answer's body reaches a log or a recorded error.
//   - kassa/checkout does not import this package.
package webhook
