package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"kassa/ledger"
)

// Errors of Run and Resolve.
var (
	ErrBadDay       = errors.New("reconcile: day must be a date YYYY-MM-DD, not in the future")
	ErrNoSource     = errors.New("reconcile: no settlement file source is configured")
	ErrSource       = errors.New("reconcile: the settlement file cannot be read")
	ErrNotFound     = errors.New("reconcile: no such difference")
	ErrResolved     = errors.New("reconcile: difference already resolved")
	ErrNoteRequired = errors.New("reconcile: a note is required")
	ErrNoteTooLong  = errors.New("reconcile: the note is too long")
)

// MaxNote is the longest note a resolution takes, in characters.
const MaxNote = 500

// MaxDifferences is how many differences one run records at most.
const MaxDifferences = 500

// Source gives the acquirer's settlement lines of a day ("YYYY-MM-DD").
type Source interface {
	Settlement(ctx context.Context, day string) ([]Line, error)
}

// SourceFunc is a Source as a function.
type SourceFunc func(ctx context.Context, day string) ([]Line, error)

// Settlement calls f.
func (f SourceFunc) Settlement(ctx context.Context, day string) ([]Line, error) { return f(ctx, day) }

// Actor is who runs a day or resolves a difference: a staff member and
// their role, or BySchedule.
type Actor struct {
	Name string
	Role string
}

// Config is what a Reconciler needs besides its store and source.
type Config struct {
	// Region is this region's id and Regions every region's (this one's
	// too): the rank of Region among them, sorted, staggers the schedule.
	Region  string
	Regions []string
	// Settings are the schedule's.
	Settings Settings
	// Now is the clock; time.Now if nil.
	Now    func() time.Time
	Logger *slog.Logger
}

// Reconciler runs reconciliations and keeps their record in the ledger.
// It is safe for concurrent use; runs in one region are serialised.
type Reconciler struct {
	store  *ledger.Store
	source Source
	cfg    Config
	rank   int
	mu     sync.Mutex // serialises runs and resolutions
}

// New returns a Reconciler over store reading the acquirer's files from
// source (nil: Run answers ErrNoSource).
func New(store *ledger.Store, source Source, cfg Config) *Reconciler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	regions := slices.Clone(cfg.Regions)
	if !slices.Contains(regions, cfg.Region) {
		regions = append(regions, cfg.Region)
	}
	slices.Sort(regions)
	return &Reconciler{store: store, source: source, cfg: cfg, rank: slices.Index(regions, cfg.Region)}
}

// ParseDay checks that s is a date YYYY-MM-DD and returns its midnight UTC.
func ParseDay(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || t.Format(time.DateOnly) != s {
		return time.Time{}, ErrBadDay
	}
	return t, nil
}

func (r *Reconciler) checkDay(day string) error {
	t, err := ParseDay(day)
	if err != nil {
		return err
	}
	if t.After(r.cfg.Now().UTC()) {
		return ErrBadDay
	}
	return nil
}

// Day returns the state of day's reconciliation as this region's ledger
// holds it. It returns ErrBadDay for a malformed day.
func (r *Reconciler) Day(ctx context.Context, day string) (Day, error) {
	if _, err := ParseDay(day); err != nil {
		return Day{}, err
	}
	es, err := r.store.EntriesBySubject(ctx, Subject(day))
	if err != nil {
		return Day{}, fmt.Errorf("reconcile: read %s: %w", day, err)
	}
	return Fold(day, es), nil
}

