package checkout_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kassa/checkout"
	"kassa/clocktest"
	"kassa/ledger"
)

// merchantRegion is one region's store and checkout service, without
// HTTP, for the merchant table's own tests.
type merchantRegion struct {
	store *ledger.Store
	svc   *checkout.Service
}

// mustOpenMerchantRegions opens regions r1 and r2 that trust each other,
// on one clock, each following its ledger for merchant entries as a
// region does; replicate copies entries between them.
func mustOpenMerchantRegions(tb testing.TB, clock *clocktest.Clock, secretKeys ...string) []*merchantRegion {
	tb.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ids := []ledger.RegionID{"r1", "r2"}
	keys := ledger.Keys{}
	privs := map[ledger.RegionID]ed25519.PrivateKey{}
	for i, id := range ids {
		seed := bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize)
		privs[id] = ed25519.NewKeyFromSeed(seed)
		keys[id] = privs[id].Public().(ed25519.PublicKey)
	}
	var out []*merchantRegion
	for i, id := range ids {
		store, err := ledger.Open(context.Background(), ledger.Options{Path: filepath.Join(tb.TempDir(), string(id)+".db"), Region: id,
			Key: privs[id], Keys: keys, Now: clock.Now, Logger: log})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { store.Close() })
		secretKey := ""
		if i < len(secretKeys) {
			secretKey = secretKeys[i]
		}
		svc := checkout.New(store, nil, nil, nil, checkout.Config{Region: string(id), PublicURL: "http://kassa.test", Logger: log, Now: clock.Now,
			SecretKey: secretKey, Merchants: []checkout.MerchantConfig{{ID: "demo", Name: "Demo", APISecret: "sk_test_demo", WebhookSecret: "whsec_test_demo"}}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			svc.FollowMerchants(ctx)
		}()
		tb.Cleanup(func() { cancel(); <-done })
		out = append(out, &merchantRegion{store: store, svc: svc})
	}
	return out
}

// replicate gives every region every entry of the others.
func replicate(tb testing.TB, rs []*merchantRegion) {
	tb.Helper()
	for _, from := range rs {
		es, _, err := from.store.EntriesSince(context.Background(), 0, 1<<20)
		if err != nil {
			tb.Fatal(err)
		}
		for _, to := range rs {
			if to == from {
				continue
			}
			if res, err := to.store.Apply(context.Background(), es); err != nil || len(res.Rejected) > 0 {
				tb.Fatalf("replicate: got %v, %+v", err, res.Rejected)
			}
		}
	}
}

var staffBoss = checkout.Actor{Staff: "boss", Role: "admin", Reason: "onboarding"}

// TestMerchantCreatedInOneRegionWorksInAnother: the merchant's secret
// authenticates in the other region once the entry is there, its webhook
// secret can be opened there, and neither secret is in the entry.
func TestMerchantCreatedInOneRegionWorksInAnother(t *testing.T) {
	rs := mustOpenMerchantRegions(t, clocktest.Wall())
	ctx := context.Background()
	out, err := rs[0].svc.CreateMerchant(ctx, staffBoss, "acme", "Acme AB")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.Secret, "sk_") || !strings.HasPrefix(out.WebhookSecret, "whsec_") {
		t.Fatalf("got secrets %q, %q, want sk_ and whsec_ prefixes", out.Secret, out.WebhookSecret)
	}
	if id, err := rs[0].svc.Authenticate("acme", out.Secret); err != nil || id != "acme" {
		t.Fatalf("r1 authenticate: got %q, %v, want acme", id, err)
	}
	if _, err := rs[1].svc.Authenticate("acme", out.Secret); !errors.Is(err, checkout.ErrUnauthorized) {
		t.Fatalf("r2 before replication: got %v, want ErrUnauthorized", err)
	}
	replicate(t, rs)
	if id, err := rs[1].svc.Authenticate("acme", out.Secret); err != nil || id != "acme" {
		t.Fatalf("r2 after replication: got %q, %v, want acme", id, err)
	}
	if got, ok := rs[1].svc.WebhookSecret("acme"); !ok || got != out.WebhookSecret {
		t.Fatalf("r2 webhook secret: got %q, %v, want the one created in r1", got, ok)
	}
	if got := rs[1].svc.MerchantName("acme"); got != "Acme AB" {
		t.Fatalf("r2 name: got %q, want Acme AB", got)
	}
	es, err := rs[1].store.EntriesBySubject(ctx, checkout.MerchantSubject("acme"))
	if err != nil || len(es) != 1 {
		t.Fatalf("entries: got %d, %v, want 1", len(es), err)
	}
	data := string(es[0].Data)
	if strings.Contains(data, out.Secret) || strings.Contains(data, out.WebhookSecret) || strings.Contains(data, out.WebhookSecret[len("whsec_"):]) {
		t.Fatalf("entry data holds a secret in plain text: %s", data)
	}
	if !strings.Contains(data, `"staff":"boss"`) || es[0].Kind != checkout.KindMerchantCreated {
		t.Fatalf("entry: got kind %s data %s, want merchant.created naming the staff member", es[0].Kind, data)
	}
}

