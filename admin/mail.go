package admin

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"kassa/httperr"
	"kassa/mail"
)

// The development mailbox is read, never changed, here: any role may see
// it, as a page (/admin/mail) and as JSON (/admin/api/mail?to=). A region
// that sends with SMTP has no mailbox; both say so.

// Mailbox is what admin needs of the development mailbox (a
// *mail.Mailbox).
type Mailbox interface {
	Messages(ctx context.Context, to string) ([]mail.Received, error)
}

// WithMailbox makes m the source of the mail page and API; without it
// (nil: the region sends with SMTP) they say the mailbox is off. Call it
// before serving.
func (a *API) WithMailbox(m Mailbox) *API {
	a.mailbox = m
	return a
}

func (a *API) mailRoutes(api, r *mux.Router) {
	api.HandleFunc("/mail", a.staff("viewer", a.mailAPI)).Methods(http.MethodGet)
	r.HandleFunc("/admin/mail", a.page("viewer", a.mailPage)).Methods(http.MethodGet, http.MethodHead)
}

// mailList is the answer of GET /admin/api/mail.
type mailList struct {
	Messages []mail.Received `json:"messages"`
}

// mailTo reads the "to" query field: the address normalised, or as given
// with the reason it is bad.
func mailTo(q url.Values) (string, string) {
	to := strings.TrimSpace(q.Get("to"))
	if to == "" {
		return "", "is required: the recipient's email address"
	}
	addr, err := mail.ParseAddress(to)
	if err != nil {
		return to, "must be an email address such as name@example.com"
	}
	return addr, ""
}

func (a *API) mailAPI(w http.ResponseWriter, r *http.Request, _ user) {
	to, bad := mailTo(r.URL.Query())
	if bad != "" {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "to " + bad, Field: "to"})
		return
	}
	if a.mailbox == nil {
		httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: "mailbox_off", Message: "this region sends email with SMTP: the development mailbox is off"})
		return
	}
	ms, err := a.mailbox.Messages(r.Context(), to)
	if err != nil {
		a.log.Error("admin: read the mailbox", "to", mail.MaskAddress(to), "err", err)
		writeInternal(w)
		return
	}
	writeJSON(w, http.StatusOK, mailList{Messages: ms})
}

// mailView is the mail page's data.
type mailView struct {
	Off      bool
	To       string
	ToErr    string
	Searched bool // the address was good and looked up
	Messages []mailRow
	Open     *mail.Received // the message shown in full
	Copies   int            // deliveries of the open message
}

// mailRow is one message in the page's list.
type mailRow struct {
	mail.Received
	Link string
	Open bool
}

func (a *API) mailPage(w http.ResponseWriter, r *http.Request, _ session, v *view) {
	p := &mailView{Off: a.mailbox == nil}
	v.Title, v.Section, v.Main = "Mail – kassa admin", "mail", p
	q := r.URL.Query()
	if p.Off || (q.Get("to") == "" && q.Get("id") == "") {
		a.render(w, r, http.StatusOK, "mail", v)
		return
	}
	to, bad := mailTo(q)
	p.To = to
	if bad != "" {
		p.ToErr = "Email address " + bad + "."
		v.Problems = []problem{{Target: "mail-to", Message: p.ToErr}}
		a.render(w, r, http.StatusBadRequest, "mail", v)
		return
	}
	ms, err := a.mailbox.Messages(r.Context(), to)
	if err != nil {
		a.internalError(w, r, v, err)
		return
	}
	p.Searched = true
	id := q.Get("id")
	for i := range ms {
		m := &ms[i]
		row := mailRow{Received: *m, Link: "/admin/mail?" + url.Values{"to": {to}, "id": {m.ID}}.Encode() + "#message"}
		if id != "" && m.ID == id {
			row.Open = true
			p.Copies++
			if p.Open == nil {
				p.Open = m
			}
		}
		p.Messages = append(p.Messages, row)
	}
	status := http.StatusOK
	if id != "" && p.Open == nil {
		status = http.StatusNotFound
		v.Problems = []problem{{Target: "mail-list", Message: "No message with that id was sent to this address."}}
	}
	a.render(w, r, status, "mail", v)
}
