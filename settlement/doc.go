// Package settlement owns merchant settlement reports: what kassa owes each
// merchant per day and currency, derived from the ledger's order.captured and
// order.refunded entries and the fee settings (the settlement section of the
// config).
//
// Data it reads. Checkout writes, on every order.captured and order.refunded
// entry, data with amount (minor units, positive), currency, merchant, method
// (card, pay_later or instalments) and day ("YYYY-MM-DD", the settlement day),
// and indexes the entry under the ref Ref(merchant, day)
// ("settle:<merchant>:<day>"). A report reads exactly those refs, one per day
// of its range, and nothing else.
//
// Invariants:
//
//   - A report is a function of the set of entries a region holds and of
//     the settings: every region holding the same entries, with the same
//     settings, gives byte-identical rows (and CSV), whatever order the
//     entries arrived in. Rows are sorted by merchant, day and currency.
//   - A merchant's report holds only entries whose data names that merchant
//     and whose day is the day of the ref they were found under.
//   - Per row: net = captured - refunded - fees - fee_vat; fees >= 0 and
//     fee_vat >= 0. Net is negative on a day whose refunds exceed what was
//     captured less fees.
//   - Fees are charged per capture: fixed + round_half_up(amount × rate_bps
//     / 10000), where rate_bps is the capture method's rate in basis points
//     (1 = 0.01 %) and fixed is in the minor units of the capture's currency
//     (the same number whatever the currency). VAT on fees is
//     round_half_up(fee × vat_bps / 10000), per capture, when vat_bps is set.
//     Rounding is per capture, never on a day's sum, so a row is the sum of
//     its captures' fees. Half-up: half a minor unit rounds away from zero
//     (amounts and rates are never negative).
//   - Refunds do not return fees: a refund reduces net by its amount only.
//   - Fees are computed when a report is made, from the settings in force
//     then, not stored in the ledger: changing the fee settings changes the
//     reports of past days too, and regions with different fee settings give
//     different fees for the same entries. Keep the settlement section equal
//     in every region.
//   - Entries that lack the fields above (those written before checkout
//     recorded them: no day, merchant, currency, a non-positive amount) are
//     skipped, as are captures with a method that has no fee settings: a
//     report never guesses. Before that change nothing carried the ref, so
//     such entries are not even read.
//   - A range is at most MaxDays days; longer ones are refused with a
//     *RangeError naming the field.
//
// The package imports only the ledger, so checkout may use Ref.
package settlement
