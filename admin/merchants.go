package admin

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"kassa/checkout"
	"kassa/httperr"
)

// Merchants onboarded here are ledger entries (merchant.created,
// merchant.secrets_rotated, merchant.disabled) naming the staff member;
// every region folds them into its merchant table. Only the admin role
// manages them, in the JSON API and in the pages.

func (a *API) merchantRoutes(api *mux.Router) {
	api.HandleFunc("/merchants", a.staff("admin", a.listMerchants)).Methods(http.MethodGet)
	api.HandleFunc("/merchants", a.staff("admin", a.createMerchant)).Methods(http.MethodPost)
	api.HandleFunc("/merchants/{id}/rotate", a.staff("admin", a.rotateMerchant)).Methods(http.MethodPost)
	api.HandleFunc("/merchants/{id}/disable", a.staff("admin", a.disableMerchant)).Methods(http.MethodPost)
}

func (a *API) merchantPageRoutes(r *mux.Router) {
	r.HandleFunc("/admin/merchants", a.page("admin", a.merchantsPage)).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/admin/merchants", a.page("admin", a.createMerchantAction)).Methods(http.MethodPost)
	r.HandleFunc("/admin/merchants/{id}/rotate", a.page("admin", a.rotateMerchantAction)).Methods(http.MethodPost)
	r.HandleFunc("/admin/merchants/{id}/disable", a.page("admin", a.disableMerchantAction)).Methods(http.MethodPost)
}

// merchantError writes the answer to a merchant action that failed.
func (a *API) merchantError(w http.ResponseWriter, err error) {
	var fe *checkout.FieldError
	switch {
	case errors.As(err, &fe):
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: fe.Message, Field: fe.Field})
	case errors.Is(err, checkout.ErrMerchantExists):
		httperr.Write(w, httperr.Error{Status: http.StatusConflict, Code: "merchant_exists", Message: "a merchant with this id exists", Field: "id"})
	case errors.Is(err, checkout.ErrMerchantConfigured):
		httperr.Write(w, httperr.Error{Status: http.StatusConflict, Code: "merchant_configured", Message: "this merchant is configured in config.yaml; change it there", Field: "id"})
	case errors.Is(err, checkout.ErrMerchantDisabled):
		httperr.Write(w, httperr.Error{Status: http.StatusConflict, Code: "merchant_disabled", Message: "this merchant is disabled"})
	case errors.Is(err, checkout.ErrNotFound):
		httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such merchant (it may not have reached this region yet)"})
	default:
		a.log.Error("admin: merchant action", "err", err)
		writeInternal(w)
	}
}

func (a *API) listMerchants(w http.ResponseWriter, r *http.Request, _ user) {
	ms, err := a.svc.Merchants(r.Context())
	if err != nil {
		a.merchantError(w, err)
		return
	}
	if ms == nil {
		ms = []checkout.MerchantInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"merchants": ms})
}

