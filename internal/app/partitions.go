package app

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/partition"
)

// PartitionsArgs is the periodic job that creates the month partitions of
// the partitioned tables ahead of time (partition.Ensure) and says so when
// rows have landed in a DEFAULT partition. It runs at start and daily; it is
// idempotent and safe on two instances at once.
type PartitionsArgs struct{}

// Kind implements river.JobArgs.
func (PartitionsArgs) Kind() string { return "partitions.ensure" }

// PartitionsInterval is how often the partitions job runs: daily, against
// partition.Ahead months of slack.
const PartitionsInterval = 24 * time.Hour

// PartitionsWorker runs EnsurePartitions.
type PartitionsWorker struct {
	river.WorkerDefaults[PartitionsArgs]
	f *foundation
}

// Work creates what is missing and reports what sits in DEFAULT.
func (w *PartitionsWorker) Work(ctx context.Context, _ *river.Job[PartitionsArgs]) error {
	return EnsurePartitions(ctx, w.f)
}

// EnsurePartitions is the job's work: the partitions of this month and the
// partition.Ahead months after it, by the app's clock and by the wall clock
// (row times are written by both) — the second call finds everything made
// when they agree.
func EnsurePartitions(ctx context.Context, f *foundation) error {
	var made []partition.Made
	for _, now := range []time.Time{clock.Or(f.clock).Now(), time.Now()} {
		m, err := partition.Ensure(ctx, f.pool, now, partition.Ahead)
		made = append(made, m...)
		if err != nil {
			return err
		}
	}
	for _, m := range made {
		if m.State == "created" {
			f.log.InfoContext(ctx, "partitions: created", "table", m.Table, "partition", m.Partition)
		} else {
			f.log.WarnContext(ctx, "partitions: month partition refused: its rows are in the DEFAULT partition",
				"table", m.Table, "partition", m.Partition)
		}
	}
	in, err := partition.InDefault(ctx, f.pool, 1000)
	if err != nil {
		return err
	}
	for table, n := range in {
		f.log.WarnContext(ctx, "partitions: rows in the DEFAULT partition (outside every month partition)",
			"table", table, "rows_at_least", n)
	}
	return nil
}

// wirePartitions adds the partitions job, run at start and every PartitionsInterval.
func wirePartitions(f *foundation, w *wiring) {
	river.AddWorker(w.workers(), &PartitionsWorker{f: f})
	w.periodic = append(w.periodic, river.NewPeriodicJob(river.PeriodicInterval(PartitionsInterval),
		func() (river.JobArgs, *river.InsertOpts) { return PartitionsArgs{}, nil },
		&river.PeriodicJobOpts{ID: "partitions.ensure", RunOnStart: true}))
}
