package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
)

// Role is what a staff user may see and do in the console.
type Role string

// The staff roles (the API's portal role is for systems, not people).
const (
	RoleAgency   Role = "agency"   // its own agency's payments and revenue
	RoleTreasury Role = "treasury" // every agency, reconciliation
	RoleAdmin    Role = "admin"    // everything, users and settings
)

// ParseRole validates a staff role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case RoleAgency, RoleTreasury, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("console: role %q: want agency, treasury or admin", s)
}

// User is a staff account (never its secrets).
type User struct {
	ID            uuid.UUID
	Email         string
	Role          Role
	AgencyCode    string // only for RoleAgency
	CanRefund     bool
	Disabled      bool
	PasswordSet   bool
	TOTPConfirmed bool
	CreatedAt     time.Time
}

// NewUser is what `civicpay users create` asks for.
type NewUser struct {
	Email      string
	Role       Role
	AgencyCode string
	CanRefund  bool
}

// Errors of the store. The sign-in errors are deliberately vague to the
// user (the page says only that the email or password is wrong).
var (
	ErrInvalidUser     = errors.New("console: invalid user")
	ErrEmailTaken      = errors.New("console: a staff user with this email exists")
	ErrUnknownAgency   = errors.New("console: no such agency")
	ErrBadCredentials  = errors.New("console: wrong email or password")
	ErrBadCode         = errors.New("console: wrong code")
	ErrLocked          = errors.New("console: too many failed sign-ins: locked for a while")
	ErrSetupIncomplete = errors.New("console: the account's set-up is not finished")
	ErrTokenInvalid    = errors.New("console: the link is not valid (used, expired or unknown)")
	ErrNoSession       = errors.New("console: no session")
	ErrSessionNotFound = errors.New("console: no such session")
	errEnrolNotPending = errors.New("console: no TOTP enrolment pending")
	emailRE            = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	agencyRE           = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,31}$`)
)

// Policy is how long sessions and links last and when sign-ins lock.
type Policy struct {
	// IdleTimeout ends a session not used for this long; AbsoluteTimeout ends
	// any session this long after sign-in.
	IdleTimeout, AbsoluteTimeout time.Duration
	// StepTimeout bounds the steps between a password and its second factor,
	// and between setting a password and confirming the TOTP enrolment.
	StepTimeout time.Duration
	// LockoutAfter consecutive failures (password or code) lock the account
	// for Lockout.
	LockoutAfter int
	Lockout      time.Duration
	// Argon2 hashes new passwords.
	Argon2 Argon2Params
}

// DefaultPolicy is the configuration's defaults.
var DefaultPolicy = Policy{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, StepTimeout: 10 * time.Minute,
	LockoutAfter: 10, Lockout: 15 * time.Minute, Argon2: DefaultArgon2}

// Store keeps staff users, their sessions and set-password links.
type Store struct {
	pool   *pgxpool.Pool
	keys   *secretbox.Keyring
	clock  clock.Clock
	policy Policy
}

// NewStore returns a store on pool. keys seal TOTP secrets (nil is enough
// for creating users and links); clk decides expiries (nil: the wall clock).
func NewStore(pool *pgxpool.Pool, keys *secretbox.Keyring, clk clock.Clock, p Policy) *Store {
	if p.Argon2.Memory == 0 {
		p.Argon2 = DefaultArgon2
	}
	if p.StepTimeout <= 0 {
		p.StepTimeout = DefaultPolicy.StepTimeout
	}
	return &Store{pool: pool, keys: keys, clock: clock.Or(clk), policy: p}
}

func newToken() (raw string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("console: token: %w", err)
	}
	raw = base64.RawURLEncoding.EncodeToString(b)
	return raw, tokenHash(raw), nil
}

func tokenHash(raw string) []byte {
	s := sha256.Sum256([]byte(raw))
	return s[:]
}

func totpAD(id uuid.UUID) []byte { return []byte("staff_users.totp_secret:" + id.String()) }

// userView is a user as the audit log shows it.
func userView(u User) map[string]any {
	m := map[string]any{"email": u.Email, "role": u.Role, "can_refund": u.CanRefund, "disabled": u.Disabled}
	if u.AgencyCode != "" {
		m["agency_code"] = u.AgencyCode
	}
	return m
}

const userCols = `id, email, role, coalesce(agency_code, ''), can_refund, disabled, password_hash IS NOT NULL,
	totp_confirmed_at IS NOT NULL, created_at`

// userColsU is userCols of the table aliased u.
const userColsU = `u.id, u.email, u.role, coalesce(u.agency_code, ''), u.can_refund, u.disabled, u.password_hash IS NOT NULL,
	u.totp_confirmed_at IS NOT NULL, u.created_at`

func scanUser(row pgx.Row) (User, error) {
	var u User
	var role string
	err := row.Scan(&u.ID, &u.Email, &role, &u.AgencyCode, &u.CanRefund, &u.Disabled, &u.PasswordSet, &u.TOTPConfirmed, &u.CreatedAt)
	u.Role = Role(role)
	return u, err
}

// CreateUser makes a user with no password and a set-password link valid
// for ttl, and audits the creation (actor from ctx) in the same
// transaction. It returns the raw link token, shown once.
func (s *Store) CreateUser(ctx context.Context, nu NewUser, ttl time.Duration) (User, string, error) {
	if err := nu.check(); err != nil {
		return User{}, "", err
	}
	var u User
	var raw string
	err := db.Tx(ctx, s.pool, "console create user", func(tx pgx.Tx) error {
		var agency *string
		if nu.AgencyCode != "" {
			agency = &nu.AgencyCode
		}
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `INSERT INTO staff_users (email, role, agency_code, can_refund)
			VALUES ($1, $2, $3, $4) RETURNING `+userCols, nu.Email, string(nu.Role), agency, nu.CanRefund))
		if err != nil {
			var pe *pgconn.PgError
			switch {
			case errors.As(err, &pe) && pe.Code == "23505":
				return &FieldError{Field: "email", Code: "taken", Err: fmt.Errorf("%w: %s", ErrEmailTaken, nu.Email)}
			case errors.As(err, &pe) && pe.Code == "23503":
				return &FieldError{Field: "agency", Code: "unknown", Err: fmt.Errorf("%w: %s", ErrUnknownAgency, nu.AgencyCode)}
			}
			return fmt.Errorf("console: create user: %w", err)
		}
		if raw, err = s.insertLink(ctx, tx, u.ID, ttl); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: "staff.user.create", ResourceType: "staff_user",
			ResourceID: u.ID.String(), After: userView(u)})
	})
	return u, raw, err
}

func (s *Store) insertLink(ctx context.Context, tx pgx.Tx, user uuid.UUID, ttl time.Duration) (string, error) {
	raw, hash, err := newToken()
	if err != nil {
		return "", err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO staff_password_tokens (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		hash, user, s.clock.Now(), s.clock.Now().Add(ttl)); err != nil {
		return "", fmt.Errorf("console: set-password link: %w", err)
	}
	return raw, nil
}

// NewLink issues a fresh set-password link for the user with email (a
// forgotten password, a lost phone, an abandoned set-up), audited. Using it
// sets a new password and enrols TOTP again.
func (s *Store) NewLink(ctx context.Context, email string, ttl time.Duration) (User, string, error) {
	var u User
	var raw string
	err := db.Tx(ctx, s.pool, "console new link", func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM staff_users WHERE lower(email) = lower($1)`, strings.TrimSpace(email)))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: no staff user %s", ErrInvalidUser, email)
		} else if err != nil {
			return fmt.Errorf("console: new link: %w", err)
		}
		if raw, err = s.insertLink(ctx, tx, u.ID, ttl); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: "staff.user.link", ResourceType: "staff_user", ResourceID: u.ID.String()})
	})
	return u, raw, err
}

