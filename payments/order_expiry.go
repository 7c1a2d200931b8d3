package payments

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// ExpireArgs is the periodic job that expires overdue open orders.
type ExpireArgs struct{}

// Kind names the job in River.
func (ExpireArgs) Kind() string { return "orders.expire" }

// InsertOpts keep one pending expiry job at a time: a new leader's RunOnStart
// and the schedule do not pile up duplicates.
func (ExpireArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// ExpireWorker runs ExpireDue. Running it twice, or on two instances, is harmless.
type ExpireWorker struct {
	river.WorkerDefaults[ExpireArgs]
	Service *Orders
	Log     *slog.Logger
}

// Work expires what is due.
func (w *ExpireWorker) Work(ctx context.Context, _ *river.Job[ExpireArgs]) error {
	n, err := w.Service.ExpireDue(ctx, 500)
	if n > 0 {
		w.Log.InfoContext(ctx, "orders expired", "count", n)
	}
	return err
}

// ExpirePeriodic schedules the expiry job every interval (and once at start).
func ExpirePeriodic(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return ExpireArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}
