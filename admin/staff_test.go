package admin_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"kassa/admin"
	"kassa/clocktest"
	"kassa/ledger"
	"kassa/region/regiontest"
)

// staffRegion is one region's ledger and admin UI, for staff tests.
type staffRegion struct {
	id    ledger.RegionID
	store *ledger.Store
	srv   *httptest.Server
	logs  *regiontest.LogBuffer
}

// staffRegions starts regions r1 and r2, each with the configured staff of
// every test, that replicate only when a test calls replicate.
func staffRegions(t *testing.T) (r1, r2 *staffRegion) {
	t.Helper()
	keys := ledger.Keys{}
	priv := map[ledger.RegionID]ed25519.PrivateKey{}
	for i, id := range []ledger.RegionID{"r1", "r2"} {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i + 1)
		priv[id] = ed25519.NewKeyFromSeed(seed)
		keys[id] = priv[id].Public().(ed25519.PublicKey)
	}
	open := func(id ledger.RegionID) *staffRegion {
		logs := &regiontest.LogBuffer{}
		log := slog.New(slog.NewTextHandler(logs, nil))
		store, err := ledger.Open(context.Background(), ledger.Options{Path: filepath.Join(t.TempDir(), "kassa.db"),
			Region: id, Key: priv[id], Keys: keys, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		r := mux.NewRouter()
		admin.New(store, nil, nil, staff, log).WithUI(admin.UI{Now: clocktest.Wall().Now}).Routes(r)
		srv := httptest.NewServer(r)
		t.Cleanup(srv.Close)
		return &staffRegion{id: id, store: store, srv: srv, logs: logs}
	}
	return open("r1"), open("r2")
}

// replicate copies every entry of from's own chain to to, as sync does.
func replicate(t *testing.T, from, to *staffRegion) {
	t.Helper()
	es, err := from.store.EntriesAfter(context.Background(), from.id, 0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := to.store.Apply(context.Background(), es); err != nil || len(res.Rejected) > 0 {
		t.Fatalf("replicate %s to %s: %v %+v", from.id, to.id, err, res)
	}
}

// callJSON sends a JSON request with HTTP Basic credentials.
func callJSON(t *testing.T, method, url, user, pass string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(user, pass)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// signInAt signs user in at srv with pass through the form and returns the
// browser and the answer to the sign-in.
func signInAt(t *testing.T, srv *httptest.Server, user, pass string) (*browser, page) {
	t.Helper()
	b := newBrowser(t, &env{srv: srv})
	login := b.get("/admin/login")
	p := b.post("/admin/login", url.Values{"csrf_token": {field(t, csrfRe, login.body)}, "username": {user}, "password": {user + pass}})
	return b, p
}

// errCode is the code of an error envelope.
func errCode(body map[string]any) any {
	e, _ := body["error"].(map[string]any)
	return e["code"]
}

func staffEntries(t *testing.T, store *ledger.Store, name string) []ledger.Entry {
	t.Helper()
	es, err := store.EntriesBySubject(context.Background(), "staff:"+name)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

const carolPass = "-long-enough-secret"

func TestStaffAddedInOneRegionSignsInAtAnother(t *testing.T) {
	r1, r2 := staffRegions(t)
	code, body := callJSON(t, "POST", r1.srv.URL+"/admin/api/staff", "boss", "boss-pass",
		map[string]string{"username": "carol", "role": "support", "password": "carol" + carolPass})
	if code != 201 || body["username"] != "carol" || body["role"] != "support" || body["status"] != "active" || body["added_by"] != "boss" {
		t.Fatalf("add carol: got %d %v", code, body)
	}
	if _, p := signInAt(t, r2.srv, "carol", carolPass); p.status != http.StatusUnauthorized {
		t.Fatalf("carol at r2 before replication: got %d, want 401", p.status)
	}
	replicate(t, r1, r2)
	atR2, p := signInAt(t, r2.srv, "carol", carolPass)
	if p.status != http.StatusSeeOther {
		t.Fatalf("carol at r2 after replication: got %d, want 303:\n%s", p.status, text(p.body))
	}
	atR1, p := signInAt(t, r1.srv, "carol", carolPass)
	if p.status != http.StatusSeeOther {
		t.Fatalf("carol at r1: got %d, want 303", p.status)
	}

	// An admin of r2 disables her: r2 refuses her at once, r1 once the
	// entry has arrived, and her sessions end in both.
	if code, body := callJSON(t, "POST", r2.srv.URL+"/admin/api/staff/carol/disable", "boss", "boss-pass", nil); code != 200 || body["status"] != "disabled" {
		t.Fatalf("disable carol: got %d %v", code, body)
	}
	if p := atR2.get("/admin/search"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/admin/login") {
		t.Fatalf("carol's r2 session after the disable: got %d to %q, want the sign-in page", p.status, p.header.Get("Location"))
	}
	if p := atR1.get("/admin/search"); p.status != http.StatusOK {
		t.Fatalf("carol's r1 session before the disable arrives: got %d, want 200", p.status)
	}
	replicate(t, r2, r1)
	for _, r := range []*staffRegion{r1, r2} {
		if _, p := signInAt(t, r.srv, "carol", carolPass); p.status != http.StatusUnauthorized {
			t.Errorf("carol signs in at %s after the disable: got %d, want 401", r.id, p.status)
		}
		if code, _ := callJSON(t, "GET", r.srv.URL+"/admin/api/staff", "carol", "carol"+carolPass, nil); code != 401 {
			t.Errorf("carol's Basic credentials at %s: got %d, want 401", r.id, code)
		}
	}
	if p := atR1.get("/admin/search"); p.status != http.StatusSeeOther {
		t.Fatalf("carol's r1 session after the disable arrived: got %d, want a redirect to sign in", p.status)
	}
	// A disabled name stays taken.
	if code, body := callJSON(t, "POST", r1.srv.URL+"/admin/api/staff", "boss", "boss-pass",
		map[string]string{"username": "carol", "role": "admin", "password": "carol" + carolPass}); code != 409 || errCode(body) != "username_taken" {
		t.Fatalf("re-adding carol: got %d %v, want 409 username_taken", code, body)
	}
}

func TestStaffConcurrentRoleChangesConverge(t *testing.T) {
	r1, r2 := staffRegions(t)
	if code, body := callJSON(t, "POST", r1.srv.URL+"/admin/api/staff", "boss", "boss-pass",
		map[string]string{"username": "carol", "role": "viewer", "password": "carol" + carolPass}); code != 201 {
		t.Fatalf("add carol: got %d %v", code, body)
	}
	replicate(t, r1, r2)
	// Both regions change her role before hearing of the other's change.
	callJSON(t, "POST", r1.srv.URL+"/admin/api/staff/carol/role", "boss", "boss-pass", map[string]string{"role": "support"})
	callJSON(t, "POST", r2.srv.URL+"/admin/api/staff/carol/role", "boss", "boss-pass", map[string]string{"role": "admin"})
	replicate(t, r1, r2)
	replicate(t, r2, r1)
	_, at1 := callJSON(t, "GET", r1.srv.URL+"/admin/api/staff/carol", "boss", "boss-pass", nil)
	_, at2 := callJSON(t, "GET", r2.srv.URL+"/admin/api/staff/carol", "boss", "boss-pass", nil)
	if at1["role"] != at2["role"] || (at1["role"] != "support" && at1["role"] != "admin") {
		t.Fatalf("got role %v at r1 and %v at r2, want the same, one of the two written", at1["role"], at2["role"])
	}
}

func TestStaffOnlyAdminsManageStaff(t *testing.T) {
	r1, _ := staffRegions(t)
	base := r1.srv.URL + "/admin/api/staff"
	for _, who := range []string{"viewer", "agent"} {
		for _, tc := range []struct {
			method, url string
			body        any
		}{
			{"GET", base, nil},
			{"POST", base, map[string]string{"username": "mallory", "role": "admin", "password": "mallory" + carolPass}},
			{"POST", base + "/boss/disable", nil},
			{"POST", base + "/boss/role", map[string]string{"role": "viewer"}},
			{"POST", base + "/boss/password", map[string]string{"password": "taken-over-password"}},
		} {
			if code, body := callJSON(t, tc.method, tc.url, who, who+"-pass", tc.body); code != 403 {
				t.Errorf("%s: %s %s: got %d %v, want 403", who, tc.method, tc.url, code, body)
			}
		}
		// The pages too, with a genuine CSRF token.
		b := signIn(t, &env{srv: r1.srv}, who)
		if p := b.get("/admin/search"); strings.Contains(p.body, `href="/admin/staff"`) || !strings.Contains(p.body, `href="/admin/password"`) {
			t.Errorf("%s: the navigation links to Staff, or not to Your password", who)
		}
		if p := b.get("/admin/staff"); p.status != 403 {
			t.Errorf("%s: staff page: got %d, want 403", who, p.status)
		}
		csrf := field(t, csrfRe, b.get("/admin/password").body)
		p := b.post("/admin/staff", url.Values{"csrf_token": {csrf}, "username": {"mallory"}, "role": {"admin"}, "password": {"mallory" + carolPass}})
		if p.status != 403 {
			t.Errorf("%s: add form: got %d, want 403", who, p.status)
		}
		if p := b.post("/admin/staff/boss/disable", url.Values{"csrf_token": {csrf}}); p.status != 403 {
			t.Errorf("%s: disable form: got %d, want 403", who, p.status)
		}
	}
	if p := signIn(t, &env{srv: r1.srv}, "boss").get("/admin/search"); !strings.Contains(p.body, `href="/admin/staff"`) {
		t.Error("an admin's navigation has no link to Staff")
	}
	if n := len(staffEntries(t, r1.store, "mallory")) + len(staffEntries(t, r1.store, "boss")); n != 0 {
		t.Fatalf("got %d staff entries, want none", n)
	}
	// Anyone may change their own password.
	if code, body := callJSON(t, "POST", base+"/viewer/password", "viewer", "viewer-pass", map[string]string{"password": "viewer-new-password"}); code != 200 {
		t.Fatalf("viewer's own password: got %d %v", code, body)
	}
	if code, _ := callJSON(t, "GET", r1.srv.URL+"/admin/api/staff/viewer", "viewer", "viewer-new-password", nil); code != 403 {
		t.Fatalf("viewer with the new password: got %d, want 403 (signed in, not allowed)", code)
	}
	if code, _ := callJSON(t, "GET", r1.srv.URL+"/admin/api/staff/viewer", "viewer", "viewer-pass", nil); code != 401 {
		t.Fatalf("viewer with the old password: got %d, want 401", code)
	}
}

func TestStaffFormsNeedCSRF(t *testing.T) {
	r1, _ := staffRegions(t)
	b := signIn(t, &env{srv: r1.srv}, "boss")
	form := url.Values{"username": {"carol"}, "role": {"support"}, "password": {"carol" + carolPass}}
	if p := b.post("/admin/staff", form); p.status != 403 {
		t.Fatalf("add without a token: got %d, want 403", p.status)
	}
	form.Set("csrf_token", "forged")
	if p := b.post("/admin/staff", form); p.status != 403 {
		t.Fatalf("add with a forged token: got %d, want 403", p.status)
	}
	for _, path := range []string{"/admin/staff/agent/disable", "/admin/staff/agent/role", "/admin/staff/agent/password", "/admin/password"} {
		if p := b.post(path, url.Values{"role": {"admin"}, "password": {"x" + carolPass}, "current": {"boss-pass"}}); p.status != 403 {
			t.Errorf("%s without a token: got %d, want 403", path, p.status)
		}
	}
	// The JSON API with the session cookie needs the token in a header.
	req, _ := http.NewRequest("POST", r1.srv.URL+"/admin/api/staff/agent/disable", nil)
	if p := b.do(req); p.status != 403 {
		t.Fatalf("API with the cookie and no token: got %d, want 403", p.status)
	}
	if n := len(staffEntries(t, r1.store, "carol")) + len(staffEntries(t, r1.store, "agent")) + len(staffEntries(t, r1.store, "boss")); n != 0 {
		t.Fatalf("got %d staff entries, want none", n)
	}
}

var phcRe = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestStaffPasswordsAreHashed(t *testing.T) {
	r1, _ := staffRegions(t)
	b := signIn(t, &env{srv: r1.srv}, "boss")
	const secret = "the-same-password-twice"
	for _, name := range []string{"carol", "dave"} {
		csrf := field(t, csrfRe, b.get("/admin/staff").body)
		p := b.post("/admin/staff", url.Values{"csrf_token": {csrf}, "username": {name}, "role": {"viewer"}, "password": {secret}})
		wantText(t, "add "+name, b.follow(p), 200, name+" was added as viewer")
	}
	var hashes []string
	for _, name := range []string{"carol", "dave"} {
		es := staffEntries(t, r1.store, name)
		if len(es) != 1 || es[0].Kind != admin.KindStaffAdded {
			t.Fatalf("%s: got %d entries, want one staff.added", name, len(es))
		}
		var d map[string]string
		json.Unmarshal(es[0].Data, &d)
		if !phcRe.MatchString(d["password_hash"]) {
			t.Fatalf("%s: got password_hash %q, want an argon2id PHC string", name, d["password_hash"])
		}
		if d["staff"] != "boss" || d["role"] != "admin" || d["new_role"] != "viewer" {
			t.Fatalf("%s: got data %v, want boss (admin) adding a viewer", name, d)
		}
		if strings.Contains(string(es[0].Data), secret) {
			t.Fatalf("%s: the entry holds the password: %s", name, es[0].Data)
		}
		hashes = append(hashes, d["password_hash"])
	}
	if hashes[0] == hashes[1] {
		t.Fatal("two users with the same password got the same hash: no salt")
	}
	if _, p := signInAt(t, r1.srv, "carol", strings.TrimPrefix(secret, "carol")); p.status != http.StatusUnauthorized {
		t.Fatalf("a wrong password: got %d, want 401", p.status)
	}
	c := newBrowser(t, &env{srv: r1.srv})
	login := c.get("/admin/login")
	if p := c.post("/admin/login", url.Values{"csrf_token": {field(t, csrfRe, login.body)}, "username": {"carol"}, "password": {secret}}); p.status != http.StatusSeeOther {
		t.Fatalf("carol signs in: got %d, want 303", p.status)
	}
	if strings.Contains(r1.logs.String(), secret) {
		t.Fatalf("the log holds the password:\n%s", r1.logs.String())
	}
}

func TestStaffFormsSayWhatIsWrong(t *testing.T) {
	r1, _ := staffRegions(t)
	b := signIn(t, &env{srv: r1.srv}, "boss")
	for _, tc := range []struct {
		name                     string
		username, role, password string
		want                     string
	}{
		{"short password", "carol", "viewer", "short", "A password has at least 12 characters"},
		{"bad username", "Carol Smith", "viewer", "carol" + carolPass, "A username is 1 to 64 characters"},
		{"bad role", "carol", "root", "carol" + carolPass, "The role must be viewer, support or admin"},
		{"taken", "agent", "viewer", "carol" + carolPass, "A staff member with this username exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csrf := field(t, csrfRe, b.get("/admin/staff").body)
			p := b.post("/admin/staff", url.Values{"csrf_token": {csrf}, "username": {tc.username}, "role": {tc.role}, "password": {tc.password}})
			wantText(t, tc.name, p, http.StatusUnprocessableEntity, "There is a problem", tc.want)
		})
	}
	if n := len(staffEntries(t, r1.store, "carol")) + len(staffEntries(t, r1.store, "agent")); n != 0 {
		t.Fatalf("got %d staff entries, want none", n)
	}
	// An admin cannot lock themselves out.
	if code, body := callJSON(t, "POST", r1.srv.URL+"/admin/api/staff/boss/disable", "boss", "boss-pass", nil); code != 409 || errCode(body) != "own_account" {
		t.Fatalf("boss disables boss: got %d %v, want 409 own_account", code, body)
	}
}

func TestStaffMemberPageActions(t *testing.T) {
	r1, _ := staffRegions(t)
	b := signIn(t, &env{srv: r1.srv}, "boss")
	agent := signIn(t, &env{srv: r1.srv}, "agent")
	p := b.get("/admin/staff/agent")
	wantText(t, "agent's page", p, 200, "agent", "Change the role", "Set a new password", "Disable agent")
	csrf := field(t, csrfRe, p.body)
	wantText(t, "role change", b.follow(b.post("/admin/staff/agent/role", url.Values{"csrf_token": {csrf}, "role": {"viewer"}})), 200, "The role is now viewer")
	if p := agent.get("/admin/search"); p.status != http.StatusSeeOther {
		t.Fatalf("agent's session after a role change: got %d, want a redirect to sign in", p.status)
	}
	wantText(t, "password", b.follow(b.post("/admin/staff/agent/password", url.Values{"csrf_token": {csrf}, "password": {"agent-new-password"}})), 200, "The password was changed")
	if code, _ := callJSON(t, "GET", r1.srv.URL+"/admin/api/staff/agent", "agent", "agent-new-password", nil); code != 403 {
		t.Fatalf("agent (now a viewer) with the new password: got %d, want 403", code)
	}
	wantText(t, "disable", b.follow(b.post("/admin/staff/agent/disable", url.Values{"csrf_token": {csrf}})), 200, "Disabled", "cannot be enabled again")
	wantText(t, "staff list", b.get("/admin/staff"), 200, "agent viewer disabled")
	if p := b.get("/admin/staff/nobody"); p.status != 404 {
		t.Fatalf("unknown staff member: got %d, want 404", p.status)
	}
}

func TestChangeOwnPassword(t *testing.T) {
	r1, _ := staffRegions(t)
	b := signIn(t, &env{srv: r1.srv}, "viewer")
	other := signIn(t, &env{srv: r1.srv}, "viewer")
	p := b.get("/admin/password")
	wantText(t, "password page", p, 200, "Your password", "Current password")
	csrf := field(t, csrfRe, p.body)
	p = b.post("/admin/password", url.Values{"csrf_token": {csrf}, "current": {"wrong"}, "password": {"viewer-new-password"}})
	wantText(t, "wrong current", p, http.StatusUnprocessableEntity, "Your current password is not right")
	p = b.post("/admin/password", url.Values{"csrf_token": {csrf}, "current": {"viewer-pass"}, "password": {"short"}})
	wantText(t, "short", p, http.StatusUnprocessableEntity, "A password has at least 12 characters")
	if n := len(staffEntries(t, r1.store, "viewer")); n != 0 {
		t.Fatalf("got %d entries after refused changes, want 0", n)
	}
	p = b.post("/admin/password", url.Values{"csrf_token": {csrf}, "current": {"viewer-pass"}, "password": {"viewer-new-password"}})
	wantText(t, "changed", b.follow(p), 200, "Your password was changed")
	if p := b.get("/admin/search"); p.status != 200 {
		t.Fatalf("own session after the change: got %d, want 200", p.status)
	}
	if p := other.get("/admin/search"); p.status != http.StatusSeeOther {
		t.Fatalf("another session after the change: got %d, want a redirect to sign in", p.status)
	}
	if _, p := signInAt(t, r1.srv, "viewer", "-pass"); p.status != http.StatusUnauthorized {
		t.Fatalf("old password: got %d, want 401", p.status)
	}
	if _, p := signInAt(t, r1.srv, "viewer", "-new-password"); p.status != http.StatusSeeOther {
		t.Fatalf("new password: got %d, want 303", p.status)
	}
}