// UserByEmail finds a user (any letter case).
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM staff_users WHERE lower(email) = lower($1)`, strings.TrimSpace(email)))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, fmt.Errorf("%w: no staff user %s", ErrInvalidUser, email)
	}
	return u, err
}

// LinkUser is the user a valid (unused, unexpired) link is for.
func (s *Store) LinkUser(ctx context.Context, raw string) (User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColsU+` FROM staff_password_tokens t
		JOIN staff_users u ON u.id = t.user_id
		WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > $2 AND NOT u.disabled`, tokenHash(raw), s.clock.Now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, ErrTokenInvalid
	}
	if err != nil {
		return u, fmt.Errorf("console: link: %w", err)
	}
	return u, nil
}

// Client is where a request comes from, for sessions and the audit log.
type Client struct {
	IP, UserAgent, RequestID, Route string
}

func actorFor(u User, c Client) audit.Actor {
	return audit.Actor{ID: "user:" + u.ID.String(), Role: "staff:" + string(u.Role), IP: c.IP, RequestID: c.RequestID, Route: c.Route}
}

func anonymous(c Client) audit.Actor {
	return audit.Actor{ID: "anonymous", Role: "anonymous", IP: c.IP, RequestID: c.RequestID, Route: c.Route}
}

// SetPassword uses the link raw: it sets the password, makes a new TOTP
// secret to enrol (the user cannot sign in until it is confirmed), revokes
// the user's sessions, uses up the link and opens an enrolment session,
// whose token it returns. All in one transaction, audited.
func (s *Store) SetPassword(ctx context.Context, raw, password string, c Client) (User, string, error) {
	if err := CheckPasswordPolicy(password); err != nil {
		return User{}, "", err
	}
	if s.keys == nil {
		return User{}, "", errors.New("console: no data keys to seal the TOTP secret with")
	}
	hash, err := HashPassword(password, s.policy.Argon2)
	if err != nil {
		return User{}, "", err
	}
	var u User
	var sess string
	err = db.Tx(ctx, s.pool, "console set password", func(tx pgx.Tx) error {
		now := s.clock.Now()
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `UPDATE staff_password_tokens t SET used_at = $2 FROM staff_users u
			WHERE t.token_hash = $1 AND u.id = t.user_id AND t.used_at IS NULL AND t.expires_at > $2 AND NOT u.disabled
			RETURNING `+userColsU, tokenHash(raw), now))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrTokenInvalid
		} else if err != nil {
			return fmt.Errorf("console: set password: %w", err)
		}
		secret, _, err := NewTOTP(u.Email)
		if err != nil {
			return err
		}
		sealed, err := s.keys.Seal([]byte(secret), totpAD(u.ID))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE staff_users SET password_hash = $2, totp_secret = $3, totp_confirmed_at = NULL,
			totp_last_step = 0, failed_logins = 0, locked_until = NULL, updated_at = now() WHERE id = $1`, u.ID, hash, sealed); err != nil {
			return fmt.Errorf("console: set password: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM staff_recovery_codes WHERE user_id = $1`, u.ID); err != nil {
			return fmt.Errorf("console: set password: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE staff_sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, u.ID, now); err != nil {
			return fmt.Errorf("console: set password: %w", err)
		}
		if sess, err = s.insertSession(ctx, tx, u.ID, stageEnrol, c, now); err != nil {
			return err
		}
		return audit.Record(audit.WithActor(ctx, actorFor(u, c)), tx, audit.Event{Action: "staff.password.set",
			ResourceType: "staff_user", ResourceID: u.ID.String()})
	})
	u.PasswordSet, u.TOTPConfirmed = err == nil, false
	return u, sess, err
}