func (a *API) createMerchant(w http.ResponseWriter, r *http.Request, u user) {
	var req struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Reason string `json:"reason"`
	}
	if err := decodeStrict(r, &req); err != nil {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: err.Error()})
		return
	}
	if len(req.Reason) > maxReason {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "reason must be at most 500 characters", Field: "reason"})
		return
	}
	out, err := a.svc.CreateMerchant(r.Context(), actor(u, strings.TrimSpace(req.Reason)), req.ID, req.Name)
	if err != nil {
		a.merchantError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// rotateRequest is POST /admin/api/merchants/{id}/rotate. APISecret
// defaults to true when neither secret is named.
type rotateRequest struct {
	APISecret     *bool  `json:"api_secret"`
	WebhookSecret bool   `json:"webhook_secret"`
	Grace         string `json:"grace"` // a Go duration, e.g. "24h"; default 24h
	Reason        string `json:"reason"`
}

func (a *API) rotateMerchant(w http.ResponseWriter, r *http.Request, u user) {
	var req rotateRequest
	if err := decodeStrict(r, &req); err != nil {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: err.Error()})
		return
	}
	grace, err := parseGrace(req.Grace)
	if err != nil {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: err.Error(), Field: "grace"})
		return
	}
	reason := strings.TrimSpace(req.Reason)
	if reason == "" || len(reason) > maxReason {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "reason is required (at most 500 characters): it goes in the audit trail", Field: "reason"})
		return
	}
	api := req.APISecret == nil || *req.APISecret
	out, err := a.svc.RotateMerchant(r.Context(), actor(u, reason), mux.Vars(r)["id"], api, req.WebhookSecret, grace)
	if err != nil {
		a.merchantError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) disableMerchant(w http.ResponseWriter, r *http.Request, u user) {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := decodeStrict(r, &req); err != nil {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: err.Error()})
		return
	}
	reason := strings.TrimSpace(req.Reason)
	if reason == "" || len(reason) > maxReason {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "reason is required (at most 500 characters): it goes in the audit trail", Field: "reason"})
		return
	}
	id := mux.Vars(r)["id"]
	if err := a.svc.DisableMerchant(r.Context(), actor(u, reason), id); err != nil {
		a.merchantError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id, "status": "disabled"})
}

// parseGrace reads a rotation's grace period: empty is the default.
func parseGrace(s string) (time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return checkout.DefaultRotationGrace, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 || d > checkout.MaxRotationGrace {
		return 0, errors.New("grace must be a duration from 0s to 168h (7 days), e.g. 24h")
	}
	if d == 0 {
		// The old secret stops at once; RotateMerchant reads 0 as the
		// default, so ask for the smallest grace instead.
		d = time.Millisecond
	}
	return d, nil
}

// merchantsPage is GET /admin/merchants: every merchant this region knows,
// the form that creates one, and each ledger merchant's rotate and disable
// forms.
type merchantsPage struct {
	Merchants []checkout.MerchantInfo
	Values    map[string]string
	Errors    map[string]string
}

func (a *API) merchantsPage(w http.ResponseWriter, r *http.Request, s session, v *view) {
	a.renderMerchants(w, r, v, http.StatusOK, nil, nil)
}

func (a *API) renderMerchants(w http.ResponseWriter, r *http.Request, v *view, status int, values, errs map[string]string) {
	ms, err := a.svc.Merchants(r.Context())
	if err != nil {
		a.internalError(w, r, v, err)
		return
	}
	for id, msg := range errs {
		v.Problems = append(v.Problems, problem{Target: id, Message: msg})
	}
	v.Title, v.Section, v.Main = "Merchants – kassa admin", "merchants", &merchantsPage{Merchants: ms, Values: values, Errors: errs}
	a.render(w, r, status, "merchants", v)
}

// secretsPage shows a merchant's new secrets, once: the page is not
// cached, and nothing can show them again.
type secretsPage struct {
	Heading string
	checkout.MerchantSecrets
}

func (a *API) showSecrets(w http.ResponseWriter, r *http.Request, v *view, status int, heading string, out checkout.MerchantSecrets) {
	v.Title, v.Section, v.Main = heading+" – kassa admin", "merchants", &secretsPage{Heading: heading, MerchantSecrets: out}
	a.render(w, r, status, "merchant_secrets", v)
}

