// Package check owns the record of a nemesis run (History) and the
// Jepsen-style checker that judges it (Check).
//
// A History is what the harness observed: every logical operation the
// workload sent through the failover client with its final answer, the
// faults it injected, the webhook deliveries its receiver got, and what
// every region said after the last fault healed (Final). Check reads
// nothing else: it makes no requests, so the same History always gives
// the same Report.
//
// The checks, each reported by name in Report.Checks:
//
//   - lost: every acknowledged (2xx) write is present in every region after
//     the heal: the order of every 2xx authorize, and the effect of every
//     2xx capture and refund (by movement id when the answer names one, and
//     the order's captured/refunded at least the sum of the acknowledged,
//     settled amounts).
//   - order_bounds: per order and region, captured+released <= amount and
//     0 <= refunded <= captured.
//   - regions_agree: every region shows every order with the same status,
//     amount, captured, refunded and released.
//   - exposure: per consumer and region, 0 <= exposure <= limit + unsecured.
//   - verify: `kassa verify` was clean in every region.
//   - webhooks: the receiver processed each event id at most once
//     (duplicate deliveries are allowed and counted).
//   - convergence: every region's digest is equal after the heal, within
//     Options.ConvergenceBound, and so is every recorded convergence.
//   - acquirer: for every card order the acquirer's books equal kassa's
//     (authorized = amount, captured, refunded, voided = released).
//   - checkouts, availability: the run was big enough (Options.MinCheckouts)
//     and answered enough (Options.MinAvailability); these two judge the
//     run, not the data, and are not counted as invariant violations.
//
// Availability is answered/attempted over every operation of every kind,
// because a merchant's capture that goes unanswered is as unavailable as a
// shopper's authorize; the same ratio over authorizes alone is reported as
// checkout_availability.
package check
