package reconciliation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/reconciliation/matcher"
)

// Run statuses.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunCompleted = "completed"
	RunFailed    = "failed" // it could not run (no file for the day); Error says why
)

// Run stages, in order; a run interrupted in one resumes there.
const (
	stageQueued    = "queued"
	stageMatching  = "matching"
	stageResolving = "resolving"
	stagePosting   = "posting"
	stageDone      = "done"
)

// Run is one reconciliation of one source for one business day.
type Run struct {
	ID           int64           `json:"id"`
	Source       string          `json:"source"`
	BusinessDate string          `json:"business_date"`
	Trigger      string          `json:"trigger"`
	RequestedBy  string          `json:"requested_by"`
	Status       string          `json:"status"`
	Stage        string          `json:"stage"`
	Files        []int64         `json:"files"`
	LinesTotal   int64           `json:"lines_total"`
	LinesDone    int64           `json:"lines_done"`
	AutoResolved int             `json:"auto_resolved"`
	Error        string          `json:"error,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
	StartedAt    *time.Time      `json:"started_at,omitempty"`
	FinishedAt   *time.Time      `json:"finished_at,omitempty"`
	DurationMS   *int64          `json:"duration_ms,omitempty"`
	Classes      []matcher.Total `json:"classes"`
	// Settlement is the settlement-level state of a gateway run's day.
	Settlement *Settlement `json:"settlement,omitempty"`
}

const runColumns = `id, source, business_date, trigger, requested_by, status, stage, files, lines_total, lines_done,
	auto_resolved, coalesce(error, ''), created_at, started_at, finished_at, duration_ms`

func scanRun(row pgx.Row) (Run, error) {
	var r Run
	var day time.Time
	err := row.Scan(&r.ID, &r.Source, &day, &r.Trigger, &r.RequestedBy, &r.Status, &r.Stage, &r.Files, &r.LinesTotal,
		&r.LinesDone, &r.AutoResolved, &r.Error, &r.CreatedAt, &r.StartedAt, &r.FinishedAt, &r.DurationMS)
	r.BusinessDate = dayString(dbDay(day))
	return r, err
}

// day is the run's business day, midnight ICT.
func (r Run) day() time.Time {
	d, _ := ParseDay(r.BusinessDate)
	return d
}

// enqueueRun queues a run of source for day in tx, unless one is already
// queued (not yet started): that one will see everything this one would.
// A closed day gets no run (ledger.ErrDayClosed), and tx then holds the
// day's closing lock (refuseClosed).
func (s *Service) enqueueRun(ctx context.Context, tx pgx.Tx, source string, day time.Time, trigger, actor string) (int64, error) {
	if err := refusePruned(ctx, tx, day); err != nil { // pruned days are closed: the more telling refusal first
		return 0, err
	}
	if err := refuseClosed(ctx, tx, day); err != nil {
		return 0, err
	}
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO recon_runs (source, business_date, trigger, requested_by) VALUES ($1, $2, $3, $4)
		ON CONFLICT (source, business_date) WHERE status = 'queued' DO NOTHING RETURNING id`,
		source, day, trigger, actor).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		err = tx.QueryRow(ctx, `SELECT id FROM recon_runs WHERE source = $1 AND business_date = $2 AND status = 'queued'`,
			source, day).Scan(&id)
		if err != nil {
			return 0, fmt.Errorf("reconciliation: queued run of %s %s: %w", source, dayString(day), err)
		}
		return id, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reconciliation: queue run of %s %s: %w", source, dayString(day), err)
	}
	if _, err := s.insert(ctx, tx, RunArgs{RunID: id}); err != nil {
		return 0, err
	}
	return id, nil
}

// Run returns a run with its totals and, for a gateway, its settlement.
func (s *Service) Run(ctx context.Context, id int64) (Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM recon_runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, fmt.Errorf("%w: %d", ErrRunNotFound, id)
	}
	if err != nil {
		return Run{}, fmt.Errorf("reconciliation: run %d: %w", id, err)
	}
	if r.Classes, err = runClasses(ctx, s.pool, id); err != nil {
		return Run{}, err
	}
	if r.Source != SourceBank {
		st, ok, err := getSettlement(ctx, s.pool, r.Source, r.day())
		if err != nil {
			return Run{}, err
		}
		if ok {
			r.Settlement = &st
		}
	}
	return r, nil
}

