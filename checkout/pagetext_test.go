package checkout

import (
	"strings"
	"testing"
)

// TestPageTextsComplete checks that every language has every message, with
// the same placeholders as the English one: a missing message would show
// its id to a shopper.
func TestPageTextsComplete(t *testing.T) {
	en := pageTexts["en"]
	for lang, text := range pageTexts {
		for id, s := range en {
			got, ok := text[id]
			if !ok {
				t.Errorf("%s lacks %q", lang, id)
				continue
			}
			if strings.Count(got, "%") != strings.Count(s, "%") {
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
