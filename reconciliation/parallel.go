package reconciliation

import (
	"context"
	"errors"
	"sync"
)

// forEach calls fn for every item, n at a time, and returns every error
// joined. It stops handing out items once ctx is done.
func forEach[T any](ctx context.Context, n int, items []T, fn func(T) error) error {
	work := make(chan T)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range max(1, min(n, len(items))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				if err := fn(it); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		work <- it
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
