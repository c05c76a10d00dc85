package ledger

import (
	"crypto/ed25519"

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

// sigBatch is how many signatures are checked in one batch. Batches of 64
// checked about twice as many signatures a second on this project's
// machines as one-by-one checks; larger batches were no faster.
const sigBatch = 64

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
// checks are verified in batches of sigBatch on every core; a batch that
// does not verify is checked again one signature at a time, so that a bad
// signature fails only its own check.
func verifySigs(cs []sigCheck) []bool {
	ok := make([]bool, len(cs))
	batches := (len(cs) + sigBatch - 1) / sigBatch
	parallel(batches, func(b int) {
		lo, hi := b*sigBatch, min(len(cs), (b+1)*sigBatch)
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