// The session stages.
const (
	stageMFA    = "mfa"
	stageEnrol  = "enrol"
	stageActive = "active"
)

func (s *Store) insertSession(ctx context.Context, tx pgx.Tx, user uuid.UUID, stage string, c Client, now time.Time) (string, error) {
	raw, hash, err := newToken()
	if err != nil {
		return "", err
	}
	idle, abs := now.Add(s.policy.StepTimeout), now.Add(s.policy.StepTimeout)
	if stage == stageActive {
		idle, abs = now.Add(s.policy.IdleTimeout), now.Add(s.policy.AbsoluteTimeout)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO staff_sessions (token_hash, user_id, stage, created_at, last_seen_at, idle_expires_at,
		absolute_expires_at, user_agent, ip) VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8)`,
		hash, user, stage, now, idle, abs, summariseUA(c.UserAgent), c.IP); err != nil {
		return "", fmt.Errorf("console: session: %w", err)
	}
	return raw, nil
}

// summariseUA keeps enough of a User-Agent to recognise a session (browser
// and system), bounded.
func summariseUA(ua string) string {
	ua = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, ua)
	if len(ua) > 160 {
		ua = ua[:160]
	}
	return ua
}

// Session is a console session of the user (never its token).
type Session struct {
	ID               uuid.UUID
	UserID           uuid.UUID
	Stage            string
	CreatedAt        time.Time
	LastSeenAt       time.Time
	IdleExpiresAt    time.Time
	AbsoluteExpiryAt time.Time
	UserAgent, IP    string
	RevokedAt        *time.Time
}

// Active reports whether the session is signed in (not between steps).
func (s Session) Active() bool { return s.Stage == stageActive }

const sessionCols = `s.id, s.user_id, s.stage, s.created_at, s.last_seen_at, s.idle_expires_at, s.absolute_expires_at, s.user_agent, s.ip, s.revoked_at`

func scanSession(row pgx.Row, extra ...any) (Session, error) {
	var s Session
	err := row.Scan(append([]any{&s.ID, &s.UserID, &s.Stage, &s.CreatedAt, &s.LastSeenAt, &s.IdleExpiresAt, &s.AbsoluteExpiryAt,
		&s.UserAgent, &s.IP, &s.RevokedAt}, extra...)...)
	return s, err
}

// Resume finds the live session of token raw and its user, and extends its
// idle expiry (never past the absolute one). A revoked, expired or unknown
// session, or one of a disabled user, is ErrNoSession.
//
// Every console page resumes its session, so the extension is committed
// with synchronous_commit off (for this statement's transaction only): the
// page does not wait for a WAL flush, and two pages of one session hold the
// row's lock only as long as the update. A crash may lose the last
// extensions of a session, which then expires up to that much earlier; a
// revocation or sign-out (committed synchronously) is never lost.
func (s *Store) Resume(ctx context.Context, raw string) (Session, User, error) {
	if raw == "" {
		return Session{}, User{}, ErrNoSession
	}
	now := s.clock.Now()
	var u User
	var role string
	sess, err := scanSession(s.pool.QueryRow(ctx, `
		WITH async AS (SELECT set_config('synchronous_commit', 'off', true))
		UPDATE staff_sessions s SET last_seen_at = $2,
			idle_expires_at = CASE WHEN s.stage = 'active' THEN least($3::timestamptz, s.absolute_expires_at) ELSE s.idle_expires_at END
		FROM staff_users u, async
		WHERE s.token_hash = $1 AND u.id = s.user_id AND s.revoked_at IS NULL AND NOT u.disabled
		  AND s.idle_expires_at > $2 AND s.absolute_expires_at > $2
		RETURNING `+sessionCols+`, `+userColsU, tokenHash(raw), now, now.Add(s.policy.IdleTimeout)),
		&u.ID, &u.Email, &role, &u.AgencyCode, &u.CanRefund, &u.Disabled, &u.PasswordSet, &u.TOTPConfirmed, &u.CreatedAt)
	u.Role = Role(role)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, User{}, ErrNoSession
	}
	if err != nil {
		return Session{}, User{}, fmt.Errorf("console: session: %w", err)
	}
	return sess, u, nil
}

// Sessions lists the user's sessions still live, newest first.
func (s *Store) Sessions(ctx context.Context, user uuid.UUID) ([]Session, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+sessionCols+` FROM staff_sessions s
		WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.idle_expires_at > $2 AND s.absolute_expires_at > $2 AND s.stage = 'active'
		ORDER BY s.created_at DESC, s.id`, user, s.clock.Now())
	if err != nil {
		return nil, fmt.Errorf("console: sessions: %w", err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		se, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("console: sessions: %w", err)
		}
		out = append(out, se)
	}
	return out, rows.Err()
}

// Revoke ends the user's session id (its own only), audited as action
// (staff.logout for the current one, staff.session.revoke for another).
func (s *Store) Revoke(ctx context.Context, u User, id uuid.UUID, action string, c Client) error {
	return db.Tx(ctx, s.pool, "console revoke session", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE staff_sessions SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`,
			id, u.ID, s.clock.Now())
		if err != nil {
			return fmt.Errorf("console: revoke session: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrSessionNotFound
		}
		return audit.Record(audit.WithActor(ctx, actorFor(u, c)), tx, audit.Event{Action: action,
			ResourceType: "staff_session", ResourceID: id.String()})
	})
}

