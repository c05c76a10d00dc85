package clocktest_test

import (
	"fmt"
	"testing"
	"time"

	"kassa/clocktest"
)

var start = time.Date(2026, time.March, 15, 12, 0, 0, 0, time.UTC)

func TestAtStandsStill(t *testing.T) {
	c := clocktest.At(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("got %v, want %v", got, start)
	}
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("second reading: got %v, want %v", got, start)
	}
	c.Advance(time.Hour)
	c.Advance(-2 * time.Hour)
	if got, want := c.Now(), start.Add(time.Hour); !got.Equal(want) {
		t.Fatalf("after advancing: got %v, want %v", got, want)
	}
}

func TestStepping(t *testing.T) {
	c := clocktest.At(start).Stepping(time.Millisecond)
	a, b := c.Now(), c.Now()
	if got := b.Sub(a); got != time.Millisecond {
		t.Fatalf("got a step of %v, want 1ms", got)
	}
}

func TestWallFollowsTheWallClockPlusOffset(t *testing.T) {
	c := clocktest.Wall()
	c.Advance(24 * time.Hour)
	if got := time.Until(c.Now()); got < 23*time.Hour || got > 25*time.Hour {
		t.Fatalf("got %v ahead of the wall clock, want about 24h", got)
	}
}

func Example() {
	c := clocktest.At(time.Date(2026, time.March, 15, 12, 0, 0, 0, time.UTC))
	c.Advance(36 * time.Hour)
	fmt.Println(c.Now().Format(time.RFC3339))
	// Output: 2026-03-17T00:00:00Z
}
