package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"kassa/ledger"
	"kassa/ratelimit"
)

// Staff added in the UI or with `kassa staff add` are ledger entries, so
// they replicate like everything else: a user added in one region signs in
// at every region that has the entry. Each entry has the subject
// "staff:<username>" and names, in its data, the staff member who wrote it.
// The password travels only as an argon2id hash.
const (
	// KindStaffAction records a staff action that writes no entry of its
	// own (a webhook resend), and every action of older ledgers.
	KindStaffAction          = "staff.action"
	KindStaffAdded           = "staff.added"
	KindStaffDisabled        = "staff.disabled"
	KindStaffRoleChanged     = "staff.role_changed"
	KindStaffPasswordChanged = "staff.password_changed"
)

// Errors of staff management. Callers show their text.
var (
	ErrStaffExists   = errors.New("admin: a staff member with this username exists")
	ErrNoStaff       = errors.New("admin: no such staff member")
	ErrStaffDisabled = errors.New("admin: this staff member is disabled")
	ErrBadUsername   = errors.New("admin: a username is 1 to 64 characters: lowercase letters, digits, '.', '_' or '-'")
	ErrBadRole       = errors.New("admin: the role must be viewer, support or admin")
	ErrShortPassword = fmt.Errorf("admin: a password has at least %d characters", MinPassword)
	ErrLongPassword  = fmt.Errorf("admin: a password has at most %d characters", maxPassword)
)

// MinPassword is the shortest password a staff member may set.
const MinPassword = 12

const maxPassword = 256

// CheckUsername returns ErrBadUsername unless name can be a staff
// member's username.
func CheckUsername(name string) error {
	if name == "" || len(name) > ratelimit.MaxName { // longer ones could never sign in
		return ErrBadUsername
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return ErrBadUsername
		}
	}
	return nil
}

// CheckRole returns ErrBadRole unless role is viewer, support or admin.
func CheckRole(role string) error {
	if roleRank[role] == 0 {
		return ErrBadRole
	}
	return nil
}

// CheckPassword returns ErrShortPassword or ErrLongPassword for a password
// staff may not set.
func CheckPassword(pass string) error {
	switch n := len([]rune(pass)); {
	case n < MinPassword:
		return ErrShortPassword
	case len(pass) > maxPassword:
		return ErrLongPassword
	}
	return nil
}

// argon2id parameters for new hashes (OWASP's minimum: 19 MiB, two
// passes, one lane). They are encoded in each hash, so raising them later
// leaves old hashes valid.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// hashPassword returns pass hashed with argon2id under a random salt, in
// the PHC string format: $argon2id$v=19$m=...,t=...,p=...$salt$hash.
func hashPassword(pass string) string {
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pass), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key))
}

// verifyPassword reports whether pass matches an argon2id hash made by
// hashPassword. A hash it cannot read, or whose cost is out of bounds,
// matches nothing.
func verifyPassword(phc, pass string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var m, t uint32
	var p uint8
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); n != 3 || err != nil ||
		m < 8 || m > 256*1024 || t < 1 || t > 16 || p < 1 || p > 16 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	key, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(pass), salt, t, m, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}

// staffData is the data of a staff entry. Staff and Role name who wrote
// it, as in every entry a staff member writes; Via says where an entry
// with no staff member came from.
type staffData struct {
	Username     string `json:"username"`
	NewRole      string `json:"new_role,omitempty"`
	PasswordHash string `json:"password_hash,omitempty"`
	Staff        string `json:"staff,omitempty"`
	Role         string `json:"role,omitempty"`
	Via          string `json:"via,omitempty"`
}

// stamp orders a directory's writes: the latest write of a field wins, by
// hybrid logical clock and then origin and sequence, so every region that
// holds the same entries holds the same directory.
type stamp struct {
	hlc    ledger.HLC
	origin ledger.RegionID
	seq    uint64
}

func (s stamp) after(o stamp) bool {
	switch {
	case s.hlc != o.hlc:
		return o.hlc.Less(s.hlc)
	case s.origin != o.origin:
		return s.origin > o.origin
	}
	return s.seq > o.seq
}

// record is what the ledger says about one username.
type record struct {
	added            bool
	addedAt          time.Time
	addedBy          string
	role             string
	roleAt           stamp
	phc              string
	phcAt            stamp
	disabled         bool // once disabled, always: a later entry never revives it
	disabledAt       time.Time
	disabledBy       string
	passwordChangeAt time.Time
}

