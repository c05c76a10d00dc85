package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"kassa/httperr"
	"kassa/ratelimit"
)

// staffRoutes registers staff management: admins list, add, disable and
// change the role or password of staff; everyone changes their own
// password.
func (a *API) staffRoutes(api, r *mux.Router) {
	api.HandleFunc("/staff", a.staff("admin", a.staffList)).Methods(http.MethodGet)
	api.HandleFunc("/staff", a.staff("admin", a.staffAdd)).Methods(http.MethodPost)
	api.HandleFunc("/staff/{name}", a.staff("admin", a.staffGet)).Methods(http.MethodGet)
	api.HandleFunc("/staff/{name}/disable", a.staff("admin", a.staffDisable)).Methods(http.MethodPost)
	api.HandleFunc("/staff/{name}/role", a.staff("admin", a.staffRole)).Methods(http.MethodPost)
	api.HandleFunc("/staff/{name}/password", a.staff("viewer", a.staffPassword)).Methods(http.MethodPost)

	get := []string{http.MethodGet, http.MethodHead}
	r.HandleFunc("/admin/staff", a.page("admin", a.staffPage)).Methods(get...)
	r.HandleFunc("/admin/staff", a.page("admin", a.staffAddAction)).Methods(http.MethodPost)
	r.HandleFunc("/admin/staff/{name}", a.page("admin", a.staffMemberPage)).Methods(get...)
	r.HandleFunc("/admin/staff/{name}/disable", a.page("admin", a.staffDisableAction)).Methods(http.MethodPost)
	r.HandleFunc("/admin/staff/{name}/role", a.page("admin", a.staffRoleAction)).Methods(http.MethodPost)
	r.HandleFunc("/admin/staff/{name}/password", a.page("admin", a.staffPasswordAction)).Methods(http.MethodPost)
	r.HandleFunc("/admin/password", a.page("viewer", a.passwordPage)).Methods(get...)
	r.HandleFunc("/admin/password", a.page("viewer", a.passwordAction)).Methods(http.MethodPost)
}

func staffPath(name string) string { return "/admin/staff/" + url.PathEscape(name) }

// staffError maps a staff change's error to the API's answer; ok is false
// for an error that is not the request's fault.
func staffError(err error) (httperr.Error, bool) {
	switch {
	case errors.Is(err, ErrStaffExists):
		return httperr.Error{Status: http.StatusConflict, Code: "username_taken", Message: "a staff member with this username exists (a disabled one too)", Field: "username"}, true
	case errors.Is(err, ErrNoStaff):
		return httperr.Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such staff member"}, true
	case errors.Is(err, ErrStaffDisabled):
		return httperr.Error{Status: http.StatusConflict, Code: "staff_disabled", Message: "this staff member is disabled"}, true
	case errors.Is(err, ErrBadUsername):
		return httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: strings.TrimPrefix(err.Error(), "admin: "), Field: "username"}, true
	case errors.Is(err, ErrBadRole):
		return httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: strings.TrimPrefix(err.Error(), "admin: "), Field: "role"}, true
	case errors.Is(err, ErrShortPassword), errors.Is(err, ErrLongPassword):
		return httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: strings.TrimPrefix(err.Error(), "admin: "), Field: "password"}, true
	case errors.Is(err, errSelf):
		return httperr.Error{Status: http.StatusConflict, Code: "own_account", Message: strings.TrimPrefix(err.Error(), "admin: ")}, true
	}
	return httperr.Internal, false
}

var errSelf = errors.New("admin: you cannot disable yourself or change your own role; ask another admin")

func (a *API) writeStaffError(w http.ResponseWriter, err error) {
	e, ok := staffError(err)
	if !ok {
		a.log.Error("admin: staff change", "err", err)
	}
	httperr.Write(w, e)
}

func (a *API) staffList(w http.ResponseWriter, r *http.Request, _ user) {
	list, err := a.staffDir.list(r.Context())
	if err != nil {
		a.writeStaffError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"staff": list})
}

