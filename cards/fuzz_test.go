package cards_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"kassa/cards"
)

func FuzzCheck(f *testing.F) {
	for _, tc := range cards.TestCards() {
		f.Add(tc.Number, 12, 2030, "123")
	}
	f.Add("3782 822463 10005", 1, 2027, "1234")
	f.Add("4242-4242-4242-4241", 0, 30, "")
	f.Add("４２４２424242424242", 12, 2030, "12a")
	f.Add("  --  ", -1, 1<<40, "9999")
	key := cards.FingerprintKey("fuzz-fingerprint-key-0123456789")
	f.Fuzz(func(t *testing.T, number string, month, year int, cvc string) {
		c := cards.Card{Number: number, ExpMonth: month, ExpYear: year, CVC: cvc}
		err := cards.Check(c, now)
		facts := key.Facts(c) // must not panic on any input
		s := c.String()
		if err != nil {
			var fe *cards.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, cards.ErrInvalidCard) {
				t.Fatalf("got %v, want a *FieldError", err)
			}
			return
		}
		digits := strings.NewReplacer(" ", "", "-", "").Replace(number)
		if len(digits) < 12 || len(digits) > 19 || strings.Trim(digits, "0123456789") != "" {
			t.Fatalf("accepted %q: want 12 to 19 digits", number)
		}
		if !luhnOK(digits) {
			t.Fatalf("accepted %q, which fails the Luhn check", number)
		}
		if month < 1 || month > 12 || year < now.Year() || year > now.Year()+20 {
			t.Fatalf("accepted expiry %d/%d", month, year)
		}
		if want := 3 + btoi(facts.Brand == cards.BrandAmex); len(cvc) != want || strings.Trim(cvc, "0123456789") != "" {
			t.Fatalf("accepted CVC %q for %s", cvc, facts.Brand)
		}
		if facts.Last4 != digits[len(digits)-4:] {
			t.Fatalf("got last4 %q, want %q", facts.Last4, digits[len(digits)-4:])
		}
		for _, out := range []string{s, facts.Fingerprint} {
			if l := leaks(out, digits); l != "" {
				t.Fatalf("got %q of the number in %q", l, out)
			}
		}
	})
}

// luhnOK is a second, table-driven Luhn check to test against.
func luhnOK(d string) bool {
	doubled := [10]int{0, 2, 4, 6, 8, 1, 3, 5, 7, 9}
	sum := 0
	for i := range len(d) {
		n := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			n = doubled[n]
		}
		sum += n
	}
	return sum%10 == 0
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func FuzzSimulatorBody(f *testing.F) {
	f.Add("k", body4242)
	f.Add("k", strings.Replace(body4242, "4242 4242 4242 4242", "4000000000003220", 1))
	f.Add("k", strings.Replace(body4242, "4242 4242 4242 4242", "4000000000000002", 1))
	f.Add("", body4242)
	f.Add("k", "")
	f.Add("k", "{")
	f.Add("k", `{"amount":1e3}`)
	f.Add("k", `{"amount":1,"currency":"SEK","number":4242424242424242}`)
	f.Add("k", `[1,2,3]`)
	f.Add("k", "null")
	f.Add("k", body4242+body4242)
	f.Fuzz(func(t *testing.T, key, body string) {
		sim := cards.NewSimulator(func() time.Time { return now })
		sim.Stall = time.Millisecond
		h := sim.Handler()
		w := post(h, key, body)
		switch {
		case w.Code == http.StatusOK:
			var a answer
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || a.ID == "" || (a.Status != "approved" && a.Status != "declined") {
				t.Fatalf("got 200 %q, want a payment", w.Body)
			}
			if !json.Valid([]byte(body)) {
				t.Fatalf("got 200 for a body that is not JSON: %q", body)
			}
			// Replaying is byte-identical and charges nothing more.
			charges := sim.Charges()
			again := post(h, key, body)
			if again.Code != http.StatusOK || again.Body.String() != w.Body.String() || sim.Charges() != charges {
				t.Fatalf("replay: got %d %q (%d charges), want %q (%d)", again.Code, again.Body, sim.Charges(), w.Body, charges)
			}
		case w.Code >= 400 && w.Code < 500:
			var a answer
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || a.Error == nil || a.Error.Code == "" {
				t.Fatalf("got %d %q, want an error body", w.Code, w.Body)
			}
			if sim.Charges() != 0 {
				t.Fatalf("got %d charges for a refused request", sim.Charges())
			}
		default:
			t.Fatalf("got %d %q, want 200 or 4xx", w.Code, w.Body)
		}
	})
}

