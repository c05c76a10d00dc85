package cards_test

import (
	"context"
	"encoding/json"
	"errors"
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
