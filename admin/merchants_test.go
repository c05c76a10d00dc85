package admin_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var (
	apiSecretRe     = regexp.MustCompile(`<code id="secret-api">([^<]+)</code>`)
	webhookSecretRe = regexp.MustCompile(`<code id="secret-webhook">([^<]+)</code>`)
)

// TestMerchantPages: an admin creates a merchant from the form and sees
// its secrets once, rotates and disables it; bad input re-renders the form
// naming the field with nothing written; viewers and support staff get no
// merchant pages and no link to them; every form needs its CSRF token.
func TestMerchantPages(t *testing.T) {
	e := newEnv(t)
	for _, who := range []string{"viewer", "agent"} {
		s := signIn(t, e, who)
		if strings.Contains(s.get("/admin/search").body, `href="/admin/merchants"`) {
			t.Fatalf("%s: the navigation links to merchants, want no link", who)
		}
		wantText(t, who+" opens merchants", s.get("/admin/merchants"), http.StatusForbidden, "Not allowed")
		token := field(t, csrfRe, s.get("/admin/search").body)
		wantText(t, who+" creates", s.post("/admin/merchants", url.Values{"csrf_token": {token}, "id": {"acme"}, "name": {"Acme"}}),
			http.StatusForbidden, "Not allowed")
	}

	b := signIn(t, e, "boss")
	if !strings.Contains(b.get("/admin/search").body, `href="/admin/merchants"`) {
		t.Fatal("admin: the navigation has no link to merchants")
	}
	p := b.get("/admin/merchants")
	wantText(t, "list", p, http.StatusOK, "Merchants", "demo", "config", "Create a merchant")
	token := field(t, csrfRe, p.body)
	n := e.store.Count()
	wantText(t, "no token", b.post("/admin/merchants", url.Values{"id": {"acme"}, "name": {"Acme"}}), http.StatusForbidden, "This form has expired")
	wantText(t, "bad id", b.post("/admin/merchants", url.Values{"csrf_token": {token}, "id": {"Acme Shop"}, "name": {"Acme"}}),
		http.StatusUnprocessableEntity, "There is a problem", "The id must be")
	wantText(t, "no name", b.post("/admin/merchants", url.Values{"csrf_token": {token}, "id": {"acme"}, "name": {""}}),
		http.StatusUnprocessableEntity, "The name must be")
	wantText(t, "taken id", b.post("/admin/merchants", url.Values{"csrf_token": {token}, "id": {"demo"}, "name": {"Demo"}}),
		http.StatusConflict, "A merchant with this id exists")
	wantCount(t, "refused creates", e.store, n)

	p = b.post("/admin/merchants", url.Values{"csrf_token": {token}, "id": {"acme"}, "name": {"Acme AB"}, "reason": {"new customer"}})
	wantText(t, "created", p, http.StatusCreated, "Merchant acme created", "shown only this once")
	secret, hook := field(t, apiSecretRe, p.body), field(t, webhookSecretRe, p.body)
	if !strings.HasPrefix(secret, "sk_") || !strings.HasPrefix(hook, "whsec_") {
		t.Fatalf("secrets: got %q and %q", secret, hook)
	}
	if cc := p.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Fatalf("secrets page Cache-Control: got %q, want no-store", cc)
	}
	if id, err := e.svc.Authenticate("acme", secret); err != nil || id != "acme" {
		t.Fatalf("authenticate with the shown secret: got %q, %v", id, err)
	}
	p = b.get("/admin/merchants")
	wantText(t, "listed", p, http.StatusOK, "Acme AB", "ledger", "active", "by boss", "Manage acme")
	if strings.Contains(p.body, secret) || strings.Contains(p.body, hook) {
		t.Fatal("the list shows a secret")
	}

	n = e.store.Count()
	wantText(t, "rotate without reason", b.post("/admin/merchants/acme/rotate", url.Values{"csrf_token": {token}, "secrets": {"api"}}),
		http.StatusUnprocessableEntity, "Enter a reason for the rotation")
	wantText(t, "rotate with a bad grace", b.post("/admin/merchants/acme/rotate", url.Values{"csrf_token": {token}, "grace": {"9d"}, "reason": {"x"}}),
		http.StatusUnprocessableEntity, "The grace period must be")
	wantCount(t, "refused rotations", e.store, n)
	p = b.post("/admin/merchants/acme/rotate", url.Values{"csrf_token": {token}, "secrets": {"both"}, "grace": {"1h"}, "reason": {"leaked"}})
	wantText(t, "rotated", p, http.StatusOK, "New secrets for acme", "The old API secret works until")
	newSecret := field(t, apiSecretRe, p.body)
	if newSecret == secret || field(t, webhookSecretRe, p.body) == hook {
		t.Fatal("rotation showed the old secrets")
	}
	for _, s := range []string{secret, newSecret} {
		if _, err := e.svc.Authenticate("acme", s); err != nil {
			t.Fatalf("within the grace period: got %v, want both secrets accepted", err)
		}
	}

	wantText(t, "disable without reason", b.post("/admin/merchants/acme/disable", url.Values{"csrf_token": {token}}),
		http.StatusUnprocessableEntity, "Enter a reason for disabling acme")
	p = b.post("/admin/merchants/acme/disable", url.Values{"csrf_token": {token}, "reason": {"contract ended"}})
	wantText(t, "disabled", b.follow(p), http.StatusOK, "Merchant acme is disabled", "disabled")
	if _, err := e.svc.Authenticate("acme", newSecret); err == nil {
		t.Fatal("a disabled merchant authenticates")
	}
	wantText(t, "rotate a disabled merchant", b.follow(b.post("/admin/merchants/acme/rotate", url.Values{"csrf_token": {token}, "reason": {"x"}})),
		http.StatusOK, "Merchant acme is disabled. Nothing was changed.")
	wantText(t, "disable an unknown merchant", b.post("/admin/merchants/nobody/disable", url.Values{"csrf_token": {token}, "reason": {"x"}}),
		http.StatusNotFound, "There is no merchant nobody here")
}

