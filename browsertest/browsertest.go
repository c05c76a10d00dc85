// Package browsertest owns how kassa's page tests run Debian's Chromium:
// where it is, that its absence skips a test on a developer's machine but
// fails it under CI=true, the headless flags and throwaway profile every
// browser test uses, and the accessibility check (Axe, with axe-core
// embedded from testdata). Only tests import it.
package browsertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// Path is where Debian's chromium package puts the browser.
const Path = "/usr/bin/chromium"

// Require skips t when Chromium is not installed, or fails it under CI=true
// (CI installs it, so its absence there is a broken setup).
func Require(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; CI must install Debian's chromium package (see .ci/run)", Path)
		}
		t.Skipf("%s is missing: apt-get install chromium to run the browser tests", Path)
	}
}

// Start runs a headless Chromium with a temporary profile for the length of
// t (at most timeout) and returns its browser context; tabs are contexts
// derived from it. It calls Require first.
func Start(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	// A loaded machine (several packages' browser tests at once) now and
	// then fails to start Chromium; that is the machine, not the page, so
	// a start is tried three times.
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
			chromedp.ExecPath(Path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck, chromedp.Flag("force-color-profile", "srgb"), chromedp.Flag("hide-scrollbars", true),
			chromedp.UserDataDir(t.TempDir()))
		browser, cancelBrowser := chromedp.NewContext(alloc)
		if err = chromedp.Do(browser); err == nil {
			t.Cleanup(cancelAlloc)
			t.Cleanup(cancelBrowser)
			return browser
		}
		cancelBrowser()
		cancelAlloc()
	}
	t.Fatalf("start %s: %v", Path, err)
	return nil
}

// Tab opens a tab of browser in a browser context of its own (its own
// cookies), with a width by height viewport and JavaScript on or off
// (pages must work without it), closed when t ends.
func Tab(t testing.TB, browser context.Context, width, height int64, js bool) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	if !js {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("turn JavaScript off: %v", err)
		}
		ctx = context.WithValue(ctx, jsOff{}, true)
	}
	return ctx
}

// jsOff marks a tab opened with JavaScript off, for Axe.
type jsOff struct{}
