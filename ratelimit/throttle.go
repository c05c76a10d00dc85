package ratelimit

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"sync"
	"time"
)

// The limits of a Throttle. Staff sign-ins and merchant API secrets share
// them: both are secrets a person or a machine types right the first time
// or within a few tries.
const (
	// FailWindow is how long a failure counts.
	FailWindow = 15 * time.Minute
	// MaxPairFailures failures of one name from one address refuse that
	// name from that address until the window has passed.
	MaxPairFailures = 10
	// MaxAddressFailures failures from one address, whatever the names,
	// refuse every name from it (one password tried on many names).
	MaxAddressFailures = 50
	// TargetedAfter failures of one name, from any addresses, mark the
	// name as targeted: from then on each address has only
	// MaxTargetedPairFailures tries at it within the window.
	TargetedAfter           = 30
	MaxTargetedPairFailures = 3
	// MaxName is the longest name a Throttle counts. Callers refuse longer
	// names before checking any secret: no configured name is longer.
	MaxName = 64
	// maxTracked bounds the counts kept; each is a fixed 48 bytes or so
	// (a 16-byte hash, a count and a time) whatever the name.
	maxTracked = 10_000
)

// Throttle slows down guessing secrets (staff passwords, merchant API
// secrets) without letting anyone lock the owner of a name out. It counts
// failed attempts within FailWindow:
//
//   - per client address: MaxAddressFailures refuse every name from it;
//   - per address and name: MaxPairFailures refuse that name from it;
//   - per name, from any address: a name with TargetedAfter failures is
//     targeted, and each address then has only MaxTargetedPairFailures
//     tries at it.
//
// No count refuses a name everywhere: the right secret from an address
// that has not been guessing is always checked, so a guesser with many
// addresses gets a few tries per address and window, and cannot lock the
// owner out. Counts are kept under a hash of the address and the name, so
// their memory is bounded whatever names clients send; a name longer than
// MaxName counts against its address only.
//
// Throttle is safe for concurrent use.
type Throttle struct {
	now func() time.Time

	mu    sync.Mutex
	fails map[countKey]failures
	swept time.Time
}

// countKey is the first 16 bytes of a SHA-256 of what is counted: enough
// that no one can make two counts collide, and the same size for any name.
type countKey [16]byte

type failures struct {
	n     int
	since time.Time
}

func (f failures) live(now time.Time) bool { return now.Before(f.since.Add(FailWindow)) }

// Refusal says why an attempt is refused and for how long.
type Refusal struct {
	// Wait is how long until the attempt would be checked again.
	Wait time.Duration
	// Address is true when every name from the client's address is
	// refused, false when only this name from this address is.
	Address bool
	// Targeted is true when the name has failed from many addresses, so
	// each address has fewer tries at it.
	Targeted bool
}

// RetryAfter returns Wait in whole seconds, rounded up and at least 1: the
// value of a Retry-After header.
func (r Refusal) RetryAfter() int {
	return max(1, int(math.Ceil(r.Wait.Seconds())))
}

// NewThrottle returns a Throttle on the clock now (time.Now when nil).
func NewThrottle(now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{now: now, fails: map[countKey]failures{}}
}

func keyOf(kind byte, client, name string) countKey {
	h := sha256.New()
	h.Write([]byte{kind})
	// Length-prefixed, so no two (client, name) pairs hash the same bytes.
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(client))))
	h.Write([]byte(client))
	h.Write([]byte(name))
	var k countKey
	copy(k[:], h.Sum(nil))
	return k
}

// keysOf returns the keys of the counts an attempt touches: its address's
// and, unless the name is too long to count, its pair's and its name's.
func keysOf(client, name string) (address countKey, pair, nameKey *countKey) {
	address = keyOf('a', client, "")
	if len(name) > MaxName {
		return address, nil, nil
	}
	p, n := keyOf('p', client, name), keyOf('n', "", name)
	return address, &p, &n
}

// Refused reports whether an attempt for name from client must wait
// instead of having its secret checked, and why. A name longer than
// MaxName is judged by its address only.
func (t *Throttle) Refused(client, name string) (Refusal, bool) {
	address, pair, nameKey := keysOf(client, name)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if f, ok := t.fails[address]; ok && f.live(now) && f.n >= MaxAddressFailures {
		return Refusal{Wait: f.since.Add(FailWindow).Sub(now), Address: true}, true
	}
	if pair == nil {
		return Refusal{}, false
	}
	limit, targeted := MaxPairFailures, false
	if f, ok := t.fails[*nameKey]; ok && f.live(now) && f.n >= TargetedAfter {
		limit, targeted = MaxTargetedPairFailures, true
	}
	if f, ok := t.fails[*pair]; ok && f.live(now) && f.n >= limit {
		return Refusal{Wait: f.since.Add(FailWindow).Sub(now), Targeted: targeted}, true
	}
	return Refusal{}, false
}

// Failed counts a failed attempt for name from client. A name longer than
// MaxName counts against the address only.
func (t *Throttle) Failed(client, name string) {
	address, pair, nameKey := keysOf(client, name)
	counts := []countKey{address}
	if pair != nil {
		counts = append(counts, *pair, *nameKey)
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, key := range counts {
		f, ok := t.fails[key]
		if !ok || !f.live(now) {
			if !ok && len(t.fails) >= maxTracked {
				t.makeRoom(now)
			}
			f = failures{since: now}
		}
		f.n++
		t.fails[key] = f
	}
}

// makeRoom drops the counts whose window has passed (at most once a
// minute: a sweep reads every count) and, when all are live, one at
// random: under a flood from many addresses the throttle forgets some
// counts rather than stop counting new ones, and each failure costs the
// same whatever the flood.
func (t *Throttle) makeRoom(now time.Time) {
	if now.Sub(t.swept) >= time.Minute {
		for k, f := range t.fails {
			if !f.live(now) {
				delete(t.fails, k)
			}
		}
		t.swept = now
	}
	for k := range t.fails {
		if len(t.fails) < maxTracked {
			break
		}
		delete(t.fails, k)
	}
}

// Succeeded forgets the failures of name from client. Those of the
// address and of the name stay: knowing one secret does not reset the
// count of guesses at others, nor end an attack on the name.
func (t *Throttle) Succeeded(client, name string) {
	k := keyOf('p', client, name)
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, k)
}
