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
	o := options{events: 300, rate: 100, lagFor: time.Second, publishers: 2, workers: 10,
		cooldown: 5 * time.Millisecond, poll: 50 * time.Millisecond, conns: 8, yard: time.Second}
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}
}
