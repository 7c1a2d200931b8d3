package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
)

// Closed business days. Treasury closes a day (GMT+7) once it is reconciled;
// from then no entry may take effect in it. The database enforces it (a
// trigger on ledger_entries, migration 00015), so nothing can post into a
// closed day however it writes. What the ledger does with an entry whose
// effective time falls in a closed day depends on who asks:
//
//   - a posting rule's entry (a payment the gateway reports late, a refund,
//     a settlement) and a reversal take effect now, in the open day: money
//     that moved is always recorded, and the closed day's figures stay as
//     they were reported;
//   - a manual adjustment is refused (ErrDayClosed): a person who dates an
//     entry chooses its day, and a closed day is not theirs to change.

// DayLayout is how a business day is written: 2025-01-31.
const DayLayout = time.DateOnly

// DayOf is the business day (GMT+7) t falls in, as midnight UTC of that date.
func DayOf(t time.Time) time.Time { return bizday.Date(t) }

// DayStart is when business day day (a date, as DayOf returns) begins.
func DayStart(day time.Time) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, bizday.Zone)
}

// ClosedDay is a closed business day.
type ClosedDay struct {
	Day      string    `json:"day"`
	ClosedBy string    `json:"closed_by"`
	ClosedAt time.Time `json:"closed_at"`
	Note     string    `json:"note,omitempty"`
	// Totals are what the closer recorded of the day (reconciliation's day
	// totals, as JSON; {} for closings that recorded none). The ledger keeps
	// them with the closing and does not read them.
	Totals json.RawMessage `json:"-"`
}

// GetClosedDay returns the closing of day, or nil if the day is open.
func GetClosedDay(ctx context.Context, db DBTX, day time.Time) (*ClosedDay, error) {
	var c ClosedDay
	var d time.Time
	err := db.QueryRow(ctx, `SELECT day, closed_by, closed_at, note, totals FROM ledger_closed_days WHERE day = $1`, day).
		Scan(&d, &c.ClosedBy, &c.ClosedAt, &c.Note, &c.Totals)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: closed day %s: %w", day.Format(DayLayout), err)
	}
	c.Day, c.ClosedAt = d.Format(DayLayout), c.ClosedAt.UTC()
	return &c, nil
}

// LastClosedDay returns the latest closed business day, and false if none is.
func LastClosedDay(ctx context.Context, db DBTX) (time.Time, bool, error) {
	var d *time.Time
	if err := db.QueryRow(ctx, `SELECT max(day) FROM ledger_closed_days`).Scan(&d); err != nil {
		return time.Time{}, false, fmt.Errorf("ledger: last closed day: %w", err)
	}
	if d == nil {
		return time.Time{}, false, nil
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC), true, nil
}

// CloseDay records day as closed by `by`, in tx, with its audit row. Whether
// the day may be closed (it is over and reconciled) is the caller's to check
// (package reconciliation). Closing a closed day is ErrDayClosed.
func CloseDay(ctx context.Context, tx pgx.Tx, day time.Time, by, note string) (ClosedDay, error) {
	return CloseDayWith(ctx, tx, day, by, note, nil, time.Time{})
}

// CloseDayWith is CloseDay recording totals (any JSON value; nil: none) with
// the closing, and in its audit row, closed at `at` (the app's clock; zero:
// the database's).
func CloseDayWith(ctx context.Context, tx pgx.Tx, day time.Time, by, note string, totals json.RawMessage, at time.Time) (ClosedDay, error) {
	var c ClosedDay
	if len(totals) == 0 {
		totals = json.RawMessage(`{}`)
	}
	err := tx.QueryRow(ctx, `INSERT INTO ledger_closed_days (day, closed_by, note, totals, closed_at)
		VALUES ($1, $2, $3, $4, coalesce($5::timestamptz, now()))
		RETURNING closed_at`, day, by, note, totals, atOrNow(at)).Scan(&c.ClosedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return ClosedDay{}, fmt.Errorf("%w: %s is closed already", ErrDayClosed, day.Format(DayLayout))
	}
	if err != nil {
		return ClosedDay{}, fmt.Errorf("ledger: close day %s: %w", day.Format(DayLayout), err)
	}
	c.Day, c.ClosedBy, c.ClosedAt, c.Note, c.Totals = day.Format(DayLayout), by, c.ClosedAt.UTC(), note, totals
	if err := audit.Record(ctx, tx, audit.Event{Action: "ledger.day.close", ResourceType: "business_day",
		ResourceID: c.Day, After: closingRecord(c)}); err != nil {
		return ClosedDay{}, err
	}
	return c, nil
}

// atOrNow is at for a timestamptz parameter coalesced with now(): NULL when
// at is zero.
func atOrNow(at time.Time) *time.Time {
	if at.IsZero() {
		return nil
	}
	return &at
}

// closedAmong returns which of days (business dates) are closed.
func closedAmong(ctx context.Context, db DBTX, days []time.Time) (map[time.Time]bool, error) {
	rows, err := db.Query(ctx, `SELECT day FROM ledger_closed_days WHERE day = ANY($1::date[])`, days)
	if err != nil {
		return nil, fmt.Errorf("ledger: closed days: %w", err)
	}
	closed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (time.Time, error) {
		var d time.Time
		err := r.Scan(&d)
		return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC), err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: closed days: %w", err)
	}
	out := make(map[time.Time]bool, len(closed))
	for _, d := range closed {
		out[d] = true
	}
	return out, nil
}

// intoOpenDays moves the entries of es (normalized) that would take effect in
// a closed day to their Now, except manual adjustments, which are
// ErrDayClosed. A day can be closed only once it is over, so an entry of
// today costs no query: only entries dated before the business day of their
// Now are looked up, in one query.
func intoOpenDays(ctx context.Context, db DBTX, es []NewEntry) error {
	var past []time.Time
	for _, e := range es {
		if d := DayOf(e.EffectiveAt); d.Before(DayOf(e.Now)) {
			past = append(past, d)
		}
	}
	if len(past) == 0 {
		return nil
	}
	closed, err := closedAmong(ctx, db, past)
	if err != nil || len(closed) == 0 {
		return err
	}
	for i, e := range es {
		d := DayOf(e.EffectiveAt)
		if !closed[d] || !d.Before(DayOf(e.Now)) {
			continue
		}
		if e.Kind == KindAdjustment {
			return fmt.Errorf("%w: %s (entry %q would take effect on it)", ErrDayClosed, d.Format(DayLayout), e.Key)
		}
		es[i].EffectiveAt = e.Now.UTC().Truncate(time.Microsecond)
	}
	return nil
}

// ClosedDaysBetween returns the closings of the days from first to last
// (dates, both included), by day (YYYY-MM-DD).
func ClosedDaysBetween(ctx context.Context, db DBTX, first, last time.Time) (map[string]ClosedDay, error) {
	rows, err := db.Query(ctx, `SELECT day, closed_by, closed_at, note FROM ledger_closed_days WHERE day BETWEEN $1 AND $2`,
		first, last)
	if err != nil {
		return nil, fmt.Errorf("ledger: closed days: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ClosedDay, error) {
		var c ClosedDay
		var d time.Time
		err := r.Scan(&d, &c.ClosedBy, &c.ClosedAt, &c.Note)
		c.Day, c.ClosedAt = d.Format(DayLayout), c.ClosedAt.UTC()
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: closed days: %w", err)
	}
	out := make(map[string]ClosedDay, len(list))
	for _, c := range list {
		out[c.Day] = c
	}
	return out, nil
}
