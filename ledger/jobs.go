package ledger

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
)

// Intervals of the ledger's periodic jobs. Snapshots bound how many postings
// a current-balance read of a hot account sums; seals bound how much of the
// ledger is not yet tamper evident; rollups bound the live tail revenue and
// as-of balance reads sum from the postings.
const (
	SnapshotInterval = 15 * time.Second
	SealInterval     = time.Minute
	RollupInterval   = 15 * time.Second
)

// SealArgs is the River job that extends the seal chain (Seal).
type SealArgs struct{}

// Kind is the job's name in River.
func (SealArgs) Kind() string { return "ledger_seal" }

// SealWorker runs Seal. Running it twice, or twice at once, seals each entry once.
type SealWorker struct {
	river.WorkerDefaults[SealArgs]
	pool *pgxpool.Pool
}

// NewSealWorker returns the worker to register with river.AddWorker.
func NewSealWorker(pool *pgxpool.Pool) *SealWorker { return &SealWorker{pool: pool} }

// Work seals every final entry not yet sealed.
func (w *SealWorker) Work(ctx context.Context, _ *river.Job[SealArgs]) error {
	_, err := Seal(ctx, w.pool)
	return err
}

// SnapshotArgs is the River job that snapshots balances (SnapshotBalances).
type SnapshotArgs struct{}

// Kind is the job's name in River.
func (SnapshotArgs) Kind() string { return "ledger_snapshot_balances" }

// SnapshotWorker runs SnapshotBalances; it is idempotent and safe concurrently.
type SnapshotWorker struct {
	river.WorkerDefaults[SnapshotArgs]
	pool *pgxpool.Pool
}

// NewSnapshotWorker returns the worker to register with river.AddWorker.
func NewSnapshotWorker(pool *pgxpool.Pool) *SnapshotWorker { return &SnapshotWorker{pool: pool} }

// Work snapshots the balances of the accounts that moved.
func (w *SnapshotWorker) Work(ctx context.Context, _ *river.Job[SnapshotArgs]) error {
	_, err := SnapshotBalances(ctx, w.pool)
	return err
}

// RollupArgs is the River job that rolls up revenue and balance checkpoints
// (RollUp).
type RollupArgs struct{}

// Kind is the job's name in River.
func (RollupArgs) Kind() string { return "ledger_rollups" }

// RollupWorker runs RollUp; it is idempotent and safe concurrently.
type RollupWorker struct {
	river.WorkerDefaults[RollupArgs]
	pool *pgxpool.Pool
}

// NewRollupWorker returns the worker to register with river.AddWorker.
func NewRollupWorker(pool *pgxpool.Pool) *RollupWorker { return &RollupWorker{pool: pool} }

// Work rolls up the postings recorded below the current horizon.
func (w *RollupWorker) Work(ctx context.Context, _ *river.Job[RollupArgs]) error {
	_, err := RollUp(ctx, w.pool)
	return err
}

// AddWorkers registers the ledger's workers.
func AddWorkers(workers *river.Workers, pool *pgxpool.Pool) {
	river.AddWorker(workers, NewSealWorker(pool))
	river.AddWorker(workers, NewSnapshotWorker(pool))
	river.AddWorker(workers, NewRollupWorker(pool))
}

// PeriodicJobs are the ledger's periodic jobs for river.Config.PeriodicJobs.
// All run on start (a newly elected leader catches up at once); the work is
// idempotent, so a duplicate run after a leader change costs only a query.
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(SealInterval),
			func() (river.JobArgs, *river.InsertOpts) { return SealArgs{}, nil },
			&river.PeriodicJobOpts{ID: "ledger_seal", RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(SnapshotInterval),
			func() (river.JobArgs, *river.InsertOpts) { return SnapshotArgs{}, nil },
			&river.PeriodicJobOpts{ID: "ledger_snapshot_balances", RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(RollupInterval),
			func() (river.JobArgs, *river.InsertOpts) { return RollupArgs{}, nil },
			&river.PeriodicJobOpts{ID: "ledger_rollups", RunOnStart: true}),
	}
}
