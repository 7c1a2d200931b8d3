// Package catalogue holds what civicpay collects for: agencies (who is owed the
// money and which treasury account it is paid into) and the services they charge
// for (a fee, charge, tax or fine, at a fixed amount or within a range).
package catalogue

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/money"
)

// Agency is a public body that is owed money.
type Agency struct {
	Code            string    `json:"code"`
	Name            string    `json:"name"`
	TreasuryAccount string    `json:"treasury_account"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// Kind is what a service charges.
type Kind string

// The kinds of charge.
const (
	KindFee    Kind = "fee"
	KindCharge Kind = "charge"
	KindTax    Kind = "tax"
	KindFine   Kind = "fine"
)

// Service is something an agency charges for.
type Service struct {
	Code        string           `json:"code"`
	AgencyCode  string           `json:"agency_code"`
	Name        string           `json:"name"`
	Kind        Kind             `json:"kind"`
	Currency    string           `json:"currency"`
	FixedAmount *decimal.Decimal `json:"fixed_amount,omitempty"`
	MinAmount   *decimal.Decimal `json:"min_amount,omitempty"`
	MaxAmount   *decimal.Decimal `json:"max_amount,omitempty"`
	Active      bool             `json:"active"`
	// Sensitive: the service's name or description reveals a legal or
	// criminal matter (e.g. a criminal-record certificate). Public citizen
	// pages then show a generic label instead, until the visitor proves
	// possession of the order.
	Sensitive bool      `json:"sensitive"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Errors of the catalogue.
var (
	ErrAgencyNotFound  = errors.New("agency not found")
	ErrServiceNotFound = errors.New("service not found")
	ErrExists          = errors.New("already exists")
	// ErrInvalid: an agency or a service breaks a rule of the catalogue. The
	// error is a *ValidationError naming the field.
	ErrInvalid = errors.New("invalid catalogue entry")
)

// ValidationError names the field of an agency or a service that broke a
// rule, and why. errors.Is(err, ErrInvalid) is true of it.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

var codeRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,47}$`)

// Validate checks an agency before it is stored.
func (a *Agency) Validate() error {
	a.Code = strings.ToUpper(strings.TrimSpace(a.Code))
	if !codeRE.MatchString(a.Code) || len(a.Code) > 32 {
		return invalid("code", "2 to 32 characters A-Z, 0-9 and '-', starting with a letter or digit")
	}
	if a.Name = strings.TrimSpace(a.Name); a.Name == "" || len(a.Name) > 200 {
		return invalid("name", "required, at most 200 characters")
	}
	if a.TreasuryAccount = strings.TrimSpace(a.TreasuryAccount); a.TreasuryAccount == "" || len(a.TreasuryAccount) > 64 {
		return invalid("treasury_account", "required, at most 64 characters")
	}
	return nil
}

// Validate checks a service's shape and amount rule.
func (s *Service) Validate() error {
	s.Code = strings.ToUpper(strings.TrimSpace(s.Code))
	if !codeRE.MatchString(s.Code) {
		return invalid("code", "2 to 48 characters A-Z, 0-9 and '-'")
	}
	if s.Name = strings.TrimSpace(s.Name); s.Name == "" || len(s.Name) > 200 {
		return invalid("name", "required, at most 200 characters")
	}
	switch s.Kind {
	case KindFee, KindCharge, KindTax, KindFine:
	default:
		return invalid("kind", "must be fee, charge, tax or fine")
	}
	if s.Currency == "" {
		s.Currency = money.VND
	}
	if !money.Collects(s.Currency) {
		return invalid("currency", "unsupported currency %q", s.Currency)
	}
	switch {
	case s.FixedAmount != nil && s.MinAmount == nil && s.MaxAmount == nil:
		if err := money.Valid(*s.FixedAmount, s.Currency); err != nil {
			return invalid("fixed_amount", "%v", err)
		}
	case s.FixedAmount == nil && s.MinAmount != nil && s.MaxAmount != nil:
		if err := money.Valid(*s.MinAmount, s.Currency); err != nil {
			return invalid("min_amount", "%v", err)
		}
		if err := money.Valid(*s.MaxAmount, s.Currency); err != nil {
			return invalid("max_amount", "%v", err)
		}
		if s.MinAmount.GreaterThan(*s.MaxAmount) {
			return invalid("max_amount", "must not be below min_amount")
		}
	default:
		return invalid("fixed_amount", "give either fixed_amount, or min_amount and max_amount")
	}
	return nil
}

// CheckAmount says whether amount may be charged for the service.
func (s *Service) CheckAmount(amount decimal.Decimal) error {
	if err := money.Valid(amount, s.Currency); err != nil {
		return err
	}
	if s.FixedAmount != nil && !amount.Equal(*s.FixedAmount) {
		return fmt.Errorf("service %s costs exactly %s %s", s.Code, s.FixedAmount, s.Currency)
	}
	if s.MinAmount != nil && (amount.LessThan(*s.MinAmount) || amount.GreaterThan(*s.MaxAmount)) {
		return fmt.Errorf("service %s accepts %s to %s %s", s.Code, s.MinAmount, s.MaxAmount, s.Currency)
	}
	return nil
}

// Store reads and writes the catalogue. Pricing an order reads services from a
// short-lived in-process snapshot (the catalogue is small and changes rarely), so
// order creation does not pay a query for it; a change made through this Store is
// seen at once, a change made by another instance within CacheTTL.
type Store struct {
	pool *pgxpool.Pool

	mu       sync.Mutex
	services map[string]Service
	loadedAt time.Time
}

// CacheTTL bounds how stale the pricing snapshot may be.
const CacheTTL = 5 * time.Second

// NewStore returns a catalogue store.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

func (s *Store) invalidate() {
	s.mu.Lock()
	s.services = nil
	s.mu.Unlock()
}

// UpsertAgency creates or updates an agency, recording the change (before and
// after, treasury account included) in the audit log in the same transaction,
// with the actor in ctx.
func (s *Store) UpsertAgency(ctx context.Context, a Agency) (Agency, error) {
	if err := a.Validate(); err != nil {
		return Agency{}, err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := lockedBefore(ctx, tx, `SELECT `+agencyCols+` FROM agencies WHERE code = $1 FOR UPDATE`, a.Code, scanAgency)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `
			INSERT INTO agencies (code, name, treasury_account) VALUES ($1, $2, $3)
			ON CONFLICT (code) DO UPDATE SET name = excluded.name, treasury_account = excluded.treasury_account, updated_at = now()
			RETURNING created_at, updated_at`, a.Code, a.Name, a.TreasuryAccount).Scan(&a.CreatedAt, &a.UpdatedAt)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: changeAction("catalogue.agency", before), ResourceType: "agency",
			ResourceID: a.Code, Before: before, After: a})
	})
	if err != nil {
		return Agency{}, fmt.Errorf("catalogue: upsert agency %s: %w", a.Code, err)
	}
	return a, nil
}

// lockedBefore reads and locks the row a change will replace (nil if none yet).
func lockedBefore[T any](ctx context.Context, tx pgx.Tx, sql, code string, scan func(pgx.Row) (T, error)) (*T, error) {
	v, err := scan(tx.QueryRow(ctx, sql, code))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// changeAction is "<what>.create" when there was nothing before, else "<what>.update".
func changeAction[T any](what string, before *T) string {
	if before == nil {
		return what + ".create"
	}
	return what + ".update"
}

const agencyCols = `code, name, treasury_account, created_at, updated_at`

func scanAgency(r pgx.Row) (Agency, error) {
	var a Agency
	err := r.Scan(&a.Code, &a.Name, &a.TreasuryAccount, &a.CreatedAt, &a.UpdatedAt)
	return a, err
}

// Agency returns one agency.
func (s *Store) Agency(ctx context.Context, code string) (Agency, error) {
	a, err := scanAgency(s.pool.QueryRow(ctx, `SELECT `+agencyCols+` FROM agencies WHERE code = $1`, code))
	if errors.Is(err, pgx.ErrNoRows) {
		return Agency{}, fmt.Errorf("%w: %s", ErrAgencyNotFound, code)
	}
	if err != nil {
		return Agency{}, fmt.Errorf("catalogue: agency %s: %w", code, err)
	}
	return a, nil
}

// Agencies lists all agencies by code.
func (s *Store) Agencies(ctx context.Context) ([]Agency, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+agencyCols+` FROM agencies ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("catalogue: list agencies: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Agency, error) { return scanAgency(r) })
}

