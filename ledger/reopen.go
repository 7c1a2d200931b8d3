package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/civicpay/civicpay/internal/domain/audit"
)

// Reopening a closed business day. A closing is never changed: a treasury
// person asks for the day to be reopened (RequestReopen, with a reason), and
// a second, different person approves it (DecideReopen), which deletes the
// closing in the approving transaction — the only transaction the database
// lets delete it (migration 00030: the closing's delete trigger looks for a
// reopen request of that very closing approved by the current transaction).
// The request keeps the closing as it was, so nothing of it is lost; the
// audit log has who asked, who approved or rejected, and when. Once reopened,
// the day is open like any other (entries may take effect in it), and
// closing it again records a new closing.

// Reopen request statuses.
const (
	ReopenPending  = "pending"
	ReopenApproved = "approved"
	ReopenRejected = "rejected"
)

// Errors of reopening.
var (
	// ErrDayNotClosed: the day to reopen is not closed.
	ErrDayNotClosed = errors.New("business day not closed")
	// ErrReopenPending: the day already has a reopen request waiting.
	ErrReopenPending = errors.New("a reopen request for the day is waiting already")
	// ErrReopenNotFound: no such reopen request.
	ErrReopenNotFound = errors.New("reopen request not found")
	// ErrReopenSelfApproval: the person who asked to reopen a day approved it.
	ErrReopenSelfApproval = errors.New("a day is reopened on the approval of someone other than who asked")
)

// maxReopenText bounds a reason or a decision note, in characters.
const maxReopenText = 2000

// DayReopen is a request to reopen a closed day, and its decision.
type DayReopen struct {
	ID           int64      `json:"id"`
	Day          string     `json:"day"`
	Closing      ClosedDay  `json:"closing"`
	Reason       string     `json:"reason"`
	Status       string     `json:"status"`
	RequestedBy  string     `json:"requested_by"`
	RequestedAt  time.Time  `json:"requested_at"`
	DecidedBy    string     `json:"decided_by,omitempty"`
	DecidedAt    *time.Time `json:"decided_at,omitempty"`
	DecisionNote string     `json:"decision_note,omitempty"`
}

// closing is a ClosedDay as the audit log and a reopen request keep it,
// its totals included.
type closing struct {
	Day      string          `json:"day"`
	ClosedBy string          `json:"closed_by"`
	ClosedAt time.Time       `json:"closed_at"`
	Note     string          `json:"note,omitempty"`
	Totals   json.RawMessage `json:"totals,omitempty"`
}

func closingRecord(c ClosedDay) closing {
	return closing{Day: c.Day, ClosedBy: c.ClosedBy, ClosedAt: c.ClosedAt, Note: c.Note, Totals: c.Totals}
}

const reopenColumns = `id, day, closing, reason, status, requested_by, requested_at, coalesce(decided_by, ''), decided_at, decision_note`

func scanReopen(row pgx.Row) (DayReopen, error) {
	var r DayReopen
	var day time.Time
	var raw []byte
	err := row.Scan(&r.ID, &day, &raw, &r.Reason, &r.Status, &r.RequestedBy, &r.RequestedAt, &r.DecidedBy, &r.DecidedAt,
		&r.DecisionNote)
	if err != nil {
		return r, err
	}
	r.Day = day.Format(DayLayout)
	var c closing
	if err := json.Unmarshal(raw, &c); err != nil {
		return r, fmt.Errorf("reopen request %d: closing: %w", r.ID, err)
	}
	r.Closing = ClosedDay{Day: c.Day, ClosedBy: c.ClosedBy, ClosedAt: c.ClosedAt.UTC(), Note: c.Note, Totals: c.Totals}
	r.RequestedAt = r.RequestedAt.UTC()
	if r.DecidedAt != nil {
		t := r.DecidedAt.UTC()
		r.DecidedAt = &t
	}
	return r, nil
}

func reopenText(field, s string, required bool) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case required && s == "":
		return "", invalid(field, "required: why")
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return "", invalid(field, "not valid text")
	case utf8.RuneCountInString(s) > maxReopenText:
		return "", invalid(field, "at most %d characters", maxReopenText)
	}
	return s, nil
}

// RequestReopen asks, in tx, for closed day to be reopened, by `by` (an
// actor), with a reason; it writes the audit row. A day that is not closed is
// ErrDayNotClosed; one with a request waiting is ErrReopenPending. at is
// when (the app's clock; zero: the database's).
func RequestReopen(ctx context.Context, tx pgx.Tx, day time.Time, by, reason string, at time.Time) (DayReopen, error) {
	reason, err := reopenText("reason", reason, true)
	if err != nil {
		return DayReopen{}, err
	}
	c, err := GetClosedDay(ctx, tx, day)
	if err != nil {
		return DayReopen{}, err
	}
	if c == nil {
		return DayReopen{}, fmt.Errorf("%w: %s", ErrDayNotClosed, day.Format(DayLayout))
	}
	raw, err := json.Marshal(closingRecord(*c))
	if err != nil {
		return DayReopen{}, fmt.Errorf("ledger: reopen %s: %w", c.Day, err)
	}
	r, err := scanReopen(tx.QueryRow(ctx, `INSERT INTO ledger_day_reopens (day, closed_at, closing, reason, requested_by, requested_at)
		SELECT day, closed_at, $2, $3, $4, coalesce($5::timestamptz, now()) FROM ledger_closed_days WHERE day = $1
		RETURNING `+reopenColumns, day, raw, reason, by, atOrNow(at)))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.ConstraintName == "ledger_day_reopens_pending_key" {
		return DayReopen{}, fmt.Errorf("%w: %s", ErrReopenPending, c.Day)
	}
	if errors.Is(err, pgx.ErrNoRows) { // reopened meanwhile
		return DayReopen{}, fmt.Errorf("%w: %s", ErrDayNotClosed, c.Day)
	}
	if err != nil {
		return DayReopen{}, fmt.Errorf("ledger: reopen %s: %w", c.Day, err)
	}
	if err := audit.Record(ctx, tx, audit.Event{Action: "ledger.day.reopen_request", ResourceType: "business_day",
		ResourceID: r.Day, After: r}); err != nil {
		return DayReopen{}, err
	}
	return r, nil
}

