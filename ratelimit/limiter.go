package ratelimit

import (
	"math"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Limiter is a token-bucket rate limiter per merchant and per client
// address. It is safe for concurrent use.
type Limiter struct {
	perMerchant, perClient float64 // tokens per second; bursts of 2 s worth
	now                    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a Limiter that allows perMerchant requests/s per merchant and
// perClient per client address (0 disables that limit). now is the clock
// (time.Now when nil).
func New(perMerchant, perClient float64, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{perMerchant: perMerchant, perClient: perClient, now: now, buckets: map[string]*bucket{}}
}

// Allow takes a token for the merchant and the client. When either is out,
// it returns false and how many seconds to wait.
func (l *Limiter) Allow(merchant, client string) (int, bool) {
	return l.take(limit{"m:" + merchant, l.perMerchant}, limit{"c:" + client, l.perClient})
}

// AllowClient takes a token for the client only, for requests that are
// not the merchant's own (a shopper's form post on a hosted page). When
// it is out, it returns false and how many seconds to wait.
func (l *Limiter) AllowClient(client string) (int, bool) {
	return l.take(limit{"c:" + client, l.perClient})
}

type limit struct {
	key  string
	rate float64
}

func (l *Limiter) take(limits ...limit) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.last) > time.Minute {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	wait := 0
	ok := true
	for _, c := range limits {
		if c.rate <= 0 {
			continue
		}
		// A burst of two seconds' worth, and at least one request, so a
		// rate below one a second still lets requests through.
		burst := math.Max(1, 2*c.rate)
		b := l.buckets[c.key]
		if b == nil {
			b = &bucket{tokens: burst, last: now}
			l.buckets[c.key] = b
		}
		b.tokens = math.Min(burst, b.tokens+now.Sub(b.last).Seconds()*c.rate)
		b.last = now
		if b.tokens < 1 {
			ok = false
			wait = max(wait, int(math.Ceil((1-b.tokens)/c.rate)))
		}
	}
	if ok {
		for _, c := range limits {
			if b := l.buckets[c.key]; b != nil && c.rate > 0 {
				b.tokens--
			}
		}
	}
	return max(wait, 1), ok
}

// ClientKey returns the address a request is limited under: the remote
// host without its port. It trusts no forwarding header, which a client
// could set to dodge its limit.
func ClientKey(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return host
}
