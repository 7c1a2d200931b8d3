// Package auth holds civicpay's API keys and roles.
//
// A key looks like `cpk_<prefix>_<secret>`: the prefix (12 hex characters) finds
// the row, only SHA-256 of the secret is stored, and the comparison is constant
// time. Secrets have 192 bits of entropy, so a fast hash is the right tool (a
// password hash would only slow every request). The full key is shown once, at
// creation.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/db"
)

// Role is what a key may do.
type Role string

// The four roles.
const (
	RolePortal   Role = "portal"   // create and read the orders it created
	RoleAgency   Role = "agency"   // its own agency's orders, revenue and webhooks
	RoleTreasury Role = "treasury" // statements, reconciliation, all revenue, refunds
	RoleAdmin    Role = "admin"    // keys, catalogue; reads everything; moves no money unless also treasury
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RolePortal, RoleAgency, RoleTreasury, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("%w: %q (want portal, agency, treasury or admin)", ErrInvalidRole, s)
}

// ParseExtraRoles validates the roles an admin key is also given: only
// treasury, and only for an admin key (ErrExtraRole otherwise).
func ParseExtraRoles(role Role, names []string) ([]Role, error) {
	var out []Role
	for _, n := range names {
		r, err := ParseRole(strings.ToLower(strings.TrimSpace(n)))
		if err != nil {
			return nil, err
		}
		if r != RoleTreasury || role != RoleAdmin {
			return nil, fmt.Errorf("%w: %s may not also be %s (only an admin key may also be given treasury)", ErrExtraRole, role, r)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// Principal is the authenticated caller of a request.
type Principal struct {
	KeyID      uuid.UUID
	Prefix     string
	Role       Role
	AgencyCode string // set only for RoleAgency
	Name       string
	// ExpiresAt is when the key stops authenticating (nil: never).
	ExpiresAt *time.Time
	// Also are the roles the key is given besides Role: only treasury, only
	// on an admin key (separation of duties: admin moves no money without it).
	Also []Role
	// Staff marks a person signed in to the staff console rather than an API
	// key: KeyID is then the staff user's id, and what the person creates
	// belongs to the agency (a webhook endpoint), not to a key.
	Staff bool
}

// Actor is how the principal appears in audit trails (never the secret).
func (p Principal) Actor() string { return string(p.Role) + ":" + p.Prefix }

// RoleName is the role with its extra roles: "admin", "admin+treasury".
func (p Principal) RoleName() string {
	n := string(p.Role)
	for _, r := range p.Also {
		n += "+" + string(r)
	}
	return n
}

// Has reports whether the principal holds r, as its role or as an extra one.
func (p Principal) Has(r Role) bool { return p.Role == r || slices.Contains(p.Also, r) }

// ActorContext returns ctx naming p as the actor of the changes made with it
// (for the audit log), unless ctx already names one — as every API request's
// does, with its address and route.
func ActorContext(ctx context.Context, p Principal) context.Context {
	if _, ok := audit.ActorFrom(ctx); ok || p.Prefix == "" {
		return ctx
	}
	return audit.WithActor(ctx, audit.Actor{ID: "key:" + p.Prefix, Role: string(p.Role)})
}

// Key is a stored API key, without its secret.
type Key struct {
	ID         uuid.UUID  `json:"id"`
	Prefix     string     `json:"prefix"`
	Role       Role       `json:"role"`
	AgencyCode string     `json:"agency_code,omitempty"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	Also       []Role     `json:"also,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	// CreatedBy is the audit actor that created the key ("user:<id>",
	// "key:<prefix>", "cli:<os user>"; empty for a key older than the audit
	// log). LastUsedAt is when the key last authenticated a request, to
	// within TouchEvery (nil: never). Neither is in the API's answers yet:
	// the OpenAPI document does not have them.
	CreatedBy  string     `json:"-"`
	LastUsedAt *time.Time `json:"-"`
}

// Expired reports whether the key has expired at now.
func (k Key) Expired(now time.Time) bool { return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) }

// Errors of this package.
var (
	ErrInvalidRole    = errors.New("invalid role")
	ErrAgencyRequired = errors.New("an agency key needs an agency code, and only agency keys have one")
	ErrUnknownAgency  = errors.New("unknown agency")
	ErrKeyNotFound    = errors.New("api key not found")
	ErrUnauthorized   = errors.New("missing, malformed, unknown, revoked or expired API key")
	ErrExpiryInPast   = errors.New("a key's expiry must be in the future")
	ErrExtraRole      = errors.New("invalid extra role")
)

// Store reads and writes keys.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a key store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// NewKey is a key to create.
type NewKey struct {
	Role       Role
	Also       []Role // extra roles: only treasury, only for an admin key
	AgencyCode string
	Name       string
	ExpiresAt  *time.Time // nil: never
}

// Create makes a key that never expires and returns it with its full secret,
// which is never stored. See CreateKey.
func (s *Store) Create(ctx context.Context, role Role, agencyCode, name string) (Key, string, error) {
	return s.CreateKey(ctx, NewKey{Role: role, AgencyCode: agencyCode, Name: name})
}

// CreateExpiring makes a key that stops authenticating at expiresAt (nil: never).
func (s *Store) CreateExpiring(ctx context.Context, role Role, agencyCode, name string, expiresAt *time.Time) (Key, string, error) {
	return s.CreateKey(ctx, NewKey{Role: role, AgencyCode: agencyCode, Name: name, ExpiresAt: expiresAt})
}

// CreateKey makes the key nk and returns it with its full secret, which is
// never stored. The creation is recorded in the audit log, in the same
// transaction, with the actor in ctx (never the secret or its hash).
func (s *Store) CreateKey(ctx context.Context, nk NewKey) (Key, string, error) {
	role, agencyCode, name, expiresAt := nk.Role, nk.AgencyCode, nk.Name, nk.ExpiresAt
	if (role == RoleAgency) != (agencyCode != "") {
		return Key{}, "", ErrAgencyRequired
	}
	if expiresAt != nil && !expiresAt.After(time.Now()) {
		return Key{}, "", ErrExpiryInPast
	}
	also := make([]string, len(nk.Also))
	for i, r := range nk.Also {
		also[i] = string(r)
	}
	if _, err := ParseExtraRoles(role, also); err != nil {
		return Key{}, "", err
	}
	prefixBytes := make([]byte, 6)
	secretBytes := make([]byte, 24)
	if _, err := rand.Read(prefixBytes); err != nil {
		return Key{}, "", fmt.Errorf("auth: random prefix: %w", err)
	}
	if _, err := rand.Read(secretBytes); err != nil {
		return Key{}, "", fmt.Errorf("auth: random secret: %w", err)
	}
	prefix := hex.EncodeToString(prefixBytes)
	secret := base64.RawURLEncoding.EncodeToString(secretBytes)
	sum := sha256.Sum256([]byte(secret))
	actor, _ := audit.ActorFrom(ctx) // none: audit.Record refuses the creation below
	k := Key{ID: uuid.Must(uuid.NewV7()), Prefix: prefix, Role: role, AgencyCode: agencyCode, Name: name, Also: nk.Also,
		CreatedBy: actor.ID}
	var agency *string
	if agencyCode != "" {
		agency = &agencyCode
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO api_keys (id, prefix, secret_hash, role, agency_code, name, expires_at, extra_roles, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING created_at, expires_at`,
			k.ID, prefix, sum[:], string(role), agency, name, expiresAt, also, k.CreatedBy).Scan(&k.CreatedAt, &k.ExpiresAt)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: "key.create", ResourceType: "api_key", ResourceID: k.ID.String(), After: k})
	})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" {
			return Key{}, "", fmt.Errorf("%w: %s", ErrUnknownAgency, agencyCode)
		}
		return Key{}, "", fmt.Errorf("auth: insert key: %w", err)
	}
	return k, "cpk_" + prefix + "_" + secret, nil
}

// Authenticate resolves a presented key to its principal.
func (s *Store) Authenticate(ctx context.Context, presented string) (Principal, error) {
	prefix, secret, ok := split(presented)
	if !ok {
		return Principal{}, ErrUnauthorized
	}
	var (
		p      Principal
		also   []string
		hash   []byte
		agency *string
		role   string
	)
	// A read: run again where PostgreSQL says it may (a connection the
	// pool had kept has gone), rather than refuse the request.
	err := db.Retry(ctx, "auth.authenticate", func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `
			SELECT id, prefix, secret_hash, role, agency_code, name, expires_at, extra_roles FROM api_keys
			WHERE prefix = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`, prefix).
			Scan(&p.KeyID, &p.Prefix, &hash, &role, &agency, &p.Name, &p.ExpiresAt, &also)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("auth: look up key: %w", err)
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], hash) != 1 {
		return Principal{}, ErrUnauthorized
	}
	p.Role, p.Also = Role(role), roles(also)
	if agency != nil {
		p.AgencyCode = *agency
	}
	return p, nil
}

// List returns every key, newest first, without secrets.
func (s *Store) List(ctx context.Context) ([]Key, error) {
	return s.list(ctx, `TRUE`)
}

// AgencyKeys returns the keys of an agency (its agency-role keys), newest
// first, without secrets.
func (s *Store) AgencyKeys(ctx context.Context, agencyCode string) ([]Key, error) {
	return s.list(ctx, `agency_code = $1`, agencyCode)
}

func (s *Store) list(ctx context.Context, where string, args ...any) ([]Key, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+keyColumns+` FROM api_keys WHERE `+where+` ORDER BY created_at DESC, id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("auth: list keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Key, error) { return scanKey(r) })
	if err != nil {
		return nil, fmt.Errorf("auth: list keys: %w", err)
	}
	return keys, nil
}

const keyColumns = `id, prefix, role, coalesce(agency_code, ''), name, created_at, expires_at, revoked_at, extra_roles,
	created_by, last_used_at`

func scanKey(r pgx.Row) (Key, error) {
	var k Key
	var role string
	var also []string
	err := r.Scan(&k.ID, &k.Prefix, &role, &k.AgencyCode, &k.Name, &k.CreatedAt, &k.ExpiresAt, &k.RevokedAt, &also,
		&k.CreatedBy, &k.LastUsedAt)
	k.Role, k.Also = Role(role), roles(also)
	return k, err
}

// Revoke disables a key by id or prefix. Revoking twice is not an error (and
// changes nothing). The revocation is recorded in the audit log, in the same
// transaction, with the actor in ctx.
func (s *Store) Revoke(ctx context.Context, idOrPrefix string) (Key, error) {
	var k Key
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys
			WHERE prefix = $1 OR id::text = $1 FOR UPDATE`, idOrPrefix))
		if err != nil {
			return err
		}
		if before.RevokedAt != nil {
			k = before
			return nil
		}
		if k, err = scanKey(tx.QueryRow(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1
			RETURNING `+keyColumns, before.ID)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: "key.revoke", ResourceType: "api_key", ResourceID: k.ID.String(),
			Before: before, After: k})
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Key{}, fmt.Errorf("%w: %s", ErrKeyNotFound, idOrPrefix)
	}
	if err != nil {
		return Key{}, fmt.Errorf("auth: revoke key: %w", err)
	}
	return k, nil
}

// TouchEvery is how often a key's last use is written: at most once per
// TouchEvery per key and process (Authenticator), and the statement itself
// changes nothing if any process wrote it within TouchEvery; so a busy key
// costs one small write a minute, not one per request.
const TouchEvery = time.Minute

// Touch records that key id authenticated a request now, unless its last
// use was recorded less than TouchEvery ago. It reports whether it wrote.
func (s *Store) Touch(ctx context.Context, id uuid.UUID) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE api_keys SET last_used_at = now()
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))`,
		id, TouchEvery.Seconds())
	if err != nil {
		return false, fmt.Errorf("auth: record key use: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

func roles(names []string) []Role {
	if len(names) == 0 {
		return nil
	}
	out := make([]Role, len(names))
	for i, n := range names {
		out[i] = Role(n)
	}
	return out
}

// split checks a presented key's shape — "cpk_", 12 lowercase hex digits,
// "_", 32 base64url characters, as Create makes them — before any lookup.
func split(presented string) (prefix, secret string, ok bool) {
	rest, found := strings.CutPrefix(presented, "cpk_")
	if !found {
		return "", "", false
	}
	prefix, secret, found = strings.Cut(rest, "_")
	if !found || len(prefix) != 12 || len(secret) != 32 || !all(prefix, isLowerHex) || !all(secret, isBase64URL) {
		return "", "", false
	}
	return prefix, secret, true
}

func all(s string, ok func(byte) bool) bool {
	for i := range len(s) {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isLowerHex(b byte) bool { return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' }

func isBase64URL(b byte) bool {
	return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_'
}