// TestMerchantInput: a bad id or name is refused naming the field, an id
// taken (by the ledger or by config) is refused, and nothing is written.
func TestMerchantInput(t *testing.T) {
	rs := mustOpenMerchantRegions(t, clocktest.Wall())
	ctx := context.Background()
	if _, err := rs[0].svc.CreateMerchant(ctx, staffBoss, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	before := rs[0].store.Count()
	tests := []struct {
		id, name string
		field    string
		want     error
	}{
		{"Acme", "Acme", "id", nil},
		{"", "Acme", "id", nil},
		{"a b", "Acme", "id", nil},
		{strings.Repeat("a", 33), "Acme", "id", nil},
		{"shop", "", "name", nil},
		{"shop", "bad\x00name", "name", nil},
		{"shop", "evil\u202ename", "name", nil}, // a bidi override would reorder what staff read
		{"shop", strings.Repeat("n", 101), "name", nil},
		{"acme", "Acme again", "", checkout.ErrMerchantExists},
		{"demo", "Demo again", "", checkout.ErrMerchantConfigured},
	}
	for _, tt := range tests {
		_, err := rs[0].svc.CreateMerchant(ctx, staffBoss, tt.id, tt.name)
		var fe *checkout.FieldError
		switch {
		case tt.want != nil && !errors.Is(err, tt.want):
			t.Errorf("create %q %q: got %v, want %v", tt.id, tt.name, err, tt.want)
		case tt.want == nil && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("create %q %q: got %v, want a field error naming %s", tt.id, tt.name, err, tt.field)
		}
	}
	if got := rs[0].store.Count(); got != before {
		t.Fatalf("entries after refused creates: got %d, want %d", got, before)
	}
	if _, err := rs[0].svc.RotateMerchant(ctx, staffBoss, "demo", true, false, 0); !errors.Is(err, checkout.ErrMerchantConfigured) {
		t.Fatalf("rotate a config merchant: got %v, want ErrMerchantConfigured", err)
	}
	if err := rs[0].svc.DisableMerchant(ctx, staffBoss, "nobody"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("disable an unknown merchant: got %v, want ErrNotFound", err)
	}
	var fe *checkout.FieldError
	if _, err := rs[0].svc.RotateMerchant(ctx, staffBoss, "acme", true, false, checkout.MaxRotationGrace+time.Second); !errors.As(err, &fe) || fe.Field != "grace" {
		t.Fatalf("rotate with a grace over 7 days: got %v, want a field error naming grace", err)
	}
}

// TestRotationGrace: after a rotation the old API secret works in every
// region until the entry's time plus the grace period, then in none; the
// new one works at once.
func TestRotationGrace(t *testing.T) {
	clock := clocktest.Wall()
	rs := mustOpenMerchantRegions(t, clock)
	ctx := context.Background()
	created, err := rs[0].svc.CreateMerchant(ctx, staffBoss, "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	replicate(t, rs)
	rotated, err := rs[1].svc.RotateMerchant(ctx, staffBoss, "acme", true, true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Secret == created.Secret || rotated.WebhookSecret == created.WebhookSecret || rotated.OldSecretValidUntil == nil {
		t.Fatalf("rotation: got %+v, want new secrets and when the old one stops", rotated)
	}
	replicate(t, rs)
	for i, r := range rs {
		for _, secret := range []string{created.Secret, rotated.Secret} {
			if _, err := r.svc.Authenticate("acme", secret); err != nil {
				t.Fatalf("r%d within the grace period: got %v, want both secrets accepted", i+1, err)
			}
		}
		if got, _ := r.svc.WebhookSecret("acme"); got != rotated.WebhookSecret {
			t.Fatalf("r%d webhook secret: got the old one, want the new one at once", i+1)
		}
	}
	clock.Advance(time.Hour + time.Second)
	for i, r := range rs {
		if _, err := r.svc.Authenticate("acme", created.Secret); !errors.Is(err, checkout.ErrUnauthorized) {
			t.Fatalf("r%d after the grace period: got %v, want the old secret refused", i+1, err)
		}
		if _, err := r.svc.Authenticate("acme", rotated.Secret); err != nil {
			t.Fatalf("r%d after the grace period: got %v, want the new secret accepted", i+1, err)
		}
	}
}

// TestDisabledMerchantRefusedEverywhere: once the disable entry is in a
// region, the merchant's secret is refused there, and a disabled merchant
// cannot be rotated.
func TestDisabledMerchantRefusedEverywhere(t *testing.T) {
	rs := mustOpenMerchantRegions(t, clocktest.Wall())
	ctx := context.Background()
	out, err := rs[0].svc.CreateMerchant(ctx, staffBoss, "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	replicate(t, rs)
	if _, err := rs[1].svc.Authenticate("acme", out.Secret); err != nil {
		t.Fatal(err)
	}
	if err := rs[0].svc.DisableMerchant(ctx, staffBoss, "acme"); err != nil {
		t.Fatal(err)
	}
	replicate(t, rs)
	for _, r := range rs {
		// The follower folds the entry in; the secret is right, so no
		// request's miss does.
		eventually(t, func() bool {
			_, err := r.svc.Authenticate("acme", out.Secret)
			return errors.Is(err, checkout.ErrUnauthorized)
		})
	}
	if _, err := rs[1].svc.RotateMerchant(ctx, staffBoss, "acme", true, false, 0); !errors.Is(err, checkout.ErrMerchantDisabled) {
		t.Fatalf("rotate a disabled merchant: got %v, want ErrMerchantDisabled", err)
	}
	ms, err := rs[1].svc.Merchants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].ID != "acme" || ms[0].Status != "disabled" || ms[1].Source != "config" {
		t.Fatalf("merchants: got %+v, want acme disabled and demo from config", ms)
	}
}

// TestConcurrentCreationsAgree: two regions create the same id before
// either sees the other's entry; once both have both entries they agree
// on one merchant (the first in fold order), the other's secret stops
// working, and a rotation made on the losing creation changes nothing.
func TestConcurrentCreationsAgree(t *testing.T) {
	clock := clocktest.Wall()
	rs := mustOpenMerchantRegions(t, clock)
	ctx := context.Background()
	a, err := rs[0].svc.CreateMerchant(ctx, staffBoss, "acme", "Acme in r1")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Millisecond) // r1's entry is first in fold order
	b, err := rs[1].svc.CreateMerchant(ctx, staffBoss, "acme", "Acme in r2")
	if err != nil {
		t.Fatal(err)
	}
	loserRotation, err := rs[1].svc.RotateMerchant(ctx, staffBoss, "acme", true, false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	replicate(t, rs)
	for i, r := range rs {
		if _, err := r.svc.Authenticate("acme", a.Secret); err != nil {
			t.Fatalf("r%d: got %v, want the first creation's secret accepted", i+1, err)
		}
		for _, s := range []string{b.Secret, loserRotation.Secret} {
			if _, err := r.svc.Authenticate("acme", s); !errors.Is(err, checkout.ErrUnauthorized) {
				t.Fatalf("r%d: got %v, want the losing creation's secrets refused", i+1, err)
			}
		}
		if got := r.svc.MerchantName("acme"); got != "Acme in r1" {
			t.Fatalf("r%d name: got %q, want Acme in r1", i+1, got)
		}
		ms, _ := r.svc.Merchants(ctx)
		if ms[0].ID != "acme" || ms[0].Conflicts != 1 || ms[0].Region != "r1" {
			t.Fatalf("r%d listing: got %+v, want acme from r1 with one lost creation", i+1, ms[0])
		}
	}
}

// TestWebhookSecretNeedsTheSharedKey: a region with another secret key
// cannot open the webhook secret (and says so in its log) but still
// authenticates the merchant.
func TestWebhookSecretNeedsTheSharedKey(t *testing.T) {
	rs := mustOpenMerchantRegions(t, clocktest.Wall(), "secret-key-of-region-one", "another-key-of-region-two")
	ctx := context.Background()
	out, err := rs[0].svc.CreateMerchant(ctx, staffBoss, "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	replicate(t, rs)
	if _, ok := rs[1].svc.WebhookSecret("acme"); ok {
		t.Fatal("r2 with another secret key: got a webhook secret, want none")
	}
	if got, ok := rs[0].svc.WebhookSecret("acme"); !ok || got != out.WebhookSecret {
		t.Fatalf("r1: got %q, %v, want its own secret", got, ok)
	}
	if _, err := rs[1].svc.Authenticate("acme", out.Secret); err != nil {
		t.Fatalf("r2 authenticate: got %v, want accepted", err)
	}
}