// TestMerchantAPIRoles: the merchants JSON API is for admins only, takes
// the session cookie with its CSRF token or Basic, and answers bad input
// naming the field.
func TestMerchantAPIRoles(t *testing.T) {
	e := newEnv(t)
	body := `{"id": "acme", "name": "Acme"}`
	for _, who := range []string{"viewer", "agent"} {
		if status, got := call(t, e, "POST", "/admin/api/merchants", who, body); status != http.StatusForbidden {
			t.Fatalf("%s creates: got %d %s, want 403", who, status, got)
		}
	}
	if status, got := call(t, e, "POST", "/admin/api/merchants", "boss", `{"id": "acme", "name": "Acme", "colour": "red"}`); status != http.StatusBadRequest {
		t.Fatalf("unknown field: got %d %s, want 400", status, got)
	}
	if status, got := call(t, e, "POST", "/admin/api/merchants", "boss", `{"id": "-acme", "name": "Acme"}`); status != http.StatusBadRequest || !strings.Contains(string(got), `"field":"id"`) {
		t.Fatalf("bad id: got %d %s, want 400 naming id", status, got)
	}
	b := signIn(t, e, "boss")
	req, _ := http.NewRequest("POST", e.srv.URL+"/admin/api/merchants", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if p := b.do(req); p.status != http.StatusForbidden || !strings.Contains(p.body, "csrf_token_required") {
		t.Fatalf("cookie without CSRF token: got %d %s, want 403", p.status, p.body)
	}
	status, got := call(t, e, "POST", "/admin/api/merchants", "boss", body)
	if status != http.StatusCreated || !strings.Contains(string(got), `"secret":"sk_`) || !strings.Contains(string(got), `"webhook_secret":"whsec_`) {
		t.Fatalf("create: got %d %s, want 201 with the secrets", status, got)
	}
	if status, got := call(t, e, "POST", "/admin/api/merchants/demo/disable", "boss", `{"reason": "x"}`); status != http.StatusConflict || !strings.Contains(string(got), "merchant_configured") {
		t.Fatalf("disable a config merchant: got %d %s, want 409 merchant_configured", status, got)
	}
	if status, got := call(t, e, "POST", "/admin/api/merchants/nobody/rotate", "boss", `{"reason": "x"}`); status != http.StatusNotFound {
		t.Fatalf("rotate an unknown merchant: got %d %s, want 404", status, got)
	}
	status, got = call(t, e, "GET", "/admin/api/merchants", "boss", "")
	if status != http.StatusOK || !strings.Contains(string(got), `"id":"acme"`) || strings.Contains(string(got), "sk_") || strings.Contains(string(got), "whsec_") {
		t.Fatalf("list: got %d %s, want acme without secrets", status, got)
	}
}