// directory is the staff table: the configured staff overlaid with what
// the ledger's staff entries say. It folds in new entries before every
// look-up, so a user added or disabled in another region counts here as
// soon as the entry has replicated. It is safe for concurrent use.
type directory struct {
	store  *ledger.Store
	config map[string]user
	log    *slog.Logger

	write sync.Mutex // one staff change at a time: look-up, then append

	mu      sync.Mutex
	pos     int64
	count   int64 // the store's entry count when pos was read
	records map[string]*record
}

func newDirectory(store *ledger.Store, staff []Staff, log *slog.Logger) *directory {
	d := &directory{store: store, config: map[string]user{}, log: log, records: map[string]*record{}}
	for _, s := range staff {
		d.config[s.Username] = user{name: s.Username, hash: sha256.Sum256([]byte(s.Password)), role: s.Role}
	}
	return d
}

// catchUp folds in every entry stored since the last call. Call with
// d.mu held.
func (d *directory) catchUp(ctx context.Context) error {
	if d.store == nil {
		return nil
	}
	count := d.store.Count()
	if count == d.count {
		return nil
	}
	for {
		es, pos, err := d.store.EntriesSince(ctx, d.pos, 4096)
		if err != nil {
			return err
		}
		for i := range es {
			d.fold(&es[i])
		}
		d.pos = pos
		if len(es) < 4096 {
			d.count = count
			return nil
		}
	}
}

func (d *directory) fold(e *ledger.Entry) {
	if !strings.HasPrefix(e.Kind, "staff.") || !strings.HasPrefix(e.Subject, "staff:") {
		return
	}
	var data staffData
	if json.Unmarshal(e.Data, &data) != nil || data.Username == "" || "staff:"+data.Username != e.Subject {
		return
	}
	r := d.records[data.Username]
	if r == nil {
		r = &record{}
		d.records[data.Username] = r
	}
	at := stamp{e.HLC, e.Origin, e.Seq}
	by := data.Staff
	if by == "" {
		by = data.Via
	}
	switch e.Kind {
	case KindStaffAdded:
		if !r.added || e.HLC.Time().Before(r.addedAt) {
			r.addedAt, r.addedBy = e.HLC.Time(), by
		}
		r.added = true
		r.setRole(data.NewRole, at)
		r.setHash(data.PasswordHash, at)
	case KindStaffRoleChanged:
		r.setRole(data.NewRole, at)
	case KindStaffPasswordChanged:
		r.setHash(data.PasswordHash, at)
	case KindStaffDisabled:
		if !r.disabled || e.HLC.Time().Before(r.disabledAt) {
			r.disabledAt, r.disabledBy = e.HLC.Time(), by
		}
		r.disabled = true
	}
}

func (r *record) setRole(role string, at stamp) {
	if CheckRole(role) == nil && (r.role == "" || at.after(r.roleAt)) {
		r.role, r.roleAt = role, at
	}
}

func (r *record) setHash(phc string, at stamp) {
	if phc != "" && (r.phc == "" || at.after(r.phcAt)) {
		r.phc, r.phcAt = phc, at
		r.passwordChangeAt = at.hlc.Time()
	}
}

// member is one staff member as the directory sees them.
type member struct {
	user
	exists     bool
	fromConfig bool
	disabled   bool
	added      time.Time
	addedBy    string
	disabledAt time.Time
	disabledBy string
}

// get returns what the directory knows of name. Call with d.mu held.
func (d *directory) get(name string) member {
	m := member{}
	if u, ok := d.config[name]; ok {
		m.user, m.exists, m.fromConfig = u, true, true
	}
	r := d.records[name]
	if r == nil {
		return m
	}
	m.name = name
	if r.added {
		m.exists = true
		m.added, m.addedBy = r.addedAt, r.addedBy
	}
	if r.role != "" {
		m.role = r.role
	}
	if r.phc != "" {
		m.phc = r.phc
		m.hash = sha256.Sum256([]byte(r.phc))
	}
	m.disabled, m.disabledAt, m.disabledBy = r.disabled, r.disabledAt, r.disabledBy
	// A disable or role change of a name nobody added or configured
	// makes no one.
	m.exists = m.exists && m.role != "" && (m.phc != "" || m.fromConfig)
	return m
}

// lookup returns the active staff member called name. It fails closed: if
// the ledger cannot be read, no one is found.
func (d *directory) lookup(ctx context.Context, name string) (user, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.catchUp(ctx); err != nil {
		d.log.Error("admin: read staff entries", "err", err)
		return user{}, false
	}
	m := d.get(name)
	if !m.exists || m.disabled {
		return user{}, false
	}
	return m.user, true
}

