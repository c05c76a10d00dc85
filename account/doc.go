// Package account names the ledger accounts kassa posts to, and the credit
// line subjects that share their namespace: it builds every name and parses
// every name it builds, so no other package spells one out or takes one
// apart by prefix.
//
// The names are stored in signed ledger entries and sent between regions,
// so their spelling is fixed forever:
//
//	credit:<consumer>:rights:<region>   credit rights a region may spend
//	credit:<consumer>:limit             the line granted (negative)
//	credit:<consumer>:exposure          exposure approved from rights
//	credit:<consumer>:unsecured         exposure approved from budgets
//	unsecured:<region>                  a region's unsecured budget spent
//	order:<order>:capture:<region>      capture rights
//	order:<order>:refund:<region>       refund rights
//	order:<order>:debt:<region>         debt rights (credit orders)
//	order:<order>:authorized            what the order authorized
//	order:<order>:owed                  what the consumer owes on it
//	order:<order>:repaid                what the consumer repaid on it
//	order:<order>:refunded              what it refunded
//	merchant:<merchant>:payable         what kassa owes a merchant
//	consumer:<consumer>:receivable      what a consumer owes kassa
//	consumer:<consumer>:balance         what kassa owes a consumer (negative)
//	acquirer:<acquirer>:clearing        what a card acquirer owes kassa
//	kassa:revenue                       kassa's own revenue
//	bank:repayments                     consumers' repayments received
//
// and the subject of a consumer's credit line in one currency is
// credit:<consumer>:<CUR>.
//
// Invariants: a part (an id or a region) is one or more of [a-z0-9._-],
// never a colon, so every name splits one way only. Parse accepts exactly
// the names the constructors build from such parts, and String gives back
// the same bytes: Parse(s).String() == s for every name Parse accepts.
// The constructors do not check their parts, and the ledger checks only
// its own account syntax: a name built from a part outside that alphabet
// fails to Parse, so callers build names only from ids kassa derived.
//
// Rights accounts (capture, refund, debt and credit rights) exist once per
// region, and only the region in the name spends them. A Rights value
// names the family; its Prefix is what one region asks another for.
package account
