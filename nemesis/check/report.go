package check

import (
	"math"
	"sort"
	"time"
)

// Options tune Check. The zero value is usable.
type Options struct {
	// ConvergenceBound is how long after the heal the digests may take to
	// become equal (0: DefaultConvergenceBound).
	ConvergenceBound time.Duration
	// MinCheckouts is the fewest authorizes the run must have attempted
	// for the checkouts check to hold (0: any number).
	MinCheckouts int
	// MinAvailability is the availability the availability check needs
	// (0: reported, not judged).
	MinAvailability float64
	// Deadline, when set, is the client's deadline: an answer that took
	// longer is not counted as answered even if the client returned it.
	Deadline time.Duration
	// AuthorizeP99Bound, when set, is reported next to the authorize p99
	// (authorize_ms.within_bound); it is not a check.
	AuthorizeP99Bound time.Duration
	// MaxExamples is how many violations each check lists
	// (0: DefaultMaxExamples).
	MaxExamples int
	// Bucket is the width of a Series point (0: DefaultBucket).
	Bucket time.Duration
}

// Defaults for Options' zero fields.
const (
	DefaultConvergenceBound = 2 * time.Second
	DefaultMaxExamples      = 5
	DefaultBucket           = time.Second
)

// Check names, as they appear in Result.Name.
const (
	CheckLost         = "lost"
	CheckOrderBounds  = "order_bounds"
	CheckRegionsAgree = "regions_agree"
	CheckExposure     = "exposure"
	CheckVerify       = "verify"
	CheckWebhooks     = "webhooks"
	CheckConvergence  = "convergence"
	CheckAcquirer     = "acquirer"
	CheckCheckouts    = "checkouts"
	CheckAvailability = "availability"
)

// Report is the checker's verdict on a History; its JSON is the nemesis
// report. The first fields are fixed (see DESIGN.md), the rest may grow.
type Report struct {
	Checkouts           int           `json:"checkouts"` // authorize ops attempted
	Answered            int           `json:"answered"`  // ops of every kind answered within the deadline
	Availability        float64       `json:"availability"`
	Lost                int           `json:"lost"` // acknowledged writes missing in at least one region
	InvariantViolations int           `json:"invariant_violations"`
	ConvergenceMs       Convergence   `json:"convergence_ms"`
	AuthorizeMs         Latency       `json:"authorize_ms"`
	Faults              []FaultReport `json:"faults"`
	// AuthorizeMsDuring is the authorize latency of the authorizes that
	// started while a fault of each kind was on (such as "pause": a region
	// frozen), and "none" while none was.
	AuthorizeMsDuring map[string]Latency `json:"authorize_ms_during"`

	Attempted            int            `json:"attempted"`             // ops of every kind
	CheckoutsAnswered    int            `json:"checkouts_answered"`    // authorize ops answered
	CheckoutAvailability float64        `json:"checkout_availability"` // CheckoutsAnswered / Checkouts
	Outcomes             map[string]int `json:"outcomes"`              // ops by outcome
	// Unanswered are the first operations (by start) that got no final
	// answer, at most Options.MaxExamples of them: what each was and what
	// came back instead.
	Unanswered []Unanswered       `json:"unanswered,omitempty"`
	Ops        map[string]OpStats `json:"ops"` // ops by kind
	Webhooks   WebhookStats       `json:"webhooks"`
	Checks     []Result           `json:"checks"`
	Series     Series             `json:"series"`

	// Elsewhere counts the operations sent first to a region other than
	// the one that created their session (Op.Elsewhere), how many of them
	// were answered, and their outcomes.
	Elsewhere         int            `json:"elsewhere"`
	ElsewhereAnswered int            `json:"elsewhere_answered"`
	ElsewhereOutcomes map[string]int `json:"elsewhere_outcomes"`
}

// OK reports whether every check held.
func (r Report) OK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Convergence is how long after a heal the regions' digests took to
// become equal, over every recorded convergence. Never counts the ones
// that did not converge; they are left out of P50 and Max.
type Convergence struct {
	P50     float64 `json:"p50"`
	Max     float64 `json:"max"`
	Samples int     `json:"samples"`
	Never   int     `json:"never"`
}

// Latency is the spread of authorize latencies (End-Start of every
// authorize op, answered or not: a shopper who timed out waited too).
type Latency struct {
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	Count int     `json:"count"`
	// BoundMs and WithinBound are set when Options.AuthorizeP99Bound is.
	BoundMs     float64 `json:"bound_ms,omitempty"`
	WithinBound *bool   `json:"within_bound,omitempty"`
}

// FaultReport is one injected fault in the report.
type FaultReport struct {
	Kind    string   `json:"kind"`
	AtMs    int64    `json:"at_ms"`
	Ms      int64    `json:"ms"`
	Regions []string `json:"regions,omitempty"`
	Detail  string   `json:"detail,omitempty"`
}

// OpStats counts the ops of one kind.
type OpStats struct {
	Attempted int            `json:"attempted"`
	Answered  int            `json:"answered"`
	Outcomes  map[string]int `json:"outcomes"`
}

// WebhookStats counts the receiver's deliveries.
type WebhookStats struct {
	Deliveries int `json:"deliveries"`
	Events     int `json:"events"`     // distinct event ids
	Duplicates int `json:"duplicates"` // deliveries of an id already delivered
	Processed  int `json:"processed"`  // deliveries the receiver acted on
}

// Result is one check's verdict: Count violations, the first few of them
// in Examples.
type Result struct {
	Name     string      `json:"name"`
	OK       bool        `json:"ok"`
	Count    int         `json:"count"`
	Examples []Violation `json:"examples,omitempty"`
}

// Violation is one thing a check found wrong, with what it expected and
// what the history showed.
type Violation struct {
	Order    string `json:"order,omitempty"`
	Region   string `json:"region,omitempty"`
	Consumer string `json:"consumer,omitempty"`
	EventID  string `json:"event_id,omitempty"`
	Key      string `json:"key,omitempty"` // the Idempotency-Key of the op concerned
	Detail   string `json:"detail"`
	Want     string `json:"want,omitempty"`
	Got      string `json:"got,omitempty"`
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile is the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, 0 if it is empty.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

func sortedMs(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = ms(d)
	}
	sort.Float64s(out)
	return out
}

// Unanswered is an operation without a final answer, as the report shows
// it.
type Unanswered struct {
	Kind    string  `json:"kind"`
	Outcome string  `json:"outcome"`
	AtMs    float64 `json:"at_ms"` // its start, from the run's
	Ms      float64 `json:"ms"`    // how long it took
	Status  int     `json:"status,omitempty"`
	Region  string  `json:"region,omitempty"`
	Error   string  `json:"error,omitempty"`
	Body    string  `json:"body,omitempty"` // the answer's, cut at 300 bytes
}
