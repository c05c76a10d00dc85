package ledger

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"runtime"

	"filippo.io/edwards25519"
	"github.com/hdevalence/ed25519consensus"
)

// Entry signatures are checked by the rules of ZIP 215 (ed25519consensus),
// one at a time and in batches alike: a batch check and a single check agree
// on every signature, so whether an entry is accepted does not depend on
// which entries it arrived with, or on whether it came in a push or is read
// back by `kassa verify`. Every signature ed25519.Sign makes is valid by
// these rules; they differ from crypto/ed25519's only for signatures an
// honest signer never makes (non-canonical encodings of R, small-order
// components), which only the holder of an origin's key could produce.

// SignatureBatch is the most signatures checked in one batch. Batches of
// 64 checked about twice as many signatures a second on this project's
// machines as one-by-one checks; larger batches were no faster.
const SignatureBatch = 64

// ErrWeakKey is returned by CheckPublicKey for a key that is not a point
// of the curve, or one of small order. Under ZIP 215's cofactored check a
// small-order key would let anyone sign as its region (S = 0 and an
// identity R verify for every message), so no such key is ever used to
// check an entry.
var ErrWeakKey = errors.New("not a usable ed25519 public key")

// CheckPublicKey returns ErrWeakKey unless pub is 32 bytes that decode to a
// curve point of large order: a key ed25519.GenerateKey could have made.
func CheckPublicKey(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrWeakKey, len(pub), ed25519.PublicKeySize)
	}
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return fmt.Errorf("%w: not a point of the curve", ErrWeakKey)
	}
	if p.MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return fmt.Errorf("%w: a point of small order", ErrWeakKey)
	}
	return nil
}

// sigCheck is one signature to check: sig over msg by pub.
type sigCheck struct {
	pub ed25519.PublicKey
	msg []byte
	sig []byte
}

// verifySig reports whether sig is pub's signature of msg.
func verifySig(pub ed25519.PublicKey, msg, sig []byte) bool {
	return ed25519consensus.Verify(pub, msg, sig)
}

// verifySigs reports, for each check, whether its signature is valid. The
// checks are verified in batches on every core; a batch that
// does not verify is checked again one signature at a time, so that a bad
// signature fails only its own check.
func verifySigs(cs []sigCheck) []bool {
	ok := make([]bool, len(cs))
	// Batches of up to SignatureBatch, but at least one per core, so that
	// a small push is checked on every core too.
	cores := runtime.GOMAXPROCS(0)
	size := max(1, min(SignatureBatch, (len(cs)+cores-1)/cores))
	batches := (len(cs) + size - 1) / size
	parallel(batches, func(b int) {
		lo, hi := b*size, min(len(cs), (b+1)*size)
		verifyBatch(cs[lo:hi], ok[lo:hi])
	})
	return ok
}

// verifyBatch sets ok[i] for each of cs, checked as one batch when there
// are enough of them for a batch to pay off.
func verifyBatch(cs []sigCheck, ok []bool) {
	if len(cs) > 2 {
		bv := ed25519consensus.NewPreallocatedBatchVerifier(len(cs))
		for _, c := range cs {
			bv.Add(c.pub, c.msg, c.sig)
		}
		if bv.Verify() {
			for i := range ok {
				ok[i] = true
			}
			return
		}
	}
	for i, c := range cs {
		ok[i] = verifySig(c.pub, c.msg, c.sig)
	}
}
