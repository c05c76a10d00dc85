// Package ceiling measures what this machine can do at most of the work on
// kassa's hot paths (signing and verifying, appending entries to a ledger,
// applying a peer's entries, HTTP on loopback), so that benchmarks and
// kassa bench report a rate next to the machine's own ceiling measured in
// the same run, never against a fixed number.
//
// Invariants: each measurement runs its work on every core (GOMAXPROCS
// goroutines, or many callers where the work waits on commits) and times
// nothing but that work; messages are cycled through, so a pool smaller
// than n is fine; ledgers are temporary and removed afterwards.
package ceiling
