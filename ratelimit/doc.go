// Package ratelimit owns how kassa limits the rate of requests: token
// buckets per merchant and per client address (Limiter), and the one
// address a client is limited and throttled under (ClientKey).
//
// Invariants: a bucket holds at most two seconds' worth of tokens, so a
// burst is bounded; a request takes a token from every bucket it counts
// against or from none; idle buckets are dropped after a minute, so memory
// is bounded by the clients seen in the last minute.
package ratelimit
