// Package hosted serves kassa's hosted checkout: the pages at
// /checkout/{session_id} that merchants send shoppers to, their form
// handling, and their texts in English, Swedish and German. It depends on
// checkout, the domain, for sessions and authorization, and on money for
// writing amounts; checkout knows nothing of it.
//
// Invariants:
//
//   - A page never shows a card number or security code it was sent: a
//     form re-rendered after an error keeps the shopper's details but not
//     the card.
//   - A form post is accepted only with the double-submit CSRF token of its
//     session, so a page on another site cannot pay, and nothing it sends
//     reaches the ledger.
//   - A shopper never sees an internal error, only a correlation id to
//     quote; the error goes to the log under that id.
//   - Every message id exists in every language with the same
//     placeholders (a test checks), and the html lang attribute names the
//     language the text is in.
//   - The pages work without JavaScript and send the security headers of
//     htmlpage.SetHeaders, letting the form redirect only to the merchant's
//     confirmation origin.
package hosted
