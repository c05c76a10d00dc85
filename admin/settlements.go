package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/gorilla/mux"

	"kassa/httperr"
	"kassa/settlement"
)

// Settlement reports are read, never changed, here: any role may see them,
// as a page (/admin/settlements, with a CSV download) and as JSON
// (/admin/api/settlements). They are derived from the ledger when asked
// (settlement package), so they show what this region holds.

// Settlements is what admin needs of settlement reports (a
// *settlement.Reports).
type Settlements interface {
	Report(ctx context.Context, merchant string, rg settlement.Range) ([]settlement.Row, error)
}

// WithSettlements makes s the source of the settlement pages and API;
// without it they say that reports are not available. Call it before
// serving.
func (a *API) WithSettlements(s Settlements) *API {
	a.settlements = s
	return a
}

func (a *API) settlementRoutes(api, r *mux.Router) {
	api.HandleFunc("/settlements", a.staff("viewer", a.settlementsAPI)).Methods(http.MethodGet)
	r.HandleFunc("/admin/settlements", a.page("viewer", a.settlementsPage)).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/admin/settlements.csv", a.page("viewer", a.settlementsCSV)).Methods(http.MethodGet, http.MethodHead)
}

// settlementReport is a report over one merchant or all of them.
type settlementReport struct {
	Merchant    string           `json:"merchant"` // "" for every merchant
	From        string           `json:"from"`
	To          string           `json:"to"`
	Settlements []settlement.Row `json:"settlements"`
	Totals      []settlementSum  `json:"totals"`
}

// settlementSum is a report's total in one currency.
type settlementSum struct {
	Currency string `json:"currency"`
	Captured int64  `json:"captured"`
	Refunded int64  `json:"refunded"`
	Fees     int64  `json:"fees"`
	FeeVAT   int64  `json:"fee_vat"`
	Net      int64  `json:"net"`
}

// errNoSettlements is the answer of a region built without reports.
var errNoSettlements = errors.New("admin: settlement reports are not available in this region")

// settlementQuery reads merchant, from and to; a bad field is a
// *settlement.RangeError naming it ("merchant", "from" or "to").
func (a *API) settlementQuery(ctx context.Context, q url.Values) (string, settlement.Range, []string, error) {
	merchants, err := a.settlementMerchants(ctx)
	if err != nil {
		return "", settlement.Range{}, nil, err
	}
	m := q.Get("merchant")
	if m != "" && !slices.Contains(merchants, m) {
		return "", settlement.Range{}, merchants, &settlement.RangeError{Field: "merchant", Message: "is not a merchant this region knows"}
	}
	rg, err := settlement.ParseRange(q.Get("from"), q.Get("to"))
	return m, rg, merchants, err
}

