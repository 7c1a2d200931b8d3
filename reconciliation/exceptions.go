package reconciliation

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/reconciliation/matcher"
)

// Exception statuses.
const (
	ExceptionOpen         = "open"
	ExceptionAutoResolved = "auto_resolved" // confirmed by the gateway (or the bank) and recorded, or matched later
	ExceptionResolved     = "resolved"      // by a person, with a note
	ExceptionCleared      = "cleared"       // a later run of its day no longer sees it
)

// systemActor records what reconciliation does on its own.
const systemActor = "reconciliation"

// Exception is a line (or a record of ours, or a settlement) that did not
// match, however many runs have seen it.
type Exception struct {
	ID            int64            `json:"id"`
	Key           string           `json:"key"`
	Source        string           `json:"source"`
	BusinessDate  string           `json:"business_date"`
	Class         matcher.Class    `json:"class"`
	Status        string           `json:"status"`
	FirstRunID    int64            `json:"first_run_id"`
	LastRunID     int64            `json:"last_run_id"`
	FileID        *int64           `json:"file_id,omitempty"`
	Line          *int32           `json:"line,omitempty"`
	EntryKey      string           `json:"entry_key,omitempty"`
	HereKind      string           `json:"here_kind,omitempty"`
	HereID        *uuid.UUID       `json:"here_id,omitempty"`
	Reference     string           `json:"reference,omitempty"`
	GatewayTxnID  string           `json:"gateway_txn_id,omitempty"`
	AmountThere   *decimal.Decimal `json:"amount_there,omitempty"`
	AmountHere    *decimal.Decimal `json:"amount_here,omitempty"`
	Currency      string           `json:"currency,omitempty"`
	Detail        string           `json:"detail"`
	LedgerEntryID *int64           `json:"ledger_entry_id,omitempty"`
	Resolution    string           `json:"resolution,omitempty"`
	Note          string           `json:"note,omitempty"`
	ResolvedBy    string           `json:"resolved_by,omitempty"`
	ResolvedAt    *time.Time       `json:"resolved_at,omitempty"`
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
	// The queue's work on it (queue.go): who it is assigned to, who
	// acknowledged it and when, the day it is snoozed until, and the
	// resolution waiting for a second approver.
	Assignee            string     `json:"assignee,omitempty"`
	AcknowledgedBy      string     `json:"acknowledged_by,omitempty"`
	AcknowledgedAt      *time.Time `json:"acknowledged_at,omitempty"`
	SnoozedUntil        string     `json:"snoozed_until,omitempty"`
	PendingResolutionID *int64     `json:"pending_resolution_id,omitempty"`
}

// exceptionColumns are read from recon_exceptions aliased e.
const exceptionColumns = `e.id, e.key, e.source, e.business_date, e.class, e.status, e.first_run_id, e.last_run_id,
	e.file_id, e.line, coalesce(e.entry_key, ''), coalesce(e.here_kind, ''), e.here_id, coalesce(e.reference, ''),
	coalesce(e.gateway_txn_id, ''), e.amount_there, e.amount_here, coalesce(e.currency, ''), e.detail, e.ledger_entry_id,
	coalesce(e.resolution, ''), coalesce(e.note, ''), coalesce(e.resolved_by, ''), e.resolved_at, e.created_at, e.updated_at,
	coalesce(e.assignee, ''), coalesce(e.acknowledged_by, ''), e.acknowledged_at, e.snoozed_until, e.pending_resolution_id`

// exceptionScan holds what scanning an exception needs besides the struct.
type exceptionScan struct {
	e           *Exception
	day         time.Time
	there, here decimal.NullDecimal
	snoozed     *time.Time
}

// dest is the scan destinations of exceptionColumns.
func (x *exceptionScan) dest() []any {
	e := x.e
	return []any{&e.ID, &e.Key, &e.Source, &x.day, &e.Class, &e.Status, &e.FirstRunID, &e.LastRunID, &e.FileID, &e.Line,
		&e.EntryKey, &e.HereKind, &e.HereID, &e.Reference, &e.GatewayTxnID, &x.there, &x.here, &e.Currency, &e.Detail,
		&e.LedgerEntryID, &e.Resolution, &e.Note, &e.ResolvedBy, &e.ResolvedAt, &e.CreatedAt, &e.UpdatedAt,
		&e.Assignee, &e.AcknowledgedBy, &e.AcknowledgedAt, &x.snoozed, &e.PendingResolutionID}
}

