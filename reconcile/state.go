package reconcile

import (
	"encoding/json"
	"slices"
	"time"

	"kassa/ledger"
)

// The kinds of the entries this package writes.
const (
	KindRun        = "reconciliation.run"
	KindDifference = "reconciliation.difference"
	KindResolved   = "reconciliation.resolved"
)

// RunsRef is in the refs of every run entry, so the days that have runs
// are found through the ledger's index.
const RunsRef = "reconciliation:runs"

// Subject is the subject of a day's reconciliation entries.
func Subject(day string) string { return "reconciliation:" + day }

// BySchedule is who a scheduled run is by.
const BySchedule = "schedule"

// The statuses of a day.
const (
	StatusNotRun   = "not_run"  // no run yet
	StatusClean    = "clean"    // the latest run found no difference
	StatusOpen     = "open"     // differences present and not resolved
	StatusResolved = "resolved" // the latest run's differences are all resolved
)

// Run is one reconciliation run of a day, as its entry records it.
type Run struct {
	Entry       string            `json:"entry"`
	Region      string            `json:"region"`
	At          time.Time         `json:"at"`
	By          string            `json:"by"`
	Role        string            `json:"role,omitempty"`
	Lines       int               `json:"lines"`
	Matched     int               `json:"matched"`
	Differences int               `json:"differences"`
	IDs         []string          `json:"ids"`
	Truncated   bool              `json:"truncated,omitempty"`
	File        map[string]Totals `json:"file"`
	Ledger      map[string]Totals `json:"ledger"`
}

// Resolution is how a staff member resolved a difference.
type Resolution struct {
	Entry  string    `json:"entry"`
	Region string    `json:"region"`
	At     time.Time `json:"at"`
	Staff  string    `json:"staff"`
	Role   string    `json:"role"`
	Note   string    `json:"note"`
}

// Recorded is a difference as recorded, with what became of it.
type Recorded struct {
	Difference
	Entry  string    `json:"entry"`
	Region string    `json:"region"`
	At     time.Time `json:"at"`
	// Present: the latest run found it too. A difference that is not
	// present has gone away since it was recorded.
	Present    bool        `json:"present"`
	Resolution *Resolution `json:"resolution,omitempty"`
}

// Open reports whether the difference needs staff: present and not
// resolved.
func (r Recorded) Open() bool { return r.Present && r.Resolution == nil }

// Day is the reconciliation state of one day: a fold of its entries.
type Day struct {
	Day    string `json:"day"`
	Status string `json:"status"`
	Open   int    `json:"open"`
	// Latest is the last run in fold order (nil before the first).
	Latest *Run `json:"latest,omitempty"`
	// Runs are oldest first; Differences in the order they were recorded.
	Runs        []Run      `json:"runs"`
	Differences []Recorded `json:"differences"`
}

// Difference returns the recorded difference with id.
func (d *Day) Difference(id string) (Recorded, bool) {
	for _, r := range d.Differences {
		if r.ID == id {
			return r, true
		}
	}
	return Recorded{}, false
}

// ScheduledRun reports whether the schedule has run the day (in any
// region).
func (d *Day) ScheduledRun() bool {
	return slices.ContainsFunc(d.Runs, func(r Run) bool { return r.By == BySchedule })
}

// The entries' data.
type runData struct {
	Day         string            `json:"day"`
	By          string            `json:"by"`
	Role        string            `json:"role,omitempty"`
	Lines       int               `json:"lines"`
	Matched     int               `json:"matched"`
	Differences int               `json:"differences"`
	IDs         []string          `json:"ids"`
	Truncated   bool              `json:"truncated,omitempty"`
	File        map[string]Totals `json:"file"`
	Ledger      map[string]Totals `json:"ledger"`
	Refs        []string          `json:"refs"`
}

type differenceData struct {
	Day string `json:"day"`
	Difference
}

type resolvedData struct {
	Day        string `json:"day"`
	Difference string `json:"difference"`
	Staff      string `json:"staff"`
	Role       string `json:"role"`
	Note       string `json:"note"`
}

// Fold derives a day's state from its entries, in any order and with
// duplicates: it sorts them by ledger.Position and skips repeated ids and
// entries of other kinds or days.
func Fold(day string, entries []ledger.Entry) Day {
	es := slices.Clone(entries)
	ledger.SortEntries(es)
	d := Day{Day: day, Runs: []Run{}, Differences: []Recorded{}}
	index := map[string]int{} // difference id -> index in d.Differences
	resolved := map[string]Resolution{}
	var last ledger.Position
	for i := range es {
		e := &es[i]
		if i > 0 && e.Position() == last {
			continue // the same entry twice
		}
		last = e.Position()
		if e.Subject != Subject(day) {
			continue
		}
		id, region, at := e.ID().String(), string(e.Origin), e.HLC.Time()
		switch e.Kind {
		case KindRun:
			var v runData
			if json.Unmarshal(e.Data, &v) != nil || v.Day != day {
				continue
			}
			d.Runs = append(d.Runs, Run{Entry: id, Region: region, At: at, By: v.By, Role: v.Role, Lines: v.Lines,
				Matched: v.Matched, Differences: v.Differences, IDs: v.IDs, Truncated: v.Truncated, File: v.File, Ledger: v.Ledger})
		case KindDifference:
			var v differenceData
			if json.Unmarshal(e.Data, &v) != nil || v.Day != day || v.ID == "" {
				continue
			}
			if _, dup := index[v.ID]; dup {
				continue
			}
			index[v.ID] = len(d.Differences)
			d.Differences = append(d.Differences, Recorded{Difference: v.Difference, Entry: id, Region: region, At: at})
		case KindResolved:
			var v resolvedData
			if json.Unmarshal(e.Data, &v) != nil || v.Day != day {
				continue
			}
			if _, dup := resolved[v.Difference]; dup {
				continue
			}
			resolved[v.Difference] = Resolution{Entry: id, Region: region, At: at, Staff: v.Staff, Role: v.Role, Note: v.Note}
		}
	}
	if n := len(d.Runs); n > 0 {
		d.Latest = &d.Runs[n-1]
	}
	present := map[string]bool{}
	if d.Latest != nil {
		for _, id := range d.Latest.IDs {
			present[id] = true
		}
	}
	presentRecorded := 0
	for i := range d.Differences {
		r := &d.Differences[i]
		// A truncated run did not list every difference it found: one it
		// did not list may still be there.
		r.Present = present[r.ID] || (d.Latest != nil && d.Latest.Truncated)
		if res, ok := resolved[r.ID]; ok {
			r.Resolution = &res
		}
		if r.Present {
			presentRecorded++
		}
		if r.Open() {
			d.Open++
		}
	}
	switch {
	case d.Latest == nil:
		d.Status = StatusNotRun
	case d.Latest.Differences == 0:
		d.Status = StatusClean
	case d.Open > 0 || presentRecorded < d.Latest.Differences:
		// (Differences a run found but whose entries are not here yet
		// are open too.)
		d.Status = StatusOpen
	default:
		d.Status = StatusResolved
	}
	return d
}
