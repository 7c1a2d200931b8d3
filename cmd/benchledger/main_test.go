package main

import (
	"context"
	"testing"
	"time"
)

// TestSmoke runs the benchmark briefly, so that a change that breaks it (the
// schema moving under its seeding, an API it calls) fails `make test` rather
// than the next `make bench`. Its numbers mean nothing at this size.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, 200*time.Millisecond, time.Second); err != nil {
		t.Fatal(err)
	}
}
