package checkout

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"kassa/ledger"
)

// Entry kinds of merchants onboarded through the admin API. Their subject
// is MerchantSubject(id); every region folds them into its merchant table.
const (
	KindMerchantCreated        = "merchant.created"
	KindMerchantSecretsRotated = "merchant.secrets_rotated"
	KindMerchantDisabled       = "merchant.disabled"
)

// Limits of a rotation's grace period: how long the API secret it replaces
// stays valid.
const (
	DefaultRotationGrace = 24 * time.Hour
	MaxRotationGrace     = 7 * 24 * time.Hour
)

// Errors of merchant management.
var (
	ErrMerchantExists     = errors.New("checkout: merchant id already taken")
	ErrMerchantConfigured = errors.New("checkout: merchant is configured in config.yaml, not managed by entries")
	ErrMerchantDisabled   = errors.New("checkout: merchant is disabled")
)

// MerchantSubject is the subject of a merchant's entries.
func MerchantSubject(id string) string { return "merchant:" + id }

var (
	merchantIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	// maxMerchantName bounds a display name, in characters.
	maxMerchantName = 100
)

// merchantData is the payload of the merchant entries. Secrets never
// appear in it in plain text: the API secret as its SHA-256, the webhook
// secret sealed with AES-GCM under the deployment's secret key.
type merchantData struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Of is the id of the merchant.created entry a rotation or a disable
	// applies to: should two regions have created the same id, an action
	// on the one that lost touches nothing of the winner.
	Of            string `json:"of,omitempty"`
	SecretHash    string `json:"secret_sha256,omitempty"`
	WebhookSealed string `json:"webhook_secret_sealed,omitempty"`
	GraceMS       int64  `json:"grace_ms,omitempty"`
	Staff         string `json:"staff,omitempty"`
	Role          string `json:"role,omitempty"`
	Reason        string `json:"reason,omitempty"`
}

// MerchantSecrets are a merchant's new secrets, shown once: the ledger
// keeps only the API secret's hash and the webhook secret sealed.
type MerchantSecrets struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Secret        string `json:"secret,omitempty"`
	WebhookSecret string `json:"webhook_secret,omitempty"`
	// OldSecretValidUntil is when the replaced API secret stops working
	// (a rotation of the API secret only).
	OldSecretValidUntil *time.Time `json:"old_secret_valid_until,omitempty"`
}

