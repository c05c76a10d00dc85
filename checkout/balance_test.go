package checkout_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"kassa/account"
	"kassa/checkout"
	"kassa/ledger"
)

func TestCreditBalance(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := ledger.Open(context.Background(), ledger.Options{Path: filepath.Join(t.TempDir(), "kassa.db"), Region: "r1", Key: key,
		Keys: ledger.Keys{"r1": key.Public().(ed25519.PublicKey)}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc := checkout.New(store, nil, nil, nil, checkout.Config{Region: "r1", PublicURL: "http://kassa.test", Logger: log,
		Consumers: checkout.Consumers{Key: []byte("identity-key-for-tests")}, FingerprintKey: []byte("fingerprint-key-for-tests")})
	ctx := context.Background()
	p := checkout.Overpayment{Consumer: "con_a", Currency: "SEK", Amount: 250, Reference: "bank:TX-1", PaidAt: time.Unix(1, 0)}

	for _, bad := range []checkout.Overpayment{{Currency: "SEK", Amount: 1, Reference: "r"}, {Consumer: "con_a", Currency: "SEK", Reference: "r"},
		{Consumer: "con_a", Currency: "SEK", Amount: 1}, {Consumer: "con_a", Currency: "SE", Amount: 1, Reference: "r"}} {
		if _, err := svc.CreditBalance(ctx, bad); !errors.Is(err, checkout.ErrInvalidOverpayment) {
			t.Errorf("CreditBalance(%+v): got %v, want ErrInvalidOverpayment", bad, err)
		}
	}
	for i, want := range []bool{false, true} {
		replayed, err := svc.CreditBalance(ctx, p)
		if err != nil || replayed != want {
			t.Fatalf("call %d: got replayed %v, %v; want %v, nil", i+1, replayed, err, want)
		}
	}
	p.Reference, p.Amount = "bank:TX-2", 50
	if _, err := svc.CreditBalance(ctx, p); err != nil {
		t.Fatal(err)
	}
	if b, err := svc.Balance(ctx, "con_a", "SEK"); err != nil || b != 300 {
		t.Errorf("Balance: got %d, %v; want 300 owed to the consumer", b, err)
	}
	if b, _ := store.Balance(ctx, account.BankRepayments, "SEK"); b != 300 {
		t.Errorf("bank:repayments %d, want the 300 received", b)
	}
	if b, _ := svc.Balance(ctx, "con_a", "EUR"); b != 0 {
		t.Errorf("Balance in EUR: got %d, want 0", b)
	}
}
