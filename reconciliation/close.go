package reconciliation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/ledger"
)

// ErrNotReconciled: a business day is closed only once every source (each
// configured gateway and the bank) has a completed run for it and none of its
// exceptions is open (or awaiting approval) unless carried forward.
var ErrNotReconciled = errors.New("business day not reconciled")

// ErrAlreadyCarried: the exception was carried forward before.
var ErrAlreadyCarried = errors.New("exception already carried forward")

// DayStatus is a business day as treasury sees it before and after closing it.
type DayStatus struct {
	Date string `json:"date"`
	// Over: the day has ended (GMT+7); only a day that is over may close.
	Over bool `json:"over"`
	// Reconciled lists, per source, the latest completed run of the day (0: none).
	Reconciled map[string]int64 `json:"reconciled"`
	// OpenExceptions counts the day's exceptions that hold it open: open
	// (acknowledged or not) or awaiting approval, and not carried forward.
	OpenExceptions int64 `json:"open_exceptions"`
	// CarriedForward counts the day's exceptions still unresolved that a
	// person carried forward (they do not hold the day open).
	CarriedForward int64 `json:"carried_forward"`
	// Closed is the closing, once the day is closed.
	Closed *ledger.ClosedDay `json:"closed,omitempty"`
}

// Day returns the status of business day day (midnight ICT).
func (s *Service) Day(ctx context.Context, day time.Time) (DayStatus, error) {
	return s.dayStatus(ctx, s.pool, day)
}

