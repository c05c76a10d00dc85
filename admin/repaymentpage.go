package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// repaymentsPage is GET and POST /admin/repayments: the bank-file import
// for support staff. The file is pasted as JSON (the API's body, or just
// its list of lines); the answer lists every line's result, the unmatched
// ones first, since support must find where that money belongs.
type repaymentsPage struct {
	File      string
	Error     string
	Imported  bool
	Unmatched []RepaymentResult
	Results   []RepaymentResult
	Counts    []importCount
}

type importCount struct {
	Status string
	N      int
}

// maxImportForm bounds an import post: a 1,000-line file, URL-encoded.
const maxImportForm = 4 << 20

func (a *API) repaymentsForm(w http.ResponseWriter, r *http.Request, _ session, v *view) {
	a.renderRepayments(w, r, v, http.StatusOK, &repaymentsPage{})
}

// repaymentsImport answers POST /admin/repayments. Every line is
// idempotent by its transaction id (or reference), so a reload that sends
// the file again records nothing twice and answers each line "replayed".
func (a *API) repaymentsImport(w http.ResponseWriter, r *http.Request, s session, v *view) {
	p := &repaymentsPage{File: r.PostForm.Get("file")}
	lines, why := parseBankFile(p.File)
	if why != "" {
		p.Error = why
		v.Problems = []problem{{Target: "import-file", Message: p.Error}}
		a.renderRepayments(w, r, v, http.StatusUnprocessableEntity, p)
		return
	}
	by := actor(s.user, "repayments import")
	counts := map[string]int{}
	for _, l := range lines {
		res := a.repay(r.Context(), l, true, by)
		counts[res.Status]++
		if res.Status == "unmatched" {
			p.Unmatched = append(p.Unmatched, res)
		}
		p.Results = append(p.Results, res)
	}
	for _, st := range []string{"recorded", "replayed", "unmatched", "retry", "rejected"} {
		if counts[st] > 0 {
			p.Counts = append(p.Counts, importCount{Status: st, N: counts[st]})
		}
	}
	p.Imported = true
	a.renderRepayments(w, r, v, http.StatusOK, p)
}

// parseBankFile reads a pasted bank file: {"repayments": [...]} or the
// list alone, with the API's field names and limits.
// Its errors are sentences for the page.
func parseBankFile(s string) ([]RepaymentLine, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, "Paste the bank file: JSON with a list of repayments"
	}
	if strings.HasPrefix(s, "[") {
		s = `{"repayments":` + s + `}`
	}
	var f struct {
		Repayments []RepaymentLine `json:"repayments"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil || dec.More() {
		msg := "The bank file is not valid JSON for an import"
		if err != nil {
			msg += ": " + err.Error()
		}
		return nil, msg
	}
	if len(f.Repayments) == 0 || len(f.Repayments) > maxImportLines {
		return nil, fmt.Sprintf("The bank file must list 1 to %d repayments", maxImportLines)
	}
	return f.Repayments, ""
}

func (a *API) renderRepayments(w http.ResponseWriter, r *http.Request, v *view, status int, p *repaymentsPage) {
	v.Title, v.Section, v.Main = "Import repayments – kassa admin", "repayments", p
	a.render(w, r, status, "repayments", v)
}
