package ceiling

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"kassa/ledger"
)

// appendCallers is how many callers append at once: enough for large group
// commits, the ledger's best case.
const appendCallers = 512

// LedgerRates is what one ledger on this machine does at most with entries
// shaped like a checkout's.
type LedgerRates struct {
	// Appends is signed entries per second committed by Store.Append from
	// 512 callers: what the writing region spends per entry.
	Appends float64
	// Applies is entries per second that a region takes in from two peers
	// at once, in batches of batch (decoded, verified and committed by
	// Store.ApplyWire): what every other region spends per entry.
	Applies float64
}

// Ledger measures LedgerRates in temporary ledgers under dir (removed
// after): n entries appended in each of two regions, then applied into a
// third, both chains at once.
func Ledger(ctx context.Context, dir string, n, batch int) (LedgerRates, error) {
	tmp, err := os.MkdirTemp(dir, "kassa-ceiling-")
	if err != nil {
		return LedgerRates{}, err
	}
	defer os.RemoveAll(tmp)
	ids := []ledger.RegionID{"c1", "c2", "c3"}
	keys := ledger.Keys{}
	priv := map[ledger.RegionID]ed25519.PrivateKey{}
	for _, id := range ids {
		seed := sha256.Sum256([]byte("kassa-ceiling:" + id))
		priv[id] = ed25519.NewKeyFromSeed(seed[:])
		keys[id] = priv[id].Public().(ed25519.PublicKey)
	}
	open := func(id ledger.RegionID) (*ledger.Store, error) {
		return ledger.Open(ctx, ledger.Options{Path: filepath.Join(tmp, string(id)+".db"), Region: id, Key: priv[id], Keys: keys,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}
	var rates LedgerRates
	var chains [2][][]byte
	var took time.Duration
	for i, id := range ids[:2] {
		st, err := open(id)
		if err != nil {
			return rates, err
		}
		d, err := Appends(ctx, st, n, string(id))
		if err == nil {
			chains[i], err = wireOf(ctx, st, id, n)
		}
		st.Close()
		if err != nil {
			return rates, err
		}
		took += d
	}
	rates.Appends = float64(2*n) / took.Seconds()
	st, err := open(ids[2])
	if err != nil {
		return rates, err
	}
	defer st.Close()
	errs := make([]error, 2)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range chains {
		wg.Go(func() {
			for from := 0; from < len(chains[i]) && errs[i] == nil; from += batch {
				_, errs[i] = st.ApplyWire(ctx, chains[i][from:min(from+batch, len(chains[i]))])
			}
		})
	}
	wg.Wait()
	rates.Applies = float64(2*n) / time.Since(start).Seconds()
	for _, err := range errs {
		if err != nil {
			return rates, err
		}
	}
	if got := st.Count(); got != int64(2*n) {
		return rates, fmt.Errorf("ceiling: applied %d entries of %d", got, 2*n)
	}
	return rates, nil
}

// Appends appends n entries shaped like a checkout's authorization (an
// order subject, two postings over 50,000 consumers, about 300 bytes of
// data) to st from 512 callers, so that group commits are large, and
// returns how long that took: the ledger's best rate for such entries.
// tag keeps the order ids of one call apart from another's.
func Appends(ctx context.Context, st *ledger.Store, n int, tag string) (time.Duration, error) {
	data, _ := json.Marshal(map[string]any{"merchant": "demo", "amount": 25900, "currency": "SEK", "method": "pay_later",
		"consumer": "con_0123456789abcdef", "reference": "ref-0123456789", "expires_at": "2026-12-26T00:00:00Z",
		"lines": []map[string]any{{"name": "Shoes", "quantity": 1, "unit_price": 25900, "total": 25900}}})
	start := time.Now()
	err := callers(appendCallers, n, func(i int) error {
		id := fmt.Sprintf("ord_%s_%d", tag, i)
		_, err := st.Append(ctx, ledger.Draft{Kind: "order.authorized", Subject: id, Data: data, Postings: []ledger.Posting{
			{Account: fmt.Sprintf("consumer:con_%d:credit", i%50_000), Amount: -25900, Currency: "SEK"},
			{Account: "order:" + id + ":capture", Amount: 25900, Currency: "SEK"},
		}})
		return err
	})
	if err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// wireOf reads origin's first n entries back in their wire form.
func wireOf(ctx context.Context, st *ledger.Store, origin ledger.RegionID, n int) ([][]byte, error) {
	var out [][]byte
	for len(out) < n {
		ws, err := st.WireAfter(ctx, origin, uint64(len(out)), 4096)
		if err != nil {
			return nil, err
		}
		if len(ws) == 0 {
			return nil, fmt.Errorf("ceiling: %s holds %d of its %d entries", origin, len(out), n)
		}
		for _, w := range ws {
			out = append(out, w.Body)
		}
	}
	return out, nil
}

// HTTP measures requests per second on loopback: clients send n POSTs
// with body, over pooled connections, to a handler in this process that
// reads the body and answers with reply at once. What HTTP alone costs,
// client and server on the same cores.
func HTTP(clients, n int, body, reply []byte) (float64, error) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write(reply)
	}))
	defer srv.Close()
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients, IdleConnTimeout: time.Minute}}
	defer c.CloseIdleConnections()
	start := time.Now()
	err := callers(clients, n, func(i int) error {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/sessions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("ceiling-%d", i))
		res, err := c.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		_, err = io.Copy(io.Discard, res.Body)
		return err
	})
	if err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// callers runs f(1) ... f(n) from k goroutines, each taking the next i,
// and returns the first error; after one, no further i is started.
func callers(k, n int, f func(i int) error) error {
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range k {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n) && failed.Load() == nil; i = next.Add(1) {
				if err := f(int(i)); err != nil {
					failed.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return *err
	}
	return nil
}
