package page_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var csrfValue = regexp.MustCompile(`name="csrf_token" value="[^"]*"`)

// TestGoldenPages compares rendered pages with testdata/*.golden; -update
// writes them. The CSRF token, random per visitor, is blanked.
func TestGoldenPages(t *testing.T) {
	h := newHarness(t, nil, nil)
	open := openInvoice("tok-open", "sv-SE")
	expired := openInvoice("tok-expired", "de-DE")
	expired.LinkExpiresAt = now
	h.book.put(open)
	h.book.put(expired)
	for _, tc := range []struct{ name, path string }{
		{"invoice_sv", "/invoices/tok-open"},
		{"invoice_en", "/invoices/tok-open?lang=en"},
		{"expired_de", "/invoices/tok-expired"},
		{"not_found", "/invoices/nope"},
	} {
		_, body, _ := h.get(h.client(), tc.path)
		got := csrfValue.ReplaceAllString(body, `name="csrf_token" value="CSRF"`)
		path := filepath.Join("testdata", tc.name+".golden")
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run with -update)", tc.name, err)
		}
		if got != string(want) {
			t.Errorf("%s: the page differs from %s (run with -update and review the diff):\n%s", tc.name, path, got)
		}
	}
}
