package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"kassa/checkout"
	"kassa/ledger"
	"kassa/scoring"
)

// Bounds of what the activity feed keeps in memory.
const (
	// seriesMinutes is how far back the dashboard's charts reach.
	seriesMinutes = 60
	// maxReasons bounds the decision reasons counted per minute; more
	// distinct reasons than that count as "other".
	maxReasons = 32
	// MaxAuditActions is how many staff actions the audit page can show:
	// the newest ones; older ones stay on each order's timeline.
	MaxAuditActions = 50_000
	// feedPage is how many entries one read of the ledger takes.
	feedPage = 1000
	// requestBudget bounds the entries a page request reads to catch up
	// itself (when Run is not keeping up, as in a test without it).
	requestBudget = 20 * feedPage
)

// minute is one bucket of the dashboard's series.
type minute struct {
	at         int64 // unix minute; a bucket with another is stale
	checkouts  int64
	authorized int64
	declined   int64
	rightsIn   int64
	rightsOut  int64
	lagN       int64
	lagSum     time.Duration
	lagMax     time.Duration
	approvedBy map[string]int64
	declinedBy map[string]int64
}

// AuditAction is one staff action as the audit page shows it.
type AuditAction struct {
	Entry    string    `json:"entry"`
	Kind     string    `json:"kind"`
	Staff    string    `json:"staff"`
	Role     string    `json:"role"`
	Action   string    `json:"action"`
	Summary  string    `json:"summary,omitempty"`
	Reason   string    `json:"reason"`
	Region   string    `json:"region"`
	At       time.Time `json:"at"`
	Order    string    `json:"order,omitempty"`
	Consumer string    `json:"consumer,omitempty"`

	seq uint64
}

// feed follows this region's ledger in local order (EntriesSince): it
// counts what the dashboard charts into a ring of per-minute buckets and
// keeps the staff actions the audit page lists. Entries are read once; the
// memory it holds is bounded by seriesMinutes and MaxAuditActions.
type feed struct {
	store  *ledger.Store
	svc    *checkout.Service
	now    func() time.Time
	region string
	log    *slog.Logger

	readMu sync.Mutex // one reader at a time; guards pos and live
	pos    int64
	live   bool // caught up once: later entries were seen as they arrived

	mu      sync.Mutex
	minutes [seriesMinutes]minute
	actions []AuditAction // sorted by (At, Region, seq)
	dropped bool          // older actions than MaxAuditActions were let go
}

func newFeed(store *ledger.Store, svc *checkout.Service, now func() time.Time, log *slog.Logger) *feed {
	return &feed{store: store, svc: svc, now: now, region: string(store.Region()), log: log}
}