// settlementMerchants lists every merchant, disabled ones too (they may
// be owed money), sorted.
func (a *API) settlementMerchants(ctx context.Context) ([]string, error) {
	ids, err := a.merchantIDs(ctx)
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// report reads merchant's rows, or every merchant's for "", with totals
// per currency.
func (a *API) report(ctx context.Context, merchant string, merchants []string, rg settlement.Range) (settlementReport, error) {
	if a.settlements == nil {
		return settlementReport{}, errNoSettlements
	}
	rep := settlementReport{Merchant: merchant, From: rg.From.Format(settlement.DateLayout), To: rg.To.Format(settlement.DateLayout),
		Settlements: []settlement.Row{}, Totals: []settlementSum{}}
	if merchant != "" {
		merchants = []string{merchant}
	}
	for _, m := range merchants {
		rows, err := a.settlements.Report(ctx, m, rg)
		if err != nil {
			return settlementReport{}, err
		}
		rep.Settlements = append(rep.Settlements, rows...)
	}
	settlement.Sort(rep.Settlements)
	sums := map[string]*settlementSum{}
	for _, r := range rep.Settlements {
		s := sums[r.Currency]
		if s == nil {
			s = &settlementSum{Currency: r.Currency}
			sums[r.Currency] = s
		}
		s.Captured, s.Refunded, s.Fees, s.FeeVAT, s.Net = s.Captured+r.Captured, s.Refunded+r.Refunded, s.Fees+r.Fees, s.FeeVAT+r.FeeVAT, s.Net+r.Net
	}
	for _, s := range sums {
		rep.Totals = append(rep.Totals, *s)
	}
	slices.SortFunc(rep.Totals, func(x, y settlementSum) int {
		switch {
		case x.Currency < y.Currency:
			return -1
		case x.Currency > y.Currency:
			return 1
		}
		return 0
	})
	return rep, nil
}

func (a *API) settlementsAPI(w http.ResponseWriter, r *http.Request, _ user) {
	m, rg, merchants, err := a.settlementQuery(r.Context(), r.URL.Query())
	var re *settlement.RangeError
	if errors.As(err, &re) {
		httperr.Write(w, httperr.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: re.Field + " " + re.Message, Field: re.Field})
		return
	}
	var rep settlementReport
	if err == nil {
		rep, err = a.report(r.Context(), m, merchants, rg)
	}
	if errors.Is(err, errNoSettlements) {
		httperr.Write(w, httperr.Error{Status: http.StatusNotFound, Code: "not_found", Message: "settlement reports are not available in this region"})
		return
	}
	if err != nil {
		a.log.Error("admin: settlement report", "err", err)
		writeInternal(w)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// settlementsView is the settlements page's data.
type settlementsView struct {
	Merchants      []string
	Merchant       string
	From, To       string
	FromErr, ToErr string
	MerchantErr    string
	Shown          bool // a report is shown (the query was good)
	Report         settlementReport
	CSVLink        string
	MaxDays        int
	Unavailable    bool
}

// defaultDays is how many days, to today, the page shows before anyone
// picks a range.
const defaultDays = 7

func (a *API) settlementsPage(w http.ResponseWriter, r *http.Request, _ session, v *view) {
	p := &settlementsView{MaxDays: settlement.MaxDays}
	v.Title, v.Section, v.Main = "Settlements – kassa admin", "settlements", p
	q := r.URL.Query()
	if q.Get("from") == "" && q.Get("to") == "" {
		today := a.ui.Now().UTC()
		q.Set("from", today.AddDate(0, 0, -(defaultDays-1)).Format(settlement.DateLayout))
		q.Set("to", today.Format(settlement.DateLayout))
	}
	p.Merchant, p.From, p.To = q.Get("merchant"), q.Get("from"), q.Get("to")
	m, rg, merchants, err := a.settlementQuery(r.Context(), q)
	p.Merchants = merchants
	var re *settlement.RangeError
	if errors.As(err, &re) {
		target := "settlements-" + re.Field
		msg := map[string]string{"merchant": "Merchant", "from": "From", "to": "To"}[re.Field] + " " + re.Message + "."
		switch re.Field {
		case "merchant":
			p.MerchantErr = msg
		case "from":
			p.FromErr = msg
		default:
			p.ToErr = msg
		}
		v.Problems = []problem{{Target: target, Message: msg}}
		a.render(w, r, http.StatusBadRequest, "settlements", v)
		return
	}
	if err == nil {
		p.Report, err = a.report(r.Context(), m, merchants, rg)
	}
	if errors.Is(err, errNoSettlements) {
		p.Unavailable = true
		a.render(w, r, http.StatusNotFound, "settlements", v)
		return
	}
	if err != nil {
		a.internalError(w, r, v, err)
		return
	}
	p.Shown = true
	p.CSVLink = "/admin/settlements.csv?" + url.Values{"merchant": {m}, "from": {p.Report.From}, "to": {p.Report.To}}.Encode()
	a.render(w, r, http.StatusOK, "settlements", v)
}

func (a *API) settlementsCSV(w http.ResponseWriter, r *http.Request, _ session, v *view) {
	m, rg, merchants, err := a.settlementQuery(r.Context(), r.URL.Query())
	var re *settlement.RangeError
	if errors.As(err, &re) {
		a.message(w, r, v, http.StatusBadRequest, messagePage{Heading: "This report cannot be made",
			Body: []string{re.Field + " " + re.Message + "."}, Link: "/admin/settlements", LinkText: "Back to settlements"})
		return
	}
	var rep settlementReport
	if err == nil {
		rep, err = a.report(r.Context(), m, merchants, rg)
	}
	if errors.Is(err, errNoSettlements) {
		a.notFound(w, r, v, "settlement report")
		return
	}
	if err != nil {
		a.internalError(w, r, v, err)
		return
	}
	name := "all"
	if m != "" {
		name = m
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="settlements-`+name+`-`+rep.From+`-`+rep.To+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return
	}
	if err := settlement.WriteCSV(w, rep.Settlements); err != nil {
		a.log.Warn("admin: write settlements CSV", "err", err)
	}
}
