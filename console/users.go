package console

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/db"
)

// The admin's changes to staff users (the admin pages, admin.go). Each
// change and its audit row (actor from ctx) are one transaction.

// Errors of the admin's changes to users.
var (
	ErrUserNotFound = errors.New("console: no such staff user")
	// ErrLastAdmin: the change would leave no active admin (one not
	// disabled who has finished set-up, so can sign in).
	ErrLastAdmin = errors.New("console: the last active admin may not be disabled or demoted")
	// ErrUserDisabled: a link for a disabled user would not work.
	ErrUserDisabled = errors.New("console: the user is disabled")
)

// FieldError is a field of a new or changed user that breaks a rule: Field
// is "email", "role" or "agency", Code what is wrong ("invalid", "taken",
// "required", "notallowed", "unknown"). It wraps ErrInvalidUser,
// ErrEmailTaken or ErrUnknownAgency.
type FieldError struct {
	Field, Code string
	Err         error
}

func (e *FieldError) Error() string { return e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// check normalises nu and checks its fields (not yet whether its agency
// exists, nor its email is free: the database says).
func (nu *NewUser) check() error {
	nu.Email = strings.TrimSpace(nu.Email)
	nu.AgencyCode = strings.ToUpper(strings.TrimSpace(nu.AgencyCode))
	switch {
	case !emailRE.MatchString(nu.Email) || len(nu.Email) > 254:
		return &FieldError{"email", "invalid", fmt.Errorf("%w: email %q", ErrInvalidUser, nu.Email)}
	}
	return checkRole(nu.Role, nu.AgencyCode)
}

func checkRole(r Role, agency string) error {
	switch {
	case r != RoleAgency && r != RoleTreasury && r != RoleAdmin:
		return &FieldError{"role", "invalid", fmt.Errorf("%w: role %q (want agency, treasury or admin)", ErrInvalidUser, r)}
	case r == RoleAgency && agency == "":
		return &FieldError{"agency", "required", fmt.Errorf("%w: an agency user names its agency (--agency), and only an agency user does", ErrInvalidUser)}
	case r != RoleAgency && agency != "":
		return &FieldError{"agency", "notallowed", fmt.Errorf("%w: an agency user names its agency (--agency), and only an agency user does", ErrInvalidUser)}
	case agency != "" && !agencyRE.MatchString(agency):
		return &FieldError{"agency", "invalid", fmt.Errorf("%w: agency code %q", ErrInvalidUser, agency)}
	}
	return nil
}

// UserInfo is a user as the admin pages show it.
type UserInfo struct {
	User
	// LastSignIn is the start of the user's latest signed-in session (nil:
	// none recorded); LockedUntil a lock after failed sign-ins.
	LastSignIn  *time.Time
	LockedUntil *time.Time
}

const userInfoQuery = `SELECT ` + userColsU + `,
	(SELECT max(s.created_at) FROM staff_sessions s WHERE s.user_id = u.id AND s.stage = 'active'), u.locked_until
	FROM staff_users u`

func scanUserInfo(row pgx.Row) (UserInfo, error) {
	var i UserInfo
	var role string
	err := row.Scan(&i.ID, &i.Email, &role, &i.AgencyCode, &i.CanRefund, &i.Disabled, &i.PasswordSet, &i.TOTPConfirmed,
		&i.CreatedAt, &i.LastSignIn, &i.LockedUntil)
	i.Role = Role(role)
	return i, err
}

// Users lists every staff user by email.
func (s *Store) Users(ctx context.Context) ([]UserInfo, error) {
	rows, err := s.pool.Query(ctx, userInfoQuery+` ORDER BY lower(u.email), u.id`)
	if err != nil {
		return nil, fmt.Errorf("console: users: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UserInfo, error) { return scanUserInfo(r) })
	if err != nil {
		return nil, fmt.Errorf("console: users: %w", err)
	}
	return out, nil
}

// UserInfo is the user id.
func (s *Store) UserInfo(ctx context.Context, id uuid.UUID) (UserInfo, error) {
	i, err := scanUserInfo(s.pool.QueryRow(ctx, userInfoQuery+` WHERE u.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return i, ErrUserNotFound
	} else if err != nil {
		return i, fmt.Errorf("console: user %s: %w", id, err)
	}
	return i, nil
}

// signsInAsAdmin: an admin who can sign in (not disabled, set-up finished).
func signsInAsAdmin(u User) bool { return u.Role == RoleAdmin && !u.Disabled && u.TOTPConfirmed }

// lockForChange locks the user id and every admin, in one order (so two
// admins changing each other wait rather than deadlock), and returns the
// user and how many other admins can sign in.
func lockForChange(ctx context.Context, tx pgx.Tx, id uuid.UUID) (User, int, error) {
	rows, err := tx.Query(ctx, `SELECT `+userCols+` FROM staff_users WHERE role = 'admin' OR id = $1 ORDER BY id FOR UPDATE`, id)
	if err != nil {
		return User{}, 0, fmt.Errorf("console: lock user: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	if err != nil {
		return User{}, 0, fmt.Errorf("console: lock user: %w", err)
	}
	var u User
	found, admins := false, 0
	for _, x := range list {
		switch {
		case x.ID == id:
			u, found = x, true
		case signsInAsAdmin(x):
			admins++
		}
	}
	if !found {
		return User{}, 0, ErrUserNotFound
	}
	return u, admins, nil
}

// UserChange is what an admin may change of a user: role, agency (agency
// users only) and whether it may refund.
type UserChange struct {
	Role       Role
	AgencyCode string
	CanRefund  bool
}

// UpdateUser changes the user id's role, agency and refund permission,
// audited (staff.user.update, before and after). The change applies from
// the user's next request (a session reads its user every time). Taking the
// admin role from the last active admin is ErrLastAdmin.
func (s *Store) UpdateUser(ctx context.Context, id uuid.UUID, ch UserChange) (User, error) {
	ch.AgencyCode = strings.ToUpper(strings.TrimSpace(ch.AgencyCode))
	if err := checkRole(ch.Role, ch.AgencyCode); err != nil {
		return User{}, err
	}
	var after User
	err := db.Tx(ctx, s.pool, "console update user", func(tx pgx.Tx) error {
		before, admins, err := lockForChange(ctx, tx, id)
		if err != nil {
			return err
		}
		if signsInAsAdmin(before) && ch.Role != RoleAdmin && admins == 0 {
			return ErrLastAdmin
		}
		var agency *string
		if ch.AgencyCode != "" {
			agency = &ch.AgencyCode
		}
		after, err = scanUser(tx.QueryRow(ctx, `UPDATE staff_users SET role = $2, agency_code = $3, can_refund = $4, updated_at = now()
			WHERE id = $1 RETURNING `+userCols, id, string(ch.Role), agency, ch.CanRefund))
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23503" {
			return &FieldError{Field: "agency", Code: "unknown", Err: fmt.Errorf("%w: %s", ErrUnknownAgency, ch.AgencyCode)}
		} else if err != nil {
			return fmt.Errorf("console: update user: %w", err)
		}
		return audit.Record(ctx, tx, audit.Event{Action: "staff.user.update", ResourceType: "staff_user",
			ResourceID: id.String(), Before: userView(before), After: userView(after)})
	})
	return after, err
}

// revokeAll ends every session of the user.
func (s *Store) revokeAll(ctx context.Context, tx pgx.Tx, user uuid.UUID, now time.Time) (int64, error) {
	tag, err := tx.Exec(ctx, `UPDATE staff_sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, user, now)
	if err != nil {
		return 0, fmt.Errorf("console: revoke sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

// expireLinks ends the user's set-password links not used yet.
func (s *Store) expireLinks(ctx context.Context, tx pgx.Tx, user uuid.UUID, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE staff_password_tokens SET expires_at = $2 WHERE user_id = $1 AND used_at IS NULL AND expires_at > $2`,
		user, now); err != nil {
		return fmt.Errorf("console: expire links: %w", err)
	}
	return nil
}

// SetDisabled disables (or enables again) the user id. Disabling ends the
// user's sessions and its unused set-password links; disabling the last
// active admin is ErrLastAdmin. Audited as staff.user.disable or
// staff.user.enable; a user already so is left as is, not audited again.
func (s *Store) SetDisabled(ctx context.Context, id uuid.UUID, disabled bool) (User, error) {
	var after User
	err := db.Tx(ctx, s.pool, "console disable user", func(tx pgx.Tx) error {
		before, admins, err := lockForChange(ctx, tx, id)
		if err != nil {
			return err
		}
		after = before
		if before.Disabled == disabled {
			return nil
		}
		if disabled && signsInAsAdmin(before) && admins == 0 {
			return ErrLastAdmin
		}
		now := s.clock.Now()
		action, revoked := "staff.user.enable", int64(0)
		if disabled {
			action = "staff.user.disable"
			if revoked, err = s.revokeAll(ctx, tx, id, now); err != nil {
				return err
			}
			if err := s.expireLinks(ctx, tx, id, now); err != nil {
				return err
			}
		}
		if after, err = scanUser(tx.QueryRow(ctx, `UPDATE staff_users SET disabled = $2, updated_at = now() WHERE id = $1 RETURNING `+userCols,
			id, disabled)); err != nil {
			return fmt.Errorf("console: disable user: %w", err)
		}
		view := userView(after)
		if disabled {
			view["sessions_revoked"] = revoked
		}
		return audit.Record(ctx, tx, audit.Event{Action: action, ResourceType: "staff_user", ResourceID: id.String(),
			Before: userView(before), After: view})
	})
	return after, err
}

// ResetTOTP takes away the user id's second factor: its TOTP secret and
// recovery codes are deleted, its sessions ended and its unused links
// expired, and a new set-password link valid for ttl is made (returned,
// shown once). The user cannot sign in (the password alone says set-up is
// not finished) until the link is used: it sets a password and enrols a
// new TOTP secret, as for a new user. Audited as staff.user.totp_reset.
func (s *Store) ResetTOTP(ctx context.Context, id uuid.UUID, ttl time.Duration) (User, string, error) {
	var u User
	var raw string
	err := db.Tx(ctx, s.pool, "console reset totp", func(tx pgx.Tx) error {
		var err error
		if u, err = s.lockForLink(ctx, tx, id); err != nil {
			return err
		}
		now := s.clock.Now()
		if _, err := tx.Exec(ctx, `UPDATE staff_users SET totp_secret = NULL, totp_confirmed_at = NULL, totp_last_step = 0,
			updated_at = now() WHERE id = $1`, id); err != nil {
			return fmt.Errorf("console: reset totp: %w", err)
		}
		codes, err := tx.Exec(ctx, `DELETE FROM staff_recovery_codes WHERE user_id = $1`, id)
		if err != nil {
			return fmt.Errorf("console: reset totp: %w", err)
		}
		revoked, err := s.revokeAll(ctx, tx, id, now)
		if err != nil {
			return err
		}
		if raw, err = s.replaceLink(ctx, tx, id, ttl, now); err != nil {
			return err
		}
		u.TOTPConfirmed = false
		return audit.Record(ctx, tx, audit.Event{Action: "staff.user.totp_reset", ResourceType: "staff_user", ResourceID: id.String(),
			After: map[string]any{"sessions_revoked": revoked, "recovery_codes_deleted": codes.RowsAffected(), "link_expires_at": now.Add(ttl)}})
	})
	return u, raw, err
}

// ResendLink makes a new set-password link for the user id, valid for ttl
// (returned, shown once), expiring its unused ones: for an invitation not
// taken up, or a forgotten password (using it sets a new password and
// enrols TOTP again). Audited as staff.user.link, as `civicpay users link`.
func (s *Store) ResendLink(ctx context.Context, id uuid.UUID, ttl time.Duration) (User, string, error) {
	var u User
	var raw string
	err := db.Tx(ctx, s.pool, "console resend link", func(tx pgx.Tx) error {
		var err error
		if u, err = s.lockForLink(ctx, tx, id); err != nil {
			return err
		}
		now := s.clock.Now()
		if raw, err = s.replaceLink(ctx, tx, id, ttl, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: "staff.user.link", ResourceType: "staff_user", ResourceID: id.String(),
			After: map[string]any{"link_expires_at": now.Add(ttl)}})
	})
	return u, raw, err
}

// lockForLink locks the user id, which must not be disabled (its link
// would not work).
func (s *Store) lockForLink(ctx context.Context, tx pgx.Tx, id uuid.UUID) (User, error) {
	u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM staff_users WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, ErrUserNotFound
	} else if err != nil {
		return u, fmt.Errorf("console: user %s: %w", id, err)
	}
	if u.Disabled {
		return u, ErrUserDisabled
	}
	return u, nil
}

// replaceLink expires the user's unused links and makes a new one.
func (s *Store) replaceLink(ctx context.Context, tx pgx.Tx, id uuid.UUID, ttl time.Duration, now time.Time) (string, error) {
	if err := s.expireLinks(ctx, tx, id, now); err != nil {
		return "", err
	}
	return s.insertLink(ctx, tx, id, ttl)
}
