package cards_test

import (
	"os"
	"strings"
	"testing"

	"kassa/cards"
)

func TestTestCardsAreValid(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range cards.TestCards() {
		c := card(strings.ReplaceAll(tc.Number, " ", ""))
		if err := cards.Check(c, now); err != nil {
			t.Errorf("%s: got %v, want a valid card", tc.Number, err)
		}
		if !luhnOK(strings.ReplaceAll(tc.Number, " ", "")) {
			t.Errorf("%s: fails the Luhn check", tc.Number)
		}
		if got := c.Brand(); got != tc.Brand {
			t.Errorf("%s: got brand %q, want %q", tc.Number, got, tc.Brand)
		}
		if tc.Approved == (tc.DeclineCode != "") {
			t.Errorf("%s: approved %v with decline code %q", tc.Number, tc.Approved, tc.DeclineCode)
		}
		if seen[tc.Number] {
			t.Errorf("%s: listed twice", tc.Number)
		}
		seen[tc.Number] = true
	}
}

// TestTestCardsDocumented keeps the tables in the package documentation and
// docs/cards.md in step with TestCards.
func TestTestCardsDocumented(t *testing.T) {
	for _, file := range []string{"doc.go", "../docs/cards.md"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range cards.TestCards() {
			line := lineWith(string(b), tc.Number)
			if line == "" {
				t.Errorf("%s: %s is not documented", file, tc.Number)
				continue
			}
			want := "approved"
			if !tc.Approved {
				want = tc.DeclineCode
			}
			if !strings.Contains(line, want) || !strings.Contains(line, tc.Brand) {
				t.Errorf("%s: got %q, want it to say %s and %s", file, line, tc.Brand, want)
			}
		}
	}
}

func lineWith(text, s string) string {
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}
