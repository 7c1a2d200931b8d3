package main

import (
	"testing"
	"time"
)

// TestSmoke runs the benchmark briefly, so that a change that breaks it (an
// API it calls, the simulator's faults) fails `make test` rather than the
// next `make bench`. Its numbers mean nothing at this size.
func TestSmoke(t *testing.T) {
	o := options{outage: 300 * time.Millisecond, warmup: 300 * time.Millisecond, recoveryCap: 10 * time.Second, workers: 2, pending: 4}
	if err := run(o); err != nil {
		t.Fatal(err)
	}
}
