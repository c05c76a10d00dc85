package sync

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/prometheus/client_golang/prometheus"

	"kassa/ledger"
)

// Peer is another region as configured.
type Peer struct {
	ID        string
	URL       string
	PublicKey ed25519.PublicKey
}

// Config configures a Node.
type Config struct {
	// Key signs this region's requests; its region id is the ledger's.
	Key   ed25519.PrivateKey
	Peers []Peer
	// Settings are the operator's tunables; a zero field takes its
	// default, except Retries (zero: no retries).
	Settings
	// Transport carries outbound requests (tests inject faults here).
	Transport http.RoundTripper
	Now       func() time.Time
	Logger    *slog.Logger
	// Registerer receives the sync metrics; none if nil.
	Registerer prometheus.Registerer
}

// Node replicates one region's ledger with its peers: it pushes what each
// peer lacks, serves pushes and pulls, and tracks each peer's state. A Node
// is safe for concurrent use.
type Node struct {
	cfg    Config
	store  *ledger.Store
	log    *slog.Logger
	client *retryablehttp.Client
	auth   *authenticator
	m      *metrics

	mu      sync.Mutex
	peers   map[string]*peerState
	forks   map[string]int64 // origin -> forks seen from it
	inbound map[string]int   // peer -> requests being served, rights requests apart
	rights  map[string]int   // peer -> rights requests being served
	reading int64            // bytes of request bodies being read, not yet authenticated
	// pipes keeps each peer's pipelined pushes in order.
	pipes *pipelines
	// incarnation names this process in answers to pushes.
	incarnation string
	granter     RightsGranter
	// lookups holds a slot per read-through under way (LookupsInFlight).
	lookups chan struct{}
	// learned is closed and replaced whenever a peer's answer raised what
	// this region knows it holds; AwaitPeer waits on it.
	learned chan struct{}
}

type peerState struct {
	Peer
	reachable  bool
	lastOK     time.Time
	lastErr    string
	vector     map[ledger.RegionID]uint64 // last vector the peer reported; nil until heard
	saved      map[ledger.RegionID]uint64 // what of vector is persisted
	rejections int64
	// pushSeq numbers the pushes to this peer (PushRequest.Seq).
	pushSeq uint64
	// incarnation is the peer process whose answers vector follows, and
	// incarnationFrom the push whose answer first came from it.
	incarnation     string
	incarnationFrom uint64
	// window is how many pushes may be in flight to this peer; narrowed
	// is when a 429 to a pipelined push last cut it to one.
	window   int
	narrowed time.Time
	// down: this region's last exchange with the peer (a push, a pull or a
	// rights request) failed and none has succeeded since. probed is when
	// the last rights request went to the peer while it was down.
	down   bool
	probed time.Time
	// pending counts requests to the peer in flight; waiting is when the
	// count last rose from zero, heard when the peer last answered
	// anything (see silent).
	pending int
	waiting time.Time
	heard   time.Time
	// answer is how long the peer takes to answer one request, smoothed
	// over its recent answers (see noteAnswer): a peer that is slow
	// because everything is busy is not silent until it has kept this
	// region waiting several times longer than that.
	answer time.Duration
	// wake cuts short the push loop's wait after a failure: the peer was
	// just heard from, so it is likely reachable again.
	wake chan struct{}
	// relayed is, per origin, the highest seq this region has sent the
	// peer; direct is when the peer was last seen holding more of that
	// origin than that, so getting it from another region (see relayHold).
	relayed map[ledger.RegionID]uint64
	direct  map[ledger.RegionID]time.Time
}

// relayHold is how long after a peer was last seen getting an origin's
// entries from another region (the origin itself, or another relay) this
// region holds back relaying that origin's entries to it: a second, or
// three push intervals if longer, so that the vector exchange of every
// interval keeps it fresh. Without it a region relays each entry it
// receives to every peer it has not heard holding it yet, and in a busy
// cluster many entries cross a link twice; with it, a relay starts only
// once the direct way has gone quiet (a partial partition), at most this
// much later.
func (n *Node) relayHold() time.Duration { return max(time.Second, 3*n.cfg.Interval) }

// raise merges what the peer is seen to hold of origin o into its vector,
// noting when it got more of o than this region sent it. The caller holds
// n.mu.
func (p *peerState) raise(o ledger.RegionID, seq uint64, now time.Time) {
	if seq <= p.vector[o] {
		return
	}
	p.vector[o] = seq
	if seq > p.relayed[o] {
		if p.direct == nil {
			p.direct = map[ledger.RegionID]time.Time{}
		}
		p.direct[o] = now
	}
}

