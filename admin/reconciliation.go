package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"kassa/httperr"
	"kassa/reconcile"
)

// The reconciliation of the acquirer's settlement files (package
// reconcile): every staff member sees the days and their differences;
// support and admin run a day on demand and resolve a difference with a
// note, which the resolution entry records with their name and role.

// Reconciliation is what admin needs of the reconciliation.
type Reconciliation interface {
	Days(ctx context.Context, limit int) ([]reconcile.Day, error)
	Day(ctx context.Context, day string) (reconcile.Day, error)
	Run(ctx context.Context, day string, by reconcile.Actor) (reconcile.Day, error)
	Resolve(ctx context.Context, day, id string, by reconcile.Actor, note string) (reconcile.Recorded, error)
}

// WithReconciliation serves the reconciliation pages and API over rec.
// Call it before serving; without it they answer 404.
func (a *API) WithReconciliation(rec Reconciliation) *API {
	a.recon = rec
	return a
}

// reconciliationDays is how many days the list shows.
const reconciliationDays = 60

func (a *API) reconciliationRoutes(api, r *mux.Router) {
	api.HandleFunc("/reconciliation", a.staff("viewer", a.reconciliationAPI)).Methods(http.MethodGet)
	api.HandleFunc("/reconciliation/runs", a.staff("support", a.runAPI)).Methods(http.MethodPost)
	api.HandleFunc("/reconciliation/{day}/differences/{id}/resolve", a.staff("support", a.resolveAPI)).Methods(http.MethodPost)
	get := []string{http.MethodGet, http.MethodHead}
	r.HandleFunc("/admin/reconciliation", a.page("viewer", a.reconciliationPage)).Methods(get...)
	r.HandleFunc("/admin/reconciliation/run", a.page("support", a.runAction)).Methods(http.MethodPost)
	r.HandleFunc("/admin/reconciliation/{day}", a.page("viewer", a.reconciliationDayPage)).Methods(get...)
	r.HandleFunc("/admin/reconciliation/{day}/differences/{id}/resolve", a.page("support", a.resolveAction)).Methods(http.MethodPost)
	// An action's address opened in the browser shows its page.
	r.HandleFunc("/admin/reconciliation/{day}/differences/{id}/resolve", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, dayPath(mux.Vars(r)["day"]), http.StatusSeeOther)
	}).Methods(get...)
}

func dayPath(day string) string { return "/admin/reconciliation/" + url.PathEscape(day) }

// reconciliationError writes the answer to a reconciliation request that
// failed.
func (a *API) reconciliationError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, reconcile.ErrBadDay):
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "day must be a date YYYY-MM-DD, not in the future", Field: "day"})
	case errors.Is(err, reconcile.ErrNoteRequired):
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "a note is required: it goes in the audit trail", Field: "note"})
	case errors.Is(err, reconcile.ErrNoteTooLong):
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "the note must be at most 500 characters", Field: "note"})
	case errors.Is(err, reconcile.ErrNotFound):
		httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such difference (it may not have reached this region yet)"})
	case errors.Is(err, reconcile.ErrResolved):
		httperr.Write(w, httperr.Error{Status: http.StatusConflict, Code: "already_resolved", Message: "this difference is already resolved"})
	case errors.Is(err, reconcile.ErrNoSource):
		httperr.Write(w, httperr.Error{Status: http.StatusServiceUnavailable, Code: "settlement_file_unavailable", Message: "this region cannot read the acquirer's settlement files"})
	case errors.Is(err, reconcile.ErrSource):
		a.log.Warn("admin: read the acquirer's settlement file", "err", err)
		httperr.Write(w, httperr.Error{Status: http.StatusBadGateway, Code: "acquirer_unavailable", Message: "the acquirer's settlement file could not be read; nothing was recorded, try again later"})
	default:
		a.log.Error("admin: reconciliation", "err", err)
		writeInternal(w)
	}
}

func (a *API) noReconciliation(w http.ResponseWriter) bool {
	if a.recon != nil {
		return false
	}
	httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: "not_found", Message: "reconciliation is not enabled in this region"})
	return true
}

