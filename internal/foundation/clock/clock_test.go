package clock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/foundation/clock"
)

var t0 = time.Date(2026, time.November, 23, 10, 0, 0, 0, time.UTC)

func TestFake(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		do   func(*clock.Fake) time.Time
		want time.Time
	}{
		{"reads what it was set to", func(f *clock.Fake) time.Time { return f.Now() }, t0},
		{"set", func(f *clock.Fake) time.Time { f.Set(t0.AddDate(1, 0, 0)); return f.Now() }, t0.AddDate(1, 0, 0)},
		{"advance returns the new reading", func(f *clock.Fake) time.Time { return f.Advance(36 * time.Hour) }, t0.Add(36 * time.Hour)},
		{"advance moves Now", func(f *clock.Fake) time.Time { f.Advance(time.Minute); f.Advance(-2 * time.Minute); return f.Now() }, t0.Add(-time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.do(clock.NewFake(t0)); !got.Equal(tt.want) {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// A stopped fake does not move however long the test takes; a running one
// moves on from where it was set, never before it.
func TestRunningMovesOnFromWhereItWasSet(t *testing.T) {
	t.Parallel()
	stopped, running := clock.NewFake(t0), clock.NewRunning(t0)
	wallStart := time.Now()
	first := running.Now()
	for time.Since(wallStart) == 0 { // the wall clock ticks (coarse clocks)
	}
	second := running.Now()
	if first.Before(t0) || !second.After(first) || second.Sub(t0) > time.Since(wallStart)+time.Second {
		t.Fatalf("running: %s then %s from %s", first, second, t0)
	}
	if !stopped.Now().Equal(t0) {
		t.Fatalf("stopped clock moved to %s", stopped.Now())
	}
	next := t0.AddDate(0, 0, 1)
	if got := running.Advance(24 * time.Hour); got.Before(next) || got.Sub(next) > time.Minute {
		t.Fatalf("advanced a day from %s: %s", t0, got)
	}
	running.Set(t0)
	if got := running.Now(); got.Before(t0) || got.Sub(t0) > time.Minute {
		t.Fatalf("set back to %s: %s", t0, got)
	}
}

func TestFakeIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	f := clock.NewRunning(t0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				f.Advance(time.Second)
				_ = f.Now()
			}
		}()
	}
	wg.Wait()
	if got := f.Now(); got.Before(t0.Add(800 * time.Second)) {
		t.Fatalf("800 advances of a second from %s: %s", t0, got)
	}
}

func TestOr(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(t0)
	if clock.Or(f) != clock.Clock(f) || clock.Or(nil) != clock.Real {
		t.Fatal("Or: a clock is kept, nil is Real")
	}
	if d := time.Since(clock.Real.Now()); d < 0 || d > time.Minute {
		t.Fatalf("Real is %s off the wall clock", d)
	}
}
