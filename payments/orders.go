package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
	"github.com/civicpay/civicpay/payments/catalogue"
	"github.com/civicpay/civicpay/payments/reference"
)

// Notifier is told, inside the transaction of the change, that orders changed
// state (webhooks subscribe through it), in the order they changed. It may be
// nil.
type Notifier interface {
	OrdersChanged(ctx context.Context, tx pgx.Tx, eventType string, os []Order) error
}

// Config tunes the order part (Orders) and the writers of paying. Its
// durations have no defaults of their own (internal/app/config has them);
// NewOrders panics on a Config Check refuses.
type Config struct {
	DefaultExpiry time.Duration // expiry when the request names none
	MaxExpiry     time.Duration // furthest expiry a request may ask for
	// OnBatch, if set, is told the size of every group-commit batch about to
	// be written, by writer: "orders", and paying's "results" and "attempts"
	// (metrics).
	OnBatch func(writer string, n int)
	// BatchTimeout bounds each group-commit batch (orders, results,
	// attempts) with the writes alone after it; 0: groupcommit.DefaultTimeout.
	BatchTimeout time.Duration
	// Keys seal payers' national IDs in the database; nil: the published demo
	// keys (tests only).
	Keys *secretbox.Keyring
	// Clock is the time orders and attempts are created, paid, refunded and
	// expired at, for Orders and its Paying; nil: the wall clock.
	Clock clock.Clock
}

// Orders issues and manages payment orders.
type Orders struct {
	pool     *pgxpool.Pool
	catalog  *catalogue.Store
	cfg      Config
	notifier Notifier
	log      *slog.Logger
	now      func() time.Time
	creator  *creator
	// reports is the pool List reads (a replica within its staleness bound;
	// SetReports). Get, Events and every write read the primary.
	reports func() *pgxpool.Pool
}

// SetReports makes List read from the pool reports gives at each call
// (db.Reads.ForReports), before the service serves.
func (s *Orders) SetReports(reports func() *pgxpool.Pool) { s.reports = reports }

// Check refuses expiries that would expire every order at once, and a
// default expiry beyond the furthest allowed.
func (c Config) Check() error {
	switch {
	case c.DefaultExpiry <= 0 || c.MaxExpiry <= 0:
		return errors.New("payments: DefaultExpiry and MaxExpiry must be positive")
	case c.DefaultExpiry > c.MaxExpiry:
		return fmt.Errorf("payments: DefaultExpiry (%s) exceeds MaxExpiry (%s)", c.DefaultExpiry, c.MaxExpiry)
	}
	return nil
}

// NewOrders returns an order service and starts its order writers (Close
// stops them). It panics on a cfg Check refuses.
func NewOrders(pool *pgxpool.Pool, catalog *catalogue.Store, cfg Config, notifier Notifier, log *slog.Logger) *Orders {
	if err := cfg.Check(); err != nil {
		panic(err)
	}
	if cfg.Keys == nil {
		cfg.Keys = secretbox.Demo()
	}
	return &Orders{pool: pool, catalog: catalog, cfg: cfg, notifier: notifier, log: log, now: clock.Or(cfg.Clock).Now,
		creator: newCreator(pool, log, cfg)}
}

// Close stops the order writers once the orders already queued are written;
// Create fails after it.
func (s *Orders) Close() { s.creator.queue.Close() }

// Create issues an order, idempotently per (API key, Idempotency-Key): the same key
// and request returns the original order with created=false; the same key with a
// different request is ErrIdempotencyMismatch; a concurrent duplicate still in
// flight is ErrIdempotencyInProgress.
func (s *Orders) Create(ctx context.Context, p auth.Principal, idemKey string, req CreateRequest) (Order, bool, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	expires, err := req.validate(now, s.cfg.DefaultExpiry, s.cfg.MaxExpiry)
	if err != nil {
		return Order{}, false, err
	}
	hash := req.Hash()
	codes := make([]string, len(req.Lines))
	for i, l := range req.Lines {
		codes[i] = l.Service
	}
	services, err := s.catalog.ServicesByCode(ctx, codes)
	if err != nil {
		return Order{}, false, err
	}
	lines, currency, total, err := req.price(services)
	if err != nil {
		return Order{}, false, err
	}
	o := Order{
		ID: uuid.Must(uuid.NewV7()), AgencyCode: lines[0].AgencyCode, CreatedBy: p.KeyID, Status: StatusOpen,
		Currency: currency, Total: total, Lines: lines, Payer: req.Payer, Description: req.Description,
		ReturnURL: req.ReturnURL, Metadata: req.Metadata, ExpiresAt: expires, CreatedAt: now, UpdatedAt: now,
	}
	if o.Metadata == nil {
		o.Metadata = map[string]string{}
	}
	if err := s.sealNationalID(&o); err != nil {
		return Order{}, false, err
	}
	for attempt := 0; ; attempt++ {
		if o.Reference, err = reference.New(); err != nil {
			return Order{}, false, err
		}
		got, created, err := s.insert(ctx, p, idemKey, hash, &o)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.ConstraintName == "orders_reference_key" && attempt < 3 {
			continue // a random reference collided: draw another
		}
		return got, created, err
	}
}

