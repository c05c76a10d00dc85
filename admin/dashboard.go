package admin

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"kassa/account"
	"kassa/backup"
	"kassa/httperr"
	regionsync "kassa/sync"
)

// Health is what the dashboard reads of the region beyond its ledger. Any
// field may be nil; the dashboard then says it does not know.
type Health struct {
	// Ready reports whether the region takes traffic (/readyz).
	Ready func() bool
	// Sync reports the peers as /sync/v1/status does.
	Sync func() regionsync.Status
	// Backup asks the replica how far it is (it does I/O).
	Backup func(context.Context) (backup.Status, error)
}

// WithHealth adds what the dashboard shows of the region's health. Call it
// before serving.
func (a *API) WithHealth(h Health) *API {
	a.health = h
	return a
}

// Run keeps the dashboard's series and the audit page's list current by
// following the ledger's commits, until ctx ends. Without it each request
// catches up first, and replication lag is measured late.
func (a *API) Run(ctx context.Context) { a.feed.run(ctx) }

// Dashboard is GET /admin/api/dashboard: the region's health, its peers,
// its degradation mode and unsecured budget use, and its last hour.
type Dashboard struct {
	Region    string           `json:"region"`
	At        time.Time        `json:"at"`
	Ready     *bool            `json:"ready"` // null: not known here
	Entries   int64            `json:"entries"`
	Backup    *BackupHealth    `json:"backup"` // null: not known here
	Peers     []PeerHealth     `json:"peers"`
	Forks     map[string]int64 `json:"forks"`
	Mode      string           `json:"mode,omitempty"`
	Unsecured []BudgetUse      `json:"unsecured"`
	LastHour  LastHour         `json:"last_hour"`
}

// BackupHealth is how far the backup replica is.
type BackupHealth struct {
	InSync      bool       `json:"in_sync"`
	LastSync    *time.Time `json:"last_sync"`
	LocalTXID   uint64     `json:"local_txid"`
	ReplicaTXID uint64     `json:"replica_txid"`
	Error       string     `json:"error,omitempty"`
}

// PeerHealth is what this region knows about one peer.
type PeerHealth struct {
	ID         string     `json:"id"`
	Reachable  bool       `json:"reachable"`
	LastOK     *time.Time `json:"last_ok"`
	Behind     *int64     `json:"behind"`
	Rejections int64      `json:"rejections"`
	Forks      int64      `json:"forks"`
	LastError  string     `json:"last_error,omitempty"`
}

// BudgetUse is the unsecured budget of one currency and how much of it
// open approvals hold.
type BudgetUse struct {
	Currency string `json:"currency"`
	Budget   int64  `json:"budget"`
	Used     int64  `json:"used"`
}

// LastHour is the region's last hour by minute, oldest first, and its
// totals. Checkouts, authorizations and decisions are this region's own;
// rights count transfers to and from it; lag is, for entries of other
// regions, the time from their writing to their arrival here.
type LastHour struct {
	Minutes           []MinuteStats    `json:"minutes"`
	Checkouts         int64            `json:"checkouts"`
	Authorizations    int64            `json:"authorizations"`
	Declines          int64            `json:"declines"`
	RightsReceived    int64            `json:"rights_received"`
	RightsGranted     int64            `json:"rights_granted"`
	LagMaxMS          int64            `json:"lag_max_ms"`
	ApprovalsByReason map[string]int64 `json:"approvals_by_reason"`
	DeclinesByReason  map[string]int64 `json:"declines_by_reason"`
	// Complete is false while the feed has not yet read the whole ledger
	// (just after a start on a large region).
	Complete bool `json:"complete"`
}

