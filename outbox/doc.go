// Package outbox delivers messages durably, once per message, from a
// ledger: webhooks and emails. A message is a ledger entry (an
// order's change is its own webhook event), so no change commits without
// its message. The outbox does not know what a message says or where it
// goes; a Channel does (kassa/checkout/webhook for webhooks, kassa/mail
// for emails).
//
// What the outbox owns: finding messages (a scan of the ledger in local
// order from a persisted low-water mark), a schedule of attempts with
// jittered exponential backoff, giving a message up after MaxAge, the
// takeover of a message by another region when its writing region has not
// recorded its delivery, the entries that record all this, and the support
// view (Deliveries, Resend).
//
// Invariants:
//
//   - At least once: every message is attempted until its delivery or its
//     give-up is recorded in the ledger, by this region or another; a
//     restart scans again from the mark and finds every unsettled message.
//   - Once per message in steady state: the region that wrote a message
//     delivers it; any other waits TakeoverAfter times its deterministic
//     rank before it delivers it itself, and stops as soon as a record of
//     the delivery reaches it. A takeover can still duplicate a delivery;
//     every copy carries the same message id.
//   - The record entries (Kinds.Resend, Kinds.Delivered, Kinds.Failed) have
//     the message id as subject and a fixed JSON payload (event, request,
//     order, ref, type, status, attempts, error, takeover), the format
//     webhook records have always had, so stored ledgers read the same. A
//     Delivered record also carries its delivery's Receipt, if the channel
//     left one (refs, content), so a delivery is one entry. A channel that
//     sets RecordBatch records the deliveries of RecordWait in one
//     Delivered entry (each in that payload, under "deliveries", their
//     message ids as "refs"), and a message is settled by it as by a
//     record of its own. Such a delivery is recorded before Run returns;
//     only a crash in RecordWait can make it be sent again.
//   - Within a region, messages of one group (their entry's subject, an
//     order) are sent in the order the ledger folds them.
//   - Only the attempt count, last error and next attempt live in memory.
package outbox
