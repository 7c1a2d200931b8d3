package groupcommit

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Items that arrive while a batch is written go together into the next one;
// every item is written exactly once, and no batch is larger than max.
func TestItemsArrivingTogetherShareABatch(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	written := map[int]int{}
	var sizes []int
	release := make(chan struct{})
	q := New(1, 8, func(batch []int) {
		<-release // the first batch is slow: the rest pile up behind it
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, len(batch))
		for _, j := range batch {
			written[j]++
		}
	})
	for i := range 20 {
		if err := q.Add(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(written)
		mu.Unlock()
		if n == 20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range 20 {
		if written[i] != 1 {
			t.Fatalf("item %d written %d times", i, written[i])
		}
	}
	for _, s := range sizes {
		if s > 8 {
			t.Fatalf("a batch of %d, max 8", s)
		}
	}
	if len(sizes) > 4 { // 1 (the first, alone) + 19 in batches of 8
		t.Fatalf("%d batches for 20 items arriving together: %v", len(sizes), sizes)
	}
}

// A full queue gives up when the caller's context ends.
func TestAddGivesUpWithContext(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	defer close(block)
	q := New(1, 1, func([]int) { <-block })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var err error
	for i := 0; err == nil; i++ {
		err = q.Add(ctx, i)
	}
	if err != context.DeadlineExceeded {
		t.Fatalf("Add on a full queue: %v", err)
	}
}