// run keeps the feed current until ctx ends, reading each commit's entries
// as the ledger announces them, so replication lag is measured when an
// entry arrives.
func (f *feed) run(ctx context.Context) {
	for {
		changed := f.store.Changed()
		if _, err := f.catchUp(ctx, 0); err != nil && ctx.Err() == nil {
			// Tried again on the next commit.
			f.log.Error("admin: read the ledger for the dashboard and audit page", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// catchUp reads the entries stored since the last read, at most budget of
// them (0: all). It reports whether it reached the end.
func (f *feed) catchUp(ctx context.Context, budget int) (bool, error) {
	f.readMu.Lock()
	defer f.readMu.Unlock()
	read := 0
	for budget == 0 || read < budget {
		es, pos, err := f.store.EntriesSince(ctx, f.pos, feedPage)
		if err != nil {
			return false, err
		}
		now := f.now()
		for _, e := range es {
			f.add(ctx, e, now)
		}
		f.pos = pos
		read += len(es)
		if len(es) < feedPage {
			f.live = true
			return true, nil
		}
	}
	return false, nil
}

// add counts one entry. now is when it was read; for an entry of another
// region read live, now minus its time is its replication lag.
func (f *feed) add(ctx context.Context, e ledger.Entry, now time.Time) {
	at := e.HLC.Time()
	local := string(e.Origin) == f.region
	var act *AuditAction
	if bytes.Contains(e.Data, []byte(`"staff"`)) {
		act = f.action(ctx, e)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if act != nil {
		f.insert(*act)
	}
	if !local && f.live {
		if b := f.bucket(now); b != nil {
			lag := max(now.Sub(at), 0)
			b.lagN++
			b.lagSum += lag
			b.lagMax = max(b.lagMax, lag)
		}
	}
	switch e.Kind {
	case checkout.KindSessionCreated, checkout.KindOrderAuthorized, checkout.KindOrderDeclined, checkout.KindRightsTransferred:
	default:
		return
	}
	b := f.bucket(at)
	if b == nil {
		return
	}
	switch e.Kind {
	case checkout.KindRightsTransferred:
		var d struct{ From, To string }
		json.Unmarshal(e.Data, &d)
		if d.To == f.region {
			b.rightsIn++
		}
		if d.From == f.region {
			b.rightsOut++
		}
		return
	}
	if !local {
		return // throughput and decisions are this region's own
	}
	switch e.Kind {
	case checkout.KindSessionCreated:
		b.checkouts++
	case checkout.KindOrderAuthorized, checkout.KindOrderDeclined:
		var d struct {
			Decision checkout.Decision `json:"decision"`
		}
		json.Unmarshal(e.Data, &d)
		by := &b.approvedBy
		if e.Kind == checkout.KindOrderAuthorized {
			b.authorized++
		} else {
			b.declined++
			by = &b.declinedBy
		}
		if *by == nil {
			*by = map[string]int64{}
		}
		reasons := d.Decision.Reasons
		if len(reasons) == 0 {
			reasons = []string{"none"}
		}
		for _, r := range reasons {
			if _, ok := (*by)[r]; !ok && len(b.approvedBy)+len(b.declinedBy) >= maxReasons {
				r = "other"
			}
			(*by)[r]++
		}
	}
}

// bucket is the bucket for t, reset if it held an older minute; nil if t
// is outside the last hour (or in the future).
func (f *feed) bucket(t time.Time) *minute {
	m, now := t.Unix()/60, f.now().Unix()/60
	if m > now || m <= now-seriesMinutes {
		return nil
	}
	b := &f.minutes[m%seriesMinutes]
	if b.at != m {
		*b = minute{at: m}
	}
	return b
}

// action reads a staff action from an entry whose data names a staff
// member, or returns nil.
func (f *feed) action(ctx context.Context, e ledger.Entry) *AuditAction {
	var d map[string]any
	if json.Unmarshal(e.Data, &d) != nil {
		return nil
	}
	str := func(k string) string { s, _ := d[k].(string); return s }
	if str("staff") == "" {
		return nil
	}
	a := &AuditAction{Entry: e.ID().String(), Kind: e.Kind, Staff: str("staff"), Role: str("role"), Reason: str("reason"),
		Region: string(e.Origin), At: e.HLC.Time(), Consumer: str("consumer"), seq: e.Seq}
	if strings.HasPrefix(e.Subject, "ord_") {
		a.Order = e.Subject
	}
	currency := str("currency")
	if a.Order != "" && f.svc != nil {
		// Card orders' entries do not name the consumer, nor any order
		// entry its currency; the order does.
		if o, err := f.svc.Order(ctx, "", checkout.OrderID(a.Order)); err == nil {
			currency = o.Currency
			if a.Consumer == "" && o.Consumer != nil {
				a.Consumer = string(o.Consumer.ID)
			}
		}
	}
	a.Action, a.Summary = describeAction(e.Kind, d, currency)
	return a
}

// describeAction names what a staff action did, and its main facts.
func describeAction(kind string, d map[string]any, currency string) (string, string) {
	str := func(k string) string { s, _ := d[k].(string); return s }
	num := func(k string) (int64, bool) { f, ok := d[k].(float64); return int64(f), ok }
	amt := func(n int64) string {
		if currency == "" {
			return strconv.FormatInt(n, 10) + " (minor units)"
		}
		return money(n, currency)
	}
	switch kind {
	case checkout.KindOrderRefunded:
		if n, ok := num("amount"); ok {
			return "refund", amt(n)
		}
		return "refund", ""
	case checkout.KindOrderCaptured:
		if n, ok := num("amount"); ok {
			return "capture", amt(n)
		}
		return "capture", ""
	case checkout.KindOrderReleased:
		return "release", "the rest of the authorization"
	case checkout.KindOrderExtended:
		return "extension", ""
	case checkout.KindMerchantCreated:
		return "merchant created", str("id")
	case checkout.KindMerchantSecretsRotated:
		return "merchant secrets rotated", str("id")
	case checkout.KindMerchantDisabled:
		return "merchant disabled", str("id")
	case KindStaffAdded:
		return "staff added", str("username")
	case KindStaffRoleChanged:
		return "staff role changed", strings.TrimSpace(str("username") + " to " + str("new_role"))
	case KindStaffPasswordChanged:
		return "staff password changed", str("username")
	case KindStaffDisabled:
		return "staff disabled", str("username")
	case checkout.KindOrderCancelled:
		return "cancel", ""
	case checkout.KindOrderRepaid:
		if n, ok := num("amount"); ok {
			return "repayment", "settled " + amt(n)
		}
		return "repayment", ""
	case scoring.KindCreditAdjusted:
		from, _ := num("from")
		to, _ := num("to")
		return "limit change", "limit " + amt(from) + " → " + amt(to)
	case scoring.KindModeSet:
		return "mode switch", "to " + str("mode")
	case KindStaffAction:
		s := ""
		for _, kv := range actionDetail(d) {
			s = strings.TrimSpace(s + " " + kv[0] + " " + kv[1])
		}
		if act := str("action"); act != "" {
			return act, s
		}
		return kind, s
	}
	return kind, ""
}

// insert keeps f.actions sorted by time; entries mostly arrive in order,
// so this is nearly always an append.
func (f *feed) insert(a AuditAction) {
	less := func(x, y AuditAction) bool {
		if !x.At.Equal(y.At) {
			return x.At.Before(y.At)
		}
		if x.Region != y.Region {
			return x.Region < y.Region
		}
		return x.seq < y.seq
	}
	i := len(f.actions)
	for i > 0 && less(a, f.actions[i-1]) {
		i--
	}
	f.actions = append(f.actions, AuditAction{})
	copy(f.actions[i+1:], f.actions[i:])
	f.actions[i] = a
	if len(f.actions) > MaxAuditActions {
		// The oldest goes; in place, so a full list costs no copy of itself.
		n := copy(f.actions, f.actions[len(f.actions)-MaxAuditActions:])
		clear(f.actions[n:])
		f.actions = f.actions[:n]
		f.dropped = true
	}
}

// auditFilter selects staff actions; empty fields match everything.
type auditFilter struct{ Staff, Order, Consumer string }

// audit returns the actions matching q, newest first, skipping skip and
// returning at most n, with the number that match.
func (f *feed) audit(q auditFilter, skip, n int) ([]AuditAction, int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []AuditAction{}
	total := 0
	for i := len(f.actions) - 1; i >= 0; i-- {
		a := f.actions[i]
		if (q.Staff != "" && a.Staff != q.Staff) || (q.Order != "" && a.Order != q.Order) || (q.Consumer != "" && a.Consumer != q.Consumer) {
			continue
		}
		if total >= skip && len(out) < n {
			out = append(out, a)
		}
		total++
	}
	return out, total, f.dropped
}

// MinuteStats is one minute of the dashboard's last hour.
type MinuteStats struct {
	Start          time.Time `json:"start"`
	Checkouts      int64     `json:"checkouts"`
	Authorizations int64     `json:"authorizations"`
	Declines       int64     `json:"declines"`
	RightsReceived int64     `json:"rights_received"`
	RightsGranted  int64     `json:"rights_granted"`
	LagSamples     int64     `json:"lag_samples"`
	LagAvgMS       int64     `json:"lag_avg_ms"`
	LagMaxMS       int64     `json:"lag_max_ms"`
}

// series returns the last hour, oldest minute first, and the decision
// reasons counted in it.
func (f *feed) series() ([]MinuteStats, map[string]int64, map[string]int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now().Unix() / 60
	out := make([]MinuteStats, 0, seriesMinutes)
	approved, declined := map[string]int64{}, map[string]int64{}
	for m := now - seriesMinutes + 1; m <= now; m++ {
		s := MinuteStats{Start: time.Unix(m*60, 0).UTC()}
		if b := &f.minutes[m%seriesMinutes]; b.at == m {
			s.Checkouts, s.Authorizations, s.Declines = b.checkouts, b.authorized, b.declined
			s.RightsReceived, s.RightsGranted = b.rightsIn, b.rightsOut
			s.LagSamples, s.LagMaxMS = b.lagN, b.lagMax.Milliseconds()
			if b.lagN > 0 {
				s.LagAvgMS = (b.lagSum / time.Duration(b.lagN)).Milliseconds()
			}
			for r, n := range b.approvedBy {
				approved[r] += n
			}
			for r, n := range b.declinedBy {
				declined[r] += n
			}
		}
		out = append(out, s)
	}
	return out, approved, declined
}

// actionDetail returns the string details of a staff.action entry's data,
// ordered by name.
func actionDetail(d map[string]any) [][2]string {
	det, _ := d["detail"].(map[string]any)
	keys := make([]string, 0, len(det))
	for k := range det {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out [][2]string
	for _, k := range keys {
		if v, ok := det[k].(string); ok {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}
