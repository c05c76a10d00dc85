package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// Limits on a single entry. They bound what a peer can make a region store and
// keep every decoder allocation proportional to its input.
const (
	MaxOriginLen   = 32
	MaxKindLen     = 64
	MaxSubjectLen  = 256
	MaxAccountLen  = 200
	MaxPostings    = 64
	MaxDataLen     = 64 << 10
	MaxEncodedSize = 1<<17 + MaxPostings*(MaxAccountLen+16)
)

// encodingTag opens every canonical encoding so that bytes of another kind can
// never be mistaken for (or signed as) an entry.
var encodingTag = [8]byte{'k', 'a', 's', 's', 'a', 'e', 'v', '1'}

// RegionID names a region. It is the origin of every entry that region writes.
type RegionID string

// Amount is a signed quantity of money in integer minor units (öre, cents).
type Amount int64

// Hash is a SHA-256 digest: an entry id, or the prev link of a chain.
type Hash [32]byte

// String returns the hash in lowercase hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Short returns the first 12 hex digits, enough to name an entry in a log line.
func (h Hash) Short() string { return h.String()[:12] }

// IsZero reports whether h is the all-zero hash, the prev of every seq 1.
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText encodes the hash as hex, so JSON shows it readably.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText decodes a hex hash.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("ledger: hash must be 64 hex digits, got %d", len(b))
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// ParseHash decodes a 64-digit hex hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	err := h.UnmarshalText([]byte(s))
	return h, err
}

// Posting moves Amount of Currency into Account (negative: out of it).
type Posting struct {
	Account  string `json:"account"`
	Amount   Amount `json:"amount"`
	Currency string `json:"currency"`
}

// Draft is what a caller asks the local region to append. The store fills in
// origin, seq, prev and hlc, and signs the result.
type Draft struct {
	Kind     string
	Subject  string
	Postings []Posting
	Data     json.RawMessage
	// Guards are conditions the writer checks atomically with the append,
	// against every entry committed or staged before this one: the draft is
	// refused with a *GuardError (and nothing is written) if any would fail.
	// They are not part of the entry.
	Guards []Guard
}

// Guard requires that, after the draft, Account's balance in Currency is at
// least Min. It is how a region spends rights it owns without ever spending
// them twice: only the owner posts debits to its rights accounts, and every
// debit is guarded.
type Guard struct {
	Account  string
	Currency string
	Min      Amount
}

// Entry is one immutable, signed fact. Its id is the SHA-256 of its canonical
// encoding (everything but Sig); Sig is the origin's ed25519 signature over the
// same bytes.
type Entry struct {
	Origin   RegionID        `json:"origin"`
	Seq      uint64          `json:"seq"`
	Prev     Hash            `json:"prev"`
	HLC      HLC             `json:"hlc"`
	Kind     string          `json:"kind"`
	Subject  string          `json:"subject"`
	Postings []Posting       `json:"postings"`
	Data     json.RawMessage `json:"data,omitempty"`
	Sig      []byte          `json:"sig"`
}

// Canonical returns the deterministic encoding of e without its signature:
// a fixed field order, big-endian integers and length-prefixed strings. It is
// what the id hashes and the signature covers.
func (e *Entry) Canonical() []byte {
	n := len(encodingTag) + 4 + len(e.Origin) + 8 + 32 + 12 + 4 + len(e.Kind) + 4 + len(e.Subject) + 4 + 4 + len(e.Data)
	for _, p := range e.Postings {
		n += 4 + len(p.Account) + 8 + 4 + len(p.Currency)
	}
	b := make([]byte, 0, n)
	b = append(b, encodingTag[:]...)
	b = appendString(b, string(e.Origin))
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = append(b, e.Prev[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.HLC.Wall))
	b = binary.BigEndian.AppendUint32(b, e.HLC.Logical)
	b = appendString(b, e.Kind)
	b = appendString(b, e.Subject)
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Postings)))
	for _, p := range e.Postings {
		b = appendString(b, p.Account)
		b = binary.BigEndian.AppendUint64(b, uint64(p.Amount))
		b = appendString(b, p.Currency)
	}
	b = appendString(b, string(e.Data))
	return b
}

