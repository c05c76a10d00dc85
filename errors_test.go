package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestEveryJSONErrorHasOneShape asks every HTTP surface of a running region
// (the merchant API, the region's own routes, the admin JSON API, the sync
// endpoints and the simulated acquirer) for an error, and checks that each
// answer has the same envelope, {"error": {"code", "message", "field",
// "correlation_id"}} with exactly those keys, and the same headers,
// quoting the caller's X-Request-Id as the correlation id.
func TestEveryJSONErrorHasOneShape(t *testing.T) {
	base, _ := startServe(t, nil, "--data-dir", t.TempDir())
	type auth struct{ user, pass string }
	merchant := &auth{"demo", "sk_test_demo"}
	staff := &auth{"admin", "admin-demo"}
	tests := []struct {
		surface, method, path string
		auth                  *auth
		header                map[string]string
		body                  string
		status                int
		code, field           string
	}{
		{"merchant API", "POST", "/v1/sessions", nil, map[string]string{"Idempotency-Key": "k"}, `{}`, 401, "unauthorized", ""},
		{"merchant API", "GET", "/v1/orders/ord_nope", merchant, nil, "", 404, "not_found", ""},
		{"merchant API", "POST", "/v1/sessions", merchant, nil, `{}`, 400, "invalid_request", "Idempotency-Key"},
		{"merchant API", "GET", "/v1/orders?limit=0", merchant, nil, "", 400, "invalid_request", "merchant_reference"},
		{"region", "GET", "/no/such/route", nil, nil, "", 404, "not_found", ""},
		{"region", "DELETE", "/healthz", nil, nil, "", 405, "method_not_allowed", ""},
		{"admin API", "GET", "/admin/api/orders/ord_nope", nil, nil, "", 401, "unauthorized", ""},
		{"admin API", "GET", "/admin/api/orders/ord_nope", staff, nil, "", 404, "not_found", ""},
		{"admin API", "POST", "/admin/api/orders/ord_nope/webhooks/e1/resend", staff, map[string]string{"Content-Type": "text/plain"}, "x", 415, "unsupported_media_type", ""},
		{"sync", "POST", "/sync/v1/entries", nil, nil, "{}", 403, "unknown_peer", ""},
		{"sync", "GET", "/sync/v1/entries?origin=r1", nil, nil, "", 403, "unknown_peer", ""},
		{"card simulator", "POST", "/simulator/acquirer/v1/payments", nil, nil, "{}", 400, "invalid_idempotency_key", "Idempotency-Key"},
		{"card simulator", "GET", "/simulator/acquirer/v1/payments?idempotency_key=nope", nil, nil, "", 404, "not_found", ""},
	}
	for i, tt := range tests {
		t.Run(tt.surface+" "+tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth != nil {
				req.SetBasicAuth(tt.auth.user, tt.auth.pass)
			}
			rid := fmt.Sprintf("shape-%d", i)
			req.Header.Set("X-Request-Id", rid)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status {
				t.Fatalf("status: got %d, want %d (%s)", res.StatusCode, tt.status, raw)
			}
			for h, want := range map[string]string{
				"Content-Type": "application/json", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
			} {
				if got := res.Header.Get(h); got != want {
					t.Errorf("%s: got %q, want %q", h, got, want)
				}
			}
			cid := res.Header.Get("Kassa-Correlation-Id")
			if cid != rid {
				t.Errorf("Kassa-Correlation-Id: got %q, want the X-Request-Id %q", cid, rid)
			}
			var envelope map[string]map[string]any
			if err := json.Unmarshal(raw, &envelope); err != nil || len(envelope) != 1 || envelope["error"] == nil {
				t.Fatalf("body: got %s, want {\"error\": {...}} and nothing else", raw)
			}
			e := envelope["error"]
			for _, k := range []string{"code", "message", "field", "correlation_id"} {
				if _, ok := e[k].(string); !ok {
					t.Errorf("error.%s: got %v, want a string", k, e[k])
				}
			}
			if len(e) != 4 {
				t.Errorf("error: got keys %v, want code, message, field, correlation_id", e)
			}
			if e["code"] != tt.code || e["field"] != tt.field {
				t.Errorf("code, field: got %v, %v, want %s, %q", e["code"], e["field"], tt.code, tt.field)
			}
			if e["message"] == "" {
				t.Error("message: got none")
			}
			if e["correlation_id"] != cid {
				t.Errorf("correlation_id: got %v, want the header's %q", e["correlation_id"], cid)
			}
		})
	}
}
