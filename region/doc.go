// Package region wires one kassa region together: configuration, the
// region's signing key, the Litestream replica, the ledger and the HTTP
// server with its health, readiness, metrics and sync routes. Tests start
// several regions in one process through it.
//
// Invariants: a region never starts writing with a key other than the one its
// database is bound to; a database that is missing is restored from the
// replica before anything opens it; on shutdown it stops taking requests,
// finishes in-flight writes, closes the ledger and only then the replica, so
// the replica's last sync holds every acknowledged write.
package region
