// Package admin owns what support staff use: staff authentication and roles,
// the admin web UI under /admin/ (sign-in, search, an order with its full
// entry timeline and the region that wrote each entry, a consumer's credit,
// the region's degradation mode, actions on orders, and staff management)
// and the admin JSON API under /admin/api/ with the same data.
//
// Invariants: every request is authenticated (HTTP Basic with staff
// credentials, or the UI's signed session cookie; passwords are kept only
// as hashes and compared in constant time); a request made with the cookie
// that changes anything carries the session's CSRF token; only the support
// and admin roles may act, and only admin may switch the mode or manage
// staff; staff are the configured ones overlaid with the replicated staff.*
// entries, folded in before every look-up (a disabled user is refused and
// their sessions end as soon as the entry is here); admins also manage
// merchants. Every action is recorded in the ledger naming the staff
// member and their role (and, for actions on orders, credit, the mode and
// merchants, the reason), so the audit trail replicates with everything
// else. An action that writes an entry (a refund, a cancel, a repayment, a
// limit change, a mode switch, a capture, a release, an extension, a
// merchant's creation, rotation or disable)
// carries them in that entry's data, in the same commit; one that writes
// none of its own (a webhook resend) writes a staff.action entry first and
// does nothing if that fails.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"kassa/checkout"
	"kassa/checkout/webhook"
	"kassa/httperr"
	"kassa/ledger"
	"kassa/outbox"
	"kassa/ratelimit"
)

// Staff is a support user as configured.
type Staff struct {
	Username, Password, Role string
}

type user struct {
	name string
	// hash is what a session is bound to: the SHA-256 of a configured
	// password, or of the argon2id hash from the ledger (phc).
	hash [32]byte
	phc  string
	role string
}

// Webhooks is what admin needs of webhook delivery.
type Webhooks interface {
	Deliveries(ctx context.Context, order checkout.OrderID) ([]outbox.Delivery, error)
	Resend(ctx context.Context, eventID string) error
}

// API serves the admin web UI under /admin/ and the admin JSON API under
// /admin/api/. Configure it (WithCredit, WithUI) before serving; then it is
// safe for concurrent use.
type API struct {
	store    *ledger.Store
	svc      *checkout.Service
	webhooks Webhooks
	credit   Credit
	// invoices and validReference match imported repayments by payment
	// reference (WithInvoices); nil: by order id only.
	invoices       Invoices
	validReference func(string) bool
	recon          Reconciliation
	health         Health
	feed           *feed
	staffDir       *directory
	log            *slog.Logger

	ui       UI
	sessions *sessions
	throttle *ratelimit.Throttle
	pages    map[string]*template.Template

	settlements Settlements // WithSettlements
	mailbox     Mailbox     // WithMailbox
}

// New returns the admin API and UI. It draws the key that signs the UI's
// session cookies from crypto/rand.
func New(store *ledger.Store, svc *checkout.Service, webhooks Webhooks, staff []Staff, log *slog.Logger) *API {
	a := &API{store: store, svc: svc, webhooks: webhooks, staffDir: newDirectory(store, staff, log), log: log}
	a.sessions = newSessions(DefaultSessionTTL, time.Now)
	a.feed = newFeed(store, svc, time.Now, log)
	a.pages = parsePages()
	return a.WithUI(UI{})
}

// Routes registers the admin API and the admin pages on r.
func (a *API) Routes(r *mux.Router) {
	api := r.PathPrefix("/admin/api").Subrouter()
	api.HandleFunc("/orders/{id}", a.staff("viewer", a.order)).Methods(http.MethodGet)
	api.HandleFunc("/search", a.staff("viewer", a.searchAPI)).Methods(http.MethodGet)
	api.HandleFunc("/orders/{id}/webhooks/{event}/resend", a.staff("support", a.resend)).Methods(http.MethodPost)
	api.HandleFunc("/dashboard", a.staff("viewer", a.dashboardAPI)).Methods(http.MethodGet)
	api.HandleFunc("/audit", a.staff("viewer", a.auditAPI)).Methods(http.MethodGet)
	a.creditRoutes(api)
	a.staffRoutes(api, r)
	a.merchantRoutes(api)
	a.reconciliationRoutes(api, r)
	a.settlementRoutes(api, r)
	a.mailRoutes(api, r)
	a.pageRoutes(r)
}

var roleRank = map[string]int{"viewer": 1, "support": 2, "admin": 3}

