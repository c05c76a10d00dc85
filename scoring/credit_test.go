package scoring_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"kassa/checkout"
	"kassa/ledger"
	"kassa/scoring"
)

// world is a few regions' ledgers and engines in one process; rights
// requests go straight to the owner's engine and carry the owner's entries
// back, as the sync channel does.
type world struct {
	t       testing.TB
	regions []string
	stores  map[string]*ledger.Store
	engines map[string]*scoring.Engine
	down    map[string]bool // regions whose rights requests fail
	now     time.Time
}

func keyOf(id string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("scoring-test-" + id))
	return ed25519.NewKeyFromSeed(seed[:])
}

func testPolicy() scoring.Policy {
	up := func(v int64) *int64 { return &v }
	return scoring.Policy{
		MaxPayLater: 1_000_000, MinInstalments: 10_000,
		BaseScore: 620, ApproveScore: 600, ReferScore: 500, ConservativeMargin: 40,
		Scorecard: []scoring.Characteristic{
			{Feature: "overdue_amount", Bands: []scoring.Band{{UpTo: up(0)}, {Points: -250, Reason: "overdue_balance"}}},
			{Feature: "account_age_days", Bands: []scoring.Band{{UpTo: up(0), Points: -10, Reason: "new_consumer"}, {Points: 30}}},
		},
		CreditLimit:     map[string]int64{"SEK": 100_000},
		UnsecuredBudget: map[string]int64{"SEK": 30_000}, UnsecuredMaxOrder: 20_000, UnsecuredMinScore: 600,
		RightsTimeout: time.Second, GrantShare: 0.5, RebalanceShare: 0.3, RebalanceWindow: 24 * time.Hour,
		GraceDays: 5,
	}
}

