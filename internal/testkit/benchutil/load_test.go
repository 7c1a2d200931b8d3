package benchutil

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		failEvery int64 // every failEvery-th call fails; 0: none
	}{
		{name: "all succeed"},
		{name: "every third fails", failEvery: 3},
		{name: "all fail", failEvery: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls, failed atomic.Int64
			lat, errs, elapsed := Load(20*time.Millisecond, 4, func() (time.Duration, error) {
				c := calls.Add(1)
				time.Sleep(time.Millisecond)
				if tt.failEvery > 0 && c%tt.failEvery == 0 {
					failed.Add(1)
					return 0, errors.New("refused")
				}
				return time.Duration(c), nil
			})
			if calls.Load() < 4 {
				t.Fatalf("fn called %d times, want at least once per goroutine", calls.Load())
			}
			if int64(errs) != failed.Load() {
				t.Errorf("errors = %d, want %d", errs, failed.Load())
			}
			if int64(len(lat)+errs) != calls.Load() {
				t.Errorf("latencies %d + errors %d != calls %d", len(lat), errs, calls.Load())
			}
			if elapsed < 20*time.Millisecond {
				t.Errorf("elapsed %s, shorter than the run", elapsed)
			}
		})
	}
}
