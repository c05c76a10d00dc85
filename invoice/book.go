package invoice

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"kassa/checkout"
	"kassa/ledger"
)

// BookConfig configures a Book.
type BookConfig struct {
	// LinkKey keys the links' tokens (Token); every region must share it.
	LinkKey []byte
	// LinkDays is how long after its last due date an invoice's link
	// shows it (DefaultLinkDays if 0).
	LinkDays int
	// Grace is how long after its due date an unpaid instalment is
	// overdue (scoring's grace_days).
	Grace time.Duration
	Payee Payee
	// Contact opens the shopper's sealed email (checkout's OpenContact);
	// nil leaves Invoice.Email the masked address.
	Contact func(checkout.OrderID, string) (string, error)
	// MerchantName names a merchant for the shopper (checkout's
	// MerchantName); nil shows the id.
	MerchantName func(string) string
	Now          func() time.Time
	Logger       *slog.Logger
}

// Book keeps every invoice in memory as a fold of the ledger: it reads the
// credit orders' authorizations, captures, refunds, repayments and
// reminders as they are stored, in any order and any number of times,
// and derives the same invoices from the same set of entries in every
// region. It is safe for concurrent use.
type Book struct {
	store *ledger.Store
	cfg   BookConfig
	log   *slog.Logger

	mu     sync.RWMutex
	pos    int64
	orders map[checkout.OrderID]*orderBook
	// indexes of the derived invoices: each points at an order and the
	// invoice's id
	byToken    map[string]invKey
	byRef      map[string]invKey
	byConsumer map[checkout.ConsumerID][]checkout.OrderID
}

type invKey struct {
	order checkout.OrderID
	id    string
}

// NewBook returns an empty book over store; CatchUp or Follow fill it.
func NewBook(store *ledger.Store, cfg BookConfig) *Book {
	if cfg.LinkDays <= 0 {
		cfg.LinkDays = DefaultLinkDays
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Book{store: store, cfg: cfg, log: cfg.Logger.With("component", "invoices"),
		orders: map[checkout.OrderID]*orderBook{}, byToken: map[string]invKey{}, byRef: map[string]invKey{},
		byConsumer: map[checkout.ConsumerID][]checkout.OrderID{}}
}

const catchUpBatch = 4096

// CatchUp folds in every entry stored since the last call. It returns the
// first read error; what was folded before it stays.
func (b *Book) CatchUp(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		es, pos, err := b.store.EntriesOfKindsSince(ctx, b.pos, foldKinds, catchUpBatch)
		if err != nil {
			return fmt.Errorf("invoice: read the ledger: %w", err)
		}
		changed := map[checkout.OrderID]bool{}
		for i := range es {
			if b.addLocked(&es[i]) {
				changed[checkout.OrderID(es[i].Subject)] = true
			}
		}
		for oid := range changed {
			b.deriveLocked(oid)
		}
		b.pos = pos
		if len(es) < catchUpBatch {
			return nil
		}
	}
}

// Add folds in one entry (any kind; the book ignores what it does not
// read). CatchUp reads the same entries from the store; Add is for
// folding entries that are not stored, in tests and tools.
func (b *Book) Add(e *ledger.Entry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.addLocked(e) {
		b.deriveLocked(checkout.OrderID(e.Subject))
	}
}

func (b *Book) addLocked(e *ledger.Entry) bool {
	f, a, ok := factOf(e)
	if !ok {
		return false
	}
	oid := checkout.OrderID(e.Subject)
	ob := b.orders[oid]
	if ob == nil {
		ob = &orderBook{id: oid, facts: map[ledger.Hash]fact{}, reminders: map[string][]fact{}, reversed: map[ledger.Hash]bool{}}
		b.orders[oid] = ob
	}
	return ob.add(f, a)
}

// deriveLocked recomputes an order's invoices and their indexes.
func (b *Book) deriveLocked(oid checkout.OrderID) {
	ob := b.orders[oid]
	for _, inv := range ob.invoices {
		delete(b.byToken, inv.Token)
		delete(b.byRef, inv.Reference)
	}
	ob.invoices = ob.derive(&b.cfg)
	for _, inv := range ob.invoices {
		k := invKey{oid, inv.ID}
		if other, ok := b.byRef[inv.Reference]; ok && other != k {
			// 10^18 references make this all but impossible; if it
			// happens, support must match the payment by hand.
			b.log.Error("two invoices have the same payment reference", "reference", inv.Reference, "invoice", inv.ID, "other", other.id)
		}
		b.byToken[inv.Token], b.byRef[inv.Reference] = k, k
	}
	if ob.auth != nil {
		c := ob.auth.consumer
		if !slices.Contains(b.byConsumer[c], oid) {
			b.byConsumer[c] = append(b.byConsumer[c], oid)
		}
	}
}

