// Package ratelimit owns how kassa limits clients: token buckets per
// merchant and per client address (Limiter), the throttle on guessing
// secrets that staff sign-ins and merchant API authentication share
// (Throttle), and the one address a client is limited and throttled under
// (ClientKey).
//
// Invariants: a bucket holds at most two seconds' worth of tokens, so a
// burst is bounded; a request takes a token from every bucket it counts
// against or from none; idle buckets are dropped after a minute, so memory
// is bounded by the clients seen in the last minute. A Throttle never
// refuses a name from every address, so no one can lock its owner out;
// its counts are fixed-size hashes, at most 10,000 of them.
package ratelimit
