package sync

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts what a Node does. Without a registerer it counts into
// collectors nobody reads.
type metrics struct {
	pushes     *prometheus.CounterVec
	sent       *prometheus.CounterVec
	pushTime   prometheus.Histogram
	recv       *prometheus.CounterVec
	refusals   *prometheus.CounterVec
	peerUp     *prometheus.GaugeVec
	peerBehind *prometheus.GaugeVec
	grants     prometheus.Counter
	// pushWindow is how many pushes may await their answers at once, by peer.
	pushWindow *prometheus.GaugeVec
	// peerDown is 1 while a peer is Down; rightsSkipped counts the rights
	// requests not sent because their owner was down.
	peerDown      *prometheus.GaugeVec
	rightsSkipped *prometheus.CounterVec
	// lookups counts this region's read-throughs by result, lookupTime
	// their duration; lookupsServed the peers' lookups answered here.
	lookups       *prometheus.CounterVec
	lookupTime    prometheus.Histogram
	lookupsServed *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kassa_sync_pushes_total", Help: "Pushes to peers, by peer and result (ok, error).",
		}, []string{"peer", "result"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kassa_sync_entries_sent_total", Help: "Entries sent to peers.",
		}, []string{"peer"}),
		pushTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kassa_sync_push_seconds", Help: "Round trip of one push.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		recv: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kassa_sync_entries_received_total", Help: "Entries received in pushes, by outcome (applied, duplicate).",
		}, []string{"outcome"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kassa_sync_requests_refused_total", Help: "Inbound sync requests refused, by reason.",
		}, []string{"reason"}),
		peerUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kassa_sync_peer_reachable", Help: "1 if the last push to the peer succeeded.",
		}, []string{"peer"}),
		peerBehind: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kassa_sync_peer_behind_entries", Help: "Entries this region holds that the peer lacked at its last answer.",
		}, []string{"peer"}),
	}
	m.grants = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kassa_sync_rights_granted_total", Help: "Rights transfers this region granted to peers on request.",
	})
	m.pushWindow = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kassa_sync_pushes_in_flight_allowed", Help: "Pushes this region lets await their answers at once to the peer (1 for a while after the peer answered one 429).",
	}, []string{"peer"})
	m.peerDown = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kassa_sync_peer_down", Help: "1 while the last exchange with the peer failed without an answer (its rights requests are skipped).",
	}, []string{"peer"})
	m.rightsSkipped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kassa_sync_rights_requests_skipped_total", Help: "Rights requests not sent because their owner was down.",
	}, []string{"peer"})
	m.lookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kassa_sync_lookups_total", Help: "Read-throughs: objects this region did not hold, asked of its peers, by result (found, absent, unknown).",
	}, []string{"result"})
	m.lookupTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "kassa_sync_lookup_seconds", Help: "Duration of one read-through, answers applied included.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12),
	})
	m.lookupsServed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kassa_sync_lookups_served_total", Help: "Peers' lookups answered, by whether this region held the object (true, false).",
	}, []string{"held"})
	if reg != nil {
		reg.MustRegister(m.lookups, m.lookupTime, m.lookupsServed)
		reg.MustRegister(m.grants, m.pushWindow, m.peerDown, m.rightsSkipped)
		reg.MustRegister(m.pushes, m.sent, m.pushTime, m.recv, m.refusals, m.peerUp, m.peerBehind)
	}
	return m
}

func (m *metrics) pushed(peer string, n int, d time.Duration, behind int64, err error) {
	if err != nil {
		m.pushes.WithLabelValues(peer, "error").Inc()
		m.peerUp.WithLabelValues(peer).Set(0)
		return
	}
	m.pushes.WithLabelValues(peer, "ok").Inc()
	m.peerUp.WithLabelValues(peer).Set(1)
	m.sent.WithLabelValues(peer).Add(float64(n))
	m.pushTime.Observe(d.Seconds())
	m.peerBehind.WithLabelValues(peer).Set(float64(behind))
}

func (m *metrics) window(peer string, n int) { m.pushWindow.WithLabelValues(peer).Set(float64(n)) }

func (m *metrics) received(applied, duplicates int) {
	m.recv.WithLabelValues("applied").Add(float64(applied))
	m.recv.WithLabelValues("duplicate").Add(float64(duplicates))
}

func (m *metrics) granted() { m.grants.Inc() }

func (m *metrics) refused(reason string) { m.refusals.WithLabelValues(reason).Inc() }

func (m *metrics) looked(r LookupResult, d time.Duration) {
	m.lookups.WithLabelValues(r.String()).Inc()
	m.lookupTime.Observe(d.Seconds())
}

func (m *metrics) lookupServed(held bool) {
	m.lookupsServed.WithLabelValues(strconv.FormatBool(held)).Inc()
}
