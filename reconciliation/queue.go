package reconciliation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/reconciliation/matcher"
)

// The exception queue: treasury works exceptions by hand. An open exception
// may be acknowledged (someone is on it: it stays status open, so runs and
// the day's closing count it as open), assigned to a treasury user, snoozed
// until a day (hidden from the queue's default view until then), discussed
// in notes, resolved (Resolve, or a resolution that posts: resolution.go)
// and, when its resolution moved no money, reopened. Each change is one
// transaction with its recon_exception_events row and its audit row.

// Queue states of an exception, as the queue shows and filters them. Open,
// acknowledged, pending approval and snoozed are all status open.
const (
	StateOpen            = "open"
	StateAcknowledged    = "acknowledged"
	StatePendingApproval = "pending_approval" // a resolution waits for a second treasury approver
	StateSnoozed         = "snoozed"
	StateAll             = "all"
)

// QueueStates are the states the queue filters by ("" is the default view:
// every exception still to be worked that is not snoozed).
var QueueStates = []string{StateOpen, StateAcknowledged, StatePendingApproval, ExceptionAwaitingApproval, StateSnoozed,
	ExceptionResolved, ExceptionAutoResolved, ExceptionCleared, StateAll}

// Age buckets: days since the exception's business day.
var AgeBuckets = []string{"0-1", "2-7", "8-30", "31+"}

var ageBounds = map[string][2]int{"0-1": {0, 1}, "2-7": {2, 7}, "8-30": {8, 30}, "31+": {31, -1}}

// Errors of the queue.
var (
	// ErrPendingApproval: a resolution of the exception waits for a second
	// approver; it is approved or rejected first.
	ErrPendingApproval = errors.New("a resolution of the exception awaits a second approver")
	// ErrNotReopenable: the exception is not resolved by a person, or its
	// resolution moved money (undone by reversing its ledger entries).
	ErrNotReopenable = errors.New("exception cannot be reopened")
)

// InputError is a request field the queue or a resolution refuses: Field
// names it (note, until, assignee, targets, difference, kind), Code says what
// is wrong, for a page to say it in its language next to the field. It is
// ErrInvalid.
type InputError struct {
	Field, Code, Detail string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("%s: %s: %s", ErrInvalid, e.Field, e.Detail)
}

// Unwrap makes an InputError ErrInvalid.
func (e *InputError) Unwrap() error { return ErrInvalid }

