package benchutil

import (
	"sync"
	"sync/atomic"
	"time"
)

// Load calls fn from n goroutines, each calling it again as soon as it
// returns, until d has passed. It returns the latencies fn reported for its
// successes, how many calls failed, and the time the whole run took (from
// the start until the last call in flight returned).
func Load(d time.Duration, n int, fn func() (time.Duration, error)) ([]time.Duration, int, time.Duration) {
	var (
		mu   sync.Mutex
		all  []time.Duration
		errs atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	stop := start.Add(d)
	for range n {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(stop) {
				if l, err := fn(); err != nil {
					errs.Add(1)
				} else {
					mine = append(mine, l)
				}
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return all, int(errs.Load()), time.Since(start)
}
