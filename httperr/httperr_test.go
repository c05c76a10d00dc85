package httperr_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"

	"kassa/httperr"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name       string
		e          httperr.Error
		cid        string // set by middleware before the handler runs
		retryAfter string
	}{
		{"plain", httperr.Error{Status: 404, Code: "not_found", Message: "no such object"}, "req-1", ""},
		{"with field", httperr.Error{Status: 400, Code: "invalid_request", Message: "is required", Field: "amount"}, "req-2", ""},
		{"retry after", httperr.Error{Status: 503, Code: "not_ready", Message: "retry", RetryAfter: 3}, "req-3", "3"},
		{"no correlation id yet", httperr.Error{Status: 500, Code: "internal", Message: "internal error"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			if tt.cid != "" {
				w.Header().Set(httperr.CorrelationHeader, tt.cid)
			}
			httperr.Write(w, tt.e)
			if w.Code != tt.e.Status {
				t.Errorf("status: got %d, want %d", w.Code, tt.e.Status)
			}
			h := w.Result().Header
			for k, want := range map[string]string{"Content-Type": "application/json", "X-Content-Type-Options": "nosniff",
				"Cache-Control": "no-store", "Retry-After": tt.retryAfter} {
				if got := h.Get(k); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
			cid := h.Get(httperr.CorrelationHeader)
			if tt.cid != "" && cid != tt.cid || len(cid) == 0 {
				t.Errorf("%s: got %q, want %q (or a new one when unset)", httperr.CorrelationHeader, cid, tt.cid)
			}
			var got struct{ Error map[string]string }
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"code": tt.e.Code, "message": tt.e.Message, "field": tt.e.Field, "correlation_id": cid}
			if fmt.Sprint(got.Error) != fmt.Sprint(want) {
				t.Errorf("body: got %v, want %v", got.Error, want)
			}
		})
	}
}

func TestCorrelationIDIsStable(t *testing.T) {
	w := httptest.NewRecorder()
	a, b := httperr.CorrelationID(w), httperr.CorrelationID(w)
	if a == "" || a != b {
		t.Fatalf("got %q then %q, want one id", a, b)
	}
}

func ExampleWrite() {
	w := httptest.NewRecorder()
	w.Header().Set(httperr.CorrelationHeader, "4f2a9c") // what the region's middleware does
	httperr.Write(w, httperr.Error{Status: 400, Code: "invalid_request", Message: "must be a positive number of minor units", Field: "amount"})
	fmt.Println(w.Code, w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"))
	fmt.Print(w.Body.String())
	// Output:
	// 400 application/json no-store
	// {"error":{"code":"invalid_request","message":"must be a positive number of minor units","field":"amount","correlation_id":"4f2a9c"}}
}