// querier runs a query (a pool or a transaction).
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func runClasses(ctx context.Context, db querier, id int64) ([]matcher.Total, error) {
	rows, err := db.Query(ctx, `SELECT class, currency, count, total FROM recon_run_classes WHERE run_id = $1
		ORDER BY array_position($2::text[], class), currency`, id, classNames())
	if err != nil {
		return nil, fmt.Errorf("reconciliation: run %d classes: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (matcher.Total, error) {
		var t matcher.Total
		err := r.Scan(&t.Class, &t.Currency, &t.Count, &t.Total)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("reconciliation: run %d classes: %w", id, err)
	}
	return append([]matcher.Total{}, out...), nil
}

func classNames() []string {
	var out []string
	for _, c := range matcher.Classes() {
		out = append(out, string(c))
	}
	return out
}

// RunFilter selects runs; zero fields select all.
type RunFilter struct {
	Source string
	Date   time.Time
	Status string
	Before int64 // runs with a smaller id (keyset pagination)
	Limit  int
}

// Runs lists runs, newest first.
func (s *Service) Runs(ctx context.Context, f RunFilter) ([]Run, error) {
	var day any
	if !f.Date.IsZero() {
		day = f.Date
	}
	rows, err := s.pool.Query(ctx, `SELECT `+runColumns+` FROM recon_runs
		WHERE ($1 = '' OR source = $1) AND ($2::date IS NULL OR business_date = $2) AND ($3 = '' OR status = $3)
		  AND ($4::bigint = 0 OR id < $4)
		ORDER BY id DESC LIMIT $5`, f.Source, day, f.Status, f.Before, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: list runs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Run, error) { return scanRun(r) })
	if err != nil {
		return nil, fmt.Errorf("reconciliation: list runs: %w", err)
	}
	for i := range out {
		if out[i].Classes, err = runClasses(ctx, s.pool, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Execute performs queued run id: match, resolve what a gateway confirms,
// post, and finish. A finished run is returned as it is; a run interrupted
// midway resumes at its stage. Runs of one source and day match one at a
// time.
func (s *Service) Execute(ctx context.Context, id int64) (Run, error) {
	r, err := s.Run(ctx, id)
	if err != nil || r.Status == RunCompleted || r.Status == RunFailed {
		return r, err
	}
	err = s.pool.QueryRow(ctx, `UPDATE recon_runs SET status = 'running', started_at = coalesce(started_at, now()),
		stage = CASE WHEN stage = $2 THEN $3 ELSE stage END
		WHERE id = $1 AND status IN ('queued', 'running') RETURNING stage`, id, stageQueued, stageMatching).Scan(&r.Stage)
	if errors.Is(err, pgx.ErrNoRows) {
		return s.Run(ctx, id) // finished meanwhile
	}
	if err != nil {
		return Run{}, fmt.Errorf("reconciliation: start run %d: %w", id, err)
	}
	s.log.InfoContext(ctx, "reconciliation run started", "run_id", id, "source", r.Source, "date", r.BusinessDate, "stage", r.Stage)
	steps := s.gatewaySteps()
	if r.Source == SourceBank {
		steps = s.bankSteps()
	}
	for _, st := range steps {
		if r.Stage != st.stage {
			continue
		}
		began := time.Now()
		next, err := st.do(ctx, &r)
		if errors.Is(err, errNoInput) || errors.Is(err, ledger.ErrDayClosed) {
			return s.fail(ctx, r, err)
		}
		if err != nil {
			return Run{}, fmt.Errorf("reconciliation: run %d (%s %s) %s: %w", id, r.Source, r.BusinessDate, st.stage, err)
		}
		if err := s.setStage(ctx, id, next); err != nil {
			return Run{}, err
		}
		s.log.InfoContext(ctx, "reconciliation run stage done", "run_id", id, "stage", st.stage,
			"duration_ms", time.Since(began).Milliseconds())
		r.Stage = next
	}
	return s.finish(ctx, r)
}

// errNoInput: the run has nothing to reconcile (no file of the day loaded).
var errNoInput = errors.New("nothing to reconcile")

// step is one stage of a run: it does its work and names the next stage.
type step struct {
	stage string
	do    func(ctx context.Context, r *Run) (next string, err error)
}

func (s *Service) setStage(ctx context.Context, id int64, stage string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE recon_runs SET stage = $2 WHERE id = $1`, id, stage); err != nil {
		return fmt.Errorf("reconciliation: run %d stage %s: %w", id, stage, err)
	}
	return nil
}

// fail ends a run that cannot run.
func (s *Service) fail(ctx context.Context, r Run, cause error) (Run, error) {
	if _, err := s.pool.Exec(ctx, `UPDATE recon_runs SET status = 'failed', stage = 'done', error = $2, finished_at = now(),
		duration_ms = (extract(epoch FROM now() - started_at) * 1000)::bigint WHERE id = $1`, r.ID, cause.Error()); err != nil {
		return Run{}, fmt.Errorf("reconciliation: fail run %d: %w", r.ID, err)
	}
	s.log.WarnContext(ctx, "reconciliation run failed", "run_id", r.ID, "source", r.Source, "date", r.BusinessDate, "reason", cause.Error())
	return s.Run(ctx, r.ID)
}

// finish completes a run and tells the notifier, in one transaction.
func (s *Service) finish(ctx context.Context, r Run) (Run, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE recon_runs SET status = 'completed', stage = 'done', finished_at = now(),
			duration_ms = (extract(epoch FROM now() - started_at) * 1000)::bigint
			WHERE id = $1 AND status = 'running'`, r.ID)
		if err != nil || tag.RowsAffected() == 0 {
			return err // finished by another worker meanwhile
		}
		return s.notifyRun(ctx, tx, r.ID)
	})
	if err != nil {
		return Run{}, fmt.Errorf("reconciliation: finish run %d: %w", r.ID, err)
	}
	done, err := s.Run(ctx, r.ID)
	if err != nil {
		return Run{}, err
	}
	attrs := []any{"run_id", done.ID, "source", done.Source, "date", done.BusinessDate, "lines", done.LinesTotal,
		"auto_resolved", done.AutoResolved}
	if done.DurationMS != nil {
		attrs = append(attrs, "duration_ms", *done.DurationMS)
	}
	for _, t := range done.Classes {
		attrs = append(attrs, string(t.Class), t.Count)
	}
	s.log.InfoContext(ctx, "reconciliation run completed", attrs...)
	return done, nil
}