// UpsertService creates or updates a service, recording the change (before
// and after) in the audit log in the same transaction, with the actor in ctx.
func (s *Store) UpsertService(ctx context.Context, svc Service) (Service, error) {
	if err := svc.Validate(); err != nil {
		return Service{}, err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := lockedBefore(ctx, tx, `SELECT `+serviceCols+` FROM services WHERE code = $1 FOR UPDATE`, svc.Code, scanService)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `
			INSERT INTO services (code, agency_code, name, kind, currency, fixed_amount, min_amount, max_amount, active, sensitive)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (code) DO UPDATE SET agency_code = excluded.agency_code, name = excluded.name, kind = excluded.kind,
				currency = excluded.currency, fixed_amount = excluded.fixed_amount, min_amount = excluded.min_amount,
				max_amount = excluded.max_amount, active = excluded.active, sensitive = excluded.sensitive, updated_at = now()
			RETURNING created_at, updated_at`,
			svc.Code, svc.AgencyCode, svc.Name, string(svc.Kind), svc.Currency, svc.FixedAmount, svc.MinAmount, svc.MaxAmount, svc.Active, svc.Sensitive).
			Scan(&svc.CreatedAt, &svc.UpdatedAt)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: changeAction("catalogue.service", before), ResourceType: "service",
			ResourceID: svc.Code, Before: before, After: svc})
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return Service{}, invalid("agency_code", "unknown agency %q", svc.AgencyCode)
	}
	if err != nil {
		return Service{}, fmt.Errorf("catalogue: upsert service %s: %w", svc.Code, err)
	}
	s.invalidate()
	return svc, nil
}