func newWorld(t testing.TB, tune func(*scoring.Policy), regions ...string) *world {
	w := &world{t: t, regions: regions, stores: map[string]*ledger.Store{}, engines: map[string]*scoring.Engine{},
		down: map[string]bool{}, now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	keys := ledger.Keys{}
	for _, r := range regions {
		keys[ledger.RegionID(r)] = keyOf(r).Public().(ed25519.PublicKey)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, r := range regions {
		s, err := ledger.Open(context.Background(), ledger.Options{Path: filepath.Join(t.TempDir(), r+".db"),
			Region: ledger.RegionID(r), Key: keyOf(r), Keys: keys, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		w.stores[r] = s
		p := testPolicy()
		if tune != nil {
			tune(&p)
		}
		w.engines[r] = scoring.New(s, scoring.Config{Region: r, Regions: regions, Policy: p,
			Rights: rightsVia{w, r}, Now: func() time.Time { return w.now }, Logger: log})
	}
	return w
}

type rightsVia struct {
	w    *world
	from string
}

func (rv rightsVia) RequestRights(ctx context.Context, owner, subject, account string, amount int64) error {
	w := rv.w
	if w.down[owner] || w.down[rv.from] {
		return errors.New("unreachable")
	}
	if _, err := w.engines[owner].GrantRights(ctx, subject, account, rv.from, amount); err != nil {
		return refusal{err}
	}
	w.sync(owner, rv.from)
	return nil
}

// refusal is an owner's answer that it cannot grant, as the sync channel
// reports a peer's 4xx.
type refusal struct{ error }

func (refusal) NoRights() bool { return true }

// sync copies every entry of from's ledger that to lacks.
func (w *world) sync(from, to string) {
	ctx := context.Background()
	for origin, seq := range w.stores[from].Vector() {
		have := w.stores[to].Vector()[origin]
		if seq <= have {
			continue
		}
		es, err := w.stores[from].EntriesAfter(ctx, origin, have, int(seq-have))
		if err != nil {
			w.t.Fatal(err)
		}
		if _, err := w.stores[to].Apply(ctx, es); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *world) syncAll() {
	for _, a := range w.regions {
		for _, b := range w.regions {
			if a != b {
				w.sync(a, b)
			}
		}
	}
}

// homedAt returns a consumer id whose home region is region.
func homedAt(t testing.TB, region string, regions []string, n int) checkout.ConsumerID {
	for i := 0; i < 10_000; i++ {
		c := checkout.ConsumerID("con_test" + string(rune('a'+n)) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676)))
		if scoring.Home(c, regions) == region {
			if n == 0 {
				return c
			}
			n--
		}
	}
	t.Fatal("no consumer homed at " + region)
	return ""
}

// checkout decides at region and, when approved, writes what the decision
// spends, as checkout does with the authorization.
func (w *world) checkout(region string, c checkout.ConsumerID, amount int64, method string) checkout.Decision {
	w.t.Helper()
	d, err := w.engines[region].Decide(context.Background(), checkout.DecisionInput{Consumer: c, Country: "SE", OrderCountry: "SE",
		Method: method, Amount: amount, Currency: "SEK", Merchant: "demo", NamesGiven: true})
	if err != nil {
		w.t.Fatal(err)
	}
	if d.Outcome == "approved" {
		data, _ := json.Marshal(map[string]any{"amount": amount, "currency": "SEK", "credit": d.Credit})
		if _, err := w.stores[region].Append(context.Background(), ledger.Draft{Kind: checkout.KindOrderAuthorized,
			Subject: "ord_" + string(c), Postings: d.Postings, Guards: d.Guards, Data: data}); err != nil {
			w.t.Fatal(err)
		}
	}
	return d
}

func (w *world) line(region string, c checkout.ConsumerID) scoring.LineView {
	w.t.Helper()
	v, err := w.engines[region].Consumer(context.Background(), c)
	if err != nil {
		w.t.Fatal(err)
	}
	if len(v.Lines) != 1 {
		w.t.Fatalf("%s: %d lines", region, len(v.Lines))
	}
	return v.Lines[0]
}

func TestHomeGrantsTheLineAndSpendsItsRights(t *testing.T) {
	w := newWorld(t, nil, "r1", "r2")
	c := homedAt(t, "r1", w.regions, 0)
	d := w.checkout("r1", c, 25_000, "pay_later")
	if d.Outcome != "approved" || d.Credit == nil || d.Credit.Source != "rights" || d.Credit.Region != "r1" {
		t.Fatalf("got %+v", d)
	}
	if want := []string{scoring.ReasonScoreApproved, "new_consumer"}; !reflect.DeepEqual(d.Reasons, want) {
		t.Fatalf("reasons %v, want %v", d.Reasons, want)
	}
	l := w.line("r1", c)
	if !l.LineGranted || l.Limit != 100_000 || l.Secured != 25_000 || l.Rights["r1"] != 75_000 || l.Rights["r2"] != 0 {
		t.Fatalf("line %+v", l)
	}
	// The decision is recorded with its inputs and is deterministic.
	var rec map[string]any
	if err := json.Unmarshal(d.Record, &rec); err != nil || rec["home"] != "r1" || rec["source"] != "rights" || rec["features"] == nil {
		t.Fatalf("record %s (%v)", d.Record, err)
	}
}

func TestRegionAsksTheHomeRegionForRights(t *testing.T) {
	w := newWorld(t, nil, "r1", "r2", "r3")
	c := homedAt(t, "r1", w.regions, 0)
	d := w.checkout("r2", c, 20_000, "pay_later")
	if d.Outcome != "approved" || d.Credit.Source != "rights" || d.Credit.Region != "r2" {
		t.Fatalf("got %+v", d)
	}
	// Asked 20,000 of 100,000: granted 20,000 plus half of the 80,000 the
	// home would have kept.
	l := w.line("r2", c)
	if l.Rights["r1"] != 40_000 || l.Rights["r2"] != 40_000 || l.Secured != 20_000 {
		t.Fatalf("line at r2 %+v", l)
	}
	// r3 asks too: the owners with most rights first (a tie goes home).
	w.syncAll()
	if d := w.checkout("r3", c, 50_000, "pay_later"); d.Outcome != "approved" || d.Credit.Region != "r3" {
		t.Fatalf("r3: %+v", d)
	}
	w.syncAll()
	for _, r := range w.regions {
		l := w.line(r, c)
		var sum int64
		for _, n := range l.Rights {
			sum += n
		}
		if sum+l.Secured != l.Limit || l.Secured != 70_000 {
			t.Fatalf("%s: %+v", r, l)
		}
	}
	// Beyond the limit: every region's rights together fall short.
	if d := w.checkout("r2", c, 40_000, "pay_later"); d.Outcome != "card_only" || d.Reasons[0] != scoring.ReasonLimitReached {
		t.Fatalf("over the limit: %+v", d)
	}
}

func TestDegradesWhenRightsCannotBeHad(t *testing.T) {
	w := newWorld(t, func(p *scoring.Policy) { p.Scorecard = nil }, "r1", "r2")
	c1 := homedAt(t, "r1", w.regions, 0)
	c2 := homedAt(t, "r1", w.regions, 1)
	w.down["r1"] = true
	// The unsecured budget (30,000, orders up to 20,000) answers for the
	// cut-off home region.
	d := w.checkout("r2", c1, 20_000, "pay_later")
	if d.Outcome != "approved" || d.Credit.Source != "unsecured" || d.Reasons[0] != scoring.ReasonUnsecured {
		t.Fatalf("got %+v", d)
	}
	if d := w.checkout("r2", c1, 25_000, "pay_later"); d.Outcome != "card_only" || d.Reasons[0] != scoring.ReasonRightsUnavailable {
		t.Fatalf("over the unsecured order limit: %+v", d)
	}
	if d := w.checkout("r2", c2, 15_000, "pay_later"); d.Outcome != "card_only" || !reflect.DeepEqual(d.Reasons, []string{scoring.ReasonRightsUnavailable, scoring.ReasonBudgetExhausted}) {
		t.Fatalf("budget exhausted: %+v", d)
	}
	if d := w.checkout("r2", c2, 10_000, "pay_later"); d.Outcome != "approved" || d.Credit.Source != "unsecured" {
		t.Fatalf("what is left of the budget: %+v", d)
	}
	l := w.line("r2", c1)
	if l.LineGranted || l.Unsecured != 20_000 || l.Exposure != 20_000 {
		t.Fatalf("line %+v", l)
	}
	// Conservative mode never spends the budget; it raises the cut-offs.
	w.down["r1"] = false
	w2 := newWorld(t, func(p *scoring.Policy) { p.Mode = scoring.ModeConservative; p.BaseScore = 700 }, "r1", "r2")
	w2.down["r1"] = true
	if d := w2.checkout("r2", c1, 1_000, "pay_later"); d.Outcome != "card_only" || d.Reasons[0] != scoring.ReasonRightsUnavailable {
		t.Fatalf("conservative: %+v", d)
	}
}

func TestModes(t *testing.T) {
	c := checkout.ConsumerID("con_modes")
	for _, tc := range []struct {
		mode            scoring.Mode
		method, outcome string
		reason          string
	}{
		{scoring.ModeCardOnly, "pay_later", "card_only", scoring.ReasonCardOnlyMode},
		{scoring.ModeCardOnly, "instalments", "card_only", scoring.ReasonCardOnlyMode},
		{scoring.ModePayLaterOff, "pay_later", "card_only", scoring.ReasonPayLaterOff},
		{scoring.ModePayLaterOff, "instalments", "approved", scoring.ReasonScoreApproved},
		{scoring.ModeConservative, "pay_later", "card_only", scoring.ReasonScoreRefer}, // 610 < 600+40
		{scoring.ModeNormal, "pay_later", "approved", scoring.ReasonScoreApproved},
	} {
		t.Run(string(tc.mode)+"/"+tc.method, func(t *testing.T) {
			w := newWorld(t, func(p *scoring.Policy) { p.Mode = tc.mode }, "r1")
			d := w.checkout("r1", c, 20_000, tc.method)
			if d.Outcome != tc.outcome || d.Reasons[0] != tc.reason {
				t.Fatalf("got %+v", d)
			}
		})
	}
	// A switched mode is recorded and survives a restart.
	w := newWorld(t, nil, "r1")
	if err := w.engines["r1"].SetMode(context.Background(), scoring.ModeCardOnly, checkout.Actor{Staff: "ops", Role: "admin", Reason: "incident"}); err != nil {
		t.Fatal(err)
	}
	again := scoring.New(w.stores["r1"], scoring.Config{Region: "r1", Policy: testPolicy()})
	if err := again.Start(context.Background()); err != nil || again.Policy().Mode != scoring.ModeCardOnly {
		t.Fatalf("after restart: %s (%v)", again.Policy().Mode, err)
	}
	if err := w.engines["r1"].SetMode(context.Background(), "bogus", checkout.Actor{Staff: "ops"}); err == nil {
		t.Fatal("a bogus mode was accepted")
	}
}

func TestHistoryIncompleteIsMoreCareful(t *testing.T) {
	w := newWorld(t, nil, "r1")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := scoring.New(w.stores["r1"], scoring.Config{Region: "r1", Policy: testPolicy(), Stale: func() bool { return true }, Logger: log})
	d, err := e.Decide(context.Background(), checkout.DecisionInput{Consumer: "con_stale", Method: "pay_later", Amount: 1_000, Currency: "SEK", NamesGiven: true})
	if err != nil || d.Outcome != "card_only" || d.Reasons[len(d.Reasons)-1] != scoring.ReasonHistoryIncomplete {
		t.Fatalf("got %+v %v", d, err)
	}
}

func TestOverdueDebtFeedsTheScore(t *testing.T) {
	w := newWorld(t, nil, "r1")
	c := homedAt(t, "r1", w.regions, 0)
	if d := w.checkout("r1", c, 10_000, "pay_later"); d.Outcome != "approved" {
		t.Fatalf("first: %+v", d)
	}
	// A capture makes 10,000 due in 30 days; 36 days later, unpaid, it is
	// overdue (after 5 days' grace).
	data, _ := json.Marshal(map[string]any{"consumer": c, "amount": 10_000,
		"due": []checkout.Due{{Amount: 10_000, At: w.now.Add(30 * 24 * time.Hour).UnixMilli()}}})
	if _, err := w.stores["r1"].Append(context.Background(), ledger.Draft{Kind: checkout.KindOrderCaptured, Subject: "ord_x", Data: data,
		Postings: []ledger.Posting{{Account: "a", Amount: 1, Currency: "SEK"}, {Account: "b", Amount: -1, Currency: "SEK"}}}); err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(34 * 24 * time.Hour)
	if l := w.line("r1", c); l.Overdue != 0 {
		t.Fatalf("within grace: %+v", l)
	}
	w.now = w.now.Add(2 * 24 * time.Hour)
	if l := w.line("r1", c); l.Overdue != 10_000 || l.DaysPastDue != 6 {
		t.Fatalf("overdue: %+v", l)
	}
	d := w.checkout("r1", c, 1_000, "pay_later")
	if d.Outcome != "declined" || !reflect.DeepEqual(d.Reasons, []string{scoring.ReasonScoreDecline, "overdue_balance"}) {
		t.Fatalf("got %+v", d)
	}
	// A repayment settles it.
	data, _ = json.Marshal(map[string]any{"consumer": c, "amount": 10_000, "debt": 10_000, "paid_at": w.now.UnixMilli()})
	if _, err := w.stores["r1"].Append(context.Background(), ledger.Draft{Kind: checkout.KindOrderRepaid, Subject: "ord_x", Data: data,
		Postings: []ledger.Posting{{Account: "a", Amount: 1, Currency: "SEK"}, {Account: "b", Amount: -1, Currency: "SEK"}}}); err != nil {
		t.Fatal(err)
	}
	if l := w.line("r1", c); l.Overdue != 0 || l.Repaid != 10_000 {
		t.Fatalf("after repayment: %+v", l)
	}
}

func TestRebalanceMovesRightsWhereTheConsumerShops(t *testing.T) {
	w := newWorld(t, func(p *scoring.Policy) { p.GrantShare = 0 }, "r1", "r2")
	c := homedAt(t, "r1", w.regions, 0)
	if d := w.checkout("r2", c, 10_000, "pay_later"); d.Outcome != "approved" {
		t.Fatalf("got %+v", d)
	}
	if l := w.line("r2", c); l.Rights["r2"] != 0 {
		t.Fatalf("grant share 0 still gave extra: %+v", l)
	}
	w.sync("r2", "r1")
	n, err := w.engines["r1"].Rebalance(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("rebalance: %d %v", n, err)
	}
	w.sync("r1", "r2")
	// r2 holds 30% of the limit now, and approves without asking.
	if l := w.line("r2", c); l.Rights["r2"] != 30_000 || l.Rights["r1"] != 60_000 {
		t.Fatalf("after rebalance: %+v", l)
	}
	w.down["r1"] = true
	if d := w.checkout("r2", c, 25_000, "pay_later"); d.Outcome != "approved" || d.Credit.Source != "rights" {
		t.Fatalf("cut off from home: %+v", d)
	}
	// Nothing new: nothing moves.
	if n, err := w.engines["r1"].Rebalance(context.Background()); err != nil || n != 0 {
		t.Fatalf("second rebalance: %d %v", n, err)
	}
}

func TestGrantRightsRefusesWhatItDoesNotOwn(t *testing.T) {
	w := newWorld(t, nil, "r1", "r2")
	c := homedAt(t, "r1", w.regions, 0)
	e := w.engines["r2"]
	ctx := context.Background()
	for _, tc := range []struct{ subject, account, to string }{
		{"credit:" + string(c) + ":SEK", "credit:" + string(c) + ":rights:", "r1"}, // r2 owns none
		{"credit:" + string(c), "credit:" + string(c) + ":rights:", "r1"},          // no currency
		{"credit:" + string(c) + ":SEK", "order:x:capture:", "r1"},                 // wrong account
		{"credit:" + string(c) + ":SEK", "credit:" + string(c) + ":rights:", "r9"}, // unknown region
	} {
		if _, err := e.GrantRights(ctx, tc.subject, tc.account, tc.to, 10); err == nil {
			t.Fatalf("%+v: granted", tc)
		}
	}
	if w.stores["r2"].Count() != 0 {
		t.Fatal("a refused request wrote something")
	}
}

// TestOwnersRefusalIsTheLimit: when every owner answers that it has
// nothing to give, the limit is the reason and the unsecured budget is
// not spent (it is for owners out of reach, not for consumers at their
// limit).
func TestOwnersRefusalIsTheLimit(t *testing.T) {
	w := newWorld(t, nil, "r1", "r2")
	c := homedAt(t, "r1", w.regions, 0)
	if d := w.checkout("r2", c, 20_000, "pay_later"); d.Outcome != "approved" || d.Credit.Source != "rights" {
		t.Fatalf("first: %+v", d)
	}
	// r2 got 20,000 and half of the rest (60,000) and spends 50,000 in
	// all; r1 spends the 40,000 it kept, and r2 does not hear of it.
	if d := w.checkout("r2", c, 30_000, "pay_later"); d.Outcome != "approved" || d.Credit.Source != "rights" {
		t.Fatalf("second at r2: %+v", d)
	}
	if d := w.checkout("r1", c, 40_000, "pay_later"); d.Outcome != "approved" {
		t.Fatalf("at home: %+v", d)
	}
	if d := w.checkout("r2", c, 15_000, "pay_later"); d.Outcome != "card_only" || d.Reasons[0] != scoring.ReasonLimitReached {
		t.Fatalf("r2 past what it owns, home has none left: %+v", d)
	}
	if l := w.line("r2", c); l.Unsecured != 0 {
		t.Fatalf("unsecured budget spent: %+v", l)
	}
}

func TestAdjustLimit(t *testing.T) {
	w := newWorld(t, nil, "r1", "r2")
	ctx := context.Background()
	c := homedAt(t, "r1", w.regions, 0)
	e := w.engines["r1"]
	if err := e.AdjustLimit(ctx, c, "SEK", 50_000, checkout.Actor{Staff: "boss", Role: "admin", Reason: "no line yet"}); !errors.Is(err, scoring.ErrNoLine) {
		t.Fatalf("no line: %v", err)
	}
	// r2 borrows 60,000 (20,000 asked plus half the rest) and spends 20,000.
	if d := w.checkout("r2", c, 20_000, "pay_later"); d.Outcome != "approved" {
		t.Fatalf("%+v", d)
	}
	if err := w.engines["r2"].AdjustLimit(ctx, c, "SEK", 50_000, checkout.Actor{Staff: "boss", Role: "admin", Reason: "elsewhere"}); !errors.Is(err, scoring.ErrNotHome) {
		t.Fatalf("not home: %v", err)
	}
	if err := e.AdjustLimit(ctx, c, "SEK", 150_000, checkout.Actor{Staff: "boss", Role: "admin", Reason: "good payer"}); err != nil {
		t.Fatal(err)
	}
	if l := w.line("r1", c); l.Limit != 150_000 || l.Rights["r1"] != 90_000 {
		t.Fatalf("raised: %+v", l)
	}
	// The home owns 90,000 unused: the limit can come down by that much, no
	// further while r2 holds its 40,000.
	if err := e.AdjustLimit(ctx, c, "SEK", 50_000, checkout.Actor{Staff: "boss", Role: "admin", Reason: "too far"}); !errors.Is(err, scoring.ErrLimitInUse) {
		t.Fatalf("cut into lent rights: %v", err)
	}
	if err := e.AdjustLimit(ctx, c, "SEK", 60_000, checkout.Actor{Staff: "boss", Role: "admin", Reason: "risk review"}); err != nil {
		t.Fatal(err)
	}
	w.syncAll()
	for _, r := range w.regions {
		l := w.line(r, c)
		if l.Limit != 60_000 || l.Rights["r1"] != 0 || l.Rights["r2"] != 40_000 || l.Secured != 20_000 {
			t.Fatalf("%s after the cut: %+v", r, l)
		}
	}
	if err := e.AdjustLimit(ctx, c, "SEK", 0, checkout.Actor{Staff: "boss", Role: "admin", Reason: "zero"}); err == nil {
		t.Fatal("a zero limit was accepted")
	}
}

// TestHomeBehindDoesNotGrant: a home region that has not caught up with the
// others (it just joined, or was restored) grants no line: its own
// checkouts degrade as if the home were out of reach, and a peer asking it
// is told to try later (a temporary answer, not "no rights").
func TestHomeBehindDoesNotGrant(t *testing.T) {
	w := newWorld(t, nil, "r1", "r2")
	c := homedAt(t, "r1", w.regions, 0)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	behind := scoring.New(w.stores["r1"], scoring.Config{Region: "r1", Regions: w.regions, Policy: testPolicy(), Logger: log,
		MayGrant: func() bool { return false }})
	w.engines["r1"] = behind
	d := w.checkout("r1", c, 10_000, "pay_later")
	if d.Outcome != "approved" || d.Credit.Source != "unsecured" {
		t.Fatalf("at the home while behind: %+v", d)
	}
	_, err := behind.GrantRights(context.Background(), "credit:"+string(c)+":SEK", "credit:"+string(c)+":rights:", "r2", 5_000)
	var tmp interface{ Temporary() bool }
	if !errors.As(err, &tmp) || !tmp.Temporary() {
		t.Fatalf("a peer's request while behind: %v, want a temporary refusal", err)
	}
	if l := w.line("r1", c); l.LineGranted {
		t.Fatalf("a line was granted while behind: %+v", l)
	}
}

// TestDecidePolicyGates: the policy's own checks come before the
// scorecard, each with its reason.
func TestDecidePolicyGates(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tune     func(p *scoring.Policy)
		in       checkout.DecisionInput
		outcome  string
		reason   string
		noRecord bool
	}{
		{"country not offered", func(p *scoring.Policy) { p.Countries = []string{"NO"} },
			checkout.DecisionInput{Method: "pay_later", Amount: 1_000, Currency: "SEK", Country: "SE"}, "card_only", scoring.ReasonCountryNotOffered, true},
		{"currency not offered", nil,
			checkout.DecisionInput{Method: "pay_later", Amount: 1_000, Currency: "EUR", Country: "SE"}, "card_only", scoring.ReasonCurrencyNotOffered, true},
		{"instalments too small", nil,
			checkout.DecisionInput{Method: "instalments", Amount: 9_999, Currency: "SEK", Country: "SE"}, "declined", scoring.ReasonBelowInstalments, true},
		{"over the order limit", func(p *scoring.Policy) { p.MaxPayLater = 50_000 },
			checkout.DecisionInput{Method: "pay_later", Amount: 50_001, Currency: "SEK", Country: "SE"}, "card_only", scoring.ReasonOverOrderLimit, true},
		{"at the order limit", func(p *scoring.Policy) { p.MaxPayLater = 50_000 },
			checkout.DecisionInput{Method: "pay_later", Amount: 50_000, Currency: "SEK", Country: "SE", NamesGiven: true}, "approved", scoring.ReasonScoreApproved, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.tune, "r1")
			in := tc.in
			in.Consumer = homedAt(t, "r1", w.regions, 0)
			d, err := w.engines["r1"].Decide(context.Background(), in)
			if err != nil || d.Outcome != tc.outcome || d.Reasons[0] != tc.reason {
				t.Fatalf("got %+v %v, want %s %s", d, err, tc.outcome, tc.reason)
			}
			if tc.noRecord && (d.Postings != nil || d.Credit != nil) {
				t.Fatalf("a refused decision spends: %+v", d)
			}
		})
	}
}

// TestLocalOnlyAsksNoOne: a retry decides from this region's own rights
// and budget without asking other regions.
func TestLocalOnlyAsksNoOne(t *testing.T) {
	w := newWorld(t, nil, "r1", "r2")
	c := homedAt(t, "r1", w.regions, 0)
	d, err := w.engines["r2"].Decide(context.Background(), checkout.DecisionInput{Consumer: c, Country: "SE", OrderCountry: "SE",
		Method: "pay_later", Amount: 10_000, Currency: "SEK", NamesGiven: true, LocalOnly: true})
	if err != nil || d.Outcome != "approved" || d.Credit.Source != "unsecured" {
		t.Fatalf("got %+v %v, want an unsecured approval without asking the home", d, err)
	}
	if w.stores["r1"].Count() != 0 {
		t.Fatal("the home was asked")
	}
}
