// Package groupcommit writes work that arrives together as one batch: while a
// batch is being written, what arrives waits, and the next writer takes all of
// it at once (up to a maximum). Under no load a batch is one item and costs
// what writing it alone does; under load the round trip, the statement and
// the commit are shared by many. Callers wait for their own answers (a channel
// in the item, say), which the write function gives once the batch committed.
package groupcommit

import (
	"context"
	"sync"
)

// Queue batches items of type J for its write function.
type Queue[J any] struct {
	items   chan J
	writers int
	max     int
	write   func([]J)
	start   sync.Once
}

// New returns a queue whose writers (at most that many batches in flight at
// once) call write with batches of at most max items. Fewer writers make
// bigger batches; on two cores two did best for civicpay's writes.
func New[J any](writers, max int, write func([]J)) *Queue[J] {
	return &Queue[J]{items: make(chan J, 4*max*writers), writers: writers, max: max, write: write}
}

// Add queues j for the next batch, or returns ctx's error if the queue stays
// full until ctx ends (then j is not written).
func (q *Queue[J]) Add(ctx context.Context, j J) error {
	q.start.Do(func() {
		for range q.writers {
			go q.loop()
		}
	})
	select {
	case q.items <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (q *Queue[J]) loop() {
	for first := range q.items {
		batch := []J{first}
	fill:
		for len(batch) < q.max {
			select {
			case j := <-q.items:
				batch = append(batch, j)
			default:
				break fill
			}
		}
		q.write(batch)
	}
}