// FuzzClientAnswer feeds the client arbitrary acquirer answers: it must not
// panic, and must only report a result for a clear 2xx approval or decline.
func FuzzClientAnswer(f *testing.F) {
	f.Add(200, `{"id":"pay_1","status":"approved","decline_code":"","amount":25900,"currency":"SEK"}`)
	f.Add(200, `{"id":"pay_1","status":"declined","decline_code":"card_declined"}`)
	f.Add(200, `{"id":"","status":"approved"}`)
	f.Add(201, `{`)
	f.Add(404, `{"error":{"code":"not_found"}}`)
	f.Add(409, `{"error":{"code":"idempotency_conflict"}}`)
	f.Add(500, ``)
	f.Add(302, ``)
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 100 || status > 999 {
			status = 200
		}
		tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		})
		c := cards.NewClient("http://acquirer.test", tr, time.Second, 0)
		res, err := c.Authorize(context.Background(), payment("k", "4242424242424242"))
		if err == nil {
			if status < 200 || status > 299 || res.ID == "" {
				t.Fatalf("got %+v from %d %q, want an error", res, status, body)
			}
		} else if !errors.Is(err, cards.ErrUnknownOutcome) && !errors.Is(err, cards.ErrUnavailable) &&
			!errors.Is(err, cards.ErrRejected) && !errors.Is(err, cards.ErrIdempotencyConflict) {
			t.Fatalf("got %v, want one of the package's errors", err)
		}
		res, found, err := c.Lookup(context.Background(), "k")
		if found && (err != nil || res.ID == "") {
			t.Fatalf("lookup: got %+v %v %v", res, found, err)
		}
		if err != nil && errors.Is(err, cards.ErrUnknownOutcome) {
			t.Fatalf("lookup: got %v, want no unknown outcome from a read", err)
		}
	})
}

// FuzzSimulatorOperation feeds the simulator arbitrary capture, refund and
// void requests: each is answered 200 or a 4xx in the error envelope, the
// books never break their rules, and a refused request moves nothing.
func FuzzSimulatorOperation(f *testing.F) {
	f.Add(0, "k", `{"amount":1000,"currency":"SEK"}`)
	f.Add(1, "k", `{"amount":1000,"currency":"SEK","reference":"ord_1"}`)
	f.Add(2, "k", `{"amount":99999,"currency":"SEK"}`)
	f.Add(0, "", `{"amount":1,"currency":"SEK"}`)
	f.Add(1, "k", `{"amount":-1,"currency":"SEK"}`)
	f.Add(2, "k", `{"amount":1,"currency":"SEK","pin":1}`)
	f.Add(0, "k", `{"amount":1e3}`)
	f.Add(0, "k", `{`)
	f.Fuzz(func(t *testing.T, which int, key, body string) {
		sim := cards.NewSimulator(func() time.Time { return now })
		h := sim.Handler()
		id := authorize(t, h, "auth", "4242424242424242", "ord_1", 5000)
		operate(h, "captures", id, "setup", `{"amount":2000,"currency":"SEK"}`)
		path := []string{"captures", "refunds", "voids"}[uint(which)%3]
		w := operate(h, path, id, key, body)
		b := books(t, h, "ord_1")
		if b.Captured+b.Voided > b.Authorized || b.Refunded > b.Captured {
			t.Fatalf("got books %+v", b)
		}
		switch {
		case w.Code == http.StatusOK:
			a := decodeOp(t, w)
			if a.ID == "" || (a.Status != "succeeded" && a.Status != "refused") {
				t.Fatalf("got 200 %q, want an operation", w.Body)
			}
			if a.Status == "refused" && (b.Captured != 2000 || b.Refunded != 0 || b.Voided != 0) {
				t.Fatalf("refused, but the books moved: %+v", b)
			}
		case w.Code >= 400 && w.Code < 500:
			if a := decodeOp(t, w); a.Error == nil || a.Error.Code == "" {
				t.Fatalf("got %d %q, want an error body", w.Code, w.Body)
			}
			if b.Captured != 2000 || b.Refunded != 0 || b.Voided != 0 {
				t.Fatalf("got %d, but the books moved: %+v", w.Code, b)
			}
		default:
			t.Fatalf("got %d %q, want 200 or 4xx", w.Code, w.Body)
		}
	})
}