// done fills in what the scan could not put in place directly.
func (x *exceptionScan) done() {
	x.e.BusinessDate = dayString(dbDay(x.day))
	x.e.AmountThere, x.e.AmountHere = nullDecimal(x.there), nullDecimal(x.here)
	x.e.SnoozedUntil = ""
	if x.snoozed != nil {
		x.e.SnoozedUntil = dayString(dbDay(*x.snoozed))
	}
}

func scanException(row pgx.Row) (Exception, error) {
	var e Exception
	x := exceptionScan{e: &e}
	err := row.Scan(x.dest()...)
	x.done()
	return e, err
}

func getException(ctx context.Context, db queryRower, id int64) (Exception, error) {
	e, err := scanException(db.QueryRow(ctx, `SELECT `+exceptionColumns+` FROM recon_exceptions e WHERE e.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Exception{}, fmt.Errorf("%w: %d", ErrExceptionNotFound, id)
	}
	if err != nil {
		return Exception{}, fmt.Errorf("reconciliation: exception %d: %w", id, err)
	}
	return e, nil
}

// Exception returns one exception.
func (s *Service) Exception(ctx context.Context, id int64) (Exception, error) {
	return getException(ctx, s.pool, id)
}

// CountOpenExceptions counts the exceptions still open, of every source and
// business day: what treasury has left to look at (the staff console's
// dashboard shows it). Exceptions awaiting a second person's approval are
// not open any more and are not counted.
func CountOpenExceptions(ctx context.Context, db queryRower) (int64, error) {
	var n int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM recon_exceptions WHERE status = 'open'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("reconciliation: count open exceptions: %w", err)
	}
	return n, nil
}

// recordExceptionsSQL upserts an exception for every item of the run that did
// not match (settlements excepted: evaluate keeps theirs), and writes an
// event for each one raised, reopened or reclassified. $1 run, $2 source,
// $3 day.
//
//go:embed sql/record_exceptions.sql
var recordExceptionsSQL string

// clearStaleSQL clears the open exceptions of the run's source and day that
// the run no longer sees. $1 run, $2 source, $3 day.
const clearStaleSQL = `
WITH c AS (
    UPDATE recon_exceptions SET status = 'cleared', updated_at = now()
    WHERE source = $2 AND business_date = $3 AND status = 'open' AND last_run_id <> $1 AND key NOT LIKE 'settlement:%'
    RETURNING id
)
INSERT INTO recon_exception_events (exception_id, run_id, action, actor, note)
SELECT id, $1, 'cleared', 'reconciliation', 'no longer seen by run ' || $1 FROM c`

// recordExceptions turns the run's items into exceptions, in tx.
func recordExceptions(ctx context.Context, tx pgx.Tx, r *Run) error {
	if _, err := tx.Exec(ctx, recordExceptionsSQL, r.ID, r.Source, r.day()); err != nil {
		return fmt.Errorf("record exceptions: %w", err)
	}
	if _, err := tx.Exec(ctx, clearStaleSQL, r.ID, r.Source, r.day()); err != nil {
		return fmt.Errorf("clear exceptions: %w", err)
	}
	return nil
}

// clearFoundElsewhere clears open missing_there exceptions of other days of
// the gateway whose record the file carries after all (a success near
// midnight that the next day's file lists), in tx.
func clearFoundElsewhere(ctx context.Context, tx pgx.Tx, r *Run, fileID int64) error {
	type open struct {
		id  int64
		ref string
	}
	rows, err := tx.Query(ctx, `SELECT id, reference FROM recon_exceptions
		WHERE source = $1 AND business_date <> $2 AND status = 'open' AND class = 'missing_there' AND here_kind = 'attempt'
		LIMIT 10000`, r.Source, r.day())
	if err != nil {
		return fmt.Errorf("open missing there: %w", err)
	}
	found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (open, error) {
		var o open
		err := row.Scan(&o.id, &o.ref)
		return o, err
	})
	if err != nil {
		return fmt.Errorf("open missing there: %w", err)
	}
	ids, refs := make([]int64, len(found)), make([]string, len(found))
	for i, o := range found {
		ids[i], refs[i] = o.id, o.ref
	}
	if len(ids) == 0 {
		return nil
	}
	_, err = tx.Exec(ctx, `
		WITH found AS (
			SELECT DISTINCT reference FROM recon_settlement_lines WHERE file_id = $2 AND type = 'payment' AND reference = ANY($3)
		), c AS (
			UPDATE recon_exceptions e SET status = 'cleared', last_run_id = $1, updated_at = now()
			FROM found WHERE e.id = ANY($4) AND e.reference = found.reference AND e.status = 'open'
			RETURNING e.id
		)
		INSERT INTO recon_exception_events (exception_id, run_id, action, actor, note)
		SELECT id, $1, 'cleared', 'reconciliation', 'found in the settlement file of ' || $5 FROM c`,
		r.ID, fileID, refs, ids, r.BusinessDate)
	if err != nil {
		return fmt.Errorf("clear found elsewhere: %w", err)
	}
	return nil
}

// raise upserts one exception (a settlement's), in tx.
func (s *Service) raise(ctx context.Context, tx pgx.Tx, runID int64, e Exception) error {
	var old struct {
		class, status string
	}
	err := tx.QueryRow(ctx, `SELECT class, status FROM recon_exceptions WHERE key = $1 FOR UPDATE`, e.Key).Scan(&old.class, &old.status)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("raise %s: %w", e.Key, err)
	}
	var id int64
	err = tx.QueryRow(ctx, `
		INSERT INTO recon_exceptions AS x (key, source, business_date, class, first_run_id, last_run_id, file_id, entry_key,
			here_kind, reference, amount_there, amount_here, currency, detail)
		VALUES ($1, $2, $3, $4, $5, $5, $6, NULLIF($7, ''), $8, NULLIF($9, ''), $10, $11, NULLIF($12, ''), $13)
		ON CONFLICT (key) DO UPDATE SET class = excluded.class, last_run_id = excluded.last_run_id, file_id = excluded.file_id,
			entry_key = excluded.entry_key, reference = excluded.reference, amount_there = excluded.amount_there,
			amount_here = excluded.amount_here, currency = excluded.currency, detail = excluded.detail, updated_at = now(),
			status = CASE WHEN x.status IN ('cleared', 'auto_resolved') THEN 'open' ELSE x.status END
		RETURNING id`,
		e.Key, e.Source, mustDay(e.BusinessDate), e.Class, runID, e.FileID, e.EntryKey, e.HereKind, e.Reference,
		e.AmountThere, e.AmountHere, e.Currency, e.Detail).Scan(&id)
	if err != nil {
		return fmt.Errorf("raise %s: %w", e.Key, err)
	}
	action := ""
	switch {
	case old.status == "":
		action = "raised"
	case old.status == ExceptionCleared || old.status == ExceptionAutoResolved:
		action = "reopened"
	case old.class != string(e.Class):
		action = "reclassified"
	}
	if action == "" {
		return nil
	}
	return addEvent(ctx, tx, id, &runID, action, systemActor, e.Detail)
}

// settleException marks the exception under key auto-resolved, if open.
func (s *Service) settleException(ctx context.Context, tx pgx.Tx, runID int64, key, note string) error {
	var id int64
	err := tx.QueryRow(ctx, `UPDATE recon_exceptions SET status = 'auto_resolved', last_run_id = $2, updated_at = now()
		WHERE key = $1 AND status = 'open' RETURNING id`, key, runID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("settle exception %s: %w", key, err)
	}
	return addEvent(ctx, tx, id, &runID, "auto_resolved", systemActor, note)
}

func addEvent(ctx context.Context, tx pgx.Tx, id int64, runID *int64, action, actor, note string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO recon_exception_events (exception_id, run_id, action, actor, note)
		VALUES ($1, $2, $3, $4, $5)`, id, runID, action, actor, note); err != nil {
		return fmt.Errorf("exception %d event %s: %w", id, action, err)
	}
	return nil
}

func mustDay(s string) time.Time {
	d, _ := ParseDay(s)
	return d
}

// Resolutions a person may record.
var Resolutions = []string{"matched_manually", "ledger_adjusted", "refunded", "written_off", "accepted", "not_an_error"}

// maxNote bounds a resolution note.
const maxNote = 2000

var resolutionRE = regexp.MustCompile(`^[a-z_]+$`)

// Resolve records that a person (actor) dealt with exception id: the
// resolution (one of Resolutions) and a note, with who and when. An
// exception resolved before, by a person or automatically, or cleared by a
// later run, is ErrAlreadyResolved.
//
// Resolve records only what a person did elsewhere; a resolution that posts
// to the ledger or pays an order is RequestResolution's.
func (s *Service) Resolve(ctx context.Context, id int64, resolution, note, actor string) (Exception, error) {
	if err := checkResolution(resolution); err != nil {
		return Exception{}, err
	}
	note, err := checkNote(note)
	if err != nil {
		return Exception{}, err
	}
	var out Exception
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := lockException(ctx, tx, id)
		if err != nil {
			return err
		}
		if !before.Unresolved() {
			return fmt.Errorf("%w: exception %d is %s", ErrAlreadyResolved, id, before.Status)
		}
		if before.PendingResolutionID != nil {
			return fmt.Errorf("%w: resolution %d of exception %d", ErrPendingApproval, *before.PendingResolutionID, id)
		}
		if resolution == resolutionNames[ResolveWriteOff] && slices.Contains(before.Kinds(), ResolveWriteOff) {
			// Written off here, the difference would be neither posted nor
			// held to the limit: the write-off resolution does both.
			return inputError("resolution", "resolution_posts",
				"exception %d is written off by the write_off resolution, which posts it within the limit", id)
		}
		if _, err := tx.Exec(ctx, `UPDATE recon_exceptions SET status = 'resolved', resolution = $2, note = $3,
			resolved_by = $4, resolved_at = now(), snoozed_until = NULL, updated_at = now() WHERE id = $1`,
			id, resolution, note, actor); err != nil {
			return err
		}
		if err := addEvent(ctx, tx, id, nil, "resolved", actor, resolution+": "+note); err != nil {
			return err
		}
		if out, err = getException(ctx, tx, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: "reconciliation.exception.resolve", ResourceType: "recon_exception",
			ResourceID: strconv.FormatInt(id, 10), Before: before, After: out})
	})
	if err != nil {
		return Exception{}, fmt.Errorf("reconciliation: resolve exception %d: %w", id, err)
	}
	s.log.InfoContext(ctx, "reconciliation exception resolved", "exception_id", id, "resolution", resolution, "actor", actor)
	return out, nil
}

