package reconciliation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/ledger"
)

// ErrNotReconciled: a business day is closed only once every source (each
// configured gateway and the bank) has a completed run for it and none of its
// exceptions is open.
var ErrNotReconciled = errors.New("business day not reconciled")

// DayStatus is a business day as treasury sees it before and after closing it.
type DayStatus struct {
	Date string `json:"date"`
	// Over: the day has ended (GMT+7); only a day that is over may close.
	Over bool `json:"over"`
	// Reconciled lists, per source, the latest completed run of the day (0: none).
	Reconciled map[string]int64 `json:"reconciled"`
	// OpenExceptions counts the day's exceptions still open.
	OpenExceptions int64 `json:"open_exceptions"`
	// Closed is the closing, once the day is closed.
	Closed *ledger.ClosedDay `json:"closed,omitempty"`
}

// Day returns the status of business day day (midnight ICT).
func (s *Service) Day(ctx context.Context, day time.Time) (DayStatus, error) {
	return s.dayStatus(ctx, s.pool, day)
}

func (s *Service) dayStatus(ctx context.Context, db ledger.DBTX, day time.Time) (DayStatus, error) {
	st := DayStatus{Date: dayString(day), Over: !s.deps.Clock.Now().Before(day.AddDate(0, 0, 1)), Reconciled: map[string]int64{}}
	sources := append(append([]string{}, s.cfg.Gateways...), SourceBank)
	for _, src := range sources {
		st.Reconciled[src] = 0
	}
	rows, err := db.Query(ctx, `SELECT source, max(id) FROM recon_runs
		WHERE business_date = $1 AND status = 'completed' GROUP BY source`, dayString(day))
	if err != nil {
		return st, fmt.Errorf("reconciliation: day %s: %w", st.Date, err)
	}
	for rows.Next() {
		var src string
		var id int64
		if err := rows.Scan(&src, &id); err != nil {
			rows.Close()
			return st, fmt.Errorf("reconciliation: day %s: %w", st.Date, err)
		}
		st.Reconciled[src] = id
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("reconciliation: day %s: %w", st.Date, err)
	}
	if err := db.QueryRow(ctx, `SELECT count(*) FROM recon_exceptions WHERE business_date = $1 AND status = 'open'`,
		dayString(day)).Scan(&st.OpenExceptions); err != nil {
		return st, fmt.Errorf("reconciliation: day %s: %w", st.Date, err)
	}
	ld := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	if st.Closed, err = ledger.GetClosedDay(ctx, db, ld); err != nil {
		return st, err
	}
	return st, nil
}

// CloseDay closes business day day for the ledger (no entry may take effect
// in it from then on), by actor: once the day is over, each source has a
// completed run of it, and none of its exceptions is open. It writes the
// closing and its audit row in one transaction, which holds a lock that
// makes closings of one day wait for each other.
func (s *Service) CloseDay(ctx context.Context, day time.Time, actor, note string) (DayStatus, error) {
	var st DayStatus
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('ledger_close_day:' || $1, 0))`, dayString(day)); err != nil {
			return fmt.Errorf("reconciliation: close %s: %w", dayString(day), err)
		}
		var err error
		if st, err = s.dayStatus(ctx, tx, day); err != nil {
			return err
		}
		if st.Closed != nil {
			return fmt.Errorf("%w: %s is closed already", ledger.ErrDayClosed, st.Date)
		}
		if !st.Over {
			return fmt.Errorf("%w: %s is not over yet", ErrNotReconciled, st.Date)
		}
		var missing []string
		for src, run := range st.Reconciled {
			if run == 0 {
				missing = append(missing, src)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%w: %s has no completed run of %s", ErrNotReconciled, st.Date, strings.Join(missing, ", "))
		}
		if st.OpenExceptions > 0 {
			return fmt.Errorf("%w: %s has %d open exceptions", ErrNotReconciled, st.Date, st.OpenExceptions)
		}
		c, err := ledger.CloseDay(ctx, tx, time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC), actor, note)
		if err != nil {
			return err
		}
		st.Closed = &c
		return nil
	})
	return st, err
}
