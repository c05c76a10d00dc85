// Package scoring owns credit decisions: who may pay later, for how much,
// and why. It implements checkout's Scorer.
//
// This first version is a transparent rule with reason codes and limits from
// config; the scorecard over the consumer's ledger history and the escrowed
// credit lines build on it. Invariants: a decision is a deterministic
// function of its input and the policy, and every outcome other than
// "approved" carries at least one reason code.
package scoring
