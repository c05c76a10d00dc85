package nemesis

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Summary is the report a person reads: the fixed figures, every check,
// the faults and what replication cost.
func Summary(res *Result) string {
	r := res.Report
	var b strings.Builder
	fmt.Fprintf(&b, "regions %d, checkouts %d, operations %d, answered %d, availability %.5f (checkouts %.5f)\n",
		len(res.History.Regions), r.Checkouts, r.Attempted, r.Answered, r.Availability, r.CheckoutAvailability)
	fmt.Fprintf(&b, "lost %d, invariant violations %d, outcomes %v\n", r.Lost, r.InvariantViolations, r.Outcomes)
	fmt.Fprintf(&b, "authorize ms p50 %.1f p99 %.1f max %.1f; convergence ms p50 %.0f max %.0f (never %d)\n",
		r.AuthorizeMs.P50, r.AuthorizeMs.P99, r.AuthorizeMs.Max, r.ConvergenceMs.P50, r.ConvergenceMs.Max, r.ConvergenceMs.Never)
	fmt.Fprintf(&b, "elsewhere: %d page visits and follow-ups sent first to a region other than the session's, %d answered %v\n",
		r.Elsewhere, r.ElsewhereAnswered, r.ElsewhereOutcomes)
	fmt.Fprintf(&b, "webhooks: %d deliveries, %d events, %d duplicates\n", r.Webhooks.Deliveries, r.Webhooks.Events, r.Webhooks.Duplicates)
	fmt.Fprintf(&b, "peer links: %d bytes for %d entries, %.0f bytes per entry\n", res.PeerBytes, res.Entries, res.BytesPerEntry)
	if len(r.Unanswered) > 0 {
		fmt.Fprintf(&b, "unanswered (the first %d of %d):\n", len(r.Unanswered), r.Attempted-r.Answered)
		for _, u := range r.Unanswered {
			fmt.Fprintf(&b, "  %7.1fs %-9s %-11s after %.0f ms", u.AtMs/1000, u.Kind, u.Outcome, u.Ms)
			if u.Status != 0 {
				fmt.Fprintf(&b, ", %d from %s", u.Status, u.Region)
			}
			if u.Error != "" {
				fmt.Fprintf(&b, ": %s", u.Error)
			}
			if u.Body != "" {
				fmt.Fprintf(&b, " %s", u.Body)
			}
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(&b, "faults (%d):\n", len(r.Faults))
	for _, f := range r.Faults {
		fmt.Fprintf(&b, "  %7.1fs %-20s %6.1fs  %s\n", float64(f.AtMs)/1000, f.Kind, float64(f.Ms)/1000, f.Detail)
	}
	b.WriteString("checks:\n")
	for _, c := range r.Checks {
		verdict := "ok"
		if !c.OK {
			verdict = fmt.Sprintf("FAILED (%d)", c.Count)
		}
		fmt.Fprintf(&b, "  %-14s %s\n", c.Name, verdict)
		for _, v := range c.Examples {
			fmt.Fprintf(&b, "      %s", v.Detail)
			for _, kv := range [][2]string{{"order", v.Order}, {"region", v.Region}, {"consumer", v.Consumer}, {"event", v.EventID}, {"key", v.Key}, {"want", v.Want}, {"got", v.Got}} {
				if kv[1] != "" {
					fmt.Fprintf(&b, " %s=%s", kv[0], kv[1])
				}
			}
			b.WriteString("\n")
		}
	}
	if res.OK {
		b.WriteString("every check holds\n")
	} else {
		b.WriteString("NOT every check holds\n")
	}
	return b.String()
}

// JSON is the report as the checker writes it, plus the run's settings and
// the replication cost: bytes_per_entry is every byte on the peer links
// over the entries written.
func JSON(res *Result, cfg Config) ([]byte, error) {
	base, err := json.Marshal(res.Report)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(base, &m); err != nil {
		return nil, err
	}
	m["regions"] = len(res.History.Regions)
	m["seed"] = cfg.Seed
	m["duration_ms"] = cfg.Duration / time.Millisecond
	m["workers"] = cfg.Workers
	m["rate"] = cfg.Rate
	m["probe_ms"] = cfg.Probe.Milliseconds()
	m["elsewhere_share"] = cfg.Elsewhere
	m["peer_bytes"] = res.PeerBytes
	m["entries"] = res.Entries
	m["bytes_per_entry"] = res.BytesPerEntry
	m["ok"] = res.OK
	return json.MarshalIndent(m, "", "  ")
}
