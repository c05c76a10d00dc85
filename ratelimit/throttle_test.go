package ratelimit_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"kassa/clocktest"
	"kassa/ratelimit"
)

func TestThrottlePair(t *testing.T) {
	clk := clocktest.At(time.Unix(1_700_000_000, 0))
	th := ratelimit.NewThrottle(clk.Now)
	for i := range ratelimit.MaxPairFailures {
		if _, refused := th.Refused("10.0.0.1", "ada"); refused {
			t.Fatalf("failure %d: refused before the limit", i)
		}
		th.Failed("10.0.0.1", "ada")
	}
	r, refused := th.Refused("10.0.0.1", "ada")
	if !refused || r.Address || r.Targeted || r.Wait != ratelimit.FailWindow || r.RetryAfter() != 900 {
		t.Fatalf("after %d failures: got %+v, %v, want this name from this address for 15 minutes", ratelimit.MaxPairFailures, r, refused)
	}
	if _, refused := th.Refused("10.0.0.1", "bob"); refused {
		t.Error("another name from the same address: refused")
	}
	if _, refused := th.Refused("10.0.0.2", "ada"); refused {
		t.Error("the same name from another address: refused")
	}
	clk.Advance(ratelimit.FailWindow)
	if _, refused := th.Refused("10.0.0.1", "ada"); refused {
		t.Error("after the window: refused")
	}
}

func TestThrottleAddress(t *testing.T) {
	clk := clocktest.At(time.Unix(1_700_000_000, 0))
	th := ratelimit.NewThrottle(clk.Now)
	for i := range ratelimit.MaxAddressFailures {
		th.Failed("10.0.0.1", fmt.Sprint("user-", i))
	}
	clk.Advance(time.Minute)
	r, refused := th.Refused("10.0.0.1", "fresh-name")
	if !refused || !r.Address || r.Wait != 14*time.Minute {
		t.Fatalf("after spraying names: got %+v, %v, want the address refused for 14 minutes", r, refused)
	}
	if _, refused := th.Refused("10.0.0.2", "fresh-name"); refused {
		t.Error("another address: refused")
	}
}

// TestThrottleNeverLocksTheOwnerOut: guesses at one name from many
// addresses cut each address's tries at it, but an address that has not
// been guessing still gets the name's secret checked.
func TestThrottleNeverLocksTheOwnerOut(t *testing.T) {
	clk := clocktest.At(time.Unix(1_700_000_000, 0))
	th := ratelimit.NewThrottle(clk.Now)
	failed := 0
	for a := range 100 {
		client := fmt.Sprintf("10.1.%d.%d", a/250, a%250)
		for range 5 {
			if _, refused := th.Refused(client, "admin"); refused {
				break
			}
			th.Failed(client, "admin")
			failed++
		}
	}
	// Six addresses reach the mark with five failures each; the other 94
	// get three tries each.
	if want := 30 + 94*ratelimit.MaxTargetedPairFailures; failed != want {
		t.Errorf("guesses checked: got %d, want %d", failed, want)
	}
	r, refused := th.Refused("10.1.0.99", "admin")
	if !refused || !r.Targeted || r.Address {
		t.Errorf("a guessing address: got %+v, %v, want refused as targeted", r, refused)
	}
	if r, refused := th.Refused("192.0.2.1", "admin"); refused {
		t.Fatalf("a fresh address: got %+v, want its try checked", r)
	}
	th.Failed("192.0.2.1", "admin")
	if _, refused := th.Refused("192.0.2.1", "admin"); refused {
		t.Fatal("a fresh address after one typo: refused, want up to three tries")
	}
}

func TestThrottleSucceededForgetsThePairOnly(t *testing.T) {
	th := ratelimit.NewThrottle(clocktest.At(time.Unix(1_700_000_000, 0)).Now)
	for i := range ratelimit.MaxAddressFailures - 1 {
		th.Failed("10.0.0.1", fmt.Sprint("user-", i%5))
	}
	th.Succeeded("10.0.0.1", "user-0")
	if _, refused := th.Refused("10.0.0.1", "user-0"); refused {
		t.Fatal("after a success: refused")
	}
	th.Failed("10.0.0.1", "user-0")
	if _, refused := th.Refused("10.0.0.1", "user-0"); !refused {
		t.Fatal("the address's count was reset by a success")
	}
}

// TestThrottleMemoryIsBounded: names of 45 KB count against their address
// only, and no count keeps a name, so a flood of failures with long or
// many names keeps the throttle small.
func TestThrottleMemoryIsBounded(t *testing.T) {
	th := ratelimit.NewThrottle(clocktest.At(time.Unix(1_700_000_000, 0)).Now)
	long := strings.Repeat("x", 45<<10)
	before := liveHeap()
	for i := range 1000 {
		name := fmt.Sprint(i, long)
		client := fmt.Sprintf("10.2.%d.%d", i/250, i%250)
		th.Refused(client, name)
		th.Failed(client, name)
	}
	grew := liveHeap() - before
	t.Logf("1,000 failures with 45 KB names: live heap grew by %d KB", grew>>10)
	if grew > 2<<20 {
		t.Errorf("live heap grew by %d KB, want under 2 MB", grew>>10)
	}

	// Names up to the limit are counted, under a fixed-size key, and at
	// most 10,000 counts are kept.
	before = liveHeap()
	for i := range 20_000 {
		name := fmt.Sprintf("%064d", i)
		th.Failed(fmt.Sprintf("10.3.%d.%d", i/250, i%250), name)
	}
	grew = liveHeap() - before
	t.Logf("20,000 failures with 64-byte names from 20,000 addresses: live heap grew by %d KB", grew>>10)
	if grew > 4<<20 {
		t.Errorf("live heap grew by %d KB, want under 4 MB", grew>>10)
	}
	runtime.KeepAlive(th)
}

func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func ExampleThrottle() {
	th := ratelimit.NewThrottle(nil)
	for range ratelimit.MaxPairFailures {
		th.Failed("203.0.113.7", "ada") // wrong password
	}
	r, refused := th.Refused("203.0.113.7", "ada")
	fmt.Println(refused, r.Address, r.RetryAfter())
	_, refused = th.Refused("198.51.100.1", "ada") // the owner, elsewhere
	fmt.Println(refused)
	// Output:
	// true false 900
	// false
}
