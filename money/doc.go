// Package money owns how kassa writes and reads amounts of money for
// people: which currencies there are (ISO 4217's, Known), how many
// decimals a currency's minor unit has, how a locale
// writes an amount, and how an amount typed in the major unit ("12,50")
// becomes minor units.
//
// Amounts are int64 minor units (öre, cents) everywhere in kassa; this
// package never goes through floating point, so what it writes reads back
// exactly. The minor unit of a currency is ISO 4217's, the unit of the
// merchant API's amounts: it is not a display choice and does not change
// with the locale. Grouping and decimal separators come from CLDR through
// golang.org/x/text; the currency symbol and where it goes come from
// kassa's own table of the locales its pages are written for, and every
// other locale is written as English is.
//
// Everything here is a pure function, safe for concurrent use.
package money
