package cards_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"kassa/cards"
)

// now is the fixed time the tests run at.
var now = time.Date(2026, time.March, 15, 12, 0, 0, 0, time.UTC)

// MustServe starts sim behind an httptest server that is closed when the test ends.
func MustServe(tb testing.TB, h http.Handler) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

// MustSimulator returns a Simulator at the fixed time and a server for it.
func MustSimulator(tb testing.TB) (*cards.Simulator, *httptest.Server) {
	tb.Helper()
	sim := cards.NewSimulator(func() time.Time { return now })
	return sim, MustServe(tb, sim.Handler())
}

// fataler is what the helpers need of a *testing.T, *testing.B or *rapid.T.
type fataler interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// card returns a valid card with number n.
func card(n string) cards.Card {
	cvc := "737"
	if strings.HasPrefix(n, "34") || strings.HasPrefix(n, "37") {
		cvc = "7373"
	}
	return cards.Card{Number: n, ExpMonth: 12, ExpYear: 2030, CVC: cvc}
}

// payment returns a 25900 SEK payment with card number n under key.
func payment(key, n string) cards.Payment {
	return cards.Payment{IdempotencyKey: key, Amount: 25900, Currency: "SEK", Reference: "A-1001", Card: card(n)}
}

var nonDigit = regexp.MustCompile(`[^0-9]`)

// leaks returns the first run of six or more of number's digits found in s,
// or "".
func leaks(s, number string) string {
	d := nonDigit.ReplaceAllString(number, "")
	for i := 0; i+6 <= len(d); i++ {
		if strings.Contains(s, d[i:i+6]) {
			return d[i : i+6]
		}
	}
	return ""
}