// MerchantInfo is a merchant as staff see it, without secrets.
type MerchantInfo struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Source string `json:"source"` // config or ledger
	Status string `json:"status"` // active or disabled
	// The merchant.created entry (ledger merchants only).
	Region    string     `json:"region,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	CreatedBy string     `json:"created_by,omitempty"`
	// RotatedAt is the last rotation; OldSecretValidUntil when the API
	// secret it replaced stops working, while it still works.
	RotatedAt           *time.Time `json:"rotated_at,omitempty"`
	OldSecretValidUntil *time.Time `json:"old_secret_valid_until,omitempty"`
	// Conflicts counts creations of the same id by other regions that
	// lost to this one (the first in fold order wins).
	Conflicts int `json:"conflicts,omitempty"`
}

// oldSecret is a replaced API secret within its grace period.
type oldSecret struct {
	hash  [32]byte
	until time.Time
}

// merchantTable is the merchants folded from the ledger, read on every
// authenticated request. It is safe for concurrent use.
type merchantTable struct {
	mu      sync.RWMutex
	byID    map[string]*merchant
	entries map[string][]ledger.Entry // every merchant entry, by merchant id

	foldMu sync.Mutex // one fold at a time
	pos    int64      // the ledger position folded up to
	count  int64      // the store's entry count when pos was read
}

// CreateMerchant onboards a merchant: it writes a merchant.created entry
// naming the staff member, and returns the merchant's secrets, which are
// shown only this once. It returns a *FieldError for a bad id or name,
// ErrMerchantExists (or ErrMerchantConfigured) for an id already known in
// this region. Two regions creating the same id before either saw the
// other's both succeed; once both entries are everywhere the first in fold
// order is the merchant and the other's secrets stop working.
func (s *Service) CreateMerchant(ctx context.Context, by Actor, id, name string) (MerchantSecrets, error) {
	name = strings.TrimSpace(name)
	if !merchantIDRe.MatchString(id) {
		return MerchantSecrets{}, &FieldError{Field: "id", Message: "must be 1 to 32 characters of a-z, 0-9 and '-', starting with a letter or digit"}
	}
	if name == "" || utf8.RuneCountInString(name) > maxMerchantName {
		return MerchantSecrets{}, &FieldError{Field: "name", Message: fmt.Sprintf("must be 1 to %d characters", maxMerchantName)}
	}
	if err := checkText("name", name); err != nil {
		return MerchantSecrets{}, err
	}
	defer s.lock(MerchantSubject(id))()
	if _, ok := s.merchants[id]; ok {
		return MerchantSecrets{}, ErrMerchantConfigured
	}
	if err := s.foldMerchants(ctx); err != nil {
		return MerchantSecrets{}, err
	}
	s.table.mu.RLock()
	_, taken := s.table.byID[id]
	s.table.mu.RUnlock()
	if taken {
		return MerchantSecrets{}, ErrMerchantExists
	}
	secret, webhookSecret := newSecret("sk_"), newSecret("whsec_")
	sealed, err := s.seal(id, webhookSecret)
	if err != nil {
		return MerchantSecrets{}, err
	}
	h := sha256.Sum256([]byte(secret))
	d := merchantData{ID: id, Name: name, SecretHash: hex.EncodeToString(h[:]), WebhookSealed: sealed, Staff: by.Staff, Role: by.Role, Reason: by.Reason}
	if _, err := s.store.Append(context.WithoutCancel(ctx), ledger.Draft{Kind: KindMerchantCreated, Subject: MerchantSubject(id), Data: mustJSON(d)}); err != nil {
		return MerchantSecrets{}, fmt.Errorf("checkout: record merchant: %w", err)
	}
	if err := s.foldMerchants(ctx); err != nil {
		s.log.Error("checkout: fold merchants", "err", err)
	}
	return MerchantSecrets{ID: id, Name: name, Secret: secret, WebhookSecret: webhookSecret}, nil
}

// RotateMerchant gives a ledger merchant a new API secret (api) and/or a
// new webhook secret (webhook), returned once. The replaced API secret
// stays valid for grace after the entry's time (0 means
// DefaultRotationGrace, at most MaxRotationGrace), then stops working in
// every region; the webhook secret switches at once. It returns
// ErrNotFound, ErrMerchantConfigured, ErrMerchantDisabled or a *FieldError.
func (s *Service) RotateMerchant(ctx context.Context, by Actor, id string, api, webhook bool, grace time.Duration) (MerchantSecrets, error) {
	if grace == 0 {
		grace = DefaultRotationGrace
	}
	if grace < 0 || grace > MaxRotationGrace {
		return MerchantSecrets{}, &FieldError{Field: "grace", Message: "must be between 0s and 168h (7 days)"}
	}
	if !api && !webhook {
		return MerchantSecrets{}, &FieldError{Field: "api_secret", Message: "rotate the API secret, the webhook secret or both"}
	}
	defer s.lock(MerchantSubject(id))()
	m, err := s.ledgerMerchant(ctx, id)
	if err != nil {
		return MerchantSecrets{}, err
	}
	out := MerchantSecrets{ID: id, Name: m.name}
	d := merchantData{ID: id, Of: m.created.String(), Staff: by.Staff, Role: by.Role, Reason: by.Reason}
	if api {
		out.Secret = newSecret("sk_")
		h := sha256.Sum256([]byte(out.Secret))
		d.SecretHash, d.GraceMS = hex.EncodeToString(h[:]), grace.Milliseconds()
	}
	if webhook {
		out.WebhookSecret = newSecret("whsec_")
		if d.WebhookSealed, err = s.seal(id, out.WebhookSecret); err != nil {
			return MerchantSecrets{}, err
		}
	}
	e, err := s.store.Append(context.WithoutCancel(ctx), ledger.Draft{Kind: KindMerchantSecretsRotated, Subject: MerchantSubject(id), Data: mustJSON(d)})
	if err != nil {
		return MerchantSecrets{}, fmt.Errorf("checkout: record rotation: %w", err)
	}
	if api {
		until := e.HLC.Time().Add(grace)
		out.OldSecretValidUntil = &until
	}
	if err := s.foldMerchants(ctx); err != nil {
		s.log.Error("checkout: fold merchants", "err", err)
	}
	return out, nil
}

// DisableMerchant disables a ledger merchant for good: once the entry has
// replicated, every region refuses its API calls. It returns ErrNotFound,
// ErrMerchantConfigured or ErrMerchantDisabled.
func (s *Service) DisableMerchant(ctx context.Context, by Actor, id string) error {
	defer s.lock(MerchantSubject(id))()
	m, err := s.ledgerMerchant(ctx, id)
	if err != nil {
		return err
	}
	d := merchantData{ID: id, Of: m.created.String(), Staff: by.Staff, Role: by.Role, Reason: by.Reason}
	if _, err := s.store.Append(context.WithoutCancel(ctx), ledger.Draft{Kind: KindMerchantDisabled, Subject: MerchantSubject(id), Data: mustJSON(d)}); err != nil {
		return fmt.Errorf("checkout: record disable: %w", err)
	}
	if err := s.foldMerchants(ctx); err != nil {
		s.log.Error("checkout: fold merchants", "err", err)
	}
	return nil
}

// ledgerMerchant returns the active ledger merchant id, folded up to now.
func (s *Service) ledgerMerchant(ctx context.Context, id string) (*merchant, error) {
	if _, ok := s.merchants[id]; ok {
		return nil, ErrMerchantConfigured
	}
	if err := s.foldMerchants(ctx); err != nil {
		return nil, err
	}
	s.table.mu.RLock()
	m, ok := s.table.byID[id]
	s.table.mu.RUnlock()
	switch {
	case !ok:
		return nil, ErrNotFound
	case m.disabled:
		return nil, ErrMerchantDisabled
	}
	return m, nil
}

// Merchants lists every merchant this region knows, configured and from
// the ledger, by id. It never shows a secret.
func (s *Service) Merchants(ctx context.Context) ([]MerchantInfo, error) {
	if err := s.foldMerchants(ctx); err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	var out []MerchantInfo
	for _, m := range s.merchants {
		out = append(out, MerchantInfo{ID: m.id, Name: m.name, Source: "config", Status: "active"})
	}
	s.table.mu.RLock()
	for id, m := range s.table.byID {
		if _, ok := s.merchants[id]; ok {
			continue // config takes precedence in the region configuring it
		}
		info := MerchantInfo{ID: m.id, Name: m.name, Source: "ledger", Status: "active", Region: m.region, CreatedBy: m.createdBy, Conflicts: m.conflicts}
		if m.disabled {
			info.Status = "disabled"
		}
		at := m.createdAt
		info.CreatedAt = &at
		if !m.rotatedAt.IsZero() {
			r := m.rotatedAt
			info.RotatedAt = &r
		}
		for _, o := range m.old {
			if o.until.After(now) && (info.OldSecretValidUntil == nil || o.until.After(*info.OldSecretValidUntil)) {
				u := o.until
				info.OldSecretValidUntil = &u
			}
		}
		out = append(out, info)
	}
	s.table.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// LoadMerchants folds every merchant entry stored so far. A region calls
// it in its start-up read, so the first requests do not wait for a read of
// the whole ledger; it returns the store's error.
func (s *Service) LoadMerchants(ctx context.Context) error { return s.foldMerchants(ctx) }

// FollowMerchants folds merchant entries into the merchant table as they
// commit, locally or from peers, until ctx is done: a disable or a
// rotation made elsewhere takes effect here without waiting for a request
// to miss.
func (s *Service) FollowMerchants(ctx context.Context) {
	for {
		changed := s.store.Changed()
		if err := s.foldMerchants(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("checkout: fold merchants", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// merchantKinds are the entries the merchant table folds.
var merchantKinds = []string{KindMerchantCreated, KindMerchantSecretsRotated, KindMerchantDisabled}

// foldMerchants reads the merchant entries stored since the last fold and
// refolds the merchants they are about.
func (s *Service) foldMerchants(ctx context.Context) error {
	t := &s.table
	t.foldMu.Lock()
	defer t.foldMu.Unlock()
	count := s.store.Count()
	if count == t.count {
		return nil
	}
	for {
		es, pos, err := s.store.EntriesOfKindsSince(ctx, t.pos, merchantKinds, 4096)
		if err != nil {
			return err
		}
		touched := map[string]bool{}
		for _, e := range es {
			id, ok := strings.CutPrefix(e.Subject, "merchant:")
			if !ok {
				continue
			}
			t.entries[id] = append(t.entries[id], e)
			touched[id] = true
		}
		for id := range touched {
			m := s.foldMerchant(id, t.entries[id])
			t.mu.Lock()
			if m == nil {
				delete(t.byID, id)
			} else {
				t.byID[id] = m
			}
			t.mu.Unlock()
		}
		t.pos = pos
		if len(es) < 4096 {
			t.count = count
			return nil
		}
	}
}

// foldMerchant derives a merchant from its entries in fold order, so every
// region holding the same entries derives the same merchant: the first
// merchant.created wins, and rotations and disables apply to it only.
func (s *Service) foldMerchant(id string, es []ledger.Entry) *merchant {
	ledger.SortEntries(es)
	var m *merchant
	for i := range es {
		e := &es[i]
		var d merchantData
		if err := jsonUnmarshal(e.Data, &d); err != nil || d.ID != id {
			s.log.Error("checkout: bad merchant entry", "entry", e.ID().Short(), "err", err)
			continue
		}
		if e.Kind == KindMerchantCreated {
			if m != nil {
				m.conflicts++
				continue
			}
			m = &merchant{id: id, name: d.Name, created: e.ID(), region: string(e.Origin), createdAt: e.HLC.Time(), createdBy: d.Staff}
			m.secretHash, _ = parseHash(d.SecretHash)
			m.webhookSecret = s.unseal(id, d.WebhookSealed)
			continue
		}
		if m == nil || d.Of != m.created.String() {
			continue // about a creation that lost, or one not yet here
		}
		switch e.Kind {
		case KindMerchantSecretsRotated:
			if d.SecretHash != "" {
				if h, ok := parseHash(d.SecretHash); ok {
					m.old = append(m.old, oldSecret{hash: m.secretHash, until: e.HLC.Time().Add(time.Duration(d.GraceMS) * time.Millisecond)})
					m.secretHash = h
				}
			}
			if d.WebhookSealed != "" {
				m.webhookSecret = s.unseal(id, d.WebhookSealed)
			}
			m.rotatedAt = e.HLC.Time()
		case KindMerchantDisabled:
			m.disabled = true
		}
	}
	return m
}

func parseHash(s string) ([32]byte, bool) {
	var h [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

// newSecret returns prefix and 32 random bytes in base64url: 256 bits, so
// an unsalted SHA-256 is a safe way to keep it.
func newSecret(prefix string) string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// aead is AES-256-GCM under the deployment's secret key.
func (s *Service) aead() (cipher.AEAD, error) {
	key := sha256.Sum256([]byte(s.cfg.SecretKey))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal encrypts a merchant's webhook secret for its entry, bound to the
// merchant id so a sealed secret cannot be replayed for another merchant.
func (s *Service) seal(id, secret string) (string, error) {
	g, err := s.aead()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, g.NonceSize())
	rand.Read(nonce)
	return base64.RawStdEncoding.EncodeToString(g.Seal(nonce, nonce, []byte(secret), []byte(MerchantSubject(id)))), nil
}

// unseal decrypts a sealed webhook secret; "" (and an error in the log) if
// this region's secret key is not the one it was sealed with.
func (s *Service) unseal(id, sealed string) string {
	g, err := s.aead()
	if err != nil {
		return ""
	}
	b, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(b) < g.NonceSize() {
		s.log.Error("checkout: merchant webhook secret is malformed", "merchant", id)
		return ""
	}
	p, err := g.Open(nil, b[:g.NonceSize()], b[g.NonceSize():], []byte(MerchantSubject(id)))
	if err != nil {
		s.log.Error("checkout: cannot open a merchant's webhook secret: is checkout.secret_key the same in every region?", "merchant", id)
		return ""
	}
	return string(p)
}

// lookupMerchant finds a merchant: a configured one first, then one from
// the ledger.
func (s *Service) lookupMerchant(id string) (*merchant, bool) {
	if m, ok := s.merchants[id]; ok {
		return m, true
	}
	s.table.mu.RLock()
	m, ok := s.table.byID[id]
	s.table.mu.RUnlock()
	return m, ok
}

// secretOK reports in constant time (for a given number of old secrets)
// whether h is m's API secret, or a replaced one still in its grace
// period at now.
func (m *merchant) secretOK(h [32]byte, now time.Time) bool {
	ok := subtle.ConstantTimeCompare(h[:], m.secretHash[:])
	for _, o := range m.old {
		match := subtle.ConstantTimeCompare(h[:], o.hash[:])
		if now.Before(o.until) {
			ok |= match
		}
	}
	return ok == 1
}
