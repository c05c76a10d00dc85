// Package router owns the small HTTP router that puts one address in
// front of a deployment's regions, as a load balancer or DNS name does in
// production: `kassa cluster` runs one on the port below r1's, and the
// regions' site_url names it, so the links shoppers and merchants are
// given lead to any region.
//
// It spreads requests over the regions round robin (paths of
// Config.Pinned, such as the admin UI whose sign-in each region keeps for
// itself, go to the first ready region), skipping regions whose
// /readyz fails or that refused a connection, and forwards each with
// net/http/httputil's ReverseProxy (hop-by-hop headers stripped,
// X-Forwarded-For, -Host and -Proto set from the connection, never trusted
// from the client).
//
// Invariants:
//
//   - A request is sent to another region only when that cannot do it
//     twice: a GET, HEAD, OPTIONS, PUT or DELETE, a POST that carries an
//     Idempotency-Key (kassa answers a repeated key with the first
//     answer), or any request whose connection failed before it was sent
//     (the dial failed). A POST without a key whose body may have reached
//     a region is never sent again; its client gets 502 and decides.
//   - A region's answer, whatever its status, is the answer: only a
//     failure to get one moves a request on.
//   - A request body larger than Config.MaxBodyBytes is refused with 413
//     before any region sees it; every timeout (header read, body read,
//     dial, response, whole request, idle) is set.
//   - Errors of the router's own are kassa's JSON error shape (httperr).
package router
