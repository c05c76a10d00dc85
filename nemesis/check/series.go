package check

import (
	"sort"
	"time"
)

// Series is a run over time, for plotting: one Point per bucket from the
// start of the run to its last event, the lag samples and the faults.
type Series struct {
	BucketMs   int64         `json:"bucket_ms"`
	DurationMs int64         `json:"duration_ms"`
	Points     []Point       `json:"points"`
	Lag        []LagPoint    `json:"lag,omitempty"`
	Faults     []FaultReport `json:"faults"`
}

// Point is one bucket of a Series. Ops fall in the bucket in which they
// ended. Authorize latencies are 0 in a bucket with no authorize.
type Point struct {
	AtMs           int64   `json:"at_ms"` // the bucket's start
	Answered       int     `json:"answered"`
	Unanswered     int     `json:"unanswered"`
	Authorizes     int     `json:"authorizes"`
	AuthorizeP50Ms float64 `json:"authorize_p50_ms"`
	AuthorizeP99Ms float64 `json:"authorize_p99_ms"`
}

// LagPoint is one replication lag sample.
type LagPoint struct {
	AtMs   int64   `json:"at_ms"`
	Region string  `json:"region,omitempty"`
	Ms     float64 `json:"ms"`
}

// NewSeries buckets h's ops by bucket (DefaultBucket if not positive).
// deadline is as Options.Deadline.
func NewSeries(h History, bucket, deadline time.Duration) Series {
	if bucket <= 0 {
		bucket = DefaultBucket
	}
	var end time.Duration
	for _, op := range h.Ops {
		end = max(end, op.End)
	}
	for _, f := range h.Faults {
		end = max(end, f.At+f.Duration)
	}
	for _, s := range h.Lag {
		end = max(end, s.At)
	}
	n := int(end/bucket) + 1
	s := Series{
		BucketMs:   bucket.Milliseconds(),
		DurationMs: end.Milliseconds(),
		Points:     make([]Point, n),
		Faults:     faultReports(h.Faults),
	}
	lat := make([][]time.Duration, n)
	for _, op := range h.Ops {
		i := max(0, int(op.End/bucket))
		p := &s.Points[i]
		if answered(op, deadline) {
			p.Answered++
		} else {
			p.Unanswered++
		}
		if op.Kind == KindAuthorize {
			p.Authorizes++
			lat[i] = append(lat[i], op.End-op.Start)
		}
	}
	for i := range s.Points {
		s.Points[i].AtMs = (time.Duration(i) * bucket).Milliseconds()
		l := sortedMs(lat[i])
		s.Points[i].AuthorizeP50Ms = percentile(l, 50)
		s.Points[i].AuthorizeP99Ms = percentile(l, 99)
	}
	for _, l := range h.Lag {
		s.Lag = append(s.Lag, LagPoint{AtMs: l.At.Milliseconds(), Region: l.Region, Ms: l.Ms})
	}
	sort.SliceStable(s.Lag, func(i, j int) bool { return s.Lag[i].AtMs < s.Lag[j].AtMs })
	return s
}

func faultReports(fs []Fault) []FaultReport {
	out := make([]FaultReport, 0, len(fs))
	for _, f := range fs {
		out = append(out, FaultReport{
			Kind: f.Kind, AtMs: f.At.Milliseconds(), Ms: f.Duration.Milliseconds(),
			Regions: f.Regions, Detail: f.Detail,
		})
	}
	return out
}
