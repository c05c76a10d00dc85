package nemesis

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"kassa/client"
	"kassa/nemesis/check"
	"kassa/nemesis/proxy"
)

// fakeRegions are n httptest servers standing in for regions r1..rN, each
// behind a nemesis proxy as the harness's are, recording which region got
// each request.
func fakeRegions(t *testing.T, n int) (*harness, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var hits []string
	h := &harness{cfg: Config{Attempt: time.Second, Deadline: 5 * time.Second}, byURL: map[string]string{}, started: time.Now()}
	for i := range n {
		id := "r" + string(rune('1'+i))
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits = append(hits, id)
			mu.Unlock()
			w.Write([]byte(`{}`))
		}))
		t.Cleanup(s.Close)
		p, err := proxy.New(strings.TrimPrefix(s.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		h.regions = append(h.regions, &regionProc{id: id, client: p})
		h.byURL[p.URL()] = id
	}
	return h, &hits
}

// TestFollowUpsGoElsewhereAtTheShare: with Elsewhere 0.2 about a fifth of
// follow-ups go first to a region other than the session's, never to the
// session's own, spread over the others, and are marked; with 0 none are.
func TestFollowUpsGoElsewhereAtTheShare(t *testing.T) {
	for _, share := range []float64{0.2, 0} {
		h, hits := fakeRegions(t, 3)
		h.cfg.Elsewhere = share
		m := merchant{id: "shop1", secret: "sk_test_nemesis_shop_1"}
		// The worker's own client prefers r1, the session's region.
		own, err := client.New(client.Config{Regions: []string{h.regions[0].client.URL()}, Merchant: m.id, Secret: m.secret})
		if err != nil {
			t.Fatal(err)
		}
		w := &worker{h: h, c: own, m: m, tr: http.DefaultTransport, rng: rand.New(rand.NewPCG(7, 1))}
		const n = 500
		for range n {
			w.follow(context.Background(), "r1", check.Op{Kind: check.KindGet, Order: "o1"}, http.MethodGet, "/v1/orders/o1", nil)
		}
		elsewhere, byRegion := 0, map[string]int{}
		for i, op := range h.rec.ops {
			byRegion[(*hits)[i]]++
			if op.Elsewhere != (op.Region != "r1") {
				t.Fatalf("op %d: elsewhere %v but answered by %s", i, op.Elsewhere, op.Region)
			}
			if op.Elsewhere {
				elsewhere++
			}
		}
		if len(h.rec.ops) != n {
			t.Fatalf("share %g: got %d ops, want %d", share, len(h.rec.ops), n)
		}
		if share == 0 && elsewhere != 0 {
			t.Fatalf("share 0: got %d elsewhere, want none", elsewhere)
		}
		if share > 0 && (elsewhere < n/10 || elsewhere > 3*n/10 || byRegion["r2"] == 0 || byRegion["r3"] == 0) {
			t.Fatalf("share %g: got %d of %d elsewhere (%v), want about a fifth, over r2 and r3", share, elsewhere, n, byRegion)
		}
		r := check.Check(check.History{Regions: []string{"r1", "r2", "r3"}, Ops: h.rec.ops}, check.Options{})
		if r.Elsewhere != elsewhere || r.ElsewhereAnswered != elsewhere {
			t.Fatalf("report: elsewhere %d answered %d, want %d and %d", r.Elsewhere, r.ElsewhereAnswered, elsewhere, elsewhere)
		}
	}
}

// A paced worker starts on schedule; after a checkout that ran past its
// successor's start, the next starts at once and the schedule goes on
// from there, so slow answers never make checkouts bunch up.
func TestPacerNeverBunches(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	p := &pacer{every: 100 * time.Millisecond, next: ms(50)}
	steps := []struct {
		ended int // when the last checkout ended
		want  int // when the next starts
	}{
		{0, 50},      // the first start, spread from t0
		{60, 150},    // on time: waits for its slot
		{170, 250},   // quick: still its slot
		{600, 600},   // 350 ms late: at once ...
		{610, 700},   // ... and the next a whole interval later, not at once
		{700, 800},   // a checkout that took no time: waits for its slot
		{1000, 1000}, // 100 ms late: at once
	}
	for i, s := range steps {
		if got := p.start(ms(s.ended)); !got.Equal(ms(s.want)) {
			t.Fatalf("step %d: after an end at %d ms got a start at %s, want %d ms", i, s.ended, got.Sub(t0), s.want)
		}
	}
}