// Follow folds entries in as they are stored until ctx is done: it waits
// for the ledger's notice of a commit, never polls. Read errors are logged
// and retried on the next commit (or after a second).
func (b *Book) Follow(ctx context.Context) {
	for {
		changed := b.store.Changed()
		if err := b.CatchUp(ctx); err != nil && ctx.Err() == nil {
			b.log.Error("fold invoices", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// view completes a derived invoice for a reader: the shopper's email, the
// shop's name and the status at now.
func (b *Book) view(ob *orderBook, inv Invoice, now time.Time) Invoice {
	inv.Instalments = slices.Clone(inv.Instalments)
	if a := ob.auth; a != nil {
		inv.Merchant, inv.Consumer, inv.GivenName, inv.Locale = a.merchant, a.consumer, a.given, a.locale
		inv.Email = a.masked
		if b.cfg.Contact != nil && a.contact != "" {
			if email, err := b.cfg.Contact(ob.id, a.contact); err == nil {
				inv.Email = email
			} else {
				b.log.Error("invoice: open the shopper's email", "order", ob.id, "err", err)
			}
		}
	}
	inv.MerchantName = inv.Merchant
	if b.cfg.MerchantName != nil && inv.Merchant != "" {
		if n := b.cfg.MerchantName(inv.Merchant); n != "" {
			inv.MerchantName = n
		}
	}
	inv.Status = status(&inv, now, b.cfg.Grace)
	return inv
}

func (b *Book) lookup(k invKey, ok bool) (Invoice, bool) {
	if !ok {
		return Invoice{}, false
	}
	ob := b.orders[k.order]
	for _, inv := range ob.invoices {
		if inv.ID == k.id {
			return b.view(ob, inv, b.cfg.Now()), true
		}
	}
	return Invoice{}, false
}

// ByToken returns the invoice whose link carries token. It does not check
// LinkExpiresAt: the page says an expired link has expired.
func (b *Book) ByToken(token string) (Invoice, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	k, ok := b.byToken[token]
	return b.lookup(k, ok)
}

// ByReference returns the invoice with payment reference ref.
func (b *Book) ByReference(ref string) (Invoice, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	k, ok := b.byRef[ref]
	return b.lookup(k, ok)
}

// ByID returns the invoice with id.
func (b *Book) ByID(oid checkout.OrderID, id string) (Invoice, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.orders[oid]
	return b.lookup(invKey{oid, id}, ok)
}

// ForOrder returns an order's invoices, oldest due first.
func (b *Book) ForOrder(oid checkout.OrderID) []Invoice {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.forOrderLocked(oid, b.cfg.Now())
}

func (b *Book) forOrderLocked(oid checkout.OrderID, now time.Time) []Invoice {
	ob := b.orders[oid]
	if ob == nil {
		return nil
	}
	out := make([]Invoice, 0, len(ob.invoices))
	for _, inv := range ob.invoices {
		out = append(out, b.view(ob, inv, now))
	}
	return out
}

// ForConsumer returns a consumer's invoices, order by order in the order
// the book learnt of them.
func (b *Book) ForConsumer(id checkout.ConsumerID) []Invoice {
	b.mu.RLock()
	defer b.mu.RUnlock()
	now := b.cfg.Now()
	var out []Invoice
	for _, oid := range b.byConsumer[id] {
		out = append(out, b.forOrderLocked(oid, now)...)
	}
	return out
}

// Orders returns the ids of the orders with invoices, sorted.
func (b *Book) Orders() []checkout.OrderID {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]checkout.OrderID, 0, len(b.orders))
	for oid, ob := range b.orders {
		if len(ob.invoices) > 0 {
			out = append(out, oid)
		}
	}
	slices.Sort(out)
	return out
}

// contact returns the sealed email of credit order oid's authorization,
// and whether the book holds it.
func (b *Book) contact(oid checkout.OrderID) (string, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	ob := b.orders[oid]
	if ob == nil || ob.auth == nil {
		return "", false
	}
	return ob.auth.contact, true
}

// hasAuth reports whether the book holds the authorization of oid.
func (b *Book) hasAuth(oid checkout.OrderID) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	ob := b.orders[oid]
	return ob != nil && ob.auth != nil
}
