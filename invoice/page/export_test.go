package page

// Texts exposes the page's messages to the black-box tests.
func Texts() map[string]map[string]string {
	out := map[string]map[string]string{}
	for lang, t := range pageTexts {
		out[lang] = t
	}
	return out
}