const serviceCols = `code, agency_code, name, kind, currency, fixed_amount, min_amount, max_amount, active, sensitive, created_at, updated_at`

func scanService(r pgx.Row) (Service, error) {
	var s Service
	var kind string
	var fixed, lo, hi decimal.NullDecimal
	err := r.Scan(&s.Code, &s.AgencyCode, &s.Name, &kind, &s.Currency, &fixed, &lo, &hi, &s.Active, &s.Sensitive, &s.CreatedAt, &s.UpdatedAt)
	s.Kind = Kind(kind)
	s.FixedAmount, s.MinAmount, s.MaxAmount = ptr(fixed), ptr(lo), ptr(hi)
	return s, err
}

func ptr(d decimal.NullDecimal) *decimal.Decimal {
	if !d.Valid {
		return nil
	}
	return &d.Decimal
}

// Services lists services, optionally of one agency.
func (s *Store) Services(ctx context.Context, agencyCode string) ([]Service, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+serviceCols+` FROM services WHERE $1 = '' OR agency_code = $1 ORDER BY code`, agencyCode)
	if err != nil {
		return nil, fmt.Errorf("catalogue: list services: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Service, error) { return scanService(r) })
}

// ServicesByCode returns the named services that exist (used to price an order's
// lines), from the snapshot when it is fresh and has them all.
func (s *Store) ServicesByCode(ctx context.Context, codes []string) (map[string]Service, error) {
	s.mu.Lock()
	snap, fresh := s.services, time.Since(s.loadedAt) < CacheTTL
	s.mu.Unlock()
	if snap == nil || !fresh || !hasAll(snap, codes) {
		list, err := s.Services(ctx, "")
		if err != nil {
			return nil, err
		}
		snap = make(map[string]Service, len(list))
		for _, svc := range list {
			snap[svc.Code] = svc
		}
		s.mu.Lock()
		s.services, s.loadedAt = snap, time.Now()
		s.mu.Unlock()
	}
	out := make(map[string]Service, len(codes))
	for _, c := range codes {
		if svc, ok := snap[c]; ok {
			out[c] = svc
		}
	}
	return out, nil
}

func hasAll(m map[string]Service, codes []string) bool {
	for _, c := range codes {
		if _, ok := m[c]; !ok {
			return false
		}
	}
	return true
}
