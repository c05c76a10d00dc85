package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"kassa/checkout"
	"kassa/scoring"
)

// consumerPage is GET /admin/consumers/{id}: what this region knows of a
// consumer's credit, per currency, and the consumer's credit orders.
type consumerPage struct {
	ID    checkout.ConsumerID
	Email string // masked, from one of the orders
	Home  string
	Mode  scoring.Mode
	Lines []linePage
}

type linePage struct {
	scoring.LineView
	// Balance is the credit balance kassa owes the consumer in the
	// line's currency: overpayments.
	Balance int64
	Regions []regionRights
	Orders  []orderRow
	More    int // orders not listed
}

type regionRights struct {
	Region string
	Rights string
	Home   bool
}

// maxConsumerOrders bounds the orders a consumer page reads one by one.
const maxConsumerOrders = 50

func (a *API) consumerPage(w http.ResponseWriter, r *http.Request, _ session, v *view) {
	id := mux.Vars(r)["id"]
	if a.credit == nil {
		a.notFound(w, r, v, "credit engine in this region, so no consumer")
		return
	}
	if !strings.HasPrefix(id, "con_") || len(id) > 64 {
		a.notFound(w, r, v, "consumer "+truncate(id, 64))
		return
	}
	c, err := a.credit.Consumer(r.Context(), checkout.ConsumerID(id))
	if err != nil {
		a.internalError(w, r, v, err)
		return
	}
	if len(c.Lines) == 0 {
		a.notFound(w, r, v, "credit known to this region for consumer "+id)
		return
	}
	p := &consumerPage{ID: c.ID, Home: c.Home, Mode: c.Mode}
	for _, l := range c.Lines {
		lp := linePage{LineView: l}
		if lp.Balance, err = a.svc.Balance(r.Context(), c.ID, l.Currency); err != nil {
			a.internalError(w, r, v, err)
			return
		}
		for _, region := range sortedRegions(l.Rights) {
			lp.Regions = append(lp.Regions, regionRights{Region: region, Rights: money(l.Rights[region], l.Currency), Home: region == c.Home})
		}
		// The credit engine keeps only a line's newest orders; the
		// count covers them all.
		if n := l.CreditOrders - int64(min(len(l.Orders), maxConsumerOrders)); n > 0 {
			lp.More = int(n)
		}
		for i, oid := range l.Orders {
			if i == maxConsumerOrders {
				break
			}
			o, err := a.svc.Order(r.Context(), "", oid)
			if errors.Is(err, checkout.ErrNotFound) {
				lp.Orders = append(lp.Orders, orderRow{ID: string(oid), Status: "not here yet"})
				continue
			}
			if err != nil {
				a.internalError(w, r, v, err)
				return
			}
			if p.Email == "" && o.Consumer != nil {
				p.Email = o.Consumer.Email
			}
			lp.Orders = append(lp.Orders, rowOf(o))
		}
		p.Lines = append(p.Lines, lp)
	}
	v.Title, v.Main = "Consumer "+id+" – kassa admin", p
	a.render(w, r, http.StatusOK, "consumer", v)
}

func sortedRegions(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// modePage is GET /admin/mode: the region's degradation mode, who set it
// and why, and (for admins) the form that switches it.
type modePage struct {
	Mode      scoring.Mode
	Modes     []modeOption
	CanSwitch bool
	Reason    string
	Errors    map[string]string
	History   []modeChange
}

type modeOption struct {
	Value, Label, Hint string
	Current, Checked   bool
}

type modeChange struct {
	At                  time.Time
	Region, Mode, Staff string
	Reason              string
}

var modeHints = []modeOption{
	{Value: string(scoring.ModeNormal), Label: "Normal", Hint: "Decide from the scorecard; when rights cannot be had in time, approve from the region's unsecured budget."},
	{Value: string(scoring.ModeConservative), Label: "Conservative", Hint: "Raise the cut-offs by the policy's margin and never spend the unsecured budget."},
	{Value: string(scoring.ModeCardOnly), Label: "Card only", Hint: "Answer every pay-later and pay-in-3 request with card only."},
	{Value: string(scoring.ModePayLaterOff), Label: "Pay later off", Hint: "Turn off invoices (pay later); pay in 3 and card stay on."},
}

func (a *API) modePage(w http.ResponseWriter, r *http.Request, s session, v *view) {
	a.renderMode(w, r, s, v, http.StatusOK, "", "", nil)
}

func (a *API) renderMode(w http.ResponseWriter, r *http.Request, s session, v *view, status int, checked, reason string, errs map[string]string) {
	if a.credit == nil {
		a.notFound(w, r, v, "credit engine in this region, so no mode")
		return
	}
	current := a.credit.Policy().Mode
	if checked == "" {
		checked = string(current)
	}
	p := &modePage{Mode: current, CanSwitch: roleRank[s.user.role] >= roleRank["admin"], Reason: reason, Errors: errs}
	for _, m := range modeHints {
		m.Current, m.Checked = m.Value == string(current), m.Value == checked
		p.Modes = append(p.Modes, m)
	}
	region := string(a.store.Region())
	es, err := a.store.EntriesBySubject(r.Context(), "mode:"+region)
	if err != nil {
		a.internalError(w, r, v, err)
		return
	}
	for i := len(es) - 1; i >= 0 && len(p.History) < 10; i-- {
		var d struct{ Mode, Staff, Reason string }
		if es[i].Kind != scoring.KindModeSet || json.Unmarshal(es[i].Data, &d) != nil {
			continue
		}
		p.History = append(p.History, modeChange{At: es[i].HLC.Time(), Region: string(es[i].Origin), Mode: d.Mode, Staff: d.Staff, Reason: d.Reason})
	}
	for id, msg := range errs {
		v.Problems = append(v.Problems, problem{Target: id, Message: msg})
	}
	v.Title, v.Section, v.Main = "Degradation mode – kassa admin", "mode", p
	a.render(w, r, status, "mode", v)
}

// modeAction answers POST /admin/mode (mode, reason): admins only. The
// scoring.mode entry it writes names the staff member and the reason: it
// is the audit trail, and carries the mode across a restart.
func (a *API) modeAction(w http.ResponseWriter, r *http.Request, s session, v *view) {
	if a.credit == nil {
		a.notFound(w, r, v, "credit engine in this region, so no mode")
		return
	}
	raw := r.PostForm.Get("mode")
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	errs := map[string]string{}
	m, err := scoring.ParseMode(raw)
	if err != nil || raw == "" {
		errs["mode-"+string(scoring.ModeNormal)] = "Choose one of the modes"
	}
	switch {
	case reason == "":
		errs["mode-reason"] = "Enter a reason: it goes in the audit trail"
	case len(reason) > maxReason:
		errs["mode-reason"] = fmt.Sprintf("The reason must be %d characters or fewer", maxReason)
	}
	if len(errs) > 0 {
		a.renderMode(w, r, s, v, http.StatusUnprocessableEntity, string(m), reason, errs)
		return
	}
	if err := a.credit.SetMode(r.Context(), m, actor(s.user, reason)); err != nil {
		a.internalError(w, r, v, fmt.Errorf("set mode: %w", err))
		return
	}
	a.done(w, r, s, "/admin/mode", "success", "This region is now in "+label(string(m))+" mode.")
}
