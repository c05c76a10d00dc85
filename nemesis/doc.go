// Package nemesis runs real kassa regions under a seeded schedule of
// faults while merchants keep checking out through the failover client,
// and checks the history it records (package nemesis/check).
//
// It owns the harness: N `kassa serve` processes (each with its own data
// directory, key and config file, in development mode with durability
// local), a TCP proxy (nemesis/proxy) on every directed peer link and on
// every region's client link, one simulated card acquirer inside this
// process that every region charges (so its books outlive any region), a
// webhook receiver, the workload, the fault schedule and the final
// collection of what every region holds.
//
// The workload sends a share of each session's hosted-page visits and
// follow-up calls (Config.Elsewhere) first to a region other than the one
// that created it, and marks them (check.Op.Elsewhere).
//
// Invariants: the fault schedule and every workload choice are functions
// of the seed (what the processes do with them is not: timing is real);
// every operation the workload sends is recorded, whatever its outcome;
// every fault is healed before the final collection, and the collection
// reads each region directly, never through a proxy; every process the
// harness starts is stopped (or killed) before Run returns.
package nemesis