func (a *API) dashboardAPI(w http.ResponseWriter, r *http.Request, _ user) {
	d, err := a.dashboard(r.Context())
	if err != nil {
		a.log.Error("admin: dashboard", "err", err)
		writeInternal(w)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// dashboard gathers the dashboard's data.
func (a *API) dashboard(ctx context.Context) (Dashboard, error) {
	complete, err := a.feed.catchUp(ctx, requestBudget)
	if err != nil {
		return Dashboard{}, err
	}
	d := Dashboard{Region: string(a.store.Region()), At: a.ui.Now().UTC(), Entries: a.store.Count(),
		Peers: []PeerHealth{}, Forks: map[string]int64{}, Unsecured: []BudgetUse{}}
	if a.health.Ready != nil {
		ready := a.health.Ready()
		d.Ready = &ready
	}
	if a.health.Sync != nil {
		st := a.health.Sync()
		d.Entries, d.Forks = st.Entries, st.Forks
		for _, p := range st.Peers {
			d.Peers = append(d.Peers, PeerHealth{ID: p.ID, Reachable: p.Reachable, LastOK: p.LastOK, Behind: p.Behind,
				Rejections: p.Rejections, Forks: st.Forks[p.ID], LastError: p.LastError})
		}
	}
	if a.health.Backup != nil {
		bctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := a.health.Backup(bctx)
		cancel()
		b := &BackupHealth{}
		if err != nil {
			a.log.Warn("admin: backup status", "err", err)
			b.Error = "the replica did not answer"
		} else {
			b.InSync, b.LocalTXID, b.ReplicaTXID = st.InSync(), st.LocalTXID, st.ReplicaTXID
			if !st.LastSync.IsZero() {
				t := st.LastSync.UTC()
				b.LastSync = &t
			}
		}
		d.Backup = b
	}
	if a.credit != nil {
		p := a.credit.Policy()
		d.Mode = string(p.Mode)
		curs := make([]string, 0, len(p.UnsecuredBudget))
		for c := range p.UnsecuredBudget {
			curs = append(curs, c)
		}
		sort.Strings(curs)
		for _, c := range curs {
			spent, err := a.store.Balance(ctx, account.UnsecuredBudget(d.Region), c)
			if err != nil {
				return Dashboard{}, err
			}
			d.Unsecured = append(d.Unsecured, BudgetUse{Currency: c, Budget: p.UnsecuredBudget[c], Used: -int64(spent)})
		}
	}
	h := &d.LastHour
	h.Complete = complete
	h.Minutes, h.ApprovalsByReason, h.DeclinesByReason = a.feed.series()
	for _, m := range h.Minutes {
		h.Checkouts += m.Checkouts
		h.Authorizations += m.Authorizations
		h.Declines += m.Declines
		h.RightsReceived += m.RightsReceived
		h.RightsGranted += m.RightsGranted
		h.LagMaxMS = max(h.LagMaxMS, m.LagMaxMS)
	}
	return d, nil
}

func writeInternal(w http.ResponseWriter) { httperr.Write(w, httperr.Internal) }

// dashboardPage is the dashboard as the page shows it.
type dashboardPage struct {
	Dashboard
	Throughput, Decisions, Lag, Rights template.HTML
	Reasons                            []reasonRow
	Budgets                            []budgetRow
}

type reasonRow struct {
	Outcome, Reason string
	Count           int64
}

type budgetRow struct {
	Currency, Budget, Used, Left string
	Percent                      int64
}

func (a *API) dashboardPage(w http.ResponseWriter, r *http.Request, _ session, v *view) {
	d, err := a.dashboard(r.Context())
	if err != nil {
		a.internalError(w, r, v, err)
		return
	}
	p := &dashboardPage{Dashboard: d}
	ms := d.LastHour.Minutes
	col := func(f func(MinuteStats) int64) []int64 {
		out := make([]int64, len(ms))
		for i, m := range ms {
			out[i] = f(m)
		}
		return out
	}
	p.Throughput = lineChart("chart-throughput", "Checkouts and authorizations per minute",
		"Per-minute counts of this region's checkouts (sessions created) and authorizations over the last hour; the values are in the table below.",
		[]chartLine{{"Checkouts", "series-a", col(func(m MinuteStats) int64 { return m.Checkouts })},
			{"Authorizations", "series-b", col(func(m MinuteStats) int64 { return m.Authorizations })},
			{"Declines", "series-c", col(func(m MinuteStats) int64 { return m.Declines })}})
	p.Lag = lineChart("chart-lag", "Replication lag (ms)",
		"Per minute, the longest time an entry of another region took to arrive here, in milliseconds; the values are in the table below.",
		[]chartLine{{"Longest lag", "series-a", col(func(m MinuteStats) int64 { return m.LagMaxMS })},
			{"Average lag", "series-b", col(func(m MinuteStats) int64 { return m.LagAvgMS })}})
	p.Rights = lineChart("chart-rights", "Rights transfers per minute",
		"Per minute, credit rights this region received from peers (its requests answered) and granted to them; the values are in the table below.",
		[]chartLine{{"Received", "series-a", col(func(m MinuteStats) int64 { return m.RightsReceived })},
			{"Granted", "series-b", col(func(m MinuteStats) int64 { return m.RightsGranted })}})
	for _, o := range []struct {
		outcome string
		by      map[string]int64
	}{{"approved", d.LastHour.ApprovalsByReason}, {"declined", d.LastHour.DeclinesByReason}} {
		for reason, n := range o.by {
			p.Reasons = append(p.Reasons, reasonRow{Outcome: o.outcome, Reason: reason, Count: n})
		}
	}
	sort.Slice(p.Reasons, func(i, j int) bool {
		x, y := p.Reasons[i], p.Reasons[j]
		if x.Outcome != y.Outcome {
			return x.Outcome < y.Outcome
		}
		if x.Count != y.Count {
			return x.Count > y.Count
		}
		return x.Reason < y.Reason
	})
	p.Decisions = barChart("chart-decisions", "Approvals and declines by reason",
		"Decisions of the last hour by outcome and reason; the values are in the table below.", p.Reasons)
	for _, b := range d.Unsecured {
		row := budgetRow{Currency: b.Currency, Budget: money(b.Budget, b.Currency), Used: money(b.Used, b.Currency),
			Left: money(b.Budget-b.Used, b.Currency)}
		if b.Budget > 0 {
			row.Percent = b.Used * 100 / b.Budget
		}
		p.Budgets = append(p.Budgets, row)
	}
	v.Title, v.Section, v.Main = "Dashboard – kassa admin", "dashboard", p
	a.render(w, r, http.StatusOK, "dashboard", v)
}

// Chart geometry, in SVG user units; the SVG scales to its box.
const (
	chartW, chartH           = 640, 200
	chartLeft, chartRight    = 48, 12
	chartTop, chartBottom    = 12, 28
	barRow, barLeft, barGapX = 22, 220, 8
)

type chartLine struct {
	Label, Class string
	Values       []int64
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten, at least 1.
func niceMax(v int64) int64 {
	if v <= 1 {
		return 1
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*p >= v {
				return m * p
			}
		}
	}
}

// lineChart draws series over the last hour as an inline SVG: a polyline
// per series, a y axis from zero with three labelled ticks, an x axis
// labelled in minutes before now, and a legend. Every text is escaped.
func lineChart(id, title, desc string, lines []chartLine) template.HTML {
	var top int64
	n := 0
	for _, l := range lines {
		n = max(n, len(l.Values))
		for _, v := range l.Values {
			top = max(top, v)
		}
	}
	top = niceMax(top)
	plotW, plotH := float64(chartW-chartLeft-chartRight), float64(chartH-chartTop-chartBottom)
	x := func(i int) float64 {
		if n <= 1 {
			return chartLeft
		}
		return chartLeft + plotW*float64(i)/float64(n-1)
	}
	y := func(v int64) float64 { return chartTop + plotH - plotH*float64(v)/float64(top) }
	var b strings.Builder
	esc := template.HTMLEscapeString
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc" xmlns="http://www.w3.org/2000/svg">`,
		chartW, chartH, esc(id), esc(id))
	fmt.Fprintf(&b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, esc(id), esc(title), esc(id), esc(desc))
	for _, t := range []int64{0, top / 2, top} {
		if t == top/2 && top < 2 {
			continue
		}
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#d0d4da" stroke-width="1"/>`, chartLeft, y(t), chartW-chartRight, y(t))
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%.1f" text-anchor="end" font-size="11">%d</text>`, chartLeft-6, y(t)+4, t)
	}
	for _, t := range []struct {
		i     int
		label string
	}{{0, "60 min ago"}, {n / 2, "30 min ago"}, {n - 1, "now"}} {
		anchor := "middle"
		switch t.i {
		case 0:
			anchor = "start"
		case n - 1:
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%d" text-anchor="%s" font-size="11">%s</text>`, x(t.i), chartH-8, anchor, t.label)
	}
	colours := map[string]string{"series-a": "#1d5bb6", "series-b": "#b35900", "series-c": "#7a1f8a"}
	dashes := map[string]string{"series-a": "", "series-b": ` stroke-dasharray="6 3"`, "series-c": ` stroke-dasharray="2 3"`}
	for _, l := range lines {
		pts := make([]string, len(l.Values))
		for i, v := range l.Values {
			pts[i] = fmt.Sprintf("%.1f,%.1f", x(i), y(v))
		}
		fmt.Fprintf(&b, `<polyline class="%s" fill="none" stroke="%s" stroke-width="2"%s points="%s"><title>%s</title></polyline>`,
			esc(l.Class), colours[l.Class], dashes[l.Class], strings.Join(pts, " "), esc(l.Label))
	}
	lx := chartLeft + 8
	for _, l := range lines {
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`, lx, chartTop+6, lx+18, chartTop+6, colours[l.Class], dashes[l.Class])
		fmt.Fprintf(&b, `<text class="legend" x="%d" y="%d" font-size="11">%s</text>`, lx+22, chartTop+10, esc(l.Label))
		lx += 30 + 7*len(l.Label)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from escaped text and numbers only
}

// barChart draws one horizontal bar per reason, labelled with the outcome,
// reason and count.
func barChart(id, title, desc string, rows []reasonRow) template.HTML {
	var top int64
	for _, r := range rows {
		top = max(top, r.Count)
	}
	top = niceMax(top)
	h := chartTop + barRow*max(len(rows), 1) + 8
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc" xmlns="http://www.w3.org/2000/svg">`,
		chartW, h, esc(id), esc(id))
	fmt.Fprintf(&b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, esc(id), esc(title), esc(id), esc(desc))
	if len(rows) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12">No decisions in the last hour.</text>`, chartLeft, chartTop+12)
	}
	plotW := float64(chartW - barLeft - chartRight - 40)
	for i, r := range rows {
		y := chartTop + i*barRow
		w := plotW * float64(r.Count) / float64(top)
		fill := "#1d5bb6"
		if r.Outcome != "approved" {
			fill = "#b35900"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="11">%s: %s</text>`, barLeft-barGapX, y+14, esc(r.Outcome), esc(label(r.Reason)))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`, barLeft, y+3, w, barRow-6, fill, esc(strconv.FormatInt(r.Count, 10)))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11">%d</text>`, float64(barLeft)+w+4, y+14, r.Count)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from escaped text and numbers only
}
