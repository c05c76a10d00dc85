package ledger

import (
	"encoding/binary"
	"encoding/hex"
	"math/bits"
)

// Digest is an order-independent hash of a set of entries: the sum of their
// ids modulo 2^256. Adding an entry is one addition, so the digest is kept
// current on every commit; two regions that hold the same set of entries have
// the same digest whatever order the entries arrived in.
type Digest [32]byte

// Add returns d plus id modulo 2^256.
func (d Digest) Add(id Hash) Digest {
	var out Digest
	var carry uint64
	for i := 3; i >= 0; i-- {
		a := binary.BigEndian.Uint64(d[i*8:])
		b := binary.BigEndian.Uint64(id[i*8:])
		var sum uint64
		sum, carry = bits.Add64(a, b, carry)
		binary.BigEndian.PutUint64(out[i*8:], sum)
	}
	return out
}

// String returns the digest in lowercase hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// MarshalText encodes the digest as hex.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
