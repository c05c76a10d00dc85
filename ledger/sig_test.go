package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"testing"

	"filippo.io/edwards25519"
	"pgregory.net/rapid"
)

// sigSeeds seed two fixed keys: a check signed by one and verified with
// the other is a bad signature.
var sigSeeds = [2][]byte{
	bytes.Repeat([]byte{5}, ed25519.SeedSize),
	bytes.Repeat([]byte{6}, ed25519.SeedSize),
}

// groupOrder is L, the order of ed25519's prime-order subgroup.
var groupOrder, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// TestVerifySigsNamesEachBadSignature: however many checks there are and
// wherever the bad ones fall (a batch of good ones, a batch with one or
// several bad ones, a short last batch), each check's answer is the one a
// single check gives: good signatures pass, and each kind of bad one
// (another key's, another message's, a flipped bit, S not reduced mod L,
// the wrong length) fails alone.
func TestVerifySigsNamesEachBadSignature(t *testing.T) {
	keys := [2]ed25519.PrivateKey{ed25519.NewKeyFromSeed(sigSeeds[0]), ed25519.NewKeyFromSeed(sigSeeds[1])}
	pub := keys[0].Public().(ed25519.PublicKey)
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 3*SignatureBatch+5).Draw(t, "n")
		cs := make([]sigCheck, n)
		want := make([]bool, n)
		for i := range cs {
			msg := fmt.Appendf(nil, "entry %d", i)
			sig := ed25519.Sign(keys[0], msg)
			want[i] = true
			switch rapid.IntRange(0, 24).Draw(t, "fault") {
			case 0: // signed by another key
				sig, want[i] = ed25519.Sign(keys[1], msg), false
			case 1: // signature of another message
				sig, want[i] = ed25519.Sign(keys[0], []byte("other")), false
			case 2: // a bit flipped in R or S
				sig = bytes.Clone(sig)
				sig[rapid.IntRange(0, len(sig)-1).Draw(t, "bit")] ^= 1
				want[i] = false
			case 3: // S + L: the same point equation, but S not canonical
				sig, want[i] = unreducedS(sig), false
			case 4: // cut short
				sig, want[i] = sig[:len(sig)-1], false
			}
			cs[i] = sigCheck{pub: pub, msg: msg, sig: sig}
		}
		got := verifySigs(cs)
		for i := range cs {
			if got[i] != want[i] {
				t.Fatalf("check %d of %d: verified %v, want %v", i, n, got[i], want[i])
			}
			if single := verifySig(cs[i].pub, cs[i].msg, cs[i].sig); single != got[i] {
				t.Fatalf("check %d of %d: batch says %v, a single check %v", i, n, got[i], single)
			}
		}
	})
}

// unreducedS returns sig with S replaced by S + L (S < L < 2^253, so it
// fits): a signature that satisfies the verification equation but is
// malleable, which both kinds of check must refuse.
func unreducedS(sig []byte) []byte {
	s := slices.Clone(sig[32:])
	slices.Reverse(s) // little-endian to big-endian
	sum := new(big.Int).Add(new(big.Int).SetBytes(s), groupOrder)
	s = sum.FillBytes(make([]byte, 32))
	slices.Reverse(s)
	return append(slices.Clone(sig[:32]), s...)
}

// BenchmarkVerifySigs compares checking a push's worth of signatures one
// at a time on every core (how the ledger checked them before) with
// verifySigs' batches.
func BenchmarkVerifySigs(b *testing.B) {
	key := ed25519.NewKeyFromSeed(sigSeeds[0])
	pub := key.Public().(ed25519.PublicKey)
	cs := make([]sigCheck, 512)
	for i := range cs {
		msg := bytes.Repeat(fmt.Appendf(nil, "%04d", i), 100)
		cs[i] = sigCheck{pub: pub, msg: msg, sig: ed25519.Sign(key, msg)}
	}
	rate := func(b *testing.B) {
		b.ReportMetric(float64(b.N*len(cs))/b.Elapsed().Seconds(), "sigs/s")
	}
	b.Run("single", func(b *testing.B) {
		for b.Loop() {
			parallel(len(cs), func(i int) {
				if !ed25519.Verify(cs[i].pub, cs[i].msg, cs[i].sig) {
					b.Error("bad signature")
				}
			})
		}
		rate(b)
	})
	b.Run("batch", func(b *testing.B) {
		for b.Loop() {
			for _, ok := range verifySigs(cs) {
				if !ok {
					b.Fatal("bad signature")
				}
			}
		}
		rate(b)
	})
}

// TestCheckPublicKey: a generated key is usable; a key that is no curve
// point, the wrong length, or of small order is refused, and the store
// will not open with one. A small-order key is refused because under
// ZIP 215 it verifies a forged signature (S = 0, R the identity) on any
// message.
func TestCheckPublicKey(t *testing.T) {
	good := ed25519.NewKeyFromSeed(sigSeeds[0]).Public().(ed25519.PublicKey)
	if err := CheckPublicKey(good); err != nil {
		t.Fatalf("a generated key: %v", err)
	}
	identity := make([]byte, 32)
	identity[0] = 1 // y = 1, x = 0
	orderTwo := bytes.Repeat([]byte{0xff}, 32)
	orderTwo[0], orderTwo[31] = 0xec, 0x7f // y = p - 1, x = 0
	var notPoint []byte
	for y := byte(2); notPoint == nil; y++ {
		b := make([]byte, 32)
		b[0] = y
		if _, err := new(edwards25519.Point).SetBytes(b); err != nil {
			notPoint = b
		}
	}
	forged := append(bytes.Clone(identity), make([]byte, 32)...) // R = identity, S = 0
	if !verifySig(identity, []byte("any entry"), forged) {
		t.Fatal("the forged signature does not verify under the identity key: the reason for the check is gone")
	}
	for name, pub := range map[string][]byte{"identity": identity, "order two": orderTwo, "not a point": notPoint, "short": good[:31]} {
		if err := CheckPublicKey(pub); !errors.Is(err, ErrWeakKey) {
			t.Errorf("%s: got %v, want ErrWeakKey", name, err)
		}
	}
	key := ed25519.NewKeyFromSeed(sigSeeds[0])
	_, err := Open(context.Background(), Options{
		Path: filepath.Join(t.TempDir(), "kassa.db"), Region: "r1", Key: key,
		Keys: Keys{"r1": good, "r2": identity},
	})
	if !errors.Is(err, ErrWeakKey) {
		t.Fatalf("open with a small-order peer key: got %v, want ErrWeakKey", err)
	}
}
