package main

import (
	"testing"
	"time"
)

// TestSmoke runs the benchmark briefly, so that a change that breaks it (the
// schema moving under its seeding, an API it calls) fails `make test` rather
// than the next `make bench`. Its numbers mean nothing at this size.
func TestSmoke(t *testing.T) {
	if err := run(8, 8, 2*time.Second, time.Second); err != nil {
		t.Fatal(err)
	}
}