func (a *API) staffGet(w http.ResponseWriter, r *http.Request, _ user) {
	m, err := a.staffDir.member(r.Context(), mux.Vars(r)["name"])
	if err != nil {
		a.writeStaffError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// change writes c by u and answers with the staff member as they are now.
func (a *API) changeStaff(w http.ResponseWriter, r *http.Request, u user, c change, status int) {
	c.by = u
	if err := a.act(r, c); err != nil {
		a.writeStaffError(w, err)
		return
	}
	m, err := a.staffDir.member(r.Context(), c.username)
	if err != nil {
		a.writeStaffError(w, err)
		return
	}
	writeJSON(w, status, m)
}

// act applies a staff change made by c.by, refusing an admin's change of
// their own role or their own disabling (which could leave no admin).
func (a *API) act(r *http.Request, c change) error {
	if c.username == c.by.name && (c.kind == KindStaffDisabled || c.kind == KindStaffRoleChanged) {
		return errSelf
	}
	if err := a.staffDir.apply(r.Context(), c); err != nil {
		return err
	}
	// Never the password: only who changed what.
	a.log.Info("admin: staff changed", "staff", c.by.name, "change", c.kind, "username", c.username, "new_role", c.role)
	return nil
}

func (a *API) staffAdd(w http.ResponseWriter, r *http.Request, u user) {
	var body struct{ Username, Role, Password string }
	if err := decodeStrict(r, &body); err != nil {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: err.Error()})
		return
	}
	a.changeStaff(w, r, u, change{kind: KindStaffAdded, username: body.Username, role: body.Role, password: body.Password}, http.StatusCreated)
}

func (a *API) staffDisable(w http.ResponseWriter, r *http.Request, u user) {
	a.changeStaff(w, r, u, change{kind: KindStaffDisabled, username: mux.Vars(r)["name"]}, http.StatusOK)
}

func (a *API) staffRole(w http.ResponseWriter, r *http.Request, u user) {
	var body struct{ Role string }
	if err := decodeStrict(r, &body); err != nil {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: err.Error()})
		return
	}
	a.changeStaff(w, r, u, change{kind: KindStaffRoleChanged, username: mux.Vars(r)["name"], role: body.Role}, http.StatusOK)
}

// staffPassword sets a password: anyone's own, and an admin anyone's.
func (a *API) staffPassword(w http.ResponseWriter, r *http.Request, u user) {
	name := mux.Vars(r)["name"]
	if name != u.name && roleRank[u.role] < roleRank["admin"] {
		httperr.Write(w, httperr.Error{Status: http.StatusForbidden, Code: "forbidden", Message: "your role (" + u.role + ") may change only your own password"})
		return
	}
	var body struct{ Password string }
	if err := decodeStrict(r, &body); err != nil {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: err.Error()})
		return
	}
	a.changeStaff(w, r, u, change{kind: KindStaffPasswordChanged, username: name, password: body.Password}, http.StatusOK)
}

// staffListPage is the staff page: who there is, and a form to add one.
type staffListPage struct {
	Staff    []StaffMember
	Username string
	Role     string
	Roles    []string
	Errors   map[string]string
}

var roles = []string{"viewer", "support", "admin"}

func (a *API) staffPage(w http.ResponseWriter, r *http.Request, s session, v *view) {
	a.renderStaff(w, r, v, http.StatusOK, staffListPage{Role: "viewer"})
}

func (a *API) renderStaff(w http.ResponseWriter, r *http.Request, v *view, status int, p staffListPage) {
	list, err := a.staffDir.list(r.Context())
	if err != nil {
		a.internalError(w, r, v, err)
		return
	}
	p.Staff, p.Roles = list, roles
	for _, id := range []string{"staff-username", "staff-role", "staff-password"} {
		if msg, ok := p.Errors[id]; ok {
			v.Problems = append(v.Problems, problem{Target: id, Message: msg})
		}
	}
	v.Title, v.Section, v.Main = "Staff – kassa admin", "staff", &p
	a.render(w, r, status, "staff", v)
}

// formError is the field a staff change's error is about, and what to
// say there.
func formError(prefix string, err error) (map[string]string, bool) {
	e, ok := staffError(err)
	if !ok {
		return nil, false
	}
	field := e.Field
	if field == "" {
		field = "form"
	}
	msg := e.Message
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	return map[string]string{prefix + field: msg}, true
}

func (a *API) staffAddAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	name := strings.TrimSpace(r.PostForm.Get("username"))
	role := r.PostForm.Get("role")
	err := a.act(r, change{kind: KindStaffAdded, username: name, role: role, password: r.PostForm.Get("password"), by: s.user})
	if err != nil {
		errs, ok := formError("staff-", err)
		if !ok {
			a.internalError(w, r, v, err)
			return
		}
		a.renderStaff(w, r, v, http.StatusUnprocessableEntity, staffListPage{Username: name, Role: role, Errors: errs})
		return
	}
	a.done(w, r, s, "/admin/staff", "success", name+" was added as "+role+". They can sign in in every region once the entry has replicated.")
}

// staffMemberPage is one staff member with the admin's forms.
type staffMemberPage struct {
	Member StaffMember
	Self   bool
	Roles  []string
	Errors map[string]string
}

func (a *API) staffMemberPage(w http.ResponseWriter, r *http.Request, s session, v *view) {
	a.renderMember(w, r, s, v, http.StatusOK, nil)
}

