// Package htmlpage holds what every server-rendered HTML page of kassa
// shares, the shopper's checkout and the support staff's admin alike: the
// security headers each page is sent with, and a form field's accessible
// description.
//
// The invariant the headers keep: a page runs only the region's own
// scripts and styles, is never framed, never cached and sends no referrer,
// and its forms post only to the region itself or to the one other origin
// the page names. It has no state; everything here is safe for concurrent
// use.
package htmlpage