// loginRow is what a sign-in reads of the user, locked.
type loginRow struct {
	User
	hash     *string
	sealed   []byte
	lastStep int64
	failed   int
	locked   *time.Time
}

func (s *Store) lockUser(ctx context.Context, tx pgx.Tx, where string, arg any) (loginRow, error) {
	var r loginRow
	var role string
	err := tx.QueryRow(ctx, `SELECT `+userCols+`, password_hash, totp_secret, totp_last_step, failed_logins, locked_until
		FROM staff_users WHERE `+where+` FOR UPDATE`, arg).Scan(&r.ID, &r.Email, &role, &r.AgencyCode, &r.CanRefund, &r.Disabled,
		&r.PasswordSet, &r.TOTPConfirmed, &r.CreatedAt, &r.hash, &r.sealed, &r.lastStep, &r.failed, &r.locked)
	r.Role = Role(role)
	return r, err
}

// fail counts a failed sign-in step of r, locking the account at the
// policy's threshold, and audits it with reason.
func (s *Store) fail(ctx context.Context, tx pgx.Tx, r loginRow, action, reason string, c Client, now time.Time) error {
	failed, locked := r.failed+1, r.locked
	if s.policy.LockoutAfter > 0 && failed >= s.policy.LockoutAfter {
		until := now.Add(s.policy.Lockout)
		failed, locked = 0, &until
		reason += ", account locked"
	}
	if _, err := tx.Exec(ctx, `UPDATE staff_users SET failed_logins = $2, locked_until = $3 WHERE id = $1`, r.ID, failed, locked); err != nil {
		return fmt.Errorf("console: count failure: %w", err)
	}
	return audit.Record(audit.WithActor(ctx, anonymous(c)), tx, audit.Event{Action: action, ResourceType: "staff_user",
		ResourceID: r.ID.String(), After: map[string]any{"reason": reason}})
}

