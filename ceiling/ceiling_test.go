package ceiling_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"kassa/ceiling"
)

func pool(t testing.TB, n int) (ed25519.PrivateKey, [][]byte, [][]byte) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, sigs := make([][]byte, n), make([][]byte, n)
	for i := range msgs {
		msgs[i] = []byte(fmt.Sprintf("entry %d", i))
		sigs[i] = ed25519.Sign(key, msgs[i])
	}
	return key, msgs, sigs
}

func TestParallelCallsEachIndexOnce(t *testing.T) {
	const n = 1000
	var seen [n]atomic.Int32
	ceiling.Parallel(n, func(i int) { seen[i].Add(1) })
	for i := range seen {
		if got := seen[i].Load(); got != 1 {
			t.Fatalf("index %d: got %d calls, want 1", i, got)
		}
	}
}

func TestVerify(t *testing.T) {
	key, msgs, sigs := pool(t, 8)
	pub := key.Public().(ed25519.PublicKey)
	if _, err := ceiling.Verify(pub, msgs, sigs, 100); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	sigs[3] = append([]byte(nil), sigs[3]...)
	sigs[3][0] ^= 1
	if _, err := ceiling.Verify(pub, msgs, sigs, 100); !errors.Is(err, ceiling.ErrBadSignature) {
		t.Fatalf("got %v, want ErrBadSignature", err)
	}
}

func ExampleVerify() {
	pub, key, _ := ed25519.GenerateKey(nil)
	msgs := [][]byte{[]byte("a"), []byte("b")}
	sigs := [][]byte{ed25519.Sign(key, msgs[0]), ed25519.Sign(key, msgs[1])}
	took, err := ceiling.Verify(pub, msgs, sigs, 1000)
	fmt.Println(err, took > 0)
	// Output: <nil> true
}

// TestLedgerAndHTTP: the ledger and HTTP measurements do the work they
// time (every entry of both chains applied; every request answered) and
// report a rate.
func TestLedgerAndHTTP(t *testing.T) {
	r, err := ceiling.Ledger(context.Background(), t.TempDir(), 300, 64)
	if err != nil {
		t.Fatal(err)
	}
	if r.Appends <= 0 || r.Applies <= 0 {
		t.Fatalf("rates %+v", r)
	}
	rate, err := ceiling.HTTP(4, 100, []byte(`{"amount":100}`), []byte(`{"id":"x"}`))
	if err != nil || rate <= 0 {
		t.Fatalf("http: %v requests/s, %v", rate, err)
	}
}
