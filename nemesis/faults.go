package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"time"

	"kassa/nemesis/proxy"
)

// The kinds of fault the schedule draws from.
const (
	FaultIsolate  = "partition-one"      // one region cut off from every peer
	FaultMajority = "partition-majority" // the regions split into a majority and a minority
	FaultOneWay   = "partition-one-way"  // one region hears no peer, its own messages still arrive
	FaultBridge   = "partition-bridge"   // two sides that only one bridge region connects
	FaultPause    = "pause"              // SIGSTOP, then SIGCONT
	FaultKill     = "kill"               // SIGKILL, then a restart
	FaultRestore  = "restore-old-backup" // stop, restore the replica as of earlier, start: it must catch up
	FaultSlow     = "slow-links"         // every link of one region delayed per chunk
	FaultSkew     = "clock-skew"         // one region restarted with its clock offset, then restarted without
)

// Kinds are the fault kinds a schedule uses, in the order of its first
// round.
var Kinds = []string{FaultIsolate, FaultMajority, FaultOneWay, FaultBridge, FaultPause, FaultKill, FaultRestore, FaultSlow, FaultSkew}

// planned is one fault of the schedule.
type planned struct {
	Kind    string
	At, For time.Duration
	Regions []int // the region indexes it affects (its first is the target)
	Delay   time.Duration
}

// schedule draws the faults of a run of length d over n regions from rng:
// one after another, with gaps, from a warm-up to the start of the final
// quiet period. Every kind (of kinds, or of Kinds when empty) appears once
// (in a seeded order) before any appears twice; partitions last the
// longest.
func schedule(rng *rand.Rand, n int, d time.Duration, kinds []string) []planned {
	if len(kinds) == 0 {
		kinds = Kinds
	}
	warm := min(max(d/20, 2*time.Second), 20*time.Second)
	long := min(max(d/12, 2*time.Second), 60*time.Second)
	// In a long run the first partition lasts a full minute (so a run
	// shows catching up after one, under load).
	longest := d >= 5*time.Minute
	end := quietStart(d)
	var out []planned
	var round []string
	for at := warm; ; {
		if len(round) == 0 {
			round = slices.Clone(kinds)
			rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		}
		kind := round[0]
		round = round[1:]
		span := long
		if !strings.HasPrefix(kind, "partition") {
			span = max(long/2, 1500*time.Millisecond)
		}
		dur := span/2 + time.Duration(rng.Int64N(int64(span/2)+1))
		if longest && strings.HasPrefix(kind, "partition") {
			dur, longest = min(d/10, time.Minute), false
		}
		if at+dur > end {
			break
		}
		p := planned{Kind: kind, At: at, For: dur}
		perm := rng.Perm(n)
		switch kind {
		case FaultMajority:
			p.Regions = perm[:(n-1)/2] // the minority
			if len(p.Regions) == 0 {
				p.Regions = perm[:1]
			}
		case FaultBridge:
			p.Regions = perm // perm[0] bridges the first and second half of the rest
		case FaultSlow:
			p.Regions = perm[:1]
			p.Delay = time.Duration(20+rng.IntN(130)) * time.Millisecond
		case FaultSkew:
			// Ahead or behind by 5 to 30 s: well inside sync's replay
			// window (1 m), so the skewed region keeps replicating.
			p.Regions = perm[:1]
			p.Delay = time.Duration(5+rng.IntN(26)) * time.Second
			if rng.IntN(2) == 0 {
				p.Delay = -p.Delay
			}
		default:
			p.Regions = perm[:1]
		}
		out = append(out, p)
		at += dur + span/4 + time.Duration(rng.Int64N(int64(span/4)+1))
	}
	return out
}

// quietStart is when the final quiet period of a run of length d begins:
// no fault is injected after it, so the regions end the run healed.
func quietStart(d time.Duration) time.Duration {
	return d - max(d/6, 5*time.Second)
}

// sides splits the regions of a partition fault into groups that can
// reach only regions of their own group; the bridge region is in both.
func (p planned) sides(n int) [][]int {
	switch p.Kind {
	case FaultIsolate:
		return [][]int{p.Regions[:1], others(n, p.Regions[:1])}
	case FaultMajority:
		return [][]int{p.Regions, others(n, p.Regions)}
	case FaultBridge:
		rest := p.Regions[1:]
		half := (len(rest) + 1) / 2
		return [][]int{append([]int{p.Regions[0]}, rest[:half]...), append([]int{p.Regions[0]}, rest[half:]...)}
	}
	return nil
}

