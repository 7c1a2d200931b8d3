package reconciliation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/ledger"
)

// Queue is the River queue of reconciliation's jobs, apart from the default
// queue so that a million-line file never holds up payments' jobs.
const Queue = "reconciliation"

// LoadArgs loads a stored file into staging (one job per file).
type LoadArgs struct {
	FileID int64 `json:"file_id"`
}

// Kind is the job kind.
func (LoadArgs) Kind() string { return "recon_load" }

// InsertOpts: one job per file, ever (a completed load is final).
func (LoadArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// RunArgs executes one queued run.
type RunArgs struct {
	RunID int64 `json:"run_id"`
}

// Kind is the job kind.
func (RunArgs) Kind() string { return "recon_run" }

// InsertOpts: one job per run.
func (RunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// DayArgs reconciles one business day: fetch the files of the gateways (or
// of one) and the bank, import and load them, and run each source. The
// periodic job inserts it for the previous business day at the cut-off;
// `civicpay reconcile --date` inserts it with a Request nonce so that a
// person can ask again.
type DayArgs struct {
	Date    string `json:"date"`              // YYYY-MM-DD
	Gateway string `json:"gateway,omitempty"` // one source only ("bank" or a gateway); empty: all
	Request string `json:"request,omitempty"` // distinguishes a manual request from the scheduled one
}

// Kind is the job kind.
func (DayArgs) Kind() string { return "recon_day" }

// InsertOpts: the scheduled job is unique per day (it may be inserted again
// when a new leader starts; River keeps completed jobs 24 h).
func (DayArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// jobTimeout bounds one job: a million-line file is loaded and matched in
// well under a minute, but a slow database must not have it killed midway.
const jobTimeout = 30 * time.Minute

// LoadWorker runs LoadArgs.
type LoadWorker struct {
	river.WorkerDefaults[LoadArgs]
	Service *Service
}

// Timeout overrides River's default of one minute.
func (w *LoadWorker) Timeout(*river.Job[LoadArgs]) time.Duration { return jobTimeout }

// Work loads the file (a no-op when already loaded or refused).
func (w *LoadWorker) Work(ctx context.Context, j *river.Job[LoadArgs]) error {
	_, err := w.Service.Load(ctx, j.Args.FileID)
	return err
}

// RunWorker runs RunArgs.
type RunWorker struct {
	river.WorkerDefaults[RunArgs]
	Service *Service
}

// Timeout overrides River's default of one minute.
func (w *RunWorker) Timeout(*river.Job[RunArgs]) time.Duration { return jobTimeout }

// Work executes the run (a no-op when it has finished).
func (w *RunWorker) Work(ctx context.Context, j *river.Job[RunArgs]) error {
	_, err := w.Service.Execute(ctx, j.Args.RunID)
	return err
}

// DayWorker runs DayArgs.
type DayWorker struct {
	river.WorkerDefaults[DayArgs]
	Service *Service
}

// Timeout overrides River's default of one minute.
func (w *DayWorker) Timeout(*river.Job[DayArgs]) time.Duration { return 2 * jobTimeout }

// Work reconciles the day.
func (w *DayWorker) Work(ctx context.Context, j *river.Job[DayArgs]) error {
	day, err := ParseDay(j.Args.Date)
	if err != nil {
		return river.JobCancel(fmt.Errorf("reconciliation: day job: %w", err))
	}
	_, err = w.Service.ReconcileDay(ctx, day, j.Args.Gateway, "job:"+fmt.Sprint(j.ID))
	if errors.Is(err, ledger.ErrDayClosed) {
		// Nothing to do, ever: a closed day's runs are what it was closed on.
		// The job completes (no retry), saying why.
		w.Service.log.WarnContext(ctx, "reconciliation day job skipped: the day is closed", "job_id", j.ID,
			"date", j.Args.Date, "source", j.Args.Gateway)
		if rerr := river.RecordOutput(ctx, map[string]string{"skipped": err.Error()}); rerr != nil {
			w.Service.log.DebugContext(ctx, "reconciliation day job: output not recorded", "job_id", j.ID, "err", rerr)
		}
		return nil
	}
	return err
}

// AddWorkers registers the workers of s.
func AddWorkers(workers *river.Workers, s *Service) {
	river.AddWorker(workers, &LoadWorker{Service: s})
	river.AddWorker(workers, &RunWorker{Service: s})
	river.AddWorker(workers, &DayWorker{Service: s})
	river.AddWorker(workers, &PreviewWorker{Service: s})
}

// dailyAt is a River schedule: every day at a time of day in ICT. It does
// not depend on the process's time zone.
type dailyAt struct{ at time.Duration }

// Next is the first cut-off strictly after t.
func (d dailyAt) Next(t time.Time) time.Time {
	next := dayOf(t).Add(d.at)
	if !next.After(t) {
		next = dayOf(t).AddDate(0, 0, 1).Add(d.at)
	}
	return next.UTC()
}

// previousBusinessDay is the day the most recent cut-off at or before now
// closed: the day before that cut-off's day.
func previousBusinessDay(now time.Time, cutoff time.Duration) time.Time {
	today := dayOf(now)
	if now.Before(today.Add(cutoff)) {
		today = today.AddDate(0, 0, -1)
	}
	return today.AddDate(0, 0, -1)
}

// PeriodicJob is the daily run at s's cut-off, over the previous business
// day, or nil when the cut-off is NoSchedule. It also runs when a new leader
// starts (RunOnStart): the job is unique per day and the work idempotent, so
// a restart at worst repeats a day.
func PeriodicJob(s *Service) *river.PeriodicJob {
	if s.cfg.Cutoff < 0 {
		return nil
	}
	return river.NewPeriodicJob(dailyAt{at: s.cfg.Cutoff}, func() (river.JobArgs, *river.InsertOpts) {
		return DayArgs{Date: dayString(previousBusinessDay(s.deps.Clock.Now(), s.cfg.Cutoff))}, nil
	}, &river.PeriodicJobOpts{ID: "recon_day", RunOnStart: true})
}

// insert enqueues args in tx.
func (s *Service) insert(ctx context.Context, tx pgx.Tx, args river.JobArgs) (*rivertype.JobInsertResult, error) {
	if s.jobs == nil {
		return nil, fmt.Errorf("%w: no job queue", ErrNotConfigured)
	}
	res, err := s.jobs.InsertTx(ctx, tx, args, nil)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: enqueue %s: %w", args.Kind(), err)
	}
	return res, nil
}

// EnqueueDay asks for a day's reconciliation (what `civicpay reconcile
// --date` does). source is "" for every source, "bank" or a gateway.
func (s *Service) EnqueueDay(ctx context.Context, day time.Time, source, request string) (int64, error) {
	if source != "" && !validSource(source) {
		return 0, fmt.Errorf("%w: unknown source %q", ErrInvalid, source)
	}
	var id int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// A closed day is refused now (409), not by the job later; the
		// job checks again, under the lock, where it changes anything.
		if err := refuseClosed(ctx, tx, day); err != nil {
			return err
		}
		res, err := s.insert(ctx, tx, DayArgs{Date: dayString(day), Gateway: source, Request: request})
		if err != nil {
			return err
		}
		id = res.Job.ID
		return audit.Record(ctx, tx, audit.Event{Action: "reconciliation.run.request", ResourceType: "recon_day_job",
			ResourceID: strconv.FormatInt(id, 10), After: map[string]any{"date": dayString(day), "source": source, "request": request}})
	})
	return id, err
}
