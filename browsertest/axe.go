package browsertest

import (
	"context"
	_ "embed"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axeSource is axe-core (testdata/README.md says which version and its
// licence).
//
//go:embed testdata/axe.min.js
var axeSource string

// Violation is one rule axe found broken on a page, with the markup of
// the elements that break it.
type Violation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeRun runs axe on the whole document and returns its violations,
// trimmed to what a failure message needs.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || "", help: v.help,
	nodes: v.nodes.map(n => n.html.slice(0, 200)),
})))`

// Axe injects axe-core into the page open in tab, runs it on the whole
// document and fails t on any violation, naming the rule and the elements.
// A tab with JavaScript off gets it turned on for the check and off again
// after: axe is the test's script, not the page's.
func Axe(t testing.TB, tab context.Context) []Violation {
	t.Helper()
	if off, _ := tab.Value(jsOff{}).(bool); off {
		if _, err := chromedp.Call(tab, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false}); err != nil {
			t.Fatalf("axe: turn JavaScript on: %v", err)
		}
		defer func() {
			if _, err := chromedp.Call(tab, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
				t.Fatalf("axe: turn JavaScript off again: %v", err)
			}
		}()
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[chromedp.Void](axeSource)); err != nil {
		t.Fatalf("axe: inject axe-core: %v", err)
	}
	vs, err := chromedp.Run(tab, chromedp.Evaluate[[]Violation](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe: run: %v", err)
	}
	for _, v := range vs {
		b, _ := json.Marshal(v.Nodes)
		t.Errorf("axe: %s (%s): %s; on %s", v.ID, v.Impact, v.Help, strings.TrimSpace(string(b)))
	}
	return vs
}
