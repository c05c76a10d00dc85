package ledger

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what a Store does. A nil *Metrics counts nothing.
type Metrics struct {
	entries      prometheus.Counter
	written      *prometheus.CounterVec
	batches      prometheus.Histogram
	commitTime   prometheus.Histogram
	commitErrors prometheus.Counter
	rejections   *prometheus.CounterVec
	forks        prometheus.Counter
	lockWaits    prometheus.Counter
	lockWaited   prometheus.Counter
}

// NewMetrics creates the ledger's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		entries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kassa_ledger_entries_committed_total",
			Help: "Entries committed to this region's ledger (appended or applied).",
		}),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kassa_ledger_entries_written_total",
			Help: "Entries this region wrote (appended, not applied from a peer), by kind.",
		}, []string{"kind"}),
		batches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kassa_ledger_commit_entries",
			Help:    "Entries per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7),
		}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kassa_ledger_commit_seconds",
			Help:    "Time to sign, write and commit one group.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14),
		}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kassa_ledger_commit_errors_total",
			Help: "Group commits that failed; nothing of such a group was stored.",
		}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kassa_ledger_rejected_total",
			Help: "Remote entries rejected, by reason.",
		}, []string{"reason"}),
		forks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kassa_ledger_forks_total",
			Help: "Entries quarantined as forks (a second entry at an origin and seq already held).",
		}),
	}
	m.lockWaits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kassa_ledger_write_lock_waits_total",
		Help: "Writes that found SQLite's write lock held by another connection (the backup's checkpoint) and waited for it.",
	})
	m.lockWaited = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kassa_ledger_write_lock_wait_seconds_total",
		Help: "Time writes spent waiting for SQLite's write lock held by another connection.",
	})
	reg.MustRegister(m.entries, m.written, m.batches, m.commitTime, m.commitErrors, m.rejections, m.forks, m.lockWaits, m.lockWaited)
	return m
}

// wrote counts one entry of kind this region appended.
func (m *Metrics) wrote(kind string) { m.written.WithLabelValues(kind).Inc() }

func (m *Metrics) committed(n int, d time.Duration) {
	if m == nil {
		return
	}
	m.entries.Add(float64(n))
	m.batches.Observe(float64(n))
	m.commitTime.Observe(d.Seconds())
}

func (m *Metrics) commitFailed() {
	if m != nil {
		m.commitErrors.Inc()
	}
}

func (m *Metrics) rejected(reason string) {
	if m != nil {
		m.rejections.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) fork() {
	if m != nil {
		m.forks.Inc()
	}
}

func (m *Metrics) waitedForLock(d time.Duration) {
	if m != nil {
		m.lockWaits.Inc()
		m.lockWaited.Add(d.Seconds())
	}
}