// attempt checks a sign-in of name with pass from client under the
// throttle, which both the sign-in form and HTTP Basic count against. It
// returns the user when the password is right; a refusal when the
// throttle does not let the password be checked; neither when the name or
// the password is wrong. A name longer than ratelimit.MaxName is wrong
// without a look (no staff name is that long) and counts against the
// address only.
func (a *API) attempt(ctx context.Context, client, name, pass string) (user, *ratelimit.Refusal, bool) {
	if len(name) > ratelimit.MaxName {
		a.throttle.Failed(client, name)
		a.log.Warn("admin: failed sign-in", "client", client, "reason", "name too long")
		return user{}, nil, false
	}
	if r, refused := a.throttle.Refused(client, name); refused {
		a.log.Warn("admin: sign-in throttled", "client", client, "scope", scope(r), "retry_after", r.RetryAfter())
		return user{}, &r, false
	}
	u, ok := a.check(ctx, name, pass)
	if !ok {
		a.throttle.Failed(client, name)
		// Not the name: staff sometimes type a password into it.
		a.log.Warn("admin: failed sign-in", "client", client)
		return user{}, nil, false
	}
	a.throttle.Succeeded(client, name)
	return u, nil, true
}

// scope names what a throttle refusal covers, for the log.
func scope(r ratelimit.Refusal) string {
	switch {
	case r.Address:
		return "address"
	case r.Targeted:
		return "targeted name from address"
	}
	return "name from address"
}

// refusalText says truthfully why a sign-in was not checked.
func refusalText(r ratelimit.Refusal) string {
	wait := "1 minute"
	if m := (r.RetryAfter() + 59) / 60; m > 1 {
		wait = strconv.Itoa(m) + " minutes"
	}
	switch {
	case r.Address:
		return "Too many failed sign-ins from your address. Try again in " + wait + "."
	case r.Targeted:
		return "Too many failed sign-ins for this username from your address. It has had many failed sign-ins from other addresses too, so each address has fewer tries for now. Try again in " + wait + "."
	}
	return "Too many failed sign-ins for this username from your address. Try again in " + wait + "."
}

// dummyHash is checked for an unknown name, so that a sign-in takes as
// long whether the name exists or not.
// It is made on first use: no program pays for it at start.
var dummyHash = sync.OnceValue(func() string { return hashPassword("kassa: no such staff member") })

// check compares an active staff member's password in constant time, and
// takes as long for an unknown or disabled name.
func (a *API) check(ctx context.Context, name, pass string) (user, bool) {
	h := sha256.Sum256([]byte(pass))
	u, known := a.staffDir.lookup(ctx, name)
	switch {
	case !known && a.staffDir.hasLedgerStaff():
		verifyPassword(dummyHash(), pass)
		return user{}, false
	case !known:
		subtle.ConstantTimeCompare(h[:], h[:])
		return user{}, false
	case u.phc != "":
		return u, verifyPassword(u.phc, pass)
	}
	return u, subtle.ConstantTimeCompare(h[:], u.hash[:]) == 1
}

// lookup returns the active staff member called name.
func (a *API) lookup(ctx context.Context) func(name string) (user, bool) {
	return func(name string) (user, bool) { return a.staffDir.lookup(ctx, name) }
}

type staffHandler func(w http.ResponseWriter, r *http.Request, u user)

// staff authenticates a JSON API request by HTTP Basic or, failing that,
// by the UI's session cookie; with the cookie, a method that changes
// anything must carry the session's CSRF token in X-CSRF-Token (a page on
// another site can make the browser send the cookie, not the token).
func (a *API) staff(role string, h staffHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !safeMethod(r.Method) {
			// A page on another site can make a browser send a form
			// (urlencoded, multipart or text/plain, whose body can spell
			// JSON) with cached credentials; it cannot send a JSON content
			// type without a preflight, nor hide that it is cross-site.
			if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
				httperr.Write(w, httperr.Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "send JSON with Content-Type: application/json"})
				return
			}
			if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
				httperr.Write(w, httperr.Error{Status: http.StatusForbidden, Code: "cross_site", Message: "the admin API does not take requests from other sites"})
				return
			}
		}
		var u user
		name, pass, basic := r.BasicAuth()
		ok := false
		if basic {
			// Basic credentials count against the same throttle as the
			// sign-in form: guessing through the API is no faster.
			var refusal *ratelimit.Refusal
			u, refusal, ok = a.attempt(r.Context(), ratelimit.ClientKey(r), name, pass)
			if refusal != nil {
				httperr.Write(w, httperr.Error{Status: http.StatusTooManyRequests, Code: "too_many_attempts",
					Message: refusalText(*refusal), RetryAfter: refusal.RetryAfter()})
				return
			}
		}
		if !basic && r.Header.Get("Authorization") == "" {
			if s, signedIn := a.sessions.read(r, a.lookup(r.Context())); signedIn {
				if !safeMethod(r.Method) && !a.sessions.csrfOK(s, r.Header.Get(csrfHeader)) {
					httperr.Write(w, httperr.Error{Status: http.StatusForbidden, Code: "csrf_token_required",
						Message: "with the session cookie, send the page's CSRF token in the " + csrfHeader + " header"})
					return
				}
				u, ok = s.user, true
			}
		}
		if !ok {
			// No Basic challenge: a browser that prompted for and cached
			// the credentials would then send them on other sites' forms.
			httperr.Write(w, httperr.Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "sign in with staff credentials (HTTP Basic, or the admin UI's session)"})
			return
		}
		if roleRank[u.role] < roleRank[role] {
			httperr.Write(w, httperr.Error{Status: http.StatusForbidden, Code: "forbidden", Message: "your role (" + u.role + ") may not do this"})
			return
		}
		h(w, r, u)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// TimelineEntry is one ledger entry as support staff see it.