// reconciliationAPI is GET /admin/api/reconciliation: the latest days
// with runs, or with ?day= that day with its runs and differences.
func (a *API) reconciliationAPI(w http.ResponseWriter, r *http.Request, _ user) {
	if a.noReconciliation(w) {
		return
	}
	if day := r.URL.Query().Get("day"); day != "" || r.URL.Query().Has("day") {
		d, err := a.recon.Day(r.Context(), day)
		if err != nil {
			a.reconciliationError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, d)
		return
	}
	days, err := a.recon.Days(r.Context(), reconciliationDays)
	if err != nil {
		a.reconciliationError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"days": days})
}

// runAPI is POST /admin/api/reconciliation/runs {"day"}: reconcile the day
// now; the answer is the day.
func (a *API) runAPI(w http.ResponseWriter, r *http.Request, u user) {
	if a.noReconciliation(w) {
		return
	}
	var req struct {
		Day string `json:"day"`
	}
	if err := decodeStrict(r, &req); err != nil {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: err.Error()})
		return
	}
	d, err := a.recon.Run(r.Context(), strings.TrimSpace(req.Day), reconcile.Actor{Name: u.name, Role: u.role})
	if err != nil {
		a.reconciliationError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// resolveAPI is POST /admin/api/reconciliation/{day}/differences/{id}/resolve
// {"note"}: the answer is the resolved difference.
func (a *API) resolveAPI(w http.ResponseWriter, r *http.Request, u user) {
	if a.noReconciliation(w) {
		return
	}
	var req struct {
		Note string `json:"note"`
	}
	if err := decodeStrict(r, &req); err != nil {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: err.Error()})
		return
	}
	vars := mux.Vars(r)
	d, err := a.recon.Resolve(r.Context(), vars["day"], vars["id"], reconcile.Actor{Name: u.name, Role: u.role}, req.Note)
	if err != nil {
		a.reconciliationError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// reconciliationPage is GET /admin/reconciliation: the latest days with
// their latest run, and the form that runs a day.
type reconciliationPage struct {
	Days   []reconcile.Day
	CanAct bool
	Day    string // the run form's value
	Error  string // the run form's error
}

func (a *API) reconciliationPage(w http.ResponseWriter, r *http.Request, s session, v *view) {
	a.renderReconciliation(w, r, s, v, http.StatusOK, "", "")
}

func (a *API) renderReconciliation(w http.ResponseWriter, r *http.Request, s session, v *view, status int, day, msg string) {
	if a.recon == nil {
		a.notFound(w, r, v, "reconciliation")
		return
	}
	days, err := a.recon.Days(r.Context(), reconciliationDays)
	if err != nil {
		a.internalError(w, r, v, err)
		return
	}
	if day == "" {
		day = a.ui.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	}
	if msg != "" {
		v.Problems = append(v.Problems, problem{Target: "run-day", Message: msg})
	}
	v.Title, v.Section = "Reconciliation – kassa admin", "reconciliation"
	v.Main = &reconciliationPage{Days: days, CanAct: roleRank[s.user.role] >= roleRank["support"], Day: day, Error: msg}
	a.render(w, r, status, "reconciliation", v)
}

// runAction answers POST /admin/reconciliation/run (day).
func (a *API) runAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	if a.recon == nil {
		a.notFound(w, r, v, "reconciliation")
		return
	}
	day := strings.TrimSpace(r.PostForm.Get("day"))
	d, err := a.recon.Run(r.Context(), day, reconcile.Actor{Name: s.user.name, Role: s.user.role})
	switch {
	case errors.Is(err, reconcile.ErrBadDay):
		a.renderReconciliation(w, r, s, v, http.StatusUnprocessableEntity, day, "Enter a date as YYYY-MM-DD, today or earlier (UTC)")
		return
	case errors.Is(err, reconcile.ErrNoSource):
		a.done(w, r, s, "/admin/reconciliation", "error", "This region cannot read the acquirer's settlement files. Nothing was recorded.")
		return
	case errors.Is(err, reconcile.ErrSource):
		a.log.Warn("admin: read the acquirer's settlement file", "err", err)
		a.done(w, r, s, "/admin/reconciliation", "error", "The acquirer's settlement file of "+day+" could not be read. Nothing was recorded; try again later.")
		return
	case err != nil:
		a.internalError(w, r, v, err)
		return
	}
	a.done(w, r, s, dayPath(day), "success", "Reconciled "+day+": "+statusText(d)+".")
}

