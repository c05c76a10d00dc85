package region

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestStatusWriterReachesTheConnection checks that handlers behind the
// instrumenting writer can still set deadlines on their connection, as
// sync does to bound how long a peer's body may take.
func TestStatusWriterReachesTheConnection(t *testing.T) {
	got := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- http.NewResponseController(&statusWriter{ResponseWriter: w}).SetReadDeadline(time.Now().Add(time.Second))
	}))
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if err := <-got; err != nil {
		t.Fatalf("SetReadDeadline through statusWriter: got %v, want nil", err)
	}
}