type TimelineEntry struct {
	ID       string           `json:"id"`
	Region   string           `json:"region"`
	Seq      uint64           `json:"seq"`
	At       time.Time        `json:"at"`
	Kind     string           `json:"kind"`
	Postings []ledger.Posting `json:"postings"`
	Data     json.RawMessage  `json:"data,omitempty"`
}

// OrderView is GET /admin/api/orders/{id}.
type OrderView struct {
	Order    checkout.Order    `json:"order"`
	Entries  []TimelineEntry   `json:"entries"`
	Webhooks []outbox.Delivery `json:"webhooks"`
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func (a *API) order(w http.ResponseWriter, r *http.Request, _ user) {
	id := checkout.OrderID(mux.Vars(r)["id"])
	view, err := a.orderView(r.Context(), id)
	if errors.Is(err, checkout.ErrNotFound) {
		httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such order"})
		return
	}
	if err != nil {
		a.log.Error("admin: read order", "order", id, "err", err)
		writeInternal(w)
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// orderView reads an order with its entries (oldest first, as the store
// orders them) and its webhook deliveries. It returns checkout.ErrNotFound
// for an unknown order.
func (a *API) orderView(ctx context.Context, id checkout.OrderID) (OrderView, error) {
	o, err := a.svc.Order(ctx, "", id)
	if err != nil {
		return OrderView{}, err
	}
	view := OrderView{Order: o, Entries: []TimelineEntry{}, Webhooks: []outbox.Delivery{}}
	es, err := a.store.EntriesBySubject(ctx, string(id))
	if err != nil {
		return OrderView{}, err
	}
	for _, e := range es {
		view.Entries = append(view.Entries, TimelineEntry{ID: e.ID().String(), Region: string(e.Origin), Seq: e.Seq,
			At: e.HLC.Time(), Kind: e.Kind, Postings: e.Postings, Data: e.Data})
	}
	if a.webhooks != nil {
		if ds, err := a.webhooks.Deliveries(ctx, id); err == nil && ds != nil {
			view.Webhooks = ds
		}
	}
	return view, nil
}

func (a *API) resend(w http.ResponseWriter, r *http.Request, u user) {
	id := checkout.OrderID(mux.Vars(r)["id"])
	event := mux.Vars(r)["event"]
	if a.webhooks == nil {
		httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: "not_found", Message: "webhooks are not enabled"})
		return
	}
	ds, err := a.webhooks.Deliveries(r.Context(), id)
	if err != nil {
		httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such order"})
		return
	}
	found := false
	for _, d := range ds {
		found = found || d.EventID == event
	}
	if !found {
		httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: "not_found", Message: "this order has no such webhook event"})
		return
	}
	// A resend writes no entry of its own, so its staff.action entry is
	// its ledger record: written first, and without it nothing is resent.
	if err := a.audit(r.Context(), u, string(id), "webhook.resend", map[string]string{"event": event}); err != nil {
		a.log.Error("admin: record webhook resend", "event", event, "err", err)
		writeInternal(w)
		return
	}
	if err := a.webhooks.Resend(r.Context(), event); err != nil {
		switch {
		case errors.Is(err, checkout.ErrNotFound):
			httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such webhook event"})
			return
		case errors.Is(err, webhook.ErrNoNotificationURL):
			httperr.Write(w, httperr.Error{Status: http.StatusConflict, Code: "no_notification_url", Message: "the order's session has no notification URL"})
			return
		}
		a.log.Error("admin: resend webhook", "event", event, "err", err)
		writeInternal(w)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued", "event": event})
}

// actor is u acting for reason, as checkout and scoring record it.
func actor(u user, reason string) checkout.Actor {
	return checkout.Actor{Staff: u.name, Role: u.role, Reason: reason}
}

// audit records, as a staff.action entry, an action that writes no entry
// of its own.
func (a *API) audit(ctx context.Context, u user, subject, action string, detail map[string]string) error {
	data, _ := json.Marshal(map[string]any{"staff": u.name, "role": u.role, "action": action, "detail": detail})
	_, err := a.store.Append(context.WithoutCancel(ctx), ledger.Draft{Kind: KindStaffAction, Subject: subject, Data: data})
	return err
}
