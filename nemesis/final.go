package nemesis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"kassa/nemesis/check"
	"kassa/region"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// The end of a run: how soon the regions held each other's writes after
// a heal, and what every region holds once they all have.

// catchUp measures, after a partition heals under load, how long until
// every region holds every entry any region had written at the heal (the
// regions' vectors at the heal): digests never stay equal while merchants
// keep writing, but what was written during the partition must arrive.
// It returns -1 if that takes longer than Config.Converge, and the time
// measured so far if stopAt (the next fault) comes first; and the slowest
// (region, origin) pairs, when each region first held that origin's head.
func (h *harness) catchUp(ctx context.Context, stopAt time.Time) (time.Duration, string) {
	start := time.Now()
	hc := &http.Client{Timeout: 2 * time.Second}
	heads := map[string]uint64{}
	vectors := map[string]map[string]uint64{}
	for _, r := range h.regions {
		if st, err := getStatus(ctx, hc, r.url()); err == nil {
			heads[r.id] = st.Vector[r.id]
			vectors[r.id] = st.Vector
		}
	}
	// The backlog: entries some region lacked at the heal, counted once
	// per region that lacked them.
	var backlog uint64
	for r, v := range vectors {
		for o, seq := range heads {
			if o != r && v[o] < seq {
				backlog += seq - v[o]
			}
		}
	}
	// When each region first held each origin's head: the slowest pairs
	// say which link (or which receiver) the catch-up waited for.
	held := map[string]time.Duration{}
	lacking := map[string]uint64{} // as of the last poll
	slowest := func() string {
		type pair struct {
			name string
			d    time.Duration
		}
		var ps []pair
		for name, d := range held {
			ps = append(ps, pair{name, d})
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].d > ps[j].d || ps[i].d == ps[j].d && ps[i].name < ps[j].name })
		parts := []string{fmt.Sprintf("backlog %d entries", backlog)}
		// Pairs still behind come first: they are what the wait is for.
		for name, n := range lacking {
			parts = append(parts, fmt.Sprintf("%s not yet (%d entries behind)", name, n))
		}
		sort.Strings(parts[1:])
		for _, p := range ps[:min(3, len(ps))] {
			parts = append(parts, fmt.Sprintf("%s %s", p.name, p.d.Round(time.Millisecond)))
		}
		return strings.Join(parts, ", ")
	}
	deadline := start.Add(h.cfg.Converge)
	for {
		caught := true
		for _, r := range h.regions {
			st, err := getStatus(ctx, hc, r.url())
			if err != nil {
				caught = false
				continue
			}
			for origin, seq := range heads {
				name := r.id + " held " + origin + "'s"
				delete(lacking, name)
				switch _, ok := held[name]; {
				case st.Vector[origin] < seq:
					caught = false
					lacking[name] = seq - st.Vector[origin]
				case !ok && origin != r.id:
					held[name] = time.Since(start)
				}
			}
		}
		if caught {
			return time.Since(start), slowest()
		}
		if time.Now().After(stopAt) {
			return time.Since(start), slowest()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return -1, slowest()
		}
		time.Sleep(20 * time.Millisecond) // polling other processes for replication
	}
}

func (h *harness) converge(ctx context.Context, healed time.Duration) (map[string]string, time.Duration) {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(h.cfg.Converge)
	for {
		digests := map[string]string{}
		same := true
		for _, r := range h.regions {
			st, err := getStatus(ctx, hc, r.url())
			if err != nil {
				same = false
				continue
			}
			digests[r.id] = st.Digest
			same = same && st.Digest == digests[h.regions[0].id]
		}
		if same && len(digests) == len(h.regions) {
			return digests, h.since() - healed
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return digests, -1
		}
		time.Sleep(50 * time.Millisecond) // polling other processes for convergence
	}
}

// collect reads every order and consumer the workload touched from every
// region, directly, and the acquirer's books of every card order.
func (h *harness) collect(ctx context.Context, final *check.Final, simURL string) {
	h.mu.Lock()
	orders := make(map[string]orderNote, len(h.orders))
	for id, n := range h.orders {
		orders[id] = n
	}
	h.mu.Unlock()
	final.Orders = map[string]map[string]check.Order{}
	final.Consumers = map[string]map[string]check.Consumer{}
	final.Acquirer = map[string]check.Books{}
	var mu sync.Mutex
	type job func()
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j()
			}
		}()
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	m := h.merchants
	for _, r := range h.regions {
		final.Orders[r.id] = map[string]check.Order{}
		final.Consumers[r.id] = map[string]check.Consumer{}
		for id := range orders {
			jobs <- func() {
				var o check.Order
				// Orders belong to the merchant that made them: try each.
				for _, mm := range m {
					if getJSON(ctx, hc, r.url()+"/v1/orders/"+id, mm.id, mm.secret, &o) == nil {
						mu.Lock()
						final.Orders[r.id][id] = o
						mu.Unlock()
						return
					}
				}
			}
		}
		for _, email := range h.emails {
			jobs <- func() {
				var c check.Consumer
				if getJSON(ctx, hc, r.url()+"/admin/api/consumers?email="+url.QueryEscape(email), region.DemoStaffUser, region.DemoStaffPassword, &c) == nil {
					mu.Lock()
					final.Consumers[r.id][email] = c
					mu.Unlock()
				}
			}
		}
	}
	// The acquirer's books: a 404 is its "no payment with this reference";
	// a connection error or a 5xx leaves them unknown, so the request is
	// asked again (twice), and books still unread are reported as such,
	// not as missing.
	rc := retryablehttp.NewClient()
	rc.HTTPClient, rc.Logger = hc, nil
	rc.RetryMax, rc.RetryWaitMin, rc.RetryWaitMax = 2, 100*time.Millisecond, 300*time.Millisecond
	acq := rc.StandardClient()
	final.AcquirerUnread = map[string]string{}
	for id, n := range orders {
		if n.method != "card" {
			continue
		}
		jobs <- func() {
			var b check.Books
			err := getJSON(ctx, acq, simURL+"/payments?reference="+url.QueryEscape(id), "", "", &b)
			mu.Lock()
			switch {
			case err == nil:
				final.Acquirer[id] = b
			case !isStatus(err, http.StatusNotFound):
				final.AcquirerUnread[id] = err.Error()
			}
			mu.Unlock()
		}
	}
	close(jobs)
	wg.Wait()
}

// getJSON GETs u (with Basic credentials if user is set) and decodes a
// 200 answer into v.
func getJSON(ctx context.Context, hc *http.Client, u, user, pass string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		io.Copy(io.Discard, res.Body)
		return &statusError{url: u, status: res.StatusCode}
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// statusError is a GET answered with a status other than 200.
type statusError struct {
	url    string
	status int
}

func (e *statusError) Error() string { return fmt.Sprintf("GET %s: %d", e.url, e.status) }

// isStatus reports whether err is a GET answered with status.
func isStatus(err error, status int) bool {
	var se *statusError
	return errors.As(err, &se) && se.status == status
}

// verifyAll stops every region cleanly and runs `kassa verify` on its
// data: "" when clean, else the first line of what it found.
func (h *harness) verifyAll(ctx context.Context) map[string]string {
	out := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, r := range h.regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.stop(syscall.SIGTERM, 30*time.Second)
			text, err := h.kassa(ctx, "verify", "--config", r.cfgPath)
			problem := ""
			if err != nil {
				problem = firstLine(text)
				if problem == "" {
					problem = err.Error()
				}
			}
			mu.Lock()
			out[r.id] = problem
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "note:") && !strings.HasPrefix(l, "warning:") {
			return l
		}
	}
	return ""
}
