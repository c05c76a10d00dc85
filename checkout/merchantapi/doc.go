// Package merchantapi owns the merchant REST API (/v1) of kassa and its
// OpenAPI document (GET /v1/openapi.json): authentication and its throttle,
// rate limits, idempotency keys, strict JSON decoding and the one table
// (errorOf) from checkout's domain errors to HTTP statuses and codes.
//
// Invariants: every request but the OpenAPI document is authenticated
// (HTTP Basic: merchant id and API secret) before anything else; every POST
// carries an Idempotency-Key, and requests are fingerprinted as decoded, so
// a retry that differs only in white space or key order replays; every
// error is written through httperr, so it has the documented shape and
// headers; a 5xx's detail goes to the log, never to the merchant. Failed
// authentications are throttled per client address and merchant id
// (ratelimit.Throttle: never for a merchant id from every address) and
// each failure and refusal is logged with the address and the id as far as
// it has a merchant id's form, never the secret. Beyond the throttle's
// counts the package holds no state of its own: sessions and orders are
// checkout's, in the ledger.
package merchantapi
