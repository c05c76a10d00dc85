package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"kassa/admin"
)

// FuzzRepaymentImport posts arbitrary bodies to the repayment import as
// support staff. "$ORDER" in a body stands for the order setup captured, so
// the fuzzer can reach the paths that write. Whatever the body: no panic,
// no 5xx, a 400 writes nothing, and a 200 accounts for every line and
// writes one entry per recorded line (which names who imported it).
func FuzzRepaymentImport(f *testing.F) {
	for _, seed := range []string{
		`{"repayments": [{"order_id": "$ORDER", "amount": 100, "reference": "BANK-1"}]}`,
		`{"repayments": [{"order_id": "$ORDER", "amount": 100, "currency": "SEK", "paid_at": "2025-01-02T10:00:00Z", "reference": "BANK-2"}]}`,
		`{"repayments": [{"order_id": "$ORDER", "amount": 5000, "reference": "BANK-3"}, {"order_id": "$ORDER", "amount": 5000, "reference": "BANK-3"}]}`,
		`{"repayments": [{"order_id": "$ORDER", "amount": 100, "reference": "BANK-1"}, {"order_id": "$ORDER", "amount": 101, "reference": "BANK-1"}]}`,
		`{"repayments": [{"order_id": "ord_nope", "amount": 100, "reference": "BANK-4"}]}`,
		`{"repayments": [{"order_id": "repayments", "amount": 100, "reference": "BANK-5"}, {"order_id": "mode:r1", "amount": 1, "reference": "r"}]}`,
		`{"repayments": [{"order_id": "$ORDER", "amount": 100}]}`,
		`{"repayments": [{"order_id": "$ORDER", "amount": 100, "reference": "BANK-6", "paid_at": "yesterday"}]}`,
		`{"repayments": [{"order_id": "$ORDER", "amount": 100, "reference": "BANK-7", "paid_at": "2999-01-01T00:00:00Z"}]}`,
		`{"repayments": [{"order_id": "$ORDER", "amount": 100, "reference": "BANK-8", "currency": "EUR"}]}`,
		`{"repayments": [{"order_id": "$ORDER", "amount": -1, "reference": "BANK-9"}]}`,
		`{"repayments": [{"order_id": "$ORDER", "amount": 9223372036854775807, "reference": "BANK-10"}]}`,
		`{"repayments": [{"order_id": "$ORDER", "amount": 1e3, "reference": "BANK-11"}]}`,
		`{"repayments": [{"order_id": "$ORDER", "amount": 1, "reference": "a\u0000b\r"}]}`,
		`{"repayments": []}`,
		`{"repayments": null}`,
		`{}`,
		`[]`,
		`null`,
		``,
		`{"repayments": [`,
		`{"repayments": [{"order_id": "$ORDER", "amount": 1, "reference": "r", "iban": "SE00"}]}`,
		`{"repayments": [{"order_id": "$ORDER", "amount": 1, "reference": "r"}]} {}`,
		`{"repayments": [{"order_id": "$ORDER", "amount": 1, "reference": "r"}], "repayments": []}`,
		"\xff\xfe{\"repayments\": 1}",
	} {
		f.Add([]byte(seed))
	}
	e := newEnv(f)
	ctx := context.Background()
	if _, _, err := e.svc.Capture(ctx, "demo", e.order, "capture", 0, "hash"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 16<<10 {
			t.Skip("larger bodies only cost time; the 1 MiB limit has its own test")
		}
		body = bytes.ReplaceAll(body, []byte("$ORDER"), []byte(e.order))
		before := e.store.Count()
		req := httptest.NewRequest("POST", "/admin/api/repayments", bytes.NewReader(body))
		req.SetBasicAuth("agent", "agent-pass")
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		written := e.store.Count() - before

		switch rec.Code {
		case http.StatusBadRequest:
			if written != 0 {
				t.Fatalf("got 400 and %d entries written, want none", written)
			}
			var er apiError
			if err := json.Unmarshal(rec.Body.Bytes(), &er); err != nil || er.Error.Code != "invalid_request" {
				t.Fatalf("got 400 body %s, want an invalid_request error", rec.Body)
			}
			return
		case http.StatusOK:
		default:
			t.Fatalf("got %d %s, want 200 or 400", rec.Code, rec.Body)
		}

		// The handler accepted the body, so it is one JSON object with the
		// lines, which the results follow one for one.
		var in struct {
			Repayments []admin.RepaymentLine `json:"repayments"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("got 200 for a body that does not decode: %v", err)
		}
		var out importResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("got 200 body %s that does not decode: %v", rec.Body, err)
		}
		if len(out.Results) != len(in.Repayments) || len(out.Results) < 1 || len(out.Results) > 1000 {
			t.Fatalf("got %d results for %d lines", len(out.Results), len(in.Repayments))
		}
		var recorded, replayed, retry, rejected, balances int64
		for i, r := range out.Results {
			l := in.Repayments[i]
			if r.Reference != l.Reference || r.OrderID != l.OrderID || r.Applied+r.Unapplied+r.Balance != l.Amount {
				t.Fatalf("line %d %+v: got result %+v, want its reference, order and amount accounted for", i, l, r)
			}
			switch r.Status {
			case "recorded":
				recorded++
				if r.Balance > 0 {
					balances++ // the overpaid rest, credited to the consumer
				}
			case "replayed":
				replayed++
			case "retry":
				retry++
			case "rejected":
				rejected++
			default:
				t.Fatalf("line %d: got status %q", i, r.Status)
			}
			settled := r.Status == "recorded" || r.Status == "replayed"
			if settled != (r.Applied > 0) || r.Applied < 0 || (settled && r.Applied > l.Amount) {
				t.Fatalf("line %d %+v: got %+v, want a positive applied amount, at most the line's, exactly when it settled debt", i, l, r)
			}
		}
		if int64(out.Recorded) != recorded+replayed || int64(out.Retry) != retry || int64(out.Rejected) != rejected {
			t.Fatalf("got counts %d/%d/%d, want %d/%d/%d", out.Recorded, out.Retry, out.Rejected, recorded+replayed, retry, rejected)
		}
		if written != recorded+balances {
			t.Fatalf("got %d entries written for %d recorded lines (%d overpaid), want one each and one per overpayment", written, recorded, balances)
		}
		if owed, _, err := e.svc.Debt(ctx, e.order); err != nil || owed < 0 || owed > 1000 {
			t.Fatalf("got %d owed (err %v), want between 0 and the 1000 captured", owed, err)
		}
	})
}
