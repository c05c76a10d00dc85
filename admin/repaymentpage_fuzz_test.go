package admin

import "testing"

// FuzzBankFile feeds the import page's decoder any pasted text: it never
// panics, and it either explains what is wrong or returns 1 to 1,000
// lines.
func FuzzBankFile(f *testing.F) {
	for _, s := range []string{
		`[{"payment_reference": "1234567897", "transaction_id": "TX-1", "amount": 1200}]`,
		`{"repayments": [{"order_id": "ord_1", "reference": "B-1", "amount": 1, "currency": "SEK", "paid_at": "2026-01-02T10:00:00Z"}]}`,
		`[]`, `{"repayments": null}`, `[{"amount": 1e99}]`, `[{}] trailing`, "\x00[", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lines, why := parseBankFile(s)
		if why == "" && (len(lines) < 1 || len(lines) > maxImportLines) {
			t.Fatalf("got %d lines and no problem", len(lines))
		}
		if why != "" && lines != nil {
			t.Fatalf("got lines with the problem %q", why)
		}
	})
}
