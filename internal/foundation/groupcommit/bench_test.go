package groupcommit

import (
	"context"
	"testing"
)

// The queue's own cost per job (a write that does nothing), with as many
// callers as GOMAXPROCS.
func BenchmarkDo(b *testing.B) {
	q := New(Options{Writers: 2, MaxBatch: 64}, func(_ context.Context, batch []int) ([]Result[int], error) {
		out := make([]Result[int], len(batch))
		for i, j := range batch {
			out[i].Value = 2 * j
		}
		return out, nil
	})
	defer q.Close()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := q.Do(context.Background(), 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
