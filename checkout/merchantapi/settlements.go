package merchantapi

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"kassa/checkout"
	"kassa/settlement"
)

// Settlements is what the API needs to report a merchant's settlements
// (a *settlement.Reports).
type Settlements interface {
	Report(ctx context.Context, merchant string, rg settlement.Range) ([]settlement.Row, error)
}

// WithSettlements makes s the source of GET /v1/settlements; without it
// the route answers 404. Call it before serving.
func (a *API) WithSettlements(s Settlements) *API {
	a.settlements = s
	return a
}

// listSettlements answers GET /v1/settlements?from=&to=[&limit=&starting_after=]:
// the merchant's rows of the range in pages of limit (1-100, 20 by default)
// after the row whose cursor ("YYYY-MM-DD:CUR") is starting_after. With
// Accept: text/csv it answers every row of the range as CSV instead:
// limit and starting_after are still checked, but a range (at most
// settlement.MaxDays days) is small enough to take whole.
func (a *API) listSettlements(w http.ResponseWriter, r *http.Request, m string, _ []byte) {
	if a.settlements == nil {
		a.fail(w, r, checkout.ErrNotFound)
		return
	}
	q := r.URL.Query()
	rg, err := settlement.ParseRange(q.Get("from"), q.Get("to"))
	if err != nil {
		a.fail(w, r, fieldError(err))
		return
	}
	limit := 20
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			a.fail(w, r, &checkout.FieldError{Field: "limit", Message: "must be between 1 and 100"})
			return
		}
		limit = n
	}
	after := q.Get("starting_after")
	if after != "" {
		if err := settlement.ParseCursor("starting_after", after); err != nil {
			a.fail(w, r, fieldError(err))
			return
		}
	}
	rows, err := a.settlements.Report(r.Context(), m, rg)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if wantsCSV(r.Header.Get("Accept")) {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="settlements-%s-%s-%s.csv"`,
			m, rg.From.Format(settlement.DateLayout), rg.To.Format(settlement.DateLayout)))
		if err := settlement.WriteCSV(w, rows); err != nil {
			a.log.Warn("api: write settlements CSV", "merchant", m, "err", err)
		}
		return
	}
	page := make([]settlement.Row, 0, limit)
	more := false
	for _, row := range rows {
		if after != "" && row.Cursor() <= after {
			continue
		}
		if len(page) == limit {
			more = true
			break
		}
		page = append(page, row)
	}
	writeJSON(w, http.StatusOK, settlementList{Object: "list", Data: page, HasMore: more})
}

// settlementList is a page of settlements.
type settlementList struct {
	Object  string           `json:"object"`
	Data    []settlement.Row `json:"data"`
	HasMore bool             `json:"has_more"`
}

// fieldError turns a settlement.RangeError into the API's field error.
func fieldError(err error) error {
	var re *settlement.RangeError
	if errors.As(err, &re) {
		return &checkout.FieldError{Field: re.Field, Message: re.Message}
	}
	return err
}

// wantsCSV reports whether an Accept header names text/csv (with a q
// other than 0) before it names JSON.
func wantsCSV(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" || params["q"] == "0.0" {
			continue
		}
		switch mt {
		case "text/csv":
			return true
		case "application/json":
			return false
		}
	}
	return false
}
