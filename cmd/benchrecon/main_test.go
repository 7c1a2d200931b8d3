package main

import (
	"context"
	"testing"
	"time"
)

// TestSmoke runs the benchmark at a small volume, so that a change that breaks
// it (the schema moving under its seeding, an API it calls) fails `make test`
// rather than the next `make bench`. Its numbers mean nothing at this size.
// (Below about 10,000 lines the planted discrepancies fall on the same lines
// and the run rightly reports counts other than planted.)
func TestSmoke(t *testing.T) {
	t.Setenv("BENCH_RECON_LINES", "10000")
	queueOpen, queueDuration = 2_000, 300*time.Millisecond // the queue's part, small and short
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
}
