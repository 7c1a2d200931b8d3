package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/webhooks"
)

// RetentionArgs is the periodic job that prunes operational rows past their
// retention (config.Retention). It may run twice, or on two instances at
// once: each pruner deletes each row once.
type RetentionArgs struct{}

// Kind implements river.JobArgs.
func (RetentionArgs) Kind() string { return "retention.prune" }

// RetentionWorker prunes, kind by kind, logging a progress line per batch
// and a summary.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	f *foundation
}

// pruneBatch is the rows (or files) deleted per transaction.
const pruneBatch = 5000

// Work prunes every kind whose retention is set.
func (w *RetentionWorker) Work(ctx context.Context, _ *river.Job[RetentionArgs]) error {
	_, err := Prune(ctx, w.f, w.f.cfg.Retention)
	return err
}

// Pruned counts what one pass deleted, by kind.
type Pruned struct {
	WebhookAttempts, StagingRows, RawFiles int
}

// Prune runs one retention pass: the job's work.
func Prune(ctx context.Context, f *foundation, r config.Retention) (Pruned, error) {
	var p Pruned
	now := clock.Or(f.clock).Now()
	progress := func(kind string) func(int) {
		return func(n int) { f.log.InfoContext(ctx, "retention: pruning", "kind", kind, "done", n) }
	}
	var err error
	if r.WebhookAttemptsDays > 0 {
		if p.WebhookAttempts, err = webhooks.PruneAttempts(ctx, f.pool, now.AddDate(0, 0, -r.WebhookAttemptsDays),
			pruneBatch, progress("webhook attempts")); err != nil {
			return p, err
		}
	}
	if r.ReconStagingDays > 0 {
		if p.StagingRows, err = reconciliation.PruneStaging(ctx, f.pool, now.AddDate(0, 0, -r.ReconStagingDays),
			progress("reconciliation staging")); err != nil {
			return p, err
		}
	}
	if r.RawFilesYears > 0 {
		if p.RawFiles, err = reconciliation.PruneRawFiles(ctx, f.pool, now.AddDate(-r.RawFilesYears, 0, 0),
			100, progress("raw statement files")); err != nil {
			return p, err
		}
	}
	if p != (Pruned{}) {
		f.log.InfoContext(ctx, "retention: pruned", slog.Int("webhook_attempts", p.WebhookAttempts),
			slog.Int("staging_rows", p.StagingRows), slog.Int("raw_files", p.RawFiles))
	}
	return p, nil
}

// wireRetention adds the retention job, run every Retention.Interval.
func wireRetention(f *foundation, w *wiring) {
	river.AddWorker(w.workers(), &RetentionWorker{f: f})
	w.periodic = append(w.periodic, river.NewPeriodicJob(river.PeriodicInterval(f.cfg.Retention.Interval),
		func() (river.JobArgs, *river.InsertOpts) {
			// One per interval, whichever instance's leader inserts it.
			return RetentionArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: f.cfg.Retention.Interval}}
		}, nil))
}

// keepFor is a retention period as River's cleaner takes it: 0 (keep for
// ever) is a negative period there.
func keepFor(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
