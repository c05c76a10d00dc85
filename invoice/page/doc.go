// Package page serves the shopper's invoice page and takes its card
// payments: GET /invoices/{token} shows what is owed, the schedule, what
// is paid, the payment reference and the payee's bank details, and a card
// form; POST /invoices/{token}/pay charges what is owed through the
// region's acquirer and records the repayment, which settles the debt and
// gives the consumer's credit back. It depends on invoice for the shape of
// an invoice (the book that folds them is passed in as Invoices) and on
// checkout for repayments and credit balances; neither knows of it.
//
// Invariants:
//
//   - A card payment is written in two steps around the acquirer call: a
//     request entry naming the idempotency key before it, exactly one
//     outcome entry (paid or failed) after it, by the same region. An
//     unknown outcome is settled by Payments.Settle, which looks the key
//     up and repeats the capture and the repayment under keys and
//     references derived from it: a card is never charged twice for one
//     attempt, and a new attempt of an invoice waits for the last one of
//     its region to be settled.
//   - Neither a page, an entry nor a log line holds a card number or
//     security code: entries keep the brand and last four digits only,
//     and a form re-rendered after an error never writes them back.
//   - A post is accepted only with the double-submit CSRF token of its
//     invoice, and is rate limited per client address.
//   - An unknown token is a 404 page, an expired link a 410 page, an
//     invoice with nothing owed a page that says so; a shopper never sees
//     an internal error, only a correlation id.
//   - The pages work without JavaScript and send htmlpage.SetHeaders'
//     security headers; every message id exists in English, Swedish and
//     German (a test checks).
package page
