package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/riverqueue/river"

	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

type probeArgs struct{}

func (probeArgs) Kind() string { return "app.test_probe" }

type probeWorker struct {
	river.WorkerDefaults[probeArgs]
}

func (probeWorker) Work(context.Context, *river.Job[probeArgs]) error { return nil }

type unworkedArgs struct{}

func (unworkedArgs) Kind() string { return "app.test_unworked" }

// TestJobQueueKnowsWorkersAddedAfterIt: the job queue is built before the
// domains register their workers on its bundle, and still refuses a job
// kind no worker was registered for (as the working client would), while
// taking a kind registered after it was built. New's order rests on this.
func TestJobQueueKnowsWorkersAddedAfterIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := &foundation{pool: pgtest.New(t), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	q, err := newJobQueue(f)
	if err != nil {
		t.Fatal(err)
	}
	river.AddWorker(q.workers, &probeWorker{}) // a domain, after the queue exists

	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := q.insert.InsertTx(ctx, tx, probeArgs{}, nil); err != nil {
		t.Fatalf("insert of a kind registered after the queue was built: %v", err)
	}
	var unknown *river.UnknownJobKindError
	if _, err := q.insert.InsertTx(ctx, tx, unworkedArgs{}, nil); !errors.As(err, &unknown) || unknown.Kind != "app.test_unworked" {
		t.Fatalf("insert of a kind no worker takes = %v, want river.UnknownJobKindError", err)
	}
}
