package sync

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"kassa/ledger"
)

// Ledger is what status needs from the region's ledger.
type Ledger interface {
	Region() ledger.RegionID
	Vector() map[ledger.RegionID]uint64
	Digest() ledger.Digest
	Count() int64
}

// Peer is another region as configured.
type Peer struct {
	ID  string
	URL string
}

// Status is the body of GET /sync/v1/status.
type Status struct {
	Region  string            `json:"region"`
	Vector  map[string]uint64 `json:"vector"`
	Digest  string            `json:"digest"`
	Entries int64             `json:"entries"`
	Peers   []PeerStatus      `json:"peers"`
}

// PeerStatus is what this region knows about one peer. LastOK and Behind are
// null until the region has heard from the peer.
type PeerStatus struct {
	ID         string     `json:"id"`
	URL        string     `json:"url"`
	Reachable  bool       `json:"reachable"`
	LastOK     *time.Time `json:"last_ok"`
	Behind     *int64     `json:"behind"`
	Rejections int64      `json:"rejections"`
}

// StatusHandler serves GET /sync/v1/status for l and its configured peers.
// It is safe for concurrent use.
func StatusHandler(l Ledger, peers []Peer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := Status{
			Region:  string(l.Region()),
			Vector:  map[string]uint64{},
			Digest:  l.Digest().String(),
			Entries: l.Count(),
			Peers:   []PeerStatus{},
		}
		for o, seq := range l.Vector() {
			st.Vector[string(o)] = seq
		}
		for _, p := range peers {
			st.Peers = append(st.Peers, PeerStatus{ID: p.ID, URL: p.URL})
		}
		sort.Slice(st.Peers, func(i, j int) bool { return st.Peers[i].ID < st.Peers[j].ID })
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(st)
	})
}