func (s *Orders) insert(ctx context.Context, p auth.Principal, idemKey string, hash []byte, o *Order) (Order, bool, error) {
	outcome, id, err := s.creator.create(ctx, o, p.Actor(), idemKey, hash)
	if err != nil {
		return Order{}, false, fmt.Errorf("create order: %w", err)
	}
	switch outcome {
	case "created":
		return *o, true, nil
	case "busy":
		return Order{}, false, ErrIdempotencyInProgress
	case "mismatch":
		return Order{}, false, ErrIdempotencyMismatch
	case "replay":
		existing, err := getOrder(ctx, s.pool, "o.id = $1", id, false)
		return existing, false, err
	}
	return Order{}, false, fmt.Errorf("create order: unexpected outcome %q", outcome)
}

// visible reports whether p may see o (with its lines): admin and treasury
// see every order, an agency the orders with a line of its own (each line's
// agency, not only the first's), a portal the orders it created.
func visible(p auth.Principal, o Order) bool {
	switch p.Role {
	case auth.RoleAdmin, auth.RoleTreasury:
		return true
	case auth.RoleAgency:
		return o.HasAgency(p.AgencyCode)
	case auth.RolePortal:
		return o.CreatedBy == p.KeyID
	}
	return false
}

// cancellable reports whether p may cancel o: as visible, except that an
// agency cancels only the orders it leads (its first line is the agency's) —
// another agency on the order sees it and refunds its own lines, but does not
// stop the order from being paid.
func cancellable(p auth.Principal, o Order) bool {
	if p.Role == auth.RoleAgency {
		return o.AgencyCode == p.AgencyCode
	}
	return visible(p, o)
}

// ForViewer masks the national ID unless p is the key that created the order,
// which sees it in full (decrypted).
func (s *Orders) ForViewer(p auth.Principal, o Order) Order {
	if o.CreatedBy != p.KeyID {
		return o.Masked()
	}
	if o.sealedNationalID != nil {
		nid, err := s.cfg.Keys.Open(o.sealedNationalID, nationalIDAD(o.ID))
		if err != nil {
			s.log.Error("cannot decrypt a payer's national ID: shown masked", "order", o.ID, "err", err)
			return o.Masked()
		}
		o.Payer.NationalID = string(nid)
	}
	return o
}

// nationalIDAD binds a sealed national ID to its order.
func nationalIDAD(id uuid.UUID) []byte { return []byte("orders.payer_national_id:" + id.String()) }

// SealNationalID is how an order's national ID is stored: sealed (bound to the
// order), its keyed hash and its masked form; all empty without one.
func SealNationalID(k *secretbox.Keyring, orderID uuid.UUID, nationalID string) (sealed, hash []byte, masked string, err error) {
	if nationalID == "" {
		return nil, nil, "", nil
	}
	if sealed, err = k.Seal([]byte(nationalID), nationalIDAD(orderID)); err != nil {
		return nil, nil, "", err
	}
	return sealed, k.Hash("national_id", []byte(nationalID)), MaskNationalID(nationalID), nil
}

// OpenNationalID decrypts an order's sealed national ID.
func OpenNationalID(k *secretbox.Keyring, orderID uuid.UUID, sealed []byte) (string, error) {
	b, err := k.Open(sealed, nationalIDAD(orderID))
	return string(b), err
}

func (s *Orders) sealNationalID(o *Order) error {
	var err error
	o.sealedNationalID, o.nationalIDHash, o.maskedNationalID, err = SealNationalID(s.cfg.Keys, o.ID, o.Payer.NationalID)
	if err != nil {
		return fmt.Errorf("create order: %w", err)
	}
	return nil
}

// Get returns an order p may see; any other is ErrOrderNotFound.
func (s *Orders) Get(ctx context.Context, p auth.Principal, id uuid.UUID) (Order, error) {
	o, err := getOrder(ctx, s.pool, "o.id = $1", id, false)
	if err != nil {
		return Order{}, fmt.Errorf("order %s: %w", id, err)
	}
	if !visible(p, o) {
		return Order{}, fmt.Errorf("order %s: %w", id, ErrOrderNotFound)
	}
	return o, nil
}

// GetByReference returns an order by payment reference (already validated).
func (s *Orders) GetByReference(ctx context.Context, p auth.Principal, ref string) (Order, error) {
	o, err := s.Lookup(ctx, ref)
	if err != nil {
		return Order{}, err
	}
	if !visible(p, o) {
		return Order{}, fmt.Errorf("order %s: %w", ref, ErrOrderNotFound)
	}
	return o, nil
}

// Lookup finds an order by reference with no access check (citizen pages, which
// show only what the payer needs).
func (s *Orders) Lookup(ctx context.Context, ref string) (Order, error) {
	o, err := getOrder(ctx, s.pool, "o.reference = $1", ref, false)
	if err != nil {
		return Order{}, fmt.Errorf("order %s: %w", ref, err)
	}
	return o, nil
}

