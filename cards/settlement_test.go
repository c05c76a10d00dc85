package cards_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"kassa/cards"
	"kassa/clocktest"
)

func settlementFile(h http.Handler, name string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/settlements/"+name, nil))
	return w
}

const header = "date,type,operation_id,payment_id,reference,idempotency_key,amount,currency,created_at\n"

func TestSimulatorSettlement(t *testing.T) {
	clk := clocktest.At(time.Date(2026, 3, 15, 23, 59, 0, 0, time.UTC))
	sim := cards.NewSimulator(clk.Now)
	h := sim.Handler()
	id := authorize(t, h, "auth", "4242424242424242", "ord,\"1\"", 10000)
	operate(h, "captures", id, "cap-1", opBody(4000, "SEK"))
	operate(h, "captures", id, "cap-x", opBody(9000, "SEK")) // refused: not settled
	operate(h, "voids", id, "void-1", opBody(1000, "SEK"))   // a void is not settled
	clk.Advance(59*time.Second + 500*time.Millisecond)
	operate(h, "refunds", id, "ref-1", opBody(1500, "SEK"))
	clk.Advance(time.Second) // 2026-03-16
	operate(h, "captures", id, "cap-2", opBody(5000, "SEK"))

	w := settlementFile(h, "2026-03-15.csv")
	want := header +
		`2026-03-15,capture,op_00000001,pay_00000001,"ord,""1""",cap-1,4000,SEK,2026-03-15T23:59:00Z` + "\n" +
		`2026-03-15,refund,op_00000004,pay_00000001,"ord,""1""",ref-1,1500,SEK,2026-03-15T23:59:59.5Z` + "\n"
	if w.Code != 200 || w.Body.String() != want || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") {
		t.Errorf("got %d %s %q, want 200 text/csv\n%s", w.Code, w.Header().Get("Content-Type"), w.Body, want)
	}
	lines, err := cards.ParseSettlement(w.Body)
	if err != nil || len(lines) != 2 || lines[0].Reference != `ord,"1"` || lines[1].Line != 3 || lines[1].Amount != 1500 {
		t.Errorf("parse: got %+v %v", lines, err)
	}
	if w := settlementFile(h, "2026-03-16.csv"); !strings.HasSuffix(w.Body.String(), "cap-2,5000,SEK,2026-03-16T00:00:00.5Z\n") {
		t.Errorf("next day: got %s", w.Body)
	}
	if w := settlementFile(h, "2026-03-17.csv"); w.Code != 200 || w.Body.String() != header {
		t.Errorf("empty day: got %d %q, want the header only", w.Code, w.Body)
	}
	for _, bad := range []string{"2026-02-30.csv", "2026-3-15.csv", "2026-03-15.txt", "2026-03-15", "today.csv", "2026-03-15.csv.csv"} {
		if w := settlementFile(h, bad); w.Code != 400 || decodeOp(t, w).Error.Code != "invalid_date" {
			t.Errorf("%s: got %d %s, want 400 invalid_date", bad, w.Code, w.Body)
		}
	}
}

func TestParseSettlement(t *testing.T) {
	good := "2026-03-15,capture,op_1,pay_1,ord_1,k1,4000,SEK,2026-03-15T10:00:00Z"
	lines, err := cards.ParseSettlement(strings.NewReader(header + good + "\r\n" + strings.Replace(good, "capture", "refund", 1)))
	if err != nil {
		t.Fatal(err)
	}
	want := cards.SettlementLine{Date: "2026-03-15", Type: "capture", OperationID: "op_1", Payment: "pay_1", Reference: "ord_1",
		IdempotencyKey: "k1", Amount: 4000, Currency: "SEK", CreatedAt: time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC), Line: 2, Raw: good}
	if len(lines) != 2 || lines[0] != want || lines[1].Line != 3 || lines[1].Type != "refund" {
		t.Errorf("got %+v, want %+v and a refund on line 3", lines, want)
	}
	if lines, err := cards.ParseSettlement(strings.NewReader(header)); err != nil || len(lines) != 0 {
		t.Errorf("header only: got %v %v, want no lines", lines, err)
	}
	bad := []struct {
		name, file string
		line       int
	}{
		{"empty", "", 1},
		{"other header", "date,type\n" + good, 1},
		{"header with a space", strings.Replace(header, ",type", ", type", 1) + good, 1},
		{"blank line", header + good + "\n\n" + good, 3},
		{"too few fields", header + good + "\n" + "2026-03-15,capture", 3},
		{"too many fields", header + good + ",x", 2},
		{"bad date", header + strings.Replace(good, "2026-03-15,", "2026-02-30,", 1), 2},
		{"bad type", header + strings.Replace(good, "capture", "void", 1), 2},
		{"empty operation", header + strings.Replace(good, "op_1", "", 1), 2},
		{"payment with space", header + strings.Replace(good, "pay_1", "pay 1", 1), 2},
		{"empty key", header + strings.Replace(good, "k1", "", 1), 2},
		{"zero amount", header + strings.Replace(good, "4000", "0", 1), 2},
		{"negative amount", header + strings.Replace(good, "4000", "-4000", 1), 2},
		{"plus amount", header + strings.Replace(good, "4000", "+4000", 1), 2},
		{"leading zero", header + strings.Replace(good, "4000", "04000", 1), 2},
		{"decimal amount", header + strings.Replace(good, "4000", "40.00", 1), 2},
		{"huge amount", header + strings.Replace(good, "4000", "99999999999999999999", 1), 2},
		{"lowercase currency", header + strings.Replace(good, "SEK", "sek", 1), 2},
		{"offset time", header + strings.Replace(good, "10:00:00Z", "10:00:00+00:00", 1), 2},
		{"time on another day", header + strings.Replace(good, "2026-03-15T", "2026-03-16T", 1), 2},
		{"bare quote", header + strings.Replace(good, "ord_1", `ord"1`, 1), 2},
		{"quote spans lines", header + strings.Replace(good, "ord_1", "\"ord\n1\"", 1), 2},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cards.ParseSettlement(strings.NewReader(tt.file))
			var se *cards.SettlementError
			if !errors.As(err, &se) || se.Line != tt.line {
				t.Fatalf("got %v, want a *SettlementError on line %d", err, tt.line)
			}
			if !strings.Contains(err.Error(), "line ") {
				t.Errorf("got %q, want it to name the line", err)
			}
		})
	}
}