// New creates a node for store. Call Routes to serve peers and Run to push.
func New(store *ledger.Store, cfg Config) (*Node, error) {
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("sync: no region key")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Interval, DefaultInterval)
	def(&cfg.Timeout, DefaultTimeout)
	def(&cfg.RetryWaitMin, DefaultRetryWaitMin)
	def(&cfg.RetryWaitMax, DefaultRetryWaitMax)
	def(&cfg.ReplayWindow, DefaultReplayWindow)
	def(&cfg.RecoveryTimeout, DefaultRecoveryTimeout)
	def(&cfg.AckTimeout, DefaultAckTimeout)
	def(&cfg.LookupTimeout, DefaultLookupTimeout)
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxConcurrentPerPeer <= 0 {
		cfg.MaxConcurrentPerPeer = DefaultMaxConcurrentPerPeer
	}
	if cfg.MaxRightsPerPeer <= 0 {
		cfg.MaxRightsPerPeer = DefaultMaxRightsPerPeer
	}
	if cfg.PushesInFlight <= 0 {
		cfg.PushesInFlight = DefaultPushesInFlight
	}
	if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	client := retryablehttp.NewClient()
	client.HTTPClient = &http.Client{Transport: cfg.Transport, Timeout: cfg.Timeout}
	client.RetryMax = cfg.Retries
	client.RetryWaitMin, client.RetryWaitMax = cfg.RetryWaitMin, cfg.RetryWaitMax
	client.Logger = nil
	client.ErrorHandler = retryablehttp.PassthroughErrorHandler
	client.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		// A pipelined push refused for concurrency is not retried as it is:
		// the drain goes on with one push at a time (see drain).
		if resp != nil && resp.StatusCode == http.StatusTooManyRequests && ctx.Value(pipelinedKey{}) != nil {
			return false, nil
		}
		// A probe of a peer that is down is its own retry.
		if ctx.Value(probeKey{}) != nil {
			return false, nil
		}
		// A rights request refused for concurrency is not worth the
		// second Retry-After asks for: a shopper is waiting, and the
		// decision goes on to the next owner or degrades instead.
		if resp != nil && resp.StatusCode == http.StatusTooManyRequests && ctx.Value(rightsKey{}) != nil {
			return false, nil
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}

	n := &Node{
		cfg:         cfg,
		store:       store,
		log:         cfg.Logger,
		client:      client,
		auth:        &authenticator{keys: map[string]ed25519.PublicKey{}, window: cfg.ReplayWindow, now: cfg.Now, seen: map[string]time.Time{}},
		m:           newMetrics(cfg.Registerer),
		peers:       map[string]*peerState{},
		forks:       map[string]int64{},
		inbound:     map[string]int{},
		rights:      map[string]int{},
		pipes:       newPipelines(),
		incarnation: fmt.Sprintf("%016x", randomSeq()),
		learned:     make(chan struct{}),
		lookups:     make(chan struct{}, LookupsInFlight),
	}
	client.RequestLogHook = n.signHook
	for _, p := range cfg.Peers {
		if ledger.RegionID(p.ID) == store.Region() {
			return nil, fmt.Errorf("sync: peer %q is this region", p.ID)
		}
		// Push numbers start at random, so that a restarted sender's do
		// not continue an earlier process's pipeline at the peer.
		n.peers[p.ID] = &peerState{Peer: p, pushSeq: randomSeq(), window: cfg.PushesInFlight, wake: make(chan struct{}, 1)}
		n.m.window(p.ID, cfg.PushesInFlight)
		n.auth.keys[p.ID] = p.PublicKey
	}
	n.loadCursors(context.Background())
	return n, nil
}

// Status is the body of GET /sync/v1/status.
type Status struct {
	Region  string            `json:"region"`
	Vector  map[string]uint64 `json:"vector"`
	Digest  string            `json:"digest"`
	Entries int64             `json:"entries"`
	Forks   map[string]int64  `json:"forks"`
	Peers   []PeerStatus      `json:"peers"`
}

// PeerStatus is what this region knows about one peer. LastOK and Behind are
// null until the peer has answered once. Behind counts the entries this
// region holds that the peer did not have at its last answer.
type PeerStatus struct {
	ID        string `json:"id"`
	URL       string `json:"url"`
	Reachable bool   `json:"reachable"`
	// Down: the last exchange of any kind failed without an answer; rights
	// requests to the peer are skipped (Node.Down).
	Down       bool              `json:"down"`
	LastOK     *time.Time        `json:"last_ok"`
	Behind     *int64            `json:"behind"`
	Vector     map[string]uint64 `json:"vector,omitempty"`
	Rejections int64             `json:"rejections"`
	LastError  string            `json:"last_error,omitempty"`
}