func others(n int, not []int) []int {
	var out []int
	for i := range n {
		if !slices.Contains(not, i) {
			out = append(out, i)
		}
	}
	return out
}

// link is the proxy region i reaches region j through.
func (h *harness) link(i, j int) *proxy.Proxy { return h.regions[i].peers[j] }

// inject starts fault p and returns how to end it and a description.
func (h *harness) inject(ctx context.Context, p planned) (heal func() error, detail string, err error) {
	n := len(h.regions)
	target := h.regions[p.Regions[0]]
	switch p.Kind {
	case FaultIsolate, FaultMajority, FaultBridge:
		sides := p.sides(n)
		var cut [][2]int
		for i := range n {
			for j := range n {
				if i != j && !together(sides, i, j) {
					h.link(i, j).Cut(true, proxy.Forward)
					cut = append(cut, [2]int{i, j})
				}
			}
		}
		var names []string
		for _, s := range sides {
			names = append(names, h.names(s))
		}
		return func() error {
			for _, c := range cut {
				h.link(c[0], c[1]).Heal()
			}
			return nil
		}, strings.Join(names, " | "), nil
	case FaultOneWay:
		x := p.Regions[0]
		for j := range n {
			if j != x {
				h.link(j, x).Cut(false, proxy.Forward)  // peers' requests to x are lost
				h.link(x, j).Cut(false, proxy.Backward) // answers to x are lost
			}
		}
		return func() error {
			for j := range n {
				if j != x {
					h.link(j, x).Heal()
					h.link(x, j).Heal()
				}
			}
			return nil
		}, target.id + " hears no peer", nil
	case FaultSlow:
		x := p.Regions[0]
		var ps []*proxy.Proxy
		for j := range n {
			if j != x {
				ps = append(ps, h.link(j, x), h.link(x, j))
			}
		}
		ps = append(ps, target.client)
		for _, q := range ps {
			q.Slow(p.Delay)
		}
		return func() error {
			for _, q := range ps {
				q.Slow(0)
			}
			return nil
		}, fmt.Sprintf("%s's links +%s per chunk", target.id, p.Delay), nil
	case FaultSkew:
		restart := func(offset time.Duration) error {
			target.stop(syscall.SIGTERM, 20*time.Second)
			target.offset = offset
			if err := h.writeConfig(p.Regions[0]); err != nil {
				return err
			}
			return h.start(ctx, target)
		}
		if err := restart(p.Delay); err != nil {
			return func() error { return restart(0) }, "skew failed", err
		}
		return func() error { return restart(0) }, fmt.Sprintf("%s's clock %+v", target.id, p.Delay), nil
	case FaultPause:
		target.signal(syscall.SIGSTOP)
		return func() error { target.signal(syscall.SIGCONT); return nil }, "SIGSTOP " + target.id, nil
	case FaultKill:
		target.stop(syscall.SIGKILL, time.Second)
		return func() error { return h.start(ctx, target) }, "SIGKILL " + target.id, nil
	case FaultRestore:
		// The state to go back to: the start of the fault, minus what
		// was written since the previous fault ended, at least a second.
		at := time.Now().Add(-max(p.At/4, time.Second))
		target.stop(syscall.SIGTERM, 20*time.Second)
		how, err := h.restoreOld(ctx, target, at)
		if err != nil {
			// Start it again as it was, so the run goes on.
			return func() error { return h.start(ctx, target) }, "restore failed", err
		}
		return func() error { return h.start(ctx, target) }, target.id + " restored, " + how, nil
	}
	return nil, "", fmt.Errorf("unknown fault kind %q", p.Kind)
}

func together(sides [][]int, i, j int) bool {
	for _, s := range sides {
		if slices.Contains(s, i) && slices.Contains(s, j) {
			return true
		}
	}
	return false
}

func (h *harness) names(idx []int) string {
	var s []string
	for _, i := range idx {
		s = append(s, h.regions[i].id)
	}
	return strings.Join(s, ",")
}