// ID returns the SHA-256 of the canonical encoding.
func (e *Entry) ID() Hash { return sha256.Sum256(e.Canonical()) }

// Sign sets e.Sig with key. The key must belong to e.Origin.
func (e *Entry) Sign(key ed25519.PrivateKey) {
	e.Sig = ed25519.Sign(key, e.Canonical())
}

// VerifySignature checks e.Sig against pub. It returns ErrSignature if the
// signature does not cover the entry as it is.
func (e *Entry) VerifySignature(pub ed25519.PublicKey) error {
	if len(e.Sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature is %d bytes, want %d", ErrSignature, len(e.Sig), ed25519.SignatureSize)
	}
	if !verifySig(pub, e.Canonical(), e.Sig) {
		return ErrSignature
	}
	return nil
}

// MarshalBinary returns the wire form of a signed entry: the canonical bytes
// followed by the 64-byte signature.
func (e *Entry) MarshalBinary() ([]byte, error) {
	b := e.Canonical()
	return append(b, e.Sig...), nil
}

// UnmarshalBinary decodes the wire form written by MarshalBinary. It accepts
// exactly one encoding per entry (re-encoding gives the same bytes) and checks
// the entry's schema; it does not check the signature, which needs the
// origin's key.
func (e *Entry) UnmarshalBinary(b []byte) error { return e.decode(b, true) }

// decode reads the wire form into e, checking the schema (Validate) when
// validate is set. Only bytes this process validated itself, moments
// before, skip it: the tail's copies of entries it has just stored.
func (e *Entry) decode(b []byte, validate bool) error {
	if len(b) > MaxEncodedSize {
		return fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformed, len(b), MaxEncodedSize)
	}
	if len(b) < ed25519.SignatureSize {
		return fmt.Errorf("%w: too short", ErrMalformed)
	}
	body, sig := b[:len(b)-ed25519.SignatureSize], b[len(b)-ed25519.SignatureSize:]
	d := decoder{b: body}
	if tag := d.bytes(len(encodingTag)); !bytes.Equal(tag, encodingTag[:]) {
		return fmt.Errorf("%w: not an entry (bad tag)", ErrMalformed)
	}
	var out Entry
	out.Origin = RegionID(d.string(MaxOriginLen))
	out.Seq = d.uint64()
	copy(out.Prev[:], d.bytes(32))
	out.HLC.Wall = int64(d.uint64())
	out.HLC.Logical = d.uint32()
	out.Kind = d.string(MaxKindLen)
	out.Subject = d.string(MaxSubjectLen)
	n := d.uint32()
	if n > MaxPostings {
		return fmt.Errorf("%w: %d postings exceeds %d", ErrMalformed, n, MaxPostings)
	}
	if n > 0 {
		out.Postings = make([]Posting, 0, n)
	}
	for i := uint32(0); i < n && d.err == nil; i++ {
		var p Posting
		p.Account = d.string(MaxAccountLen)
		p.Amount = Amount(d.uint64())
		p.Currency = d.string(3)
		out.Postings = append(out.Postings, p)
	}
	if data := d.string(MaxDataLen); data != "" {
		out.Data = json.RawMessage(data)
	}
	if d.err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, d.err)
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.b))
	}
	out.Sig = append([]byte(nil), sig...)
	if validate {
		if err := out.Validate(); err != nil {
			return err
		}
	}
	*e = out
	return nil
}

// DecodeEntry decodes the wire form of a signed entry (see UnmarshalBinary).
func DecodeEntry(b []byte) (Entry, error) {
	var e Entry
	err := e.UnmarshalBinary(b)
	return e, err
}

// Validate checks the schema of a signed or unsigned entry: well-formed names,
// a chain start at seq 1, sane postings that sum to zero per currency and a
// JSON object payload. It returns an error wrapping ErrMalformed or
// ErrUnbalanced that names the problem.
func (e *Entry) Validate() error {
	if !validName(string(e.Origin), MaxOriginLen, false) {
		return fmt.Errorf("%w: origin %q must be 1-%d of [a-z0-9-]", ErrMalformed, e.Origin, MaxOriginLen)
	}
	if e.Seq == 0 {
		return fmt.Errorf("%w: seq must start at 1", ErrMalformed)
	}
	if e.Seq == 1 && !e.Prev.IsZero() {
		return fmt.Errorf("%w: seq 1 must have a zero prev", ErrMalformed)
	}
	if e.Seq > 1 && e.Prev.IsZero() {
		return fmt.Errorf("%w: seq %d has no prev", ErrMalformed, e.Seq)
	}
	if e.HLC.Wall <= 0 {
		return fmt.Errorf("%w: hlc wall time must be positive", ErrMalformed)
	}
	return validateBody(e.Kind, e.Subject, e.Postings, e.Data)
}