func TestClientSettlementAndBooks(t *testing.T) {
	sim, srv := MustSimulator(t)
	c := cards.NewClient(srv.URL, nil, 2*time.Second, 1)
	ctx := context.Background()
	id := authorize(t, sim.Handler(), "auth", "4242424242424242", "ord_1", 10000)
	capture, err := c.Capture(ctx, cards.Operation{IdempotencyKey: "cap", Payment: id, Amount: 6000, Currency: "SEK"})
	if err != nil || !capture.Succeeded {
		t.Fatalf("capture: got %+v %v", capture, err)
	}
	if _, err := c.Refund(ctx, cards.Operation{IdempotencyKey: "ref", Payment: id, Amount: 1000, Currency: "SEK"}); err != nil {
		t.Fatal(err)
	}
	lines, err := c.Settlement(ctx, "2026-03-15")
	if err != nil || len(lines) != 2 {
		t.Fatalf("settlement: got %+v %v, want 2 lines", lines, err)
	}
	if l := lines[0]; l.OperationID != capture.ID || l.Payment != id || l.IdempotencyKey != "cap" || l.Amount != 6000 || l.Reference != "ord_1" || !l.CreatedAt.Equal(capture.Created) || l.Line != 2 {
		t.Errorf("got %+v, want the capture %+v", l, capture)
	}
	if lines, err := c.Settlement(ctx, "2026-03-16"); err != nil || len(lines) != 0 {
		t.Errorf("empty day: got %v %v", lines, err)
	}
	if _, err := c.Settlement(ctx, "15/03/2026"); !errors.Is(err, cards.ErrRejected) {
		t.Errorf("bad day: got %v, want ErrRejected", err)
	}
	b, found, err := c.Books(ctx, "ord_1")
	if err != nil || !found || b.Authorized != 10000 || b.Captured != 6000 || b.Refunded != 1000 || b.Currency != "SEK" ||
		len(b.Payments) != 1 || !b.Payments[0].Approved || b.Payments[0].ID != id {
		t.Errorf("books: got %+v %v %v", b, found, err)
	}
	if _, found, err := c.Books(ctx, "never"); found || err != nil {
		t.Errorf("unknown reference: got found %v err %v, want not found", found, err)
	}
	if _, _, err := c.Books(ctx, ""); !errors.Is(err, cards.ErrRejected) {
		t.Errorf("empty reference: got %v, want ErrRejected", err)
	}
	// A 404 from a wrong URL is not "never saw it".
	wrong := cards.NewClient(srv.URL+"/nowhere", nil, time.Second, 0)
	if _, found, err := wrong.Books(ctx, "ord_1"); found || err == nil {
		t.Errorf("wrong URL: got found %v err %v, want an error", found, err)
	}
}

func TestClientSettlementRefusesBadFiles(t *testing.T) {
	good := "2026-03-15,capture,op_1,pay_1,ord_1,k1,4000,SEK,2026-03-15T10:00:00Z\n"
	for _, tt := range []struct {
		name, body string
		line       int
	}{
		{"altered line", header + good + strings.Replace(good, "4000", "4x00", 1), 3},
		{"line of another day", header + strings.ReplaceAll(good, "03-15", "03-14"), 2},
	} {
		srv := MustServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(tt.body)) }))
		_, err := cards.NewClient(srv.URL, nil, time.Second, 0).Settlement(context.Background(), "2026-03-15")
		var se *cards.SettlementError
		if !errors.As(err, &se) || se.Line != tt.line {
			t.Errorf("%s: got %v, want a *SettlementError on line %d", tt.name, err, tt.line)
		}
	}
}
