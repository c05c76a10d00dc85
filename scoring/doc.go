// Package scoring owns credit decisions (who may pay later or in three, for
// how much, and why), consumers' credit lines and their escrowed rights,
// and how credit degrades when rights cannot be had. It implements
// checkout's Scorer and answers peers' rights requests for credit lines.
//
// Invariants:
//
//   - A decision is a deterministic function of the policy, the order, the
//     shopper's input and the ledger as this region holds it; every outcome
//     carries reason codes, and its inputs are recorded with the order.
//   - A consumer's line in a currency is granted once, by the consumer's
//     home region (a function of the consumer id and the region list), as
//     rights the home owns. A region approves secured credit only by
//     spending rights it owns, under a ledger guard, in the entry that
//     authorizes the order; rights move only by their owner's transfer. So
//     secured exposure never exceeds the limit, whatever the partition.
//   - Unsecured approvals spend this region's budget under a guard, so a
//     region never approves more than its budget without rights.
//   - The rights table (what each region owns of each line) is a sum of
//     postings: the same in every region holding the same entries.
package scoring