// Login checks email and password. On success it opens a session waiting
// for the second factor and returns its token. A wrong password counts
// against the account (locking it after Policy.LockoutAfter failures in a
// row); every outcome is audited. The failures' errors are ErrBadCredentials,
// ErrLocked and ErrSetupIncomplete.
func (s *Store) Login(ctx context.Context, email, password string, c Client) (string, error) {
	var sess string
	var outcome error
	err := db.Tx(ctx, s.pool, "console login", func(tx pgx.Tx) error {
		sess, outcome = "", nil
		now := s.clock.Now()
		r, err := s.lockUser(ctx, tx, `lower(email) = lower($1)`, strings.TrimSpace(email))
		if errors.Is(err, pgx.ErrNoRows) {
			_, _ = VerifyPassword(password, dummyHash)
			outcome = ErrBadCredentials
			return audit.Record(audit.WithActor(ctx, anonymous(c)), tx, audit.Event{Action: "staff.login.failure",
				ResourceType: "staff_user", ResourceID: "", After: map[string]any{"reason": "unknown account", "email": trimEmail(email)}})
		} else if err != nil {
			return fmt.Errorf("console: login: %w", err)
		}
		if r.locked != nil && r.locked.After(now) {
			outcome = ErrLocked
			return audit.Record(audit.WithActor(ctx, anonymous(c)), tx, audit.Event{Action: "staff.login.failure",
				ResourceType: "staff_user", ResourceID: r.ID.String(), After: map[string]any{"reason": "locked"}})
		}
		hash := dummyHash
		if r.hash != nil {
			hash = *r.hash
		}
		ok, err := VerifyPassword(password, hash)
		if err != nil {
			return fmt.Errorf("console: login: stored hash of %s: %w", r.ID, err)
		}
		switch {
		case !ok || r.hash == nil:
			outcome = ErrBadCredentials
			return s.fail(ctx, tx, r, "staff.login.failure", "wrong password", c, now)
		case r.Disabled:
			outcome = ErrBadCredentials
			return s.fail(ctx, tx, r, "staff.login.failure", "disabled", c, now)
		case !r.TOTPConfirmed:
			outcome = ErrSetupIncomplete
			return audit.Record(audit.WithActor(ctx, anonymous(c)), tx, audit.Event{Action: "staff.login.failure",
				ResourceType: "staff_user", ResourceID: r.ID.String(), After: map[string]any{"reason": "set-up not finished"}})
		}
		if sess, err = s.insertSession(ctx, tx, r.ID, stageMFA, c, now); err != nil {
			return err
		}
		return audit.Record(audit.WithActor(ctx, actorFor(r.User, c)), tx, audit.Event{Action: "staff.login.password",
			ResourceType: "staff_user", ResourceID: r.ID.String()})
	})
	if err != nil {
		return "", err
	}
	return sess, outcome
}

