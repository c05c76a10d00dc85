package checkout_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"kassa/cards"
	"kassa/checkout"
	"kassa/ledger"
)

// approver approves every decision without spending rights, after running
// before (once) if set.
type approver struct{ before func() }

func (a *approver) Decide(_ context.Context, in checkout.DecisionInput) (checkout.Decision, error) {
	if f := a.before; f != nil {
		a.before = nil
		f()
	}
	return checkout.Decision{Outcome: "approved", Reasons: []string{"score_approved"}}, nil
}

// approvingAcquirer approves every card payment as the same payment per
// idempotency key, after running before (once) if set.
type approvingAcquirer struct {
	checkout.Acquirer
	before func()
}

func (a *approvingAcquirer) Authorize(_ context.Context, p cards.Payment) (cards.Result, error) {
	if f := a.before; f != nil {
		a.before = nil
		f()
	}
	return cards.Result{ID: "pay_" + p.IdempotencyKey, Approved: true, Amount: p.Amount, Currency: p.Currency}, nil
}

// TestAuthorizedElsewhereMeanwhile: while r1 decides an authorization, the
// same request (a client that failed over) is authorized in r2 and its
// entry reaches r1. r1's write is refused by the order's own guard, and r1
// answers with the order as it now stands, not an error: the same key and
// request replay r2's authorization, another key is session_complete,
// another request under the same key an idempotency conflict. r1 writes
// nothing for the order.
func TestAuthorizedElsewhereMeanwhile(t *testing.T) {
	for _, c := range []struct {
		name    string
		key     string // r1's Idempotency-Key; r2's is "k1"
		email   string // r1's request; r2's is ada@example.com
		method  string
		wantErr error
	}{
		{"same key and request", "k1", "ada@example.com", "pay_later", nil},
		{"another key", "k2", "ada@example.com", "pay_later", checkout.ErrSessionComplete},
		{"same key, another request", "k1", "bo@example.com", "pay_later", checkout.ErrIdempotencyConflict},
		{"card, same key and request", "k1", "ada@example.com", "card", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			keys, privs := ledger.Keys{}, map[ledger.RegionID]ed25519.PrivateKey{}
			for i, id := range []ledger.RegionID{"r1", "r2"} {
				privs[id] = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize))
				keys[id] = privs[id].Public().(ed25519.PublicKey)
			}
			stores := map[ledger.RegionID]*ledger.Store{}
			for _, id := range []ledger.RegionID{"r1", "r2"} {
				s, err := ledger.Open(ctx, ledger.Options{Path: filepath.Join(t.TempDir(), string(id)+".db"), Region: id, Key: privs[id], Keys: keys, Logger: log})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				stores[id] = s
			}
			copyTo := func(from, to ledger.RegionID) {
				es, _, err := stores[from].EntriesSince(ctx, 0, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if res, err := stores[to].Apply(ctx, es); err != nil || len(res.Rejected) > 0 {
					t.Fatalf("copy %s to %s: %v, %+v", from, to, err, res.Rejected)
				}
			}
			cfg := func(id string) checkout.Config {
				return checkout.Config{Region: id, PublicURL: "http://kassa.test", Logger: log,
					Merchants: []checkout.MerchantConfig{{ID: "demo", APISecret: "sk"}},
					Consumers: checkout.Consumers{Key: []byte("k")}, FingerprintKey: []byte("f")}
			}
			r1Scorer, r1Acquirer := &approver{}, &approvingAcquirer{}
			r1 := checkout.New(stores["r1"], r1Scorer, r1Acquirer, nil, cfg("r1"))
			r2 := checkout.New(stores["r2"], &approver{}, &approvingAcquirer{}, nil, cfg("r2"))
			sess, _, err := r1.CreateSession(ctx, "demo", "s1", checkout.SessionRequest{Amount: 1000, Currency: "SEK", Country: "SE",
				MerchantReference: "meanwhile", Lines: []checkout.Line{{Name: "A", Quantity: 1, UnitPrice: 1000, Total: 1000}},
				URLs: checkout.URLs{Confirmation: "https://shop.example/ok", Cancel: "https://shop.example/c"}}, "s1")
			if err != nil {
				t.Fatal(err)
			}
			copyTo("r1", "r2")
			req := func(email string) checkout.AuthorizeRequest {
				r := checkout.AuthorizeRequest{Method: c.method, Consumer: checkout.Consumer{
					Email: email, GivenName: "Ada", FamilyName: "Lovelace", PostalCode: "11122", Country: "SE"}}
				if c.method == "card" {
					r.Card = &checkout.CardInput{Number: "4242424242424242", ExpMonth: 12, ExpYear: time.Now().Year() + 2, CVC: "123"}
				}
				return r
			}
			var there checkout.Order
			elsewhere := func() {
				o, _, err := r2.AuthorizeWithKey(ctx, "demo", sess.ID, "k1", req("ada@example.com"), "h-ada@example.com")
				if err != nil || o.Status != "authorized" {
					t.Fatalf("r2: got %+v, %v", o, err)
				}
				there = o
				copyTo("r2", "r1")
			}
			if c.method == "card" {
				r1Acquirer.before = elsewhere
			} else {
				r1Scorer.before = elsewhere
			}
			o, replayed, err := r1.AuthorizeWithKey(ctx, "demo", sess.ID, c.key, req(c.email), "h-"+c.email)
			switch {
			case c.wantErr != nil && !errors.Is(err, c.wantErr):
				t.Fatalf("got %+v, %v; want %v", o, err, c.wantErr)
			case c.wantErr == nil && (err != nil || !replayed || o.ID != there.ID || o.Status != "authorized"):
				t.Fatalf("got %+v, replayed %v, %v; want r2's authorization replayed", o, replayed, err)
			}
			es, err := stores["r1"].EntriesBySubject(ctx, string(sess.OrderID))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				if e.Origin == "r1" {
					t.Fatalf("r1 wrote %s for the order, want nothing", e.Kind)
				}
			}
		})
	}
}
