// Package clocktest is the one clock kassa's tests inject wherever a
// component takes a Now func() time.Time: sessions, throttles, the
// simulated acquirer, the ledger's hybrid logical clock, webhook backoff.
//
// Invariants: a Clock never moves backwards; it is safe for concurrent use;
// it moves only as its test says (Advance, or a fixed step per
// reading), on top of a fixed start or of the wall clock.
package clocktest

import (
	"sync"
	"time"
)

// Clock is an injectable clock that a test moves. Use At for a clock that
// stands still until told, Wall for the wall clock plus an offset (for
// components that also wait on real timers).
type Clock struct {
	mu   sync.Mutex
	base time.Time // the start, or zero to follow the wall clock
	off  time.Duration
	step time.Duration
	last time.Time
}

// At returns a clock that reads t until it is advanced.
func At(t time.Time) *Clock { return &Clock{base: t} }

// Wall returns a clock that reads the wall clock plus whatever the test
// advanced it by.
func Wall() *Clock { return &Clock{} }

// Stepping makes every reading move the clock forward by d after it is
// read (for clocks that must tick between events, such as a hybrid logical
// clock's). It returns c.
func (c *Clock) Stepping(d time.Duration) *Clock {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.step = d
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += c.step
	t := c.base
	if t.IsZero() {
		t = time.Now()
	}
	t = t.Add(c.off)
	if t.Before(c.last) {
		t = c.last
	}
	c.last = t
	return t
}

// Advance moves the clock forward by d (d < 0 is ignored).
func (c *Clock) Advance(d time.Duration) {
	if d < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}