func trimEmail(e string) string {
	e = strings.TrimSpace(e)
	if len(e) > 254 {
		e = e[:254]
	}
	return e
}

// SecondFactor completes the sign-in of the session (stage mfa) with a TOTP
// code or a recovery code (used up). On success the session is signed in,
// with fresh idle and absolute expiries; a wrong code counts like a wrong
// password. Outcomes are audited: staff.login, staff.login.totp_failure.
func (s *Store) SecondFactor(ctx context.Context, sess Session, code string, c Client) error {
	if sess.Stage != stageMFA {
		return ErrNoSession
	}
	var outcome error
	err := db.Tx(ctx, s.pool, "console second factor", func(tx pgx.Tx) error {
		outcome = nil
		now := s.clock.Now()
		r, err := s.lockUser(ctx, tx, `id = $1`, sess.UserID)
		if err != nil {
			return fmt.Errorf("console: second factor: %w", err)
		}
		if r.locked != nil && r.locked.After(now) {
			outcome = ErrLocked
			return audit.Record(audit.WithActor(ctx, anonymous(c)), tx, audit.Event{Action: "staff.login.totp_failure",
				ResourceType: "staff_user", ResourceID: r.ID.String(), After: map[string]any{"reason": "locked"}})
		}
		method, step := "totp", int64(0)
		if looksLikeRecoveryCode(code) {
			method = "recovery code"
			tag, err := tx.Exec(ctx, `UPDATE staff_recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`,
				r.ID, recoveryHash(code), now)
			if err != nil {
				return fmt.Errorf("console: recovery code: %w", err)
			}
			if tag.RowsAffected() == 0 {
				outcome = ErrBadCode
				return s.fail(ctx, tx, r, "staff.login.totp_failure", "wrong recovery code", c, now)
			}
		} else {
			secret, err := s.openSecret(r)
			if err != nil {
				return err
			}
			if step = checkTOTP(secret, code, now, r.lastStep); step == 0 {
				outcome = ErrBadCode
				return s.fail(ctx, tx, r, "staff.login.totp_failure", "wrong code", c, now)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE staff_users SET failed_logins = 0, locked_until = NULL,
			totp_last_step = greatest(totp_last_step, $2) WHERE id = $1`, r.ID, step); err != nil {
			return fmt.Errorf("console: second factor: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE staff_sessions SET stage = 'active', created_at = $2, last_seen_at = $2,
			idle_expires_at = $3, absolute_expires_at = $4 WHERE id = $1`,
			sess.ID, now, now.Add(s.policy.IdleTimeout), now.Add(s.policy.AbsoluteTimeout)); err != nil {
			return fmt.Errorf("console: second factor: %w", err)
		}
		return audit.Record(audit.WithActor(ctx, actorFor(r.User, c)), tx, audit.Event{Action: "staff.login",
			ResourceType: "staff_session", ResourceID: sess.ID.String(), After: map[string]any{"method": method}})
	})
	if err != nil {
		return err
	}
	return outcome
}

func (s *Store) openSecret(r loginRow) (string, error) {
	if r.sealed == nil || s.keys == nil {
		return "", errEnrolNotPending
	}
	b, err := s.keys.Open(r.sealed, totpAD(r.ID))
	if err != nil {
		return "", fmt.Errorf("console: totp secret of %s: %w", r.ID, err)
	}
	return string(b), nil
}

// EnrolSecret is the TOTP secret waiting for confirmation in the enrolment
// session sess.
func (s *Store) EnrolSecret(ctx context.Context, sess Session) (email, secret string, err error) {
	if sess.Stage != stageEnrol {
		return "", "", errEnrolNotPending
	}
	var r loginRow
	err = s.pool.QueryRow(ctx, `SELECT email, id, totp_secret FROM staff_users WHERE id = $1 AND totp_confirmed_at IS NULL`,
		sess.UserID).Scan(&r.Email, &r.ID, &r.sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", errEnrolNotPending
	} else if err != nil {
		return "", "", fmt.Errorf("console: enrolment: %w", err)
	}
	secret, err = s.openSecret(r)
	return r.Email, secret, err
}

// ConfirmEnrolment checks code against the secret being enrolled in sess:
// right, it confirms the TOTP, makes ten new recovery codes (returned, shown
// once) and signs the session in; wrong, ErrBadCode, counted and audited.
func (s *Store) ConfirmEnrolment(ctx context.Context, sess Session, code string, c Client) ([]string, error) {
	if sess.Stage != stageEnrol {
		return nil, errEnrolNotPending
	}
	var codes []string
	var outcome error
	err := db.Tx(ctx, s.pool, "console confirm totp", func(tx pgx.Tx) error {
		codes, outcome = nil, nil
		now := s.clock.Now()
		r, err := s.lockUser(ctx, tx, `id = $1`, sess.UserID)
		if err != nil {
			return fmt.Errorf("console: confirm totp: %w", err)
		}
		if r.TOTPConfirmed {
			outcome = errEnrolNotPending
			return nil
		}
		secret, err := s.openSecret(r)
		if err != nil {
			return err
		}
		step := checkTOTP(secret, code, now, r.lastStep)
		if step == 0 {
			outcome = ErrBadCode
			return s.fail(ctx, tx, r, "staff.totp.enrol_failure", "wrong code", c, now)
		}
		if _, err := tx.Exec(ctx, `UPDATE staff_users SET totp_confirmed_at = $2, totp_last_step = $3, failed_logins = 0,
			locked_until = NULL, updated_at = now() WHERE id = $1`, r.ID, now, step); err != nil {
			return fmt.Errorf("console: confirm totp: %w", err)
		}
		for range recoveryCodes {
			rc, err := newRecoveryCode()
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO staff_recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)`,
				r.ID, recoveryHash(rc), now); err != nil {
				return fmt.Errorf("console: recovery codes: %w", err)
			}
			codes = append(codes, rc)
		}
		if _, err := tx.Exec(ctx, `UPDATE staff_sessions SET stage = 'active', created_at = $2, last_seen_at = $2,
			idle_expires_at = $3, absolute_expires_at = $4 WHERE id = $1`,
			sess.ID, now, now.Add(s.policy.IdleTimeout), now.Add(s.policy.AbsoluteTimeout)); err != nil {
			return fmt.Errorf("console: confirm totp: %w", err)
		}
		return audit.Record(audit.WithActor(ctx, actorFor(r.User, c)), tx, audit.Event{Action: "staff.totp.enrol",
			ResourceType: "staff_user", ResourceID: r.ID.String()})
	})
	if err != nil {
		return nil, err
	}
	return codes, outcome
}

// DemoUser makes (or resets) a signed-up user with a known password and
// TOTP secret: for `civicpay demo` in development mode only. The caller
// prints the secrets.
func (s *Store) DemoUser(ctx context.Context, nu NewUser, password string) (User, string, error) {
	if s.keys == nil {
		return User{}, "", errors.New("console: no data keys")
	}
	hash, err := HashPassword(password, s.policy.Argon2)
	if err != nil {
		return User{}, "", err
	}
	secret, _, err := NewTOTP(nu.Email)
	if err != nil {
		return User{}, "", err
	}
	var u User
	err = db.Tx(ctx, s.pool, "console demo user", func(tx pgx.Tx) error {
		var agency *string
		if nu.AgencyCode != "" {
			agency = &nu.AgencyCode
		}
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `INSERT INTO staff_users (email, role, agency_code, can_refund) VALUES ($1, $2, $3, $4)
			ON CONFLICT (lower(email)) DO UPDATE SET role = excluded.role, agency_code = excluded.agency_code,
				can_refund = excluded.can_refund, disabled = false, updated_at = now()
			RETURNING `+userCols, nu.Email, string(nu.Role), agency, nu.CanRefund))
		if err != nil {
			return fmt.Errorf("console: demo user %s: %w", nu.Email, err)
		}
		sealed, err := s.keys.Seal([]byte(secret), totpAD(u.ID))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE staff_users SET password_hash = $2, totp_secret = $3, totp_confirmed_at = $4,
			totp_last_step = 0, failed_logins = 0, locked_until = NULL WHERE id = $1`, u.ID, hash, sealed, s.clock.Now()); err != nil {
			return fmt.Errorf("console: demo user %s: %w", nu.Email, err)
		}
		return audit.Record(ctx, tx, audit.Event{Action: "staff.user.demo", ResourceType: "staff_user",
			ResourceID: u.ID.String(), After: userView(u)})
	})
	u.PasswordSet, u.TOTPConfirmed = true, true
	return u, secret, err
}
