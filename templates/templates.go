// Package templates holds the html/template files of kassa's web pages,
// embedded in the binary.
//
// The package that serves a page owns its data and its handler; this one only
// holds the markup. Templates use no inline script or style (the pages'
// Content-Security-Policy forbids both) and load nothing from another origin.
// Every page works with JavaScript off.
package templates

import "embed"

// FS holds the templates, at its root: pages (.html) and the plain-text
// parts of emails (.txt).
//
//go:embed *.html *.txt
var FS embed.FS