func (s *Service) dayStatus(ctx context.Context, db ledger.DBTX, day time.Time) (DayStatus, error) {
	st := DayStatus{Date: dayString(day), Over: !s.deps.Clock.Now().Before(day.AddDate(0, 0, 1)), Reconciled: map[string]int64{}}
	for _, src := range s.sources() {
		st.Reconciled[src] = 0
	}
	rows, err := db.Query(ctx, `SELECT source, max(id) FROM recon_runs
		WHERE business_date = $1 AND status = 'completed' AND source = ANY($2) GROUP BY source`, dayString(day), s.sources())
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
	if err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE c.exception_id IS NULL), count(c.exception_id)
		FROM recon_exceptions e LEFT JOIN recon_exception_carries c ON c.exception_id = e.id
		WHERE e.business_date = $1 AND e.status IN ('open', 'awaiting_approval')`,
		dayString(day)).Scan(&st.OpenExceptions, &st.CarriedForward); err != nil {
		return st, fmt.Errorf("reconciliation: day %s: %w", st.Date, err)
	}
	if st.Closed, err = ledger.GetClosedDay(ctx, db, ledgerDay(day)); err != nil {
		return st, err
	}
	return st, nil
}

// DayClosing is a day's closing as the reconciliation.day_closed webhook
// tells it: who closed it, when, with what note, the day's totals as
// recorded with the closing, the exceptions carried forward out of it, and
// where its report is.
type DayClosing struct {
	Date           string    `json:"date"`
	ClosedBy       string    `json:"closed_by"`
	ClosedAt       time.Time `json:"closed_at"`
	Note           string    `json:"note,omitempty"`
	Totals         DayTotals `json:"totals"`
	CarriedForward []int64   `json:"carried_forward"`
	// Report is the API path of the day's report (PDF or XLSX).
	Report string `json:"report"`
}

// CloseDay closes business day day for the ledger (no entry may take effect
// in it from then on), by actor: once the day is over, each source has a
// completed run of it, and none of its exceptions holds it open (each one
// still unresolved is carried forward, with a note: CarryForward). In one
// transaction, which holds a lock that makes closings of one day wait for
// each other, it records the closing with the day's totals (DayTotals), its
// audit row, and the reconciliation.day_closed event (Notifier.DayClosed):
// a closing retried finds the day closed (ledger.ErrDayClosed) and tells
// nobody again.
func (s *Service) CloseDay(ctx context.Context, day time.Time, actor, note string) (DayStatus, error) {
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > 1000 || !utf8.ValidString(note) || strings.ContainsRune(note, 0) {
		return DayStatus{}, inputErr("note", "at most 1000 characters of text")
	}
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
		for _, src := range s.sources() {
			if st.Reconciled[src] == 0 {
				missing = append(missing, src)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%w: %s has no completed run of %s", ErrNotReconciled, st.Date, strings.Join(missing, ", "))
		}
		if st.OpenExceptions > 0 {
			return fmt.Errorf("%w: %s has %d open exceptions (resolve them, or carry each forward with a note)",
				ErrNotReconciled, st.Date, st.OpenExceptions)
		}
		totals, err := s.dayTotals(ctx, tx, day, st)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(totals)
		if err != nil {
			return fmt.Errorf("reconciliation: close %s: totals: %w", st.Date, err)
		}
		c, err := ledger.CloseDayWith(ctx, tx, ledgerDay(day), actor, note, raw, s.deps.Clock.Now())
		if err != nil {
			return err
		}
		st.Closed = &c
		if s.deps.Notifier == nil {
			return nil
		}
		carried, err := carriedForward(ctx, tx, day)
		if err != nil {
			return err
		}
		return s.deps.Notifier.DayClosed(ctx, tx, DayClosing{Date: st.Date, ClosedBy: c.ClosedBy, ClosedAt: c.ClosedAt,
			Note: c.Note, Totals: totals, CarriedForward: carried, Report: "/v1/days/" + st.Date + "/report"})
	})
	if err != nil {
		return st, err
	}
	s.log.InfoContext(ctx, "business day closed", "date", st.Date, "actor", actor, "carried_forward", st.CarriedForward)
	return st, nil
}

// carriedForward lists the day's unresolved exceptions carried forward.
func carriedForward(ctx context.Context, db dbtx, day time.Time) ([]int64, error) {
	rows, err := db.Query(ctx, `SELECT e.id FROM recon_exceptions e JOIN recon_exception_carries c ON c.exception_id = e.id
		WHERE e.business_date = $1 AND e.status IN ('open', 'awaiting_approval') ORDER BY e.id`, day)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: carried forward of %s: %w", dayString(day), err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("reconciliation: carried forward of %s: %w", dayString(day), err)
	}
	return append([]int64{}, ids...), nil
}

// inputErr is a request's field that breaks a rule (ErrInvalid).
func inputErr(field, detail string) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, field, detail)
}

// CarryForward carries exception id forward out of its day, by actor, with
// a note saying why it is left for later: it stays open (and in the queue)
// but no longer holds its day open. Only an unresolved exception of a day
// not closed may be carried (ErrAlreadyResolved, ledger.ErrDayClosed), once
// (ErrAlreadyCarried). The carry, its event and its audit row are one
// transaction.
func (s *Service) CarryForward(ctx context.Context, id int64, note, actor string) (DayException, error) {
	note = strings.TrimSpace(note)
	if note == "" || utf8.RuneCountInString(note) > maxNote || !utf8.ValidString(note) || strings.ContainsRune(note, 0) {
		return DayException{}, inputErr("note", fmt.Sprintf("a note of 1 to %d characters is required: why it is left for later", maxNote))
	}
	var out DayException
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var status string
		var day time.Time
		err := tx.QueryRow(ctx, `SELECT status, business_date FROM recon_exceptions WHERE id = $1 FOR UPDATE`, id).Scan(&status, &day)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %d", ErrExceptionNotFound, id)
		}
		if err != nil {
			return err
		}
		day = dbDay(day)
		if status != ExceptionOpen && status != ExceptionAwaitingApproval {
			return fmt.Errorf("%w: exception %d is %s", ErrAlreadyResolved, id, status)
		}
		// Closings of the day wait for this transaction, and it for them
		// (the lock is shared, as refuseClosed's: only closings take it alone).
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(hashtextextended('ledger_close_day:' || $1, 0))`, dayString(day)); err != nil {
			return err
		}
		closed, err := ledger.GetClosedDay(ctx, tx, ledgerDay(day))
		if err != nil {
			return err
		}
		if closed != nil {
			return fmt.Errorf("%w: %s is closed: its exceptions are carried forward before it closes", ledger.ErrDayClosed, dayString(day))
		}
		tag, err := tx.Exec(ctx, `INSERT INTO recon_exception_carries (exception_id, business_date, note, carried_by, carried_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, id, day, note, actor, s.deps.Clock.Now())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: exception %d", ErrAlreadyCarried, id)
		}
		if err := addEvent(ctx, tx, id, nil, "carried_forward", actor, note); err != nil {
			return err
		}
		list, _, err := s.exceptionsByID(ctx, tx, id)
		if err != nil {
			return err
		}
		out = list
		return audit.Record(ctx, tx, audit.Event{Action: "reconciliation.exception.carry_forward", ResourceType: "recon_exception",
			ResourceID: strconv.FormatInt(id, 10), After: out})
	})
	if err != nil {
		return DayException{}, fmt.Errorf("reconciliation: carry exception %d forward: %w", id, err)
	}
	s.log.InfoContext(ctx, "reconciliation exception carried forward", "exception_id", id, "actor", actor)
	return out, nil
}

// exceptionsByID reads exception id with its carry.
func (s *Service) exceptionsByID(ctx context.Context, db dbtx, id int64) (DayException, bool, error) {
	rows, err := db.Query(ctx, `SELECT `+exceptionColumns+`, c.note, c.carried_by, c.carried_at
		FROM recon_exceptions e LEFT JOIN recon_exception_carries c ON c.exception_id = e.id WHERE e.id = $1`, id)
	if err != nil {
		return DayException{}, false, fmt.Errorf("reconciliation: exception %d: %w", id, err)
	}
	list, err := pgx.CollectRows(rows, scanDayException)
	if err != nil {
		return DayException{}, false, fmt.Errorf("reconciliation: exception %d: %w", id, err)
	}
	if len(list) == 0 {
		return DayException{}, false, fmt.Errorf("%w: %d", ErrExceptionNotFound, id)
	}
	return list[0], true, nil
}

// RequestReopen asks for closed day to be reopened, by actor, with a
// reason; a second treasury person decides (DecideReopen). See
// ledger.RequestReopen.
func (s *Service) RequestReopen(ctx context.Context, day time.Time, actor, reason string) (ledger.DayReopen, error) {
	var r ledger.DayReopen
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		r, err = ledger.RequestReopen(ctx, tx, ledgerDay(day), actor, reason, s.deps.Clock.Now())
		return err
	})
	if err != nil {
		return r, err
	}
	s.log.InfoContext(ctx, "business day reopen requested", "date", r.Day, "request_id", r.ID, "actor", actor)
	return r, nil
}

// PendingReopen returns the reopen request of day waiting for a decision, or nil.
func (s *Service) PendingReopen(ctx context.Context, day time.Time) (*ledger.DayReopen, error) {
	return ledger.PendingReopen(ctx, s.pool, ledgerDay(day))
}

// DecideReopen approves (the day is open again) or rejects reopen request
// id, by actor, who may not approve their own request. See
// ledger.DecideReopen.
func (s *Service) DecideReopen(ctx context.Context, id int64, actor string, approve bool, note string) (ledger.DayReopen, error) {
	var r ledger.DayReopen
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		r, err = ledger.DecideReopen(ctx, tx, id, actor, approve, note, s.deps.Clock.Now())
		return err
	})
	if err != nil {
		return r, err
	}
	s.log.InfoContext(ctx, "business day reopen decided", "date", r.Day, "request_id", r.ID, "status", r.Status, "actor", actor)
	return r, nil
}
