// Package httperr owns the one error vocabulary of every kassa HTTP surface:
// the merchant API, the region's own routes, the admin JSON API, the sync
// endpoints and the simulated card acquirer.
//
// Invariants: every JSON error is written by Write, so every one has the
// same shape, {"error": {"code", "message", "field", "correlation_id"}}
// with all four keys present (field is "" when no input is at fault), and
// the same headers: Content-Type application/json, X-Content-Type-Options
// nosniff, Cache-Control no-store, the request's correlation id in
// Kassa-Correlation-Id, and Retry-After when the client should wait. The
// message is public: it never carries internal detail, which belongs in
// the log under the same correlation id.
package httperr
