// Package static holds the stylesheets, images and the little JavaScript of
// kassa's web pages, embedded in the binary so a region serves them without
// any file on disk.
//
// Every page must work with JavaScript off: scripts here only add comfort
// (such as guarding a form against a second click), never a step the page
// depends on. Nothing here loads anything from another origin, so the pages'
// Content-Security-Policy can stay at 'self'.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
)

// FS holds the files, at its root.
//
//go:embed *.css *.js *.svg
var FS embed.FS

// Assets serves FS under a path prefix and names each file with a version
// derived from its content, so a page can let browsers cache the file for a
// year and still see a new one after an upgrade. It is safe for concurrent
// use.
type Assets struct {
	prefix   string
	versions map[string]string
	files    http.Handler
}

// New returns the files of FS served under prefix (such as "/static/").
func New(prefix string) *Assets {
	a := &Assets{prefix: prefix, versions: map[string]string{}, files: http.FileServerFS(FS)}
	entries, _ := fs.ReadDir(FS, ".") // embedded: cannot fail
	for _, e := range entries {
		b, _ := fs.ReadFile(FS, e.Name())
		sum := sha256.Sum256(b)
		a.versions[e.Name()] = hex.EncodeToString(sum[:6])
	}
	return a
}

// Path returns the URL path of a file with its version, such as
// "/static/checkout.css?v=1a2b3c4d5e6f". An unknown name gets no version.
func (a *Assets) Path(name string) string {
	if v, ok := a.versions[name]; ok {
		return a.prefix + name + "?v=" + v
	}
	return a.prefix + name
}

// ServeHTTP serves a file below the prefix. A request naming the current
// version may be cached for a year; any other for five minutes, so that a
// page rendered by an older region during an upgrade still gets its style.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, a.prefix)
	v, known := a.versions[name]
	if !ok || !known {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Get("v") == v {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path = "/" + name
	r2.URL = &u
	a.files.ServeHTTP(w, r2)
}