// notifyRun publishes the run and the exceptions it raised, in tx.
func (s *Service) notifyRun(ctx context.Context, tx pgx.Tx, id int64) error {
	if s.deps.Notifier == nil {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT DISTINCT exception_id FROM recon_exception_events
		WHERE run_id = $1 AND action IN ('raised', 'reopened') ORDER BY exception_id LIMIT $2`, id, s.cfg.MaxExceptionEvents+1)
	if err != nil {
		return fmt.Errorf("raised exceptions: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("raised exceptions: %w", err)
	}
	truncated := len(ids) > s.cfg.MaxExceptionEvents
	if truncated {
		ids = ids[:s.cfg.MaxExceptionEvents]
	}
	for _, eid := range ids {
		e, err := getException(ctx, tx, eid)
		if err != nil {
			return err
		}
		if err := s.deps.Notifier.ExceptionRaised(ctx, tx, e); err != nil {
			return fmt.Errorf("notify exception %d: %w", eid, err)
		}
	}
	r, err := scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM recon_runs WHERE id = $1`, id))
	if err != nil {
		return fmt.Errorf("read run: %w", err)
	}
	if r.Classes, err = runClasses(ctx, tx, id); err != nil {
		return err
	}
	if err := s.deps.Notifier.RunFinished(ctx, tx, r, truncated); err != nil {
		return fmt.Errorf("notify run: %w", err)
	}
	return nil
}

// matchTx runs fn in the transaction that matches a run: PostgreSQL gets the
// configured work_mem and no JIT, and runs of the same source and day take
// turns.
func (s *Service) matchTx(ctx context.Context, r *Run, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// JIT compiling these statements costs more than it saves.
		if _, err := tx.Exec(ctx, `SELECT set_config('work_mem', $1, true), set_config('jit', 'off', true)`, s.cfg.WorkMem); err != nil {
			return fmt.Errorf("work_mem: %w", err)
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('recon_run:' || $1 || ':' || $2, 0))`,
			r.Source, r.BusinessDate); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		// A second execution of the run (a job rescued while the first still
		// ran) finds the matching done once it has the lock.
		var stage string
		if err := tx.QueryRow(ctx, `SELECT stage FROM recon_runs WHERE id = $1`, r.ID).Scan(&stage); err != nil {
			return fmt.Errorf("stage: %w", err)
		}
		if stage != stageMatching {
			return nil
		}
		if err := refuseClosed(ctx, tx, r.day()); err != nil {
			return err
		}
		return fn(tx)
	})
}

// saveTotals stores the run's class totals and its line counts, in tx.
// implied is the run's settlement file, whose lines without an item matched.
func saveTotals(ctx context.Context, tx pgx.Tx, r *Run, files []int64, implied *matcher.Implied) error {
	totals, err := matcher.Totals(ctx, tx, r.ID, implied)
	if err != nil {
		return err
	}
	var lines int64
	for _, t := range totals {
		lines += t.Count
	}
	if _, err := tx.Exec(ctx, `DELETE FROM recon_run_classes WHERE run_id = $1`, r.ID); err != nil {
		return fmt.Errorf("clear totals: %w", err)
	}
	for _, t := range totals {
		if _, err := tx.Exec(ctx, `INSERT INTO recon_run_classes (run_id, class, currency, count, total) VALUES ($1, $2, $3, $4, $5)`,
			r.ID, t.Class, t.Currency, t.Count, t.Total); err != nil {
			return fmt.Errorf("save totals: %w", err)
		}
	}
	if files == nil {
		files = []int64{}
	}
	_, err = tx.Exec(ctx, `UPDATE recon_runs SET files = $2, lines_total = $3, lines_done = $3 WHERE id = $1`, r.ID, files, lines)
	if err != nil {
		return fmt.Errorf("save run: %w", err)
	}
	r.Files, r.LinesTotal, r.LinesDone = files, lines, lines
	return nil
}