// List returns a page of the orders p may see, national IDs masked.
func (s *Orders) List(ctx context.Context, p auth.Principal, f ListFilter) ([]Order, error) {
	switch p.Role {
	case auth.RoleAgency:
		if f.AgencyCode != "" && f.AgencyCode != p.AgencyCode {
			return nil, fmt.Errorf("agency %s: %w", f.AgencyCode, ErrOrderNotFound)
		}
		f.AgencyCode = p.AgencyCode
	case auth.RolePortal:
		f.CreatedBy = &p.KeyID
	}
	pool := s.pool
	if s.reports != nil {
		pool = s.reports()
	}
	orders, err := listOrders(ctx, pool, f)
	if err != nil {
		return nil, err
	}
	for i := range orders {
		orders[i] = orders[i].Masked()
	}
	return orders, nil
}

// Events returns an order's history.
func (s *Orders) Events(ctx context.Context, p auth.Principal, id uuid.UUID) ([]OrderEvent, error) {
	if _, err := s.Get(ctx, p, id); err != nil {
		return nil, err
	}
	return listEvents(ctx, s.pool, id)
}

// Cancel closes an open order on behalf of p, audited ("order.cancel", with
// the reason) in the same transaction.
func (s *Orders) Cancel(ctx context.Context, p auth.Principal, id uuid.UUID, reason string) (Order, error) {
	var out Order
	ctx = auth.ActorContext(ctx, p)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		o, err := getOrder(ctx, tx, "o.id = $1", id, true)
		if err != nil {
			return err
		}
		if !visible(p, o) {
			return ErrOrderNotFound
		}
		if !cancellable(p, o) {
			return fmt.Errorf("%w: only agency %s, whose line comes first, cancels this order", ErrNotOrderAgency, o.AgencyCode)
		}
		if out, err = s.close(ctx, tx, o, evCancel, p.Actor(), map[string]string{"reason": reason}); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: "order.cancel", ResourceType: "order", ResourceID: o.ID.String(),
			Before: map[string]any{"status": o.Status}, After: map[string]any{"status": out.Status, "reason": reason}})
	})
	if err != nil {
		return Order{}, fmt.Errorf("cancel order %s: %w", id, err)
	}
	return out, nil
}

// close moves o (locked) to the status ev leaves it in (evCancel, evExpire),
// with its event "order.<status>" and notification; an error wrapping
// ErrNotOpen if ev may not happen to it.
func (s *Orders) close(ctx context.Context, tx pgx.Tx, o Order, ev statusEvent, actor string, data any) (Order, error) {
	to, err := ev.next(o.Status)
	if err != nil {
		return Order{}, err
	}
	now := s.now().UTC()
	if err := closeOrder(ctx, tx, o.ID, ev, now); err != nil {
		return Order{}, err
	}
	o.Status, o.ClosedAt, o.UpdatedAt = to, &now, now
	if err := s.publish(ctx, tx, o, "order."+string(to), actor, data); err != nil {
		return Order{}, err
	}
	return o, nil
}

// publish writes the order event typ and tells the notifier, inside tx: o is
// the order as it is after the change.
func (s *Orders) publish(ctx context.Context, tx pgx.Tx, o Order, typ, actor string, data any) error {
	if err := InsertEvent(ctx, tx, o.ID, typ, actor, data); err != nil {
		return err
	}
	return s.notify(ctx, tx, typ, o)
}

// notify tells the notifier, inside tx, that o changed (its event is written).
func (s *Orders) notify(ctx context.Context, tx pgx.Tx, typ string, os ...Order) error {
	if s.notifier == nil || len(os) == 0 {
		return nil
	}
	if err := s.notifier.OrdersChanged(ctx, tx, typ, os); err != nil {
		return fmt.Errorf("notify %s: %w", typ, err)
	}
	return nil
}

// ExpireDue expires open orders past their expiry, in batches. Rows are claimed
// with FOR UPDATE SKIP LOCKED, so several instances can run it at once and a
// second run finds nothing to do. It returns how many orders it expired.
func (s *Orders) ExpireDue(ctx context.Context, batch int) (int, error) {
	total := 0
	for {
		n := 0
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// Due by Orders' clock, which set expires_at, not the
			// database's now().
			rows, err := tx.Query(ctx, `SELECT `+orderCols+` FROM orders o
				WHERE `+evExpire.sqlGuard("o.status")+` AND o.expires_at <= $2
				ORDER BY o.expires_at LIMIT $1 FOR UPDATE SKIP LOCKED`, batch, s.now())
			if err != nil {
				return err
			}
			due, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Order, error) { return scanOrder(r) })
			if err != nil {
				return err
			}
			ids := make([]uuid.UUID, len(due))
			for i := range due {
				ids[i] = due[i].ID
			}
			lines, err := loadLines(ctx, tx, ids)
			if err != nil {
				return err
			}
			for _, o := range due {
				o.Lines = lines[o.ID]
				if _, err := s.close(ctx, tx, o, evExpire, "system:expiry", map[string]any{"expires_at": o.ExpiresAt}); err != nil {
					return err
				}
			}
			n = len(due)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("expire orders: %w", err)
		}
		total += n
		if n < batch {
			return total, nil
		}
	}
}
