// Package merchantapi owns the merchant REST API (/v1) of kassa and its
// OpenAPI document (GET /v1/openapi.json): authentication, rate limits,
// idempotency keys, strict JSON decoding and the one table (errorOf) from
// checkout's domain errors to HTTP statuses and codes.
//
// Invariants: every request but the OpenAPI document is authenticated
// (HTTP Basic: merchant id and API secret) before anything else; every POST
// carries an Idempotency-Key, and requests are fingerprinted as decoded, so
// a retry that differs only in white space or key order replays; every
// error is written through httperr, so it has the documented shape and
// headers; a 5xx's detail goes to the log, never to the merchant. The
// package holds no state of its own: sessions and orders are checkout's,
// in the ledger.
package merchantapi
