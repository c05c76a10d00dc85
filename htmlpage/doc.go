// Package htmlpage holds what every server-rendered HTML page of kassa
// shares, the shopper's checkout and the support staff's admin alike: the
// security headers each page is sent with, a form field's accessible
// description, and the double-submit CSRF guard of the shopper's forms
// (the checkout and the invoice page), which have no sign-in behind them.
//
// The invariant the headers keep: a page runs only the region's own
// scripts and styles, is never framed, never cached and sends no referrer,
// and its forms post only to the region itself or to the one other origin
// the page names. It has no state; everything here is safe for concurrent
// use.
package htmlpage