// Status reports the region's vector, digest and each peer's state.
func (n *Node) Status() Status {
	mine := n.store.Vector()
	st := Status{
		Region:  string(n.store.Region()),
		Vector:  map[string]uint64{},
		Digest:  n.store.Digest().String(),
		Entries: n.store.Count(),
		Forks:   map[string]int64{},
		Peers:   []PeerStatus{},
	}
	for o, s := range mine {
		st.Vector[string(o)] = s
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for o, c := range n.forks {
		st.Forks[o] = c
	}
	for _, p := range n.peers {
		ps := PeerStatus{ID: p.ID, URL: redact(p.URL), Reachable: p.reachable, Down: p.down, Rejections: p.rejections, LastError: p.lastErr}
		if !p.lastOK.IsZero() {
			t := p.lastOK.UTC()
			ps.LastOK = &t
		}
		if p.vector != nil {
			b := behind(mine, p.vector)
			ps.Behind = &b
			ps.Vector = map[string]uint64{}
			for o, s := range p.vector {
				ps.Vector[string(o)] = s
			}
		}
		st.Peers = append(st.Peers, ps)
	}
	sort.Slice(st.Peers, func(i, j int) bool { return st.Peers[i].ID < st.Peers[j].ID })
	return st
}

// behind counts the entries in mine that theirs lacks.
func behind(mine, theirs map[ledger.RegionID]uint64) int64 {
	var b int64
	for o, s := range mine {
		if t := theirs[o]; s > t {
			b += int64(s - t)
		}
	}
	return b
}

func toVector(v map[ledger.RegionID]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(v))
	for o, s := range v {
		out[string(o)] = s
	}
	return out
}

func fromVector(v map[string]uint64) map[ledger.RegionID]uint64 {
	out := make(map[ledger.RegionID]uint64, len(v))
	for o, s := range v {
		out[ledger.RegionID(o)] = s
	}
	return out
}

// redact hides any password in a URL, so status never shows one.
func redact(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return pu.Redacted()
}

// Unreachable reports whether any peer failed its last push, is Down, or
// has not answered since this region started: this region may then be missing
// entries written elsewhere.
func (n *Node) Unreachable() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.peers {
		if !p.reachable || p.down {
			return true
		}
	}
	return false
}

// Lagging reports whether this region lacks more than max entries that
// some peer held at its last answer: a region that joined or was restored
// and has not caught up yet.
func (n *Node) Lagging(max uint64) bool {
	mine := n.store.Vector()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.peers {
		if p.lastOK.IsZero() {
			continue // only answers since start say what a peer holds
		}
		var lack uint64
		for o, s := range p.vector {
			if s > mine[o] {
				lack += s - mine[o]
			}
		}
		if lack > max {
			return true
		}
	}
	return false
}

// HeardFromAll reports whether every peer has answered this region since
// it started (cursors saved in a restored database do not count: they may
// be old): until then this region cannot tell whether it is behind.
func (n *Node) HeardFromAll() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.peers {
		if p.lastOK.IsZero() {
			return false
		}
	}
	return true
}

// ErrNotHeld is returned by AwaitPeer when no peer reported holding the
// entry in time.
var ErrNotHeld = errors.New("sync: no peer confirmed it holds the entry in time")

// AwaitPeer waits until at least one peer has answered a push with a
// vector that holds origin's entries up to seq: the entry is then stored
// in two regions. It waits at most Settings.AckTimeout (and while ctx
// lasts) and then returns ErrNotHeld; the entry stays committed here and is
// pushed as usual. Pushes follow every commit, so a reachable peer answers
// within about one round trip. It is safe for concurrent use.
func (n *Node) AwaitPeer(ctx context.Context, origin ledger.RegionID, seq uint64) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.AckTimeout)
	defer cancel()
	for {
		n.mu.Lock()
		woken := n.learned
		held := false
		for _, p := range n.peers {
			// Only answers since this process started count: a saved
			// cursor may be from before the peer was restored.
			if !p.lastOK.IsZero() && p.vector[origin] >= seq {
				held = true
				break
			}
		}
		n.mu.Unlock()
		if held {
			return nil
		}
		select {
		case <-woken:
		case <-ctx.Done():
			return fmt.Errorf("%w (%s/%d): %v", ErrNotHeld, origin, seq, ctx.Err())
		}
	}
}

// learn takes the vector in the answer to push seq from the peer process
// incarnation. Within one process a peer's vector only grows, so answers
// (and the vectors in the peer's own requests) are merged, whatever order
// they arrive in. A new process may have started from an older backup and
// hold less: its first answer replaces what was known, so that what it lost
// is sent again. It reports whether v replaced what was known (the first
// answer of a process). The caller holds n.mu.
func (p *peerState) learn(v map[ledger.RegionID]uint64, incarnation string, seq uint64, now time.Time) bool {
	if p.vector == nil || incarnation != p.incarnation {
		if p.vector != nil && seq < p.incarnationFrom {
			return false // a late answer from a process that has since been replaced
		}
		// A new process may hold less than was sent to the old one: what
		// it lacks is sent again from now on.
		p.vector, p.incarnation, p.incarnationFrom = v, incarnation, seq
		p.relayed, p.direct = nil, nil
		return true
	}
	for o, s := range v {
		p.raise(o, s, now)
	}
	return false
}

// randomSeq returns a random starting point for push numbers, well below the
// largest so that adding to it never wraps.
func randomSeq() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) >> 2
}
