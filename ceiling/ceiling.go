package ceiling

import (
	"crypto/ed25519"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hdevalence/ed25519consensus"

	"kassa/ledger"
)

// ErrBadSignature is returned by Verify when a signature in the pool does
// not verify: the ceiling would then measure the wrong work.
var ErrBadSignature = errors.New("ceiling: signature does not verify")

// Parallel calls f(i) for every i in [0, n) on every core and returns how
// long that took.
func Parallel(n int, f func(i int)) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				f(int(i))
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// Sign signs n messages, cycling through msgs, with key on every core: the
// signing ceiling of a region's write path.
func Sign(key ed25519.PrivateKey, msgs [][]byte, n int) time.Duration {
	return Parallel(n, func(i int) { ed25519.Sign(key, msgs[i%len(msgs)]) })
}

// Verify verifies n signatures, cycling through msgs and sigs, against pub
// on every core, in batches by the rules the ledger checks entries with
// (ZIP 215, ed25519consensus): the bound on how fast a region can take in
// a peer's entries. It returns ErrBadSignature if any batch does not
// verify.
func Verify(pub ed25519.PublicKey, msgs, sigs [][]byte, n int) (time.Duration, error) {
	var bad atomic.Bool
	batches := (n + ledger.SignatureBatch - 1) / ledger.SignatureBatch
	d := Parallel(batches, func(b int) {
		lo, hi := b*ledger.SignatureBatch, min(n, (b+1)*ledger.SignatureBatch)
		bv := ed25519consensus.NewPreallocatedBatchVerifier(hi - lo)
		for i := lo; i < hi; i++ {
			bv.Add(pub, msgs[i%len(msgs)], sigs[i%len(sigs)])
		}
		if !bv.Verify() {
			bad.Store(true)
		}
	})
	if bad.Load() {
		return d, ErrBadSignature
	}
	return d, nil
}
