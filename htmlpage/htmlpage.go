package htmlpage

import (
	"net/http"
	"strings"
)

// SetHeaders sets the security headers of an HTML page on h: only the
// region's own scripts, styles and images, no framing, no referrer, no
// caching. formTarget is another origin a form on the page may send the
// browser to, such as the merchant's confirmation page ("" for none):
// browsers hold a form's redirects to form-action too.
func SetHeaders(h http.Header, formTarget string) {
	formAction := "'self'"
	if formTarget != "" {
		formAction += " " + formTarget
	}
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action "+formAction)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
}

// Field is what every form field a template draws has. A page's own field
// type embeds it and adds what only its templates use.
type Field struct {
	ID, Name, Label, Hint, Value string
	Error                        string // shown next to the field; "" when it is fine
	InputMode, Width             string // the input's inputmode and width class
}

// Describe is the field's aria-describedby: the ids of its hint and its
// error, as the templates write them (ID+"-hint", ID+"-error"), or "" for
// neither.
func (f Field) Describe() string {
	var ids []string
	if f.Hint != "" {
		ids = append(ids, f.ID+"-hint")
	}
	if f.Error != "" {
		ids = append(ids, f.ID+"-error")
	}
	return strings.Join(ids, " ")
}