// Validate checks a draft the way Entry.Validate checks an entry, so that a
// bad request is refused before it reaches the writer.
func (d *Draft) Validate() error {
	for i, g := range d.Guards {
		if !validAccount(g.Account) || !validCurrency(g.Currency) {
			return fmt.Errorf("%w: guard %d names an invalid account or currency", ErrMalformed, i)
		}
	}
	return validateBody(d.Kind, d.Subject, d.Postings, d.Data)
}

func validateBody(kind, subject string, postings []Posting, data json.RawMessage) error {
	if !validName(kind, MaxKindLen, true) {
		return fmt.Errorf("%w: kind %q must be 1-%d of [a-z0-9._-]", ErrMalformed, kind, MaxKindLen)
	}
	if len(subject) > MaxSubjectLen || !printable(subject) {
		return fmt.Errorf("%w: subject must be at most %d printable ASCII characters", ErrMalformed, MaxSubjectLen)
	}
	if len(postings) > MaxPostings {
		return fmt.Errorf("%w: %d postings exceeds %d", ErrMalformed, len(postings), MaxPostings)
	}
	sums := make(map[string]int64, 2)
	for i, p := range postings {
		if !validAccount(p.Account) {
			return fmt.Errorf("%w: posting %d: account %q must be 1-%d of [a-z0-9:._-]", ErrMalformed, i, p.Account, MaxAccountLen)
		}
		if !validCurrency(p.Currency) {
			return fmt.Errorf("%w: posting %d: currency %q must be three letters A-Z", ErrMalformed, i, p.Currency)
		}
		if p.Amount == 0 {
			return fmt.Errorf("%w: posting %d: amount is zero", ErrMalformed, i)
		}
		// Bound every amount so that no sum of a batch can overflow int64.
		if p.Amount > maxAmount || p.Amount < -maxAmount {
			return fmt.Errorf("%w: posting %d: amount %d out of range", ErrMalformed, i, p.Amount)
		}
		sums[p.Currency] += int64(p.Amount)
	}
	cur := make([]string, 0, len(sums))
	for c := range sums {
		cur = append(cur, c)
	}
	sort.Strings(cur)
	for _, c := range cur {
		if sums[c] != 0 {
			return fmt.Errorf("%w: %s postings sum to %d", ErrUnbalanced, c, sums[c])
		}
	}
	if len(data) > MaxDataLen {
		return fmt.Errorf("%w: data is %d bytes, limit %d", ErrMalformed, len(data), MaxDataLen)
	}
	if len(data) > 0 && (data[0] != '{' || !json.Valid(data)) {
		return fmt.Errorf("%w: data must be a JSON object", ErrMalformed)
	}
	return nil
}

// maxAmount is 10^15 minor units, far beyond any payment and far from overflow.
const maxAmount = 1_000_000_000_000_000

func validName(s string, max int, dots bool) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		case dots && (c == '.' || c == '_'):
		default:
			return false
		}
	}
	return true
}

func validAccount(s string) bool {
	if len(s) == 0 || len(s) > MaxAccountLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == ':' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func validCurrency(s string) bool {
	return len(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z'
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// decoder reads the canonical encoding; the first error sticks and every
// later read returns zero values.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("unexpected end of entry")

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.err = errShort
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint32() uint32 {
	v := d.bytes(4)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func (d *decoder) uint64() uint64 {
	v := d.bytes(8)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func (d *decoder) string(max int) string {
	n := d.uint32()
	if d.err != nil {
		return ""
	}
	if int64(n) > int64(max) {
		d.err = fmt.Errorf("field of %d bytes exceeds %d", n, max)
		return ""
	}
	return string(d.bytes(int(n)))
}
