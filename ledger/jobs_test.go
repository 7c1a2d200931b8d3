package ledger

import (
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// The workers do their job, and running them again finds nothing left to do.
func TestWorkers(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	mustPost(t, pool, pair("k", "gateway:vnpay:clearing", "agency:A:collected", 1000))
	seal, snap, roll := NewSealWorker(pool), NewSnapshotWorker(pool), NewRollupWorker(pool)
	for run := range 2 {
		if err := seal.Work(bg, &river.Job[SealArgs]{}); err != nil {
			t.Fatalf("seal run %d: %v", run, err)
		}
		if err := snap.Work(bg, &river.Job[SnapshotArgs]{}); err != nil {
			t.Fatalf("snapshot run %d: %v", run, err)
		}
		if err := roll.Work(bg, &river.Job[RollupArgs]{}); err != nil {
			t.Fatalf("rollup run %d: %v", run, err)
		}
	}
	r := mustVerify(t, pool)
	if r.SealedBatches != 1 || r.SealedEntries != 1 || r.Snapshots != 2 || r.Checkpoints != 2 || r.RevenueRollups != 0 {
		t.Fatalf("after two runs of each job: %+v", r)
	}
	workers := river.NewWorkers()
	AddWorkers(workers, pool)
	jobs := PeriodicJobs()
	_, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Workers: workers, PeriodicJobs: jobs,
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}}})
	if err != nil || len(jobs) != 3 {
		t.Fatalf("a client with the ledger's workers and %d periodic jobs: %v", len(jobs), err)
	}
}