// FuzzParseSettlement: any input parses or fails with a *SettlementError;
// what parses is valid, points at its line, and writes back to the same
// text.
func FuzzParseSettlement(f *testing.F) {
	good := "2026-03-15,capture,op_1,pay_1,ord_1,k1,4000,SEK,2026-03-15T10:00:00Z"
	f.Add(header + good + "\n")
	f.Add(header + good + "\r\n" + strings.Replace(good, "capture", "refund", 1))
	f.Add(header + `2026-03-15,refund,op_2,pay_1,"ord,""1""",k2,1,SEK,2026-03-15T23:59:59.999999999Z` + "\n")
	f.Add(header)
	f.Add("")
	f.Add(header + "\n\n")
	f.Add(header + strings.Replace(good, "4000", "-1", 1))
	f.Add(header + `2026-03-15,capture,"op_1`)
	f.Fuzz(func(t *testing.T, file string) {
		lines, err := cards.ParseSettlement(strings.NewReader(file))
		if err != nil {
			var se *cards.SettlementError
			if !errors.As(err, &se) || se.Line < 1 {
				t.Fatalf("got %v, want a *SettlementError with a line", err)
			}
			return
		}
		for i, l := range lines {
			if l.Line < 2 || (i > 0 && l.Line <= lines[i-1].Line) || l.Raw == "" {
				t.Fatalf("got line %d %q after %d", l.Line, l.Raw, i)
			}
			if l.Amount <= 0 || (l.Type != "capture" && l.Type != "refund") || l.CreatedAt.Format(time.DateOnly) != l.Date {
				t.Fatalf("accepted %+v", l)
			}
			var b strings.Builder
			cw := csv.NewWriter(&b)
			cw.Write([]string{l.Date, l.Type, l.OperationID, l.Payment, l.Reference, l.IdempotencyKey,
				fmt.Sprint(l.Amount), l.Currency, l.CreatedAt.Format(time.RFC3339Nano)})
			cw.Flush()
			again, err := cards.ParseSettlement(strings.NewReader(header + b.String()))
			if err != nil || len(again) != 1 {
				t.Fatalf("written back as %q: got %v %v", b.String(), again, err)
			}
			a := again[0]
			a.Line, a.Raw, l.Line, l.Raw = 0, "", 0, ""
			if a != l {
				t.Fatalf("written back: got %+v, want %+v", a, l)
			}
		}
	})
}

// FuzzClientOperationAnswer feeds Capture arbitrary acquirer answers: it
// must not panic, and must only report a result for a clear success or
// refusal of the capture it asked for.
func FuzzClientOperationAnswer(f *testing.F) {
	f.Add(200, `{"id":"op_1","payment":"pay_1","type":"capture","status":"succeeded","refusal_code":"","amount":1000,"currency":"SEK","created":"2026-03-15T12:00:00Z"}`)
	f.Add(200, `{"id":"op_1","payment":"pay_1","type":"capture","status":"refused","refusal_code":"capture_refused","amount":1000,"currency":"SEK","created":"2026-03-15T12:00:00Z"}`)
	f.Add(200, `{"id":"op_1","payment":"pay_2","type":"refund","status":"succeeded","amount":1000,"currency":"SEK","created":"2026-03-15T12:00:00Z"}`)
	f.Add(200, `{"id":"op_1","status":"pending"}`)
	f.Add(404, `{"error":{"code":"payment_not_found"}}`)
	f.Add(404, `404 page not found`)
	f.Add(503, `{"error":{"code":"not_processed"}}`)
	f.Add(500, `{"error":{"code":"internal"}}`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 100 || status > 999 {
			status = 200
		}
		tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		})
		c := cards.NewClient("http://acquirer.test", tr, time.Second, 0)
		res, err := c.Capture(context.Background(), cards.Operation{IdempotencyKey: "k", Payment: "pay_1", Amount: 1000, Currency: "SEK"})
		if err != nil {
			if !errors.Is(err, cards.ErrUnknownOutcome) && !errors.Is(err, cards.ErrUnavailable) &&
				!errors.Is(err, cards.ErrRejected) && !errors.Is(err, cards.ErrIdempotencyConflict) {
				t.Fatalf("got %v, want one of the package's errors", err)
			}
			return
		}
		if res.RefusalCode == cards.RefusalPaymentNotFound && status == 404 {
			return
		}
		if status < 200 || status > 299 || res.ID == "" || res.Type != cards.OperationCapture || res.Payment != "pay_1" ||
			res.Succeeded == (res.RefusalCode != "") {
			t.Fatalf("got %+v from %d %q, want an error", res, status, body)
		}
	})
}

// FuzzClientBooksAnswer feeds Books arbitrary answers: found only with
// well-formed books, never an unknown outcome from a read.
func FuzzClientBooksAnswer(f *testing.F) {
	f.Add(200, `{"authorized":1000,"captured":500,"refunded":0,"voided":0,"currency":"SEK","payments":[{"id":"pay_1","authorized":1000,"captured":500,"refunded":0,"voided":0,"currency":"SEK","status":"approved"}]}`)
	f.Add(200, `{"authorized":-1,"currency":"SEK","payments":[]}`)
	f.Add(200, `{"currency":"SEK","payments":[{"id":"","status":"approved","currency":"SEK"}]}`)
	f.Add(404, `{"error":{"code":"not_found"}}`)
	f.Add(200, `[`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 100 || status > 999 {
			status = 200
		}
		tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		})
		c := cards.NewClient("http://acquirer.test", tr, time.Second, 0)
		b, found, err := c.Books(context.Background(), "ord_1")
		if err != nil && errors.Is(err, cards.ErrUnknownOutcome) {
			t.Fatalf("got %v, want no unknown outcome from a read", err)
		}
		if found && (err != nil || len(b.Payments) == 0 || b.Authorized < 0 || b.Captured < 0 || b.Refunded < 0 || b.Voided < 0) {
			t.Fatalf("got %+v %v %v from %d %q", b, found, err, status, body)
		}
	})
}