// statusText says what a day's state is, in words.
func statusText(d reconcile.Day) string {
	switch d.Status {
	case reconcile.StatusClean:
		return "clean"
	case reconcile.StatusNotRun:
		return "not run yet"
	case reconcile.StatusResolved:
		return "every difference resolved"
	}
	if d.Open == 1 {
		return "1 open difference"
	}
	return strconv.Itoa(d.Open) + " open differences"
}

// reconciliationDayPage is GET /admin/reconciliation/{day}.
type reconciliationDayPage struct {
	reconcile.Day
	StatusText string
	CanAct     bool
	Notes      map[string]string // a resolve form's note, by difference id
	Errors     map[string]string // a resolve form's error, by difference id
}

func (a *API) reconciliationDayPage(w http.ResponseWriter, r *http.Request, s session, v *view) {
	a.renderDay(w, r, s, v, http.StatusOK, nil, nil)
}

func (a *API) renderDay(w http.ResponseWriter, r *http.Request, s session, v *view, status int, notes, errs map[string]string) {
	if a.recon == nil {
		a.notFound(w, r, v, "reconciliation")
		return
	}
	day := mux.Vars(r)["day"]
	d, err := a.recon.Day(r.Context(), day)
	if errors.Is(err, reconcile.ErrBadDay) {
		a.notFound(w, r, v, "reconciliation of "+truncate(day, 32))
		return
	}
	if err != nil {
		a.internalError(w, r, v, err)
		return
	}
	for id, msg := range errs {
		v.Problems = append(v.Problems, problem{Target: "resolve-" + id + "-note", Message: msg})
	}
	v.Title, v.Section = "Reconciliation of "+day+" – kassa admin", "reconciliation"
	v.Main = &reconciliationDayPage{Day: d, StatusText: statusText(d), CanAct: roleRank[s.user.role] >= roleRank["support"], Notes: notes, Errors: errs}
	a.render(w, r, status, "reconciliation_day", v)
}

// resolveAction answers POST /admin/reconciliation/{day}/differences/{id}/resolve (note).
func (a *API) resolveAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	if a.recon == nil {
		a.notFound(w, r, v, "reconciliation")
		return
	}
	day, id := mux.Vars(r)["day"], mux.Vars(r)["id"]
	note := strings.TrimSpace(r.PostForm.Get("note"))
	_, err := a.recon.Resolve(r.Context(), day, id, reconcile.Actor{Name: s.user.name, Role: s.user.role}, note)
	switch {
	case errors.Is(err, reconcile.ErrNoteRequired):
		a.renderDay(w, r, s, v, http.StatusUnprocessableEntity, nil, map[string]string{id: "Enter a note saying how the difference was resolved: it goes in the audit trail"})
		return
	case errors.Is(err, reconcile.ErrNoteTooLong):
		a.renderDay(w, r, s, v, http.StatusUnprocessableEntity, map[string]string{id: note}, map[string]string{id: "The note must be 500 characters or fewer"})
		return
	case errors.Is(err, reconcile.ErrResolved):
		a.done(w, r, s, dayPath(day), "error", "This difference was already resolved. Nothing was changed.")
		return
	case errors.Is(err, reconcile.ErrNotFound), errors.Is(err, reconcile.ErrBadDay):
		a.notFound(w, r, v, "such difference")
		return
	case err != nil:
		a.internalError(w, r, v, err)
		return
	}
	a.done(w, r, s, dayPath(day), "success", "Difference resolved. Your note is recorded with your name.")
}

// diffValue shows a difference's expected or actual value: amounts in
// minor units as money, other words as they are.
func diffValue(s, currency string) string {
	if s == "" {
		return "–"
	}
	word, num, found := strings.Cut(s, " ")
	if !found {
		num, word = s, ""
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || currency == "" || word == "line" {
		return label(s)
	}
	if word == "" {
		return money(n, currency)
	}
	return word + " " + money(n, currency)
}