// hasLedgerStaff reports whether any staff member has a password hash
// from the ledger (so a sign-in of an unknown name must take as long as
// an argon2id check).
func (d *directory) hasLedgerStaff() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.records {
		if r.phc != "" {
			return true
		}
	}
	return false
}

// StaffMember is one staff member as GET /admin/api/staff lists them.
type StaffMember struct {
	Username   string     `json:"username"`
	Role       string     `json:"role"`
	Status     string     `json:"status"` // active or disabled
	Source     string     `json:"source"` // config or ledger
	AddedAt    *time.Time `json:"added_at,omitempty"`
	AddedBy    string     `json:"added_by,omitempty"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
	DisabledBy string     `json:"disabled_by,omitempty"`
}

// list returns every staff member, by username.
func (d *directory) list(ctx context.Context) ([]StaffMember, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.catchUp(ctx); err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for n := range d.config {
		names[n] = true
	}
	for n := range d.records {
		names[n] = true
	}
	out := []StaffMember{}
	for n := range names {
		m := d.get(n)
		if !m.exists {
			continue
		}
		out = append(out, m.view())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, nil
}

func (m member) view() StaffMember {
	v := StaffMember{Username: m.name, Role: m.role, Status: "active", Source: "ledger", AddedBy: m.addedBy, DisabledBy: m.disabledBy}
	if m.fromConfig {
		v.Source = "config"
	}
	if m.disabled {
		v.Status = "disabled"
		at := m.disabledAt
		v.DisabledAt = &at
	}
	if !m.added.IsZero() {
		at := m.added
		v.AddedAt = &at
	}
	return v
}

// member returns one staff member, or ErrNoStaff.
func (d *directory) member(ctx context.Context, name string) (StaffMember, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.catchUp(ctx); err != nil {
		return StaffMember{}, err
	}
	m := d.get(name)
	if !m.exists {
		return StaffMember{}, ErrNoStaff
	}
	return m.view(), nil
}

// change is one staff change, written as one entry.
type change struct {
	kind     string
	username string
	role     string // the new role, for added and role_changed
	password string // the new password, for added and password_changed
	by       user   // who acts; empty for the command line
	via      string
}

// apply checks c against the directory and appends its entry. It returns
// ErrStaffExists, ErrNoStaff, ErrBadUsername, ErrBadRole,
// ErrShortPassword or ErrLongPassword, with nothing written.
func (d *directory) apply(ctx context.Context, c change) error {
	d.write.Lock()
	defer d.write.Unlock()
	d.mu.Lock()
	err := d.catchUp(ctx)
	m := d.get(c.username)
	_, taken := d.records[c.username]
	d.mu.Unlock()
	if err != nil {
		return err
	}
	data := staffData{Username: c.username, Staff: c.by.name, Role: c.by.role, Via: c.via}
	switch c.kind {
	case KindStaffAdded:
		if err := CheckUsername(c.username); err != nil {
			return err
		}
		if m.exists || taken {
			// A disabled name stays taken: its entries name it.
			return ErrStaffExists
		}
		data.NewRole = c.role
	case KindStaffRoleChanged:
		data.NewRole = c.role
	}
	if c.kind != KindStaffAdded && !m.exists {
		return ErrNoStaff
	}
	if c.kind != KindStaffAdded && m.disabled {
		return ErrStaffDisabled
	}
	if c.kind == KindStaffAdded || c.kind == KindStaffRoleChanged {
		if err := CheckRole(c.role); err != nil {
			return err
		}
	}
	if c.kind == KindStaffAdded || c.kind == KindStaffPasswordChanged {
		if err := CheckPassword(c.password); err != nil {
			return err
		}
		data.PasswordHash = hashPassword(c.password)
	}
	raw, _ := json.Marshal(data)
	_, err = d.store.Append(context.WithoutCancel(ctx), ledger.Draft{Kind: c.kind, Subject: "staff:" + c.username, Data: raw})
	return err
}

// AddStaff bootstraps a staff member: it appends a staff.added entry to
// store, signed by its region, for username with role and password (kept
// only as an argon2id hash). staff are the configured staff, whose names
// are taken too. It returns ErrStaffExists, ErrBadUsername, ErrBadRole,
// ErrShortPassword or ErrLongPassword with nothing written, or the
// store's error.
func AddStaff(ctx context.Context, store *ledger.Store, staff []Staff, username, role, password string) error {
	d := newDirectory(store, staff, slog.New(slog.DiscardHandler))
	return d.apply(ctx, change{kind: KindStaffAdded, username: username, role: role, password: password, via: "kassa staff add"})
}
