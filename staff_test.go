package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kassa/region"
	"kassa/region/regiontest"
)

// runInputCmd runs kassa with stdin as standard input.
func runInputCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb regiontest.LogBuffer
	err := runInput(context.Background(), args, nil, strings.NewReader(stdin), &out, &errb)
	if err != nil {
		fmt.Fprintln(&errb, "kassa:", err)
	}
	return out.String(), errb.String(), exitCode(err)
}

// TestStaffAdd bootstraps an admin with kassa staff add, then starts the
// region on that data dir and signs in as them.
func TestStaffAdd(t *testing.T) {
	dir := t.TempDir()
	const pass = "correct horse battery staple"
	if _, errOut, code := runInputCmd(t, pass+"\n", "staff", "add", "--data-dir", dir, "--username", "ops", "--role", "admin"); code != 1 || !strings.Contains(errOut, "keygen") {
		t.Fatalf("without a region key: got exit %d, %q; want 1 naming keygen", code, errOut)
	}
	if _, _, code := runCmd(t, nil, "keygen", "--data-dir", dir); code != 0 {
		t.Fatalf("keygen: exit %d", code)
	}
	for _, tc := range []struct {
		name, stdin, username, role, want string
	}{
		{"bad role", pass, "ops", "root", "--role"},
		{"no role", pass, "ops", "", "--role"},
		{"bad username", pass, "Ops Team", "admin", "--username"},
		{"empty password", "", "ops", "admin", "password: empty"},
		{"short password", "short\n", "ops", "admin", "password: a password has at least 12 characters"},
		{"configured name", pass, "admin", "admin", "--username: admin exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runInputCmd(t, tc.stdin, "staff", "add", "--data-dir", dir, "--username", tc.username, "--role", tc.role)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("got exit %d, %q; want 2 naming %q", code, errOut, tc.want)
			}
		})
	}
	// While a region (here: its lock) holds the data directory, nothing is
	// written: a second writer would fork the region's chain.
	unlock, err := region.LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runInputCmd(t, pass+"\n", "staff", "add", "--data-dir", dir, "--username", "ops", "--role", "admin"); code != 1 || !strings.Contains(errOut, "stop the region first") {
		t.Fatalf("with the region running: got exit %d, %q; want 1 saying to stop the region", code, errOut)
	}
	unlock()
	out, errOut, code := runInputCmd(t, pass+"\n", "staff", "add", "--data-dir", dir, "--username", "ops", "--role", "admin")
	if code != 0 || !strings.Contains(out, "added ops (admin)") {
		t.Fatalf("staff add: got exit %d, %q %q", code, out, errOut)
	}
	if strings.Contains(out+errOut, pass) {
		t.Fatalf("the output shows the password: %q %q", out, errOut)
	}
	if _, errOut, code := runInputCmd(t, pass+"\n", "staff", "add", "--data-dir", dir, "--username", "ops", "--role", "viewer"); code != 2 || !strings.Contains(errOut, "ops exists") {
		t.Fatalf("adding ops again: got exit %d, %q; want 2", code, errOut)
	}
	if out, _, code := runCmd(t, nil, "verify", "--data-dir", dir); code != 0 {
		t.Fatalf("verify after staff add: exit %d, %q", code, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(pass)) {
			t.Fatalf("%s holds the password in plain text", f)
		}
	}

	base, stop := startServe(t, nil, "--data-dir", dir)
	defer stop()
	for _, tc := range []struct {
		user, pass string
		want       int
	}{{"ops", pass, 200}, {"ops", pass + "x", 401}, {"nobody", pass, 401}} {
		req, _ := http.NewRequest("GET", base+"/admin/api/staff", nil)
		req.SetBasicAuth(tc.user, tc.pass)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Fatalf("%s: got %d %s, want %d", tc.user, res.StatusCode, body.String(), tc.want)
		}
		if tc.want == 200 && !strings.Contains(body.String(), `"username":"ops","role":"admin","status":"active","source":"ledger"`) {
			t.Fatalf("the staff list does not show ops: %s", body.String())
		}
	}
}