func inputError(field, code, format string, args ...any) error {
	return &InputError{Field: field, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// checkNote trims a required note and checks it is text PostgreSQL keeps.
func checkNote(note string) (string, error) {
	note = strings.TrimSpace(note)
	switch {
	case note == "":
		return "", inputError("note", "note_required", "a note of 1 to %d characters is required", maxNote)
	case utf8.RuneCountInString(note) > maxNote || !utf8.ValidString(note) || strings.ContainsRune(note, 0):
		return "", inputError("note", "note_invalid", "a note is at most %d characters of text", maxNote)
	}
	return note, nil
}

// State is the exception as the queue shows it, on business day today
// (YYYY-MM-DD).
func (e Exception) State(today string) string {
	if e.Status != ExceptionOpen && e.Status != ExceptionAwaitingApproval {
		return e.Status
	}
	switch {
	case e.PendingResolutionID != nil:
		return StatePendingApproval
	case e.SnoozedUntil != "" && e.SnoozedUntil > today:
		return StateSnoozed
	case e.Status == ExceptionAwaitingApproval:
		return e.Status
	case e.AcknowledgedAt != nil:
		return StateAcknowledged
	}
	return StateOpen
}

// AgeDays is how many days business day today is after the exception's.
func (e Exception) AgeDays(today time.Time) int {
	d, err := ParseDay(e.BusinessDate)
	if err != nil {
		return 0
	}
	return int(today.Sub(d).Hours()+12) / 24
}

// Unresolved says whether the exception is still to be worked.
func (e Exception) Unresolved() bool {
	return e.Status == ExceptionOpen || e.Status == ExceptionAwaitingApproval
}

// Today is the business day of the service's clock.
func (s *Service) Today() time.Time { return dayOf(s.deps.Clock.Now()) }

// QueueFilter selects the queue's exceptions; zero fields select all (State
// "": the default view).
type QueueFilter struct {
	Class    matcher.Class
	Source   string
	State    string
	Age      string // one of AgeBuckets
	Assignee string // "none": unassigned
	After    int64  // id, for keyset pagination
	Limit    int
}

// Queue lists exceptions by f, oldest first (by id).
func (s *Service) Queue(ctx context.Context, f QueueFilter) ([]Exception, error) {
	today := s.Today()
	var where []string
	args := []any{}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	notSnoozed := func() string {
		return "(e.snoozed_until IS NULL OR e.snoozed_until <= " + arg(dayString(today)) + "::date)"
	}
	switch f.State {
	case "":
		where = append(where, "e.status IN ('open', 'awaiting_approval')", notSnoozed())
	case StateOpen, StateAcknowledged:
		ack := "NULL"
		if f.State == StateAcknowledged {
			ack = "NOT NULL"
		}
		where = append(where, "e.status = 'open'", "e.pending_resolution_id IS NULL", "e.acknowledged_at IS "+ack, notSnoozed())
	case StatePendingApproval:
		where = append(where, "e.status = 'open'", "e.pending_resolution_id IS NOT NULL")
	case ExceptionAwaitingApproval:
		where = append(where, "e.status = 'awaiting_approval'", notSnoozed())
	case StateSnoozed:
		where = append(where, "e.status IN ('open', 'awaiting_approval')", "NOT "+notSnoozed())
	case ExceptionResolved, ExceptionAutoResolved, ExceptionCleared:
		where = append(where, "e.status = "+arg(f.State))
	case StateAll:
	default:
		return nil, inputError("state", "state_invalid", "state is one of %s", strings.Join(QueueStates, ", "))
	}
	if f.Class != "" {
		if !f.Class.Valid() || f.Class == matcher.Matched {
			return nil, inputError("class", "class_invalid", "class %q is not an exception class", f.Class)
		}
		where = append(where, "e.class = "+arg(string(f.Class)))
	}
	if f.Source != "" {
		if !validSource(f.Source) {
			return nil, inputError("source", "source_invalid", "source is one of %s", strings.Join(Sources(), ", "))
		}
		where = append(where, "e.source = "+arg(f.Source))
	}
	if f.Age != "" {
		b, ok := ageBounds[f.Age]
		if !ok {
			return nil, inputError("age", "age_invalid", "age is one of %s", strings.Join(AgeBuckets, ", "))
		}
		where = append(where, "e.business_date <= "+arg(dayString(today.AddDate(0, 0, -b[0])))+"::date")
		if b[1] >= 0 {
			where = append(where, "e.business_date >= "+arg(dayString(today.AddDate(0, 0, -b[1])))+"::date")
		}
	}
	switch f.Assignee {
	case "":
	case "none":
		where = append(where, "e.assignee IS NULL")
	default:
		where = append(where, "e.assignee = "+arg(f.Assignee))
	}
	if f.After > 0 {
		where = append(where, "e.id > "+arg(f.After))
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q := `SELECT ` + exceptionColumns + ` FROM recon_exceptions e`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY e.id LIMIT " + arg(f.Limit)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: queue: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Exception, error) { return scanException(r) })
	if err != nil {
		return nil, fmt.Errorf("reconciliation: queue: %w", err)
	}
	return append([]Exception{}, out...), nil
}

// lockException reads exception id locked for the rest of tx.
func lockException(ctx context.Context, tx pgx.Tx, id int64) (Exception, error) {
	e, err := scanException(tx.QueryRow(ctx, `SELECT `+exceptionColumns+` FROM recon_exceptions e WHERE e.id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Exception{}, fmt.Errorf("%w: %d", ErrExceptionNotFound, id)
	}
	if err != nil {
		return Exception{}, fmt.Errorf("reconciliation: exception %d: %w", id, err)
	}
	return e, nil
}

// change applies one change to exception id in a transaction of its own:
// apply (given the locked exception) updates the row and returns the
// event's note, or changed false when there is nothing to do (no event, no
// audit row). The event and the audit row are written with the change.
func (s *Service) change(ctx context.Context, id int64, event, auditAction, actor string,
	apply func(tx pgx.Tx, e Exception) (note string, changed bool, err error)) (Exception, error) {
	var out Exception
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := lockException(ctx, tx, id)
		if err != nil {
			return err
		}
		note, changed, err := apply(tx, before)
		if err != nil {
			return err
		}
		if !changed {
			out = before
			return nil
		}
		if err := addEvent(ctx, tx, id, nil, event, actor, clipString(note, 2500)); err != nil {
			return err
		}
		if out, err = getException(ctx, tx, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: auditAction, ResourceType: "recon_exception",
			ResourceID: strconv.FormatInt(id, 10), Before: before, After: out})
	})
	if err != nil {
		return Exception{}, fmt.Errorf("reconciliation: exception %d: %s: %w", id, event, err)
	}
	return out, nil
}

func requireUnresolved(e Exception) error {
	if !e.Unresolved() {
		return fmt.Errorf("%w: exception %d is %s", ErrAlreadyResolved, e.ID, e.Status)
	}
	return nil
}

// Acknowledge records that actor is working on exception id (open, not yet
// acknowledged; acknowledging it again changes nothing).
func (s *Service) Acknowledge(ctx context.Context, id int64, actor string) (Exception, error) {
	return s.change(ctx, id, "acknowledged", "reconciliation.exception.acknowledge", actor,
		func(tx pgx.Tx, e Exception) (string, bool, error) {
			if e.Status != ExceptionOpen {
				return "", false, fmt.Errorf("%w: exception %d is %s", ErrAlreadyResolved, id, e.Status)
			}
			if e.AcknowledgedAt != nil {
				return "", false, nil
			}
			_, err := tx.Exec(ctx, `UPDATE recon_exceptions SET acknowledged_by = $2, acknowledged_at = now(), updated_at = now()
				WHERE id = $1`, id, actor)
			return "", true, err
		})
}

// maxAssignee bounds an assignee's name.
const maxAssignee = 300

// Assign gives exception id (still to be worked) to assignee, who the
// caller has checked is a treasury user; "" takes it from whoever had it.
func (s *Service) Assign(ctx context.Context, id int64, assignee, actor string) (Exception, error) {
	assignee = strings.TrimSpace(assignee)
	if len(assignee) > maxAssignee || !utf8.ValidString(assignee) || strings.IndexFunc(assignee, unicode.IsControl) >= 0 {
		return Exception{}, inputError("assignee", "assignee_invalid", "an assignee is at most %d characters of text", maxAssignee)
	}
	return s.change(ctx, id, "assigned", "reconciliation.exception.assign", actor,
		func(tx pgx.Tx, e Exception) (string, bool, error) {
			if err := requireUnresolved(e); err != nil {
				return "", false, err
			}
			if e.Assignee == assignee {
				return "", false, nil
			}
			_, err := tx.Exec(ctx, `UPDATE recon_exceptions SET assignee = NULLIF($2, ''), updated_at = now() WHERE id = $1`,
				id, assignee)
			if assignee == "" {
				return "unassigned from " + e.Assignee, true, err
			}
			return "assigned to " + assignee, true, err
		})
}

// AddNote adds a note to exception id's thread (in any state).
func (s *Service) AddNote(ctx context.Context, id int64, note, actor string) (Exception, error) {
	note, err := checkNote(note)
	if err != nil {
		return Exception{}, err
	}
	return s.change(ctx, id, "noted", "reconciliation.exception.note", actor,
		func(tx pgx.Tx, e Exception) (string, bool, error) {
			_, err := tx.Exec(ctx, `UPDATE recon_exceptions SET updated_at = now() WHERE id = $1`, id)
			return note, true, err
		})
}

// Snooze hides exception id (still to be worked) from the queue's default
// view until business day until, which is after today; a zero until wakes
// it. The note, optional, says why.
func (s *Service) Snooze(ctx context.Context, id int64, until time.Time, note, actor string) (Exception, error) {
	note = strings.TrimSpace(note)
	if note != "" {
		var err error
		if note, err = checkNote(note); err != nil {
			return Exception{}, err
		}
	}
	var day any
	text := "woken"
	if !until.IsZero() {
		until = dayOf(until)
		if !until.After(s.Today()) {
			return Exception{}, inputError("until", "until_past", "an exception is snoozed until a day after today (%s)", dayString(s.Today()))
		}
		if until.Year() >= 9000 {
			return Exception{}, inputError("until", "until_invalid", "a day before 9000")
		}
		day, text = dayString(until), "snoozed until "+dayString(until)
	}
	if note != "" {
		text += ": " + note
	}
	return s.change(ctx, id, "snoozed", "reconciliation.exception.snooze", actor,
		func(tx pgx.Tx, e Exception) (string, bool, error) {
			if err := requireUnresolved(e); err != nil {
				return "", false, err
			}
			if day == nil && e.SnoozedUntil == "" {
				return "", false, nil
			}
			_, err := tx.Exec(ctx, `UPDATE recon_exceptions SET snoozed_until = $2::date, updated_at = now() WHERE id = $1`, id, day)
			return text, true, err
		})
}

// Reopen opens exception id again, resolved by a person with a resolution
// that moved no money (a resolution that posted ledger entries or recorded a
// payment is undone in the ledger, not here). The note says why.
func (s *Service) Reopen(ctx context.Context, id int64, note, actor string) (Exception, error) {
	note, err := checkNote(note)
	if err != nil {
		return Exception{}, err
	}
	return s.change(ctx, id, "reopened", "reconciliation.exception.reopen", actor,
		func(tx pgx.Tx, e Exception) (string, bool, error) {
			if e.Status != ExceptionResolved {
				return "", false, fmt.Errorf("%w: exception %d is %s, not resolved by a person", ErrNotReopenable, id, e.Status)
			}
			var posted bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM recon_resolutions WHERE exception_id = $1 AND status = 'posted')`,
				id).Scan(&posted); err != nil {
				return "", false, err
			}
			if posted || e.Resolution == "approved_credit" {
				return "", false, fmt.Errorf("%w: exception %d's resolution %s moved money: reverse its ledger entries instead",
					ErrNotReopenable, id, e.Resolution)
			}
			_, err := tx.Exec(ctx, `UPDATE recon_exceptions SET status = 'open', resolution = NULL, note = NULL, resolved_by = NULL,
				resolved_at = NULL, updated_at = now() WHERE id = $1`, id)
			return note, true, err
		})
}

// MaxBulk bounds a bulk action's selection.
const MaxBulk = 500

// BulkResult is what a bulk action did to one exception: Err nil, or why
// it was not changed (the others are changed regardless).
type BulkResult struct {
	ID        int64
	Exception Exception
	Err       error
}

// bulk applies op to each exception of ids (duplicates once), each in a
// transaction of its own, with its own event and audit row.
func (s *Service) bulk(ctx context.Context, ids []int64, op func(id int64) (Exception, error)) ([]BulkResult, error) {
	if len(ids) == 0 {
		return nil, inputError("ids", "selection_empty", "select at least one exception")
	}
	if len(ids) > MaxBulk {
		return nil, inputError("ids", "selection_too_large", "at most %d exceptions at once", MaxBulk)
	}
	seen := map[int64]bool{}
	var out []BulkResult
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		e, err := op(id)
		out = append(out, BulkResult{ID: id, Exception: e, Err: err})
	}
	return out, nil
}

// BulkAcknowledge acknowledges each exception of ids.
func (s *Service) BulkAcknowledge(ctx context.Context, ids []int64, actor string) ([]BulkResult, error) {
	return s.bulk(ctx, ids, func(id int64) (Exception, error) { return s.Acknowledge(ctx, id, actor) })
}

// BulkAssign assigns each exception of ids to assignee.
func (s *Service) BulkAssign(ctx context.Context, ids []int64, assignee, actor string) ([]BulkResult, error) {
	return s.bulk(ctx, ids, func(id int64) (Exception, error) { return s.Assign(ctx, id, assignee, actor) })
}

// BulkResolve resolves each exception of ids with one resolution and note,
// recorded on each exception as if resolved alone.
func (s *Service) BulkResolve(ctx context.Context, ids []int64, resolution, note, actor string) ([]BulkResult, error) {
	if err := checkResolution(resolution); err != nil {
		return nil, err
	}
	if _, err := checkNote(note); err != nil {
		return nil, err
	}
	return s.bulk(ctx, ids, func(id int64) (Exception, error) { return s.Resolve(ctx, id, resolution, note, actor) })
}
