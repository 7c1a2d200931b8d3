package main

import (
	"context"
	"testing"
	"time"
)

// TestSmoke runs the benchmark on a tiny year, so that a change that breaks
// it (the schema moving under its seeding, an API it calls) fails the tests
// rather than the next bench run. Its numbers mean nothing at this size.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, options{entries: 3_000, tail: 150, scanReps: 1, reps: 2, asOfScans: 2, asOfs: 4}); err != nil {
		t.Fatal(err)
	}
}