// DecideReopen approves or rejects reopen request id, by `by`, in tx, with
// its audit row. Approving deletes the day's closing: the day is open again.
// The requester may reject (withdraw) their own request but never approve it
// (ErrReopenSelfApproval). A decided request is ErrRequestDecided. at is
// when (the app's clock; zero: the database's).
func DecideReopen(ctx context.Context, tx pgx.Tx, id int64, by string, approve bool, note string, at time.Time) (DayReopen, error) {
	note, err := reopenText("note", note, false)
	if err != nil {
		return DayReopen{}, err
	}
	before, err := scanReopen(tx.QueryRow(ctx, `SELECT `+reopenColumns+` FROM ledger_day_reopens WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return DayReopen{}, fmt.Errorf("%w: %d", ErrReopenNotFound, id)
	}
	if err != nil {
		return DayReopen{}, fmt.Errorf("ledger: reopen request %d: %w", id, err)
	}
	if before.Status != ReopenPending {
		return DayReopen{}, fmt.Errorf("ledger: reopen request %d is %s: %w", id, before.Status, ErrRequestDecided)
	}
	status, action := ReopenRejected, "ledger.day.reopen_reject"
	if approve {
		if before.RequestedBy == by {
			return DayReopen{}, fmt.Errorf("ledger: reopen request %d: %w", id, ErrReopenSelfApproval)
		}
		status, action = ReopenApproved, "ledger.day.reopen"
	}
	after, err := scanReopen(tx.QueryRow(ctx, `UPDATE ledger_day_reopens SET status = $2, decided_by = $3,
		decided_at = coalesce($5::timestamptz, now()), decision_note = $4,
		decided_xact = CASE WHEN $2 = 'approved' THEN pg_current_xact_id() END
		WHERE id = $1 RETURNING `+reopenColumns, id, status, by, note, atOrNow(at)))
	if err != nil {
		return DayReopen{}, fmt.Errorf("ledger: decide reopen request %d: %w", id, err)
	}
	if approve {
		tag, err := tx.Exec(ctx, `DELETE FROM ledger_closed_days WHERE day = $1 AND closed_at = $2`,
			mustDate(after.Day), after.Closing.ClosedAt)
		if err != nil {
			return DayReopen{}, fmt.Errorf("ledger: reopen %s: %w", after.Day, err)
		}
		if tag.RowsAffected() != 1 {
			// The request's closing is gone (it cannot be: a closing is
			// deleted only by its own approved request, and there is one).
			return DayReopen{}, fmt.Errorf("%w: %s is not closed by the closing request %d reopens", ErrDayNotClosed, after.Day, id)
		}
	}
	if err := audit.Record(ctx, tx, audit.Event{Action: action, ResourceType: "business_day", ResourceID: after.Day,
		Before: before, After: after}); err != nil {
		return DayReopen{}, err
	}
	return after, nil
}

// PendingReopen returns the reopen request of day waiting for a decision,
// or nil.
func PendingReopen(ctx context.Context, db DBTX, day time.Time) (*DayReopen, error) {
	r, err := scanReopen(db.QueryRow(ctx, `SELECT `+reopenColumns+` FROM ledger_day_reopens WHERE day = $1 AND status = 'pending'`, day))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: pending reopen of %s: %w", day.Format(DayLayout), err)
	}
	return &r, nil
}

// Reopens lists the reopen requests of day, oldest first.
func Reopens(ctx context.Context, db DBTX, day time.Time) ([]DayReopen, error) {
	rows, err := db.Query(ctx, `SELECT `+reopenColumns+` FROM ledger_day_reopens WHERE day = $1 ORDER BY id`, day)
	if err != nil {
		return nil, fmt.Errorf("ledger: reopens of %s: %w", day.Format(DayLayout), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DayReopen, error) { return scanReopen(r) })
	if err != nil {
		return nil, fmt.Errorf("ledger: reopens of %s: %w", day.Format(DayLayout), err)
	}
	return out, nil
}

// reopened says whether day was reopened (an approved request exists).
func reopened(ctx context.Context, db DBTX, day time.Time) (bool, error) {
	var ok bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ledger_day_reopens WHERE day = $1 AND status = 'approved')`,
		day).Scan(&ok); err != nil {
		return false, fmt.Errorf("ledger: reopened %s: %w", day.Format(DayLayout), err)
	}
	return ok, nil
}

func mustDate(s string) time.Time {
	d, _ := time.Parse(DayLayout, s)
	return d
}
