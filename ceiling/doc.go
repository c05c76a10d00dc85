// Package ceiling measures what this machine can do at most of the work on
// kassa's hot paths, so that benchmarks report a rate next to the machine's
// own ceiling measured in the same run, never against a fixed number.
//
// Invariants: each measurement runs its work on every core
// (runtime.GOMAXPROCS goroutines) and returns the wall time it took, with
// nothing else in the timed section; messages are cycled through, so a pool
// smaller than n is fine.
package ceiling
