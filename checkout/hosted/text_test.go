package hosted

import (
	"regexp"
	"slices"
	"testing"
)

var verbRe = regexp.MustCompile(`%[a-z%]`)

// TestPageTextsComplete checks that every language has every message, with
// the same placeholders in the same order as the English one: a missing
// message would show its id to a shopper, and a placeholder out of order
// would show an amount where a number of days belongs.
func TestPageTextsComplete(t *testing.T) {
	en := pageTexts["en"]
	for lang, text := range pageTexts {
		for id, s := range en {
			got, ok := text[id]
			if !ok {
				t.Errorf("%s lacks %q", lang, id)
				continue
			}
			if !slices.Equal(verbRe.FindAllString(got, -1), verbRe.FindAllString(s, -1)) {
				t.Errorf("%s %q has other placeholders than English: %q", lang, id, got)
			}
		}
		for id := range text {
			if _, ok := en[id]; !ok {
				t.Errorf("%s has %q, which English lacks", lang, id)
			}
		}
	}
}
