package checkout_test

import (
	"context"
	"strings"
	"testing"

	"kassa/region"
)

// staffTune adds a viewer and a support colleague to every region.
func staffTune(c *region.Config) {
	c.Staff = append(c.Staff, region.Staff{Username: "vera", Password: "viewer-pass", Role: "viewer"},
		region.Staff{Username: "sam", Password: "support-pass", Role: "support"})
}

// TestMerchantOnboardedAcrossRegions drives the admin API of three
// regions: a merchant created in r1 uses the API in r2 once the entry has
// replicated; a rotation in r2 with no grace stops the old secret in every
// region; a disable in r3 refuses the merchant everywhere. Only admins
// manage merchants, bad input names its field, and neither the listing
// nor the entries show a secret.
func TestMerchantOnboardedAcrossRegions(t *testing.T) {
	rs := startRegions(t, 3, staffTune)
	admin := func(r *testRegion, method, path string, body any) response {
		t.Helper()
		return callAs(t, "admin", "admin-demo", method, r.url+"/admin/api"+path, "", body)
	}
	// authenticated says whether the merchant's credentials pass in r: an
	// unknown session is 404 to its merchant, 401 to anyone else.
	authenticated := func(r *testRegion, id, secret string) bool {
		res := callAs(t, id, secret, "GET", r.url+"/v1/sessions/ses_unknown", "", nil)
		return res.status == 404
	}

	for _, who := range [][2]string{{"vera", "viewer-pass"}, {"sam", "support-pass"}} {
		res := callAs(t, who[0], who[1], "POST", rs[0].url+"/admin/api/merchants", "", map[string]any{"id": "acme", "name": "Acme"})
		if res.status != 403 {
			t.Fatalf("%s creates a merchant: got %d %s, want 403", who[0], res.status, res.raw)
		}
		if res := callAs(t, who[0], who[1], "GET", rs[0].url+"/admin/api/merchants", "", nil); res.status != 403 {
			t.Fatalf("%s lists merchants: got %d, want 403", who[0], res.status)
		}
	}
	for _, tt := range []struct {
		body   any
		status int
		field  string
	}{
		{map[string]any{"id": "Not An Id", "name": "Acme"}, 400, "id"},
		{map[string]any{"id": "acme", "name": ""}, 400, "name"},
		{map[string]any{"id": "demo", "name": "Demo"}, 409, "id"},
	} {
		res := admin(rs[0], "POST", "/merchants", tt.body)
		if res.status != tt.status || res.str("error", "field") != tt.field {
			t.Fatalf("create %v: got %d %s, want %d naming %s", tt.body, res.status, res.raw, tt.status, tt.field)
		}
	}

	created := admin(rs[0], "POST", "/merchants", map[string]any{"id": "acme", "name": "Acme AB"})
	if created.status != 201 || created.str("id") != "acme" || created.str("name") != "Acme AB" ||
		!strings.HasPrefix(created.str("secret"), "sk_") || !strings.HasPrefix(created.str("webhook_secret"), "whsec_") {
		t.Fatalf("create: got %d %s, want 201 with id, name, secret and webhook_secret", created.status, created.raw)
	}
	secret := created.str("secret")
	if res := admin(rs[0], "POST", "/merchants", map[string]any{"id": "acme", "name": "Acme again"}); res.status != 409 || res.str("error", "field") != "id" {
		t.Fatalf("create a duplicate: got %d %s, want 409 naming id", res.status, res.raw)
	}
	eventually(t, func() bool { return authenticated(rs[1], "acme", secret) })
	s := callAs(t, "acme", secret, "POST", rs[1].url+"/v1/sessions", "acme-1", sessionBody(25900, "A-1"))
	if s.status != 201 {
		t.Fatalf("acme creates a session in r2: got %d %s, want 201", s.status, s.raw)
	}

	// Rotated in r2 without grace: the old secret stops everywhere.
	eventually(t, func() bool { return admin(rs[1], "GET", "/merchants", nil).status == 200 })
	rotated := admin(rs[1], "POST", "/merchants/acme/rotate", map[string]any{"grace": "0s", "reason": "leaked in a log"})
	if rotated.status != 200 || rotated.str("secret") == "" || rotated.str("secret") == secret {
		t.Fatalf("rotate: got %d %s, want 200 with a new secret", rotated.status, rotated.raw)
	}
	if res := admin(rs[1], "POST", "/merchants/acme/rotate", map[string]any{"grace": "200h", "reason": "x"}); res.status != 400 || res.str("error", "field") != "grace" {
		t.Fatalf("rotate with a grace over 7 days: got %d %s, want 400 naming grace", res.status, res.raw)
	}
	for _, r := range rs {
		eventually(t, func() bool {
			return !authenticated(r, "acme", secret) && authenticated(r, "acme", rotated.str("secret"))
		})
	}

	// Disabled in r3: refused everywhere.
	if res := admin(rs[2], "POST", "/merchants/acme/disable", map[string]any{}); res.status != 400 || res.str("error", "field") != "reason" {
		t.Fatalf("disable without a reason: got %d %s, want 400 naming reason", res.status, res.raw)
	}
	if res := admin(rs[2], "POST", "/merchants/acme/disable", map[string]any{"reason": "contract ended"}); res.status != 200 {
		t.Fatalf("disable: got %d %s, want 200", res.status, res.raw)
	}
	for _, r := range rs {
		eventually(t, func() bool { return !authenticated(r, "acme", rotated.str("secret")) })
	}

	list := admin(rs[0], "GET", "/merchants", nil)
	for _, s := range []string{secret, rotated.str("secret"), created.str("webhook_secret"), rotated.str("webhook_secret")} {
		if s != "" && strings.Contains(list.raw, s) {
			t.Fatalf("the listing shows a secret: %s", list.raw)
		}
	}
	if !strings.Contains(list.raw, `"id":"acme"`) || !strings.Contains(list.raw, `"status":"disabled"`) {
		t.Fatalf("listing: got %s, want acme disabled", list.raw)
	}
	for _, r := range rs {
		es, err := r.r.Ledger().EntriesBySubject(context.Background(), "merchant:acme")
		if err != nil || len(es) != 3 {
			t.Fatalf("%s: got %d merchant entries, %v, want 3", r.id, len(es), err)
		}
		for _, e := range es {
			for _, s := range []string{secret, rotated.str("secret"), created.str("webhook_secret")} {
				if strings.Contains(string(e.Data), s) {
					t.Fatalf("%s: entry %s holds a secret in plain text", r.id, e.Kind)
				}
			}
		}
	}
}