// checkResolution refuses a resolution that is not one of Resolutions.
func checkResolution(resolution string) error {
	if !resolutionRE.MatchString(resolution) || !contains(Resolutions, resolution) {
		return inputError("resolution", "resolution_invalid", "resolution %q is not one of %s", resolution, strings.Join(Resolutions, ", "))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ExceptionEvent is one change of an exception.
type ExceptionEvent struct {
	ID     int64     `json:"id"`
	RunID  *int64    `json:"run_id,omitempty"`
	Action string    `json:"action"`
	Actor  string    `json:"actor"`
	Note   string    `json:"note,omitempty"`
	At     time.Time `json:"at"`
}

// ExceptionEvents is the history of exception id, oldest first.
func (s *Service) ExceptionEvents(ctx context.Context, id int64) ([]ExceptionEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, run_id, action, actor, note, at FROM recon_exception_events
		WHERE exception_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: exception %d events: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ExceptionEvent, error) {
		var e ExceptionEvent
		err := r.Scan(&e.ID, &e.RunID, &e.Action, &e.Actor, &e.Note, &e.At)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("reconciliation: exception %d events: %w", id, err)
	}
	return append([]ExceptionEvent{}, out...), nil
}

// RunException is an exception as one run saw it: the run's item (class
// and detail then) and the exception as it stands now.
type RunException struct {
	Seq       int64         `json:"seq"`
	Class     matcher.Class `json:"class"`
	Detail    string        `json:"detail"`
	Exception Exception     `json:"exception"`
}

// ExceptionFilter selects a run's exceptions; zero fields select all.
type ExceptionFilter struct {
	Class  matcher.Class
	Status string
	After  int64 // seq, for keyset pagination
	Limit  int
}

// RunExceptions lists the items of run id that did not match, with their
// exceptions, in item order.
func (s *Service) RunExceptions(ctx context.Context, id int64, f ExceptionFilter) ([]RunException, error) {
	if _, err := s.Run(ctx, id); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT i.seq, i.class, i.detail, `+exceptionColumns+`
		FROM recon_items i JOIN recon_exceptions e ON e.key = i.exception_key
		WHERE i.run_id = $1 AND i.class <> 'matched' AND ($2 = '' OR i.class = $2) AND ($3 = '' OR e.status = $3) AND i.seq > $4
		ORDER BY i.seq LIMIT $5`, id, string(f.Class), f.Status, f.After, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: run %d exceptions: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RunException, error) {
		var re RunException
		x := exceptionScan{e: &re.Exception}
		err := r.Scan(append([]any{&re.Seq, &re.Class, &re.Detail}, x.dest()...)...)
		x.done()
		return re, err
	})
	if err != nil {
		return nil, fmt.Errorf("reconciliation: run %d exceptions: %w", id, err)
	}
	return append([]RunException{}, out...), nil
}