// Days returns the state of the latest limit days that have runs, newest
// first.
func (r *Reconciler) Days(ctx context.Context, limit int) ([]Day, error) {
	es, err := r.store.EntriesByRef(ctx, RunsRef)
	if err != nil {
		return nil, fmt.Errorf("reconcile: read runs: %w", err)
	}
	var days []string
	for _, e := range es {
		var v struct {
			Day string `json:"day"`
		}
		if e.Kind == KindRun && json.Unmarshal(e.Data, &v) == nil && !slices.Contains(days, v.Day) {
			if _, err := ParseDay(v.Day); err == nil {
				days = append(days, v.Day)
			}
		}
	}
	slices.Sort(days)
	slices.Reverse(days)
	if len(days) > limit {
		days = days[:limit]
	}
	out := make([]Day, 0, len(days))
	for _, day := range days {
		d, err := r.Day(ctx, day)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Operations returns the ledger's card captures and refunds of day: the
// order.captured, order.refunded and invoice.card_paid entries with the ref
// "acquirer-day:<day>", in fold order.
func (r *Reconciler) Operations(ctx context.Context, day string) ([]Operation, error) {
	es, err := r.store.EntriesByRef(ctx, "acquirer-day:"+day)
	if err != nil {
		return nil, fmt.Errorf("reconcile: read the ledger's operations of %s: %w", day, err)
	}
	ledger.SortEntries(es)
	var ops []Operation
	for _, e := range es {
		if op, ok := operationOf(e); ok {
			ops = append(ops, op)
		}
	}
	return ops, nil
}

// operationOf reads a card capture or refund entry's data.
func operationOf(e ledger.Entry) (Operation, bool) {
	var typ string
	switch e.Kind {
	case "order.captured":
		typ = "capture"
	case "order.refunded":
		typ = "refund"
	case "invoice.card_paid":
		// A shopper paying an invoice by card: the capture the payment
		// made (its subject is the invoice, the reference it was sent
		// under).
		typ = "capture"
	default:
		return Operation{}, false
	}
	var v struct {
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
		Acquirer struct {
			Key       string `json:"key"`
			Payment   string `json:"payment"`
			Operation string `json:"operation"`
		} `json:"acquirer"`
	}
	if json.Unmarshal(e.Data, &v) != nil {
		return Operation{}, false
	}
	return Operation{Entry: e.ID().String(), Key: v.Acquirer.Key, Type: typ, Order: e.Subject, Operation: v.Acquirer.Operation,
		Payment: v.Acquirer.Payment, Amount: v.Amount, Currency: v.Currency}, true
}

// Run reconciles day: it reads the acquirer's file and the ledger, records
// the differences not recorded before and then the run, and returns the
// day's state. It returns ErrBadDay for a malformed or future day,
// ErrNoSource without a source, and ErrSource wrapping the source's error
// when the file cannot be read; then nothing is written.
func (r *Reconciler) Run(ctx context.Context, day string, by Actor) (Day, error) {
	if err := r.checkDay(day); err != nil {
		return Day{}, err
	}
	if r.source == nil {
		return Day{}, ErrNoSource
	}
	lines, err := r.source.Settlement(ctx, day)
	if err != nil {
		return Day{}, fmt.Errorf("%w (%s): %w", ErrSource, day, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ops, err := r.Operations(ctx, day)
	if err != nil {
		return Day{}, err
	}
	res := Match(day, lines, ops)
	before, err := r.Day(ctx, day)
	if err != nil {
		return Day{}, err
	}
	// Once the file is read, the record is written whatever the caller
	// does: a run half recorded would say less than it found.
	wctx := context.WithoutCancel(ctx)
	diffs := res.Differences
	if len(diffs) > MaxDifferences {
		diffs = diffs[:MaxDifferences]
	}
	ids := make([]string, 0, len(diffs))
	for _, d := range diffs {
		ids = append(ids, d.ID)
		if _, recorded := before.Difference(d.ID); recorded {
			continue
		}
		data, err := json.Marshal(differenceData{Day: day, Difference: d})
		if err != nil {
			return Day{}, err
		}
		if _, err := r.store.Append(wctx, ledger.Draft{Kind: KindDifference, Subject: Subject(day), Data: data}); err != nil {
			return Day{}, fmt.Errorf("reconcile: record difference %s of %s: %w", d.ID, day, err)
		}
	}
	data, err := json.Marshal(runData{Day: day, By: by.Name, Role: by.Role, Lines: res.Lines, Matched: res.Matched,
		Differences: len(res.Differences), IDs: ids, Truncated: len(diffs) < len(res.Differences),
		File: res.File, Ledger: res.Ledger, Refs: []string{RunsRef}})
	if err != nil {
		return Day{}, err
	}
	if _, err := r.store.Append(wctx, ledger.Draft{Kind: KindRun, Subject: Subject(day), Data: data}); err != nil {
		return Day{}, fmt.Errorf("reconcile: record the run of %s: %w", day, err)
	}
	r.cfg.Logger.Info("reconciled the acquirer's settlement file", "day", day, "by", by.Name,
		"lines", res.Lines, "matched", res.Matched, "differences", len(res.Differences))
	return r.Day(wctx, day)
}

// Resolve records that by resolved the difference id of day, with note.
// It returns ErrNoteRequired without a note, ErrNoteTooLong for one over
// MaxNote characters, ErrNotFound for a difference this region has not
// recorded and ErrResolved for one already resolved; then nothing is
// written.
func (r *Reconciler) Resolve(ctx context.Context, day, id string, by Actor, note string) (Recorded, error) {
	note = strings.TrimSpace(note)
	switch {
	case note == "":
		return Recorded{}, ErrNoteRequired
	case utf8.RuneCountInString(note) > MaxNote:
		return Recorded{}, ErrNoteTooLong
	}
	if _, err := ParseDay(day); err != nil {
		return Recorded{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d, err := r.Day(ctx, day)
	if err != nil {
		return Recorded{}, err
	}
	diff, ok := d.Difference(id)
	switch {
	case !ok:
		return Recorded{}, ErrNotFound
	case diff.Resolution != nil:
		return diff, ErrResolved
	}
	data, err := json.Marshal(resolvedData{Day: day, Difference: id, Staff: by.Name, Role: by.Role, Note: note})
	if err != nil {
		return Recorded{}, err
	}
	e, err := r.store.Append(context.WithoutCancel(ctx), ledger.Draft{Kind: KindResolved, Subject: Subject(day), Data: data})
	if err != nil {
		return Recorded{}, fmt.Errorf("reconcile: record the resolution of %s: %w", id, err)
	}
	diff.Resolution = &Resolution{Entry: e.ID().String(), Region: string(e.Origin), At: e.HLC.Time(), Staff: by.Name, Role: by.Role, Note: note}
	return diff, nil
}

// Due returns the day the schedule would reconcile now (the previous UTC
// day) and whether it is due in this region: delay plus stagger times the
// region's rank after midnight.
func (r *Reconciler) Due() (day string, due bool) {
	now := r.cfg.Now().UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	day = midnight.AddDate(0, 0, -1).Format(time.DateOnly)
	wait := r.cfg.Settings.Delay + time.Duration(r.rank)*r.cfg.Settings.Stagger
	return day, !now.Before(midnight.Add(wait))
}

// Scheduled runs the previous UTC day if it is due here and no region has
// run it by the schedule yet. It reports whether it ran it. With the
// schedule disabled, or without a source, it does nothing.
func (r *Reconciler) Scheduled(ctx context.Context) (ran bool, err error) {
	if !r.cfg.Settings.Enabled || r.source == nil {
		return false, nil
	}
	day, due := r.Due()
	if !due {
		return false, nil
	}
	d, err := r.Day(ctx, day)
	if err != nil || d.ScheduledRun() {
		return false, err
	}
	if _, err := r.Run(ctx, day, Actor{Name: BySchedule}); err != nil {
		return false, err
	}
	return true, nil
}