// createMerchantAction answers POST /admin/merchants (id, name, reason):
// the new merchant's secrets, shown on the answer itself.
func (a *API) createMerchantAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	id, name := strings.TrimSpace(r.PostForm.Get("id")), strings.TrimSpace(r.PostForm.Get("name"))
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	values := map[string]string{"merchant-id": id, "merchant-name": name, "merchant-reason": reason}
	if len(reason) > maxReason {
		a.renderMerchants(w, r, v, http.StatusUnprocessableEntity, values, map[string]string{"merchant-reason": "The reason must be 500 characters or fewer"})
		return
	}
	out, err := a.svc.CreateMerchant(r.Context(), actor(s.user, reason), id, name)
	var fe *checkout.FieldError
	switch {
	case errors.As(err, &fe):
		a.renderMerchants(w, r, v, http.StatusUnprocessableEntity, values, map[string]string{"merchant-" + fe.Field: "The " + fe.Field + " " + fe.Message})
		return
	case errors.Is(err, checkout.ErrMerchantExists), errors.Is(err, checkout.ErrMerchantConfigured):
		a.renderMerchants(w, r, v, http.StatusConflict, values, map[string]string{"merchant-id": "A merchant with this id exists; choose another id"})
		return
	case err != nil:
		a.internalError(w, r, v, err)
		return
	}
	a.showSecrets(w, r, v, http.StatusCreated, "Merchant "+out.ID+" created", out)
}

// rotateMerchantAction answers POST /admin/merchants/{id}/rotate
// (secrets: api, webhook or both; grace; reason).
func (a *API) rotateMerchantAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	id := mux.Vars(r)["id"]
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	target := "rotate-" + id
	grace, gerr := parseGrace(r.PostForm.Get("grace"))
	errs := map[string]string{}
	switch {
	case gerr != nil:
		errs[target+"-grace"] = "The grace period must be a duration from 0s to 168h, for example 24h"
	case reason == "":
		errs[target+"-reason"] = "Enter a reason for the rotation: it goes in the audit trail"
	case len(reason) > maxReason:
		errs[target+"-reason"] = "The reason must be 500 characters or fewer"
	}
	if len(errs) > 0 {
		a.renderMerchants(w, r, v, http.StatusUnprocessableEntity, map[string]string{target + "-reason": reason, target + "-grace": r.PostForm.Get("grace")}, errs)
		return
	}
	which := r.PostForm.Get("secrets")
	api, webhook := which != "webhook", which == "webhook" || which == "both"
	out, err := a.svc.RotateMerchant(r.Context(), actor(s.user, reason), id, api, webhook, grace)
	if err != nil {
		a.merchantPageError(w, r, s, v, id, err)
		return
	}
	a.showSecrets(w, r, v, http.StatusOK, "New secrets for "+out.ID, out)
}

// disableMerchantAction answers POST /admin/merchants/{id}/disable
// (reason).
func (a *API) disableMerchantAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	id := mux.Vars(r)["id"]
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	target := "disable-" + id + "-reason"
	switch {
	case reason == "":
		a.renderMerchants(w, r, v, http.StatusUnprocessableEntity, nil, map[string]string{target: "Enter a reason for disabling " + id + ": it goes in the audit trail"})
		return
	case len(reason) > maxReason:
		a.renderMerchants(w, r, v, http.StatusUnprocessableEntity, map[string]string{target: reason}, map[string]string{target: "The reason must be 500 characters or fewer"})
		return
	}
	if err := a.svc.DisableMerchant(r.Context(), actor(s.user, reason), id); err != nil {
		a.merchantPageError(w, r, s, v, id, err)
		return
	}
	a.done(w, r, s, "/admin/merchants", "success", "Merchant "+id+" is disabled: its API calls are refused in every region once the entry has replicated.")
}

func (a *API) merchantPageError(w http.ResponseWriter, r *http.Request, s session, v *view, id string, err error) {
	switch {
	case errors.Is(err, checkout.ErrNotFound):
		a.notFound(w, r, v, "merchant "+truncate(id, 64))
	case errors.Is(err, checkout.ErrMerchantConfigured):
		a.done(w, r, s, "/admin/merchants", "error", "Merchant "+id+" is configured in config.yaml: change it there. Nothing was changed.")
	case errors.Is(err, checkout.ErrMerchantDisabled):
		a.done(w, r, s, "/admin/merchants", "error", "Merchant "+id+" is disabled. Nothing was changed.")
	default:
		a.internalError(w, r, v, err)
	}
}
