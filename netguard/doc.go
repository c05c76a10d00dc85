// Package netguard keeps server-side requests whose target an outsider
// chose (a merchant's webhook URL, later an acquirer or mail relay named in
// config) away from the network kassa runs in.
//
// It owns what counts as internal (InternalIP, InternalHost) and a dialer
// that resolves a name itself, refuses it if any of its addresses is
// internal, and connects to the address it checked (PublicDialer), so DNS
// rebinding between the check and the connection gets nowhere.
//
// Invariants:
//
//   - PublicDialer never connects to an address it has not checked, and
//     refuses a host when any one of its addresses is internal.
//   - Every refusal wraps ErrInternalAddress.
//   - Nothing here is configured globally: callers build their own dialer
//     and transport.
package netguard
