package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"kassa/httperr"
)

// auditPerPage is how many staff actions one audit page shows.
const auditPerPage = 50

// AuditList is GET /admin/api/audit: staff actions, newest first.
type AuditList struct {
	Actions []AuditAction `json:"actions"`
	Page    int           `json:"page"`
	PerPage int           `json:"per_page"`
	Total   int           `json:"total"`
	More    bool          `json:"more"`
	// Truncated is true when this region has let go of older actions than
	// the MaxAuditActions newest; they stay on each order's timeline.
	Truncated bool `json:"truncated"`
	// Complete is false while the region has not yet read its whole
	// ledger (just after a start on a large region).
	Complete bool `json:"complete"`
}

// auditQuery reads the filter and page of an audit request; a bad value is
// a reason to refuse it.
func auditQuery(q url.Values) (auditFilter, int, string) {
	f := auditFilter{Staff: strings.TrimSpace(q.Get("staff")), Order: strings.TrimSpace(q.Get("order")),
		Consumer: strings.TrimSpace(q.Get("consumer"))}
	for _, v := range []string{f.Staff, f.Order, f.Consumer} {
		if len(v) > 64 || strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return f, 0, "staff, order and consumer are at most 64 characters of text"
		}
	}
	if f.Order != "" && !strings.HasPrefix(f.Order, "ord_") {
		return f, 0, "an order id starts with ord_"
	}
	if f.Consumer != "" && !strings.HasPrefix(f.Consumer, "con_") {
		return f, 0, "a consumer id starts with con_"
	}
	page := 1
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1_000_000 {
			return f, 0, "page is a whole number from 1"
		}
		page = n
	}
	return f, page, ""
}

// auditList reads one page of staff actions.
func (a *API) auditList(r *http.Request, f auditFilter, page int) (AuditList, error) {
	complete, err := a.feed.catchUp(r.Context(), requestBudget)
	if err != nil {
		return AuditList{}, err
	}
	skip := (page - 1) * auditPerPage
	acts, total, dropped := a.feed.audit(f, skip, auditPerPage)
	return AuditList{Actions: acts, Page: page, PerPage: auditPerPage, Total: total, More: skip+len(acts) < total,
		Truncated: dropped, Complete: complete}, nil
}

func (a *API) auditAPI(w http.ResponseWriter, r *http.Request, _ user) {
	f, page, bad := auditQuery(r.URL.Query())
	if bad != "" {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: bad})
		return
	}
	l, err := a.auditList(r, f, page)
	if err != nil {
		a.log.Error("admin: audit", "err", err)
		writeInternal(w)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

// auditPage is the audit page's data.
type auditPage struct {
	AuditList
	Filter    auditFilter
	Filtered  bool
	Problem   string
	PrevLink  string
	NextLink  string
	ClearLink string
	Kept      int
}

func auditLink(f auditFilter, page int) string {
	q := url.Values{}
	for k, v := range map[string]string{"staff": f.Staff, "order": f.Order, "consumer": f.Consumer} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	if len(q) == 0 {
		return "/admin/audit"
	}
	return "/admin/audit?" + q.Encode()
}

func (a *API) auditPageHandler(w http.ResponseWriter, r *http.Request, _ session, v *view) {
	f, page, bad := auditQuery(r.URL.Query())
	p := &auditPage{Filter: f, Filtered: f != auditFilter{}, ClearLink: "/admin/audit", Kept: MaxAuditActions}
	v.Title, v.Section, v.Main = "Audit trail – kassa admin", "audit", p
	if bad != "" {
		p.Problem = bad
		v.Problems = []problem{{Target: "audit-staff", Message: "The filter could not be used: " + bad + "."}}
		a.render(w, r, http.StatusBadRequest, "audit", v)
		return
	}
	l, err := a.auditList(r, f, page)
	if err != nil {
		a.internalError(w, r, v, err)
		return
	}
	p.AuditList = l
	if page > 1 {
		p.PrevLink = auditLink(f, page-1)
	}
	if l.More {
		p.NextLink = auditLink(f, page+1)
	}
	a.render(w, r, http.StatusOK, "audit", v)
}