func (a *API) renderMember(w http.ResponseWriter, r *http.Request, s session, v *view, status int, errs map[string]string) {
	name := mux.Vars(r)["name"]
	m, err := a.staffDir.member(r.Context(), name)
	if errors.Is(err, ErrNoStaff) {
		a.notFound(w, r, v, "staff member called "+name)
		return
	}
	if err != nil {
		a.internalError(w, r, v, err)
		return
	}
	for _, id := range []string{"member-role", "member-password", "member-form"} {
		if msg, ok := errs[id]; ok {
			v.Problems = append(v.Problems, problem{Target: id, Message: msg})
		}
	}
	v.Title, v.Section, v.Main = m.Username+" – Staff – kassa admin", "staff", &staffMemberPage{Member: m, Self: m.Username == s.user.name, Roles: roles, Errors: errs}
	a.render(w, r, status, "staff_member", v)
}

func (a *API) memberAction(w http.ResponseWriter, r *http.Request, s session, v *view, c change, done string) {
	c.username, c.by = mux.Vars(r)["name"], s.user
	if err := a.act(r, c); err != nil {
		if errors.Is(err, ErrNoStaff) {
			a.notFound(w, r, v, "staff member called "+c.username)
			return
		}
		errs, ok := formError("member-", err)
		if !ok {
			a.internalError(w, r, v, err)
			return
		}
		a.renderMember(w, r, s, v, http.StatusUnprocessableEntity, errs)
		return
	}
	a.done(w, r, s, staffPath(c.username), "success", done)
}

func (a *API) staffDisableAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	a.memberAction(w, r, s, v, change{kind: KindStaffDisabled},
		"Disabled. Their sessions end and they cannot sign in, here now and in every region once the entry has replicated.")
}

func (a *API) staffRoleAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	role := r.PostForm.Get("role")
	a.memberAction(w, r, s, v, change{kind: KindStaffRoleChanged, role: role}, "The role is now "+role+". Their sessions have ended: they sign in again.")
}

func (a *API) staffPasswordAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	if mux.Vars(r)["name"] == s.user.name {
		// One's own password goes through the page that keeps one signed in.
		a.passwordAction(w, r, s, v)
		return
	}
	a.memberAction(w, r, s, v, change{kind: KindStaffPasswordChanged, password: r.PostForm.Get("password")},
		"The password was changed. Their sessions have ended.")
}

// passwordPage is the form for changing one's own password.
type passwordPage struct {
	Errors map[string]string
}

func (a *API) passwordPage(w http.ResponseWriter, r *http.Request, s session, v *view) {
	a.renderPassword(w, r, v, http.StatusOK, nil)
}

func (a *API) renderPassword(w http.ResponseWriter, r *http.Request, v *view, status int, errs map[string]string) {
	for _, id := range []string{"own-current", "own-password", "own-form"} {
		if msg, ok := errs[id]; ok {
			v.Problems = append(v.Problems, problem{Target: id, Message: msg})
		}
	}
	v.Title, v.Section, v.Main = "Your password – kassa admin", "password", &passwordPage{Errors: errs}
	a.render(w, r, status, "password", v)
}

// passwordAction changes the signed-in staff member's own password. It
// asks for the current one, so a session left open is not enough, and
// signs the member in again: the change ends every other session.
func (a *API) passwordAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	// The current password is checked under the sign-in throttle: a
	// session left open is no faster a way to guess it.
	_, refusal, ok := a.attempt(r.Context(), ratelimit.ClientKey(r), s.user.name, r.PostForm.Get("current"))
	switch {
	case refusal != nil:
		w.Header().Set("Retry-After", strconv.Itoa(refusal.RetryAfter()))
		a.renderPassword(w, r, v, http.StatusTooManyRequests, map[string]string{"own-current": refusalText(*refusal)})
		return
	case !ok:
		a.renderPassword(w, r, v, http.StatusUnprocessableEntity, map[string]string{"own-current": "Your current password is not right"})
		return
	}
	err := a.act(r, change{kind: KindStaffPasswordChanged, username: s.user.name, password: r.PostForm.Get("password"), by: s.user})
	if err != nil {
		errs, ok := formError("own-", err)
		if !ok {
			a.internalError(w, r, v, err)
			return
		}
		a.renderPassword(w, r, v, http.StatusUnprocessableEntity, errs)
		return
	}
	u, ok := a.staffDir.lookup(r.Context(), s.user.name)
	if !ok {
		a.internalError(w, r, v, errors.New("own account not found after a password change"))
		return
	}
	a.sessions.end(w, r, s)
	ns := a.sessions.start(w, r, u)
	a.done(w, r, ns, "/admin/password", "success", "Your password was changed. Your other sessions have ended.")
}
