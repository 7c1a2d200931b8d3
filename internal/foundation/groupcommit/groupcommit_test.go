package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Every test closes its queues: no writer goroutine may outlive the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// book records what a write function committed: each job at most once.
type book struct {
	mu      sync.Mutex
	written map[int]int
	batches [][]int
}

func newBook() *book { return &book{written: map[int]int{}} }

func (b *book) commit(batch []int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batches = append(b.batches, slices.Clone(batch))
	for _, j := range batch {
		b.written[j]++
	}
}

func (b *book) count(j int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.written[j]
}

func (b *book) sizes() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s []int
	for _, batch := range b.batches {
		s = append(s, len(batch))
	}
	return s
}

var errBad = errors.New("bad job")

// Jobs are ints; a negative one is special. Bad jobs (-13, -113, …) fail a
// batch whole, as a constraint violation rolls back a statement; alone, a bad
// job fails by itself. Jobs -7, -107, … are refused one by one without
// failing the batch; a batch with a job -666 in it panics; -5, -105, … ask to
// be written alone after their batch, and then answer how many jobs were
// committed before them. Any other job's answer is twice the job.
func writer(b *book) WriteFunc[int, int] {
	return func(ctx context.Context, batch []int) ([]Result[int], error) {
		if _, ok := ctx.Deadline(); !ok {
			return nil, errors.New("the batch has no deadline")
		}
		for _, j := range batch {
			if j == -666 {
				panic("poison")
			}
			if j%100 == -13 {
				return nil, fmt.Errorf("job %d: %w", j, errBad)
			}
		}
		out := make([]Result[int], len(batch))
		var keep []int
		for i, j := range batch {
			switch {
			case j%100 == -7:
				out[i].Err = fmt.Errorf("job %d refused", j)
			case j%100 == -5 && len(batch) > 1:
				out[i].Err = ErrAlone
			case j%100 == -5:
				b.mu.Lock()
				out[i].Value = len(b.written)
				b.mu.Unlock()
				keep = append(keep, j)
			default:
				out[i].Value = 2 * j
				keep = append(keep, j)
			}
		}
		b.commit(keep)
		return out, nil
	}
}

// The protocol, one batch at a time: per-job results, the one-by-one
// fallback on a batch error (only the bad job fails, every good one is
// written once), ErrAlone, panics.
func TestWriteBatch(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		jobs    []int
		want    map[int]string // job → "value n", or the error's text (substring)
		batches []int          // sizes of the write calls that committed
	}{
		{"batch success", []int{1, 2, 3, 4},
			map[int]string{1: "value 2", 2: "value 4", 3: "value 6", 4: "value 8"}, []int{4}},
		{"one bad job: the batch is written one by one, only that job fails", []int{1, -13, 3},
			map[int]string{1: "value 2", -13: "bad job", 3: "value 6"}, []int{1, 1}},
		{"a job refused alone does not fail its batch", []int{1, -7, 3},
			map[int]string{1: "value 2", -7: "job -7 refused", 3: "value 6"}, []int{2}},
		{"a job written alone after its batch sees the batch", []int{1, -5, 3, -105},
			map[int]string{1: "value 2", -5: "value 2", 3: "value 6", -105: "value 3"}, []int{2, 1, 1}},
		{"a bad job alone", []int{-13}, map[int]string{-13: "bad job"}, nil},
		{"a panic is an error of unknown outcome for the batch's jobs", []int{1, -666, 3},
			map[int]string{1: "panicked", -666: "panicked", 3: "panicked"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBook()
			q := New(Options{Name: "test"}, writer(b))
			t.Cleanup(q.Close)
			res := q.WriteBatch(tt.jobs)
			for i, j := range tt.jobs {
				got := fmt.Sprintf("value %d", res[i].Value)
				if res[i].Err != nil {
					got = res[i].Err.Error()
				}
				if tt.want[j] == "" || !strings.Contains(got, tt.want[j]) {
					t.Errorf("job %d: %q, want %q", j, got, tt.want[j])
				}
				if n, want := b.count(j), btoi(res[i].Err == nil); n != want {
					t.Errorf("job %d written %d times, want %d", j, n, want)
				}
				if tt.want[j] == "panicked" {
					var pe *PanicError
					if !errors.As(res[i].Err, &pe) || !errors.Is(res[i].Err, ErrOutcomeUnknown) || pe.Value != "poison" {
						t.Errorf("job %d: %v is not a *PanicError of unknown outcome", j, res[i].Err)
					}
				}
			}
			if got := b.sizes(); !slices.Equal(got, tt.batches) {
				t.Errorf("committed batches of %v, want %v", got, tt.batches)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// gate holds the queue's writer inside its first write until opened, so
// that the test knows what is queued and what is being written.
type gate struct {
	entered chan int // the first job of each write call
	open    chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan int, 100), open: make(chan struct{})} }

func (g *gate) wrap(w WriteFunc[int, int]) WriteFunc[int, int] {
	return func(ctx context.Context, batch []int) ([]Result[int], error) {
		g.entered <- batch[0]
		<-g.open
		return w(ctx, batch)
	}
}

// waitQueued waits until n jobs wait in q's channel (Do has handed them over).
func waitQueued(q *Queue[int, int], n int) {
	for len(q.items) < n {
		runtime.Gosched()
	}
}

type answer struct {
	v   int
	err error
}

func doAsync(q *Queue[int, int], ctx context.Context, j int) <-chan answer {
	c := make(chan answer, 1)
	go func() {
		v, err := q.Do(ctx, j)
		c <- answer{v, err}
	}()
	return c
}

// Jobs that arrive while a batch is written go together into the next one:
// every job is written exactly once, no batch is larger than MaxBatch, and
// each caller gets its own answer.
func TestJobsArrivingTogetherShareABatch(t *testing.T) {
	t.Parallel()
	b, g := newBook(), newGate()
	q := New(Options{Writers: 1, MaxBatch: 8}, g.wrap(writer(b)))
	t.Cleanup(q.Close)
	first := doAsync(q, context.Background(), 0)
	<-g.entered
	var rest []<-chan answer
	for i := 1; i <= 19; i++ {
		rest = append(rest, doAsync(q, context.Background(), i))
	}
	waitQueued(q, 19)
	close(g.open)
	if a := <-first; a.err != nil || a.v != 0 {
		t.Fatalf("job 0: %d, %v", a.v, a.err)
	}
	for i, c := range rest {
		if a := <-c; a.err != nil || a.v != 2*(i+1) {
			t.Fatalf("job %d: %d, %v", i+1, a.v, a.err)
		}
	}
	for i := range 20 {
		if n := b.count(i); n != 1 {
			t.Fatalf("job %d written %d times", i, n)
		}
	}
	if got := b.sizes(); !slices.Equal(got, []int{1, 8, 8, 3}) {
		t.Fatalf("batches of %v, want [1 8 8 3]", got)
	}
}

// A caller whose context ends while its job is still queued gets the
// context's error, and the job is never written; one whose context ends
// while its job is being written is told the outcome is unknown, and the
// job is not written again by the fallback after that.
func TestCallerGivesUp(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		// first is the job holding the writer; quitter the job whose caller
		// gives up, queued behind it (or in its batch, if inBatch).
		first, quitter int
		inBatch        bool
		deadline       bool // a deadline ends the quitter's wait, not a cancel
		wantErr        []error
		wantWritten    int
	}{
		{name: "deadline while queued", first: 1, quitter: 2, deadline: true,
			wantErr: []error{context.DeadlineExceeded}, wantWritten: 0},
		{name: "cancelled while queued", first: 1, quitter: 2,
			wantErr: []error{context.Canceled}, wantWritten: 0},
		{name: "cancelled while written", first: 2, quitter: 2,
			wantErr: []error{ErrOutcomeUnknown, context.Canceled}, wantWritten: 1},
		{name: "cancelled while its batch fails: not written alone after", first: -13, quitter: 2, inBatch: true,
			wantErr: []error{ErrOutcomeUnknown, context.Canceled}, wantWritten: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, g := newBook(), newGate()
			q := New(Options{Writers: 1, MaxBatch: 4}, g.wrap(writer(b)))
			t.Cleanup(q.Close)
			ctx, cancel := context.WithCancel(context.Background())
			if tt.deadline {
				// The writer is held: the deadline passes with the job queued
				// (or before Do queues it: the same answer, never written).
				ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
			}
			defer cancel()
			var first, quit <-chan answer
			switch {
			case tt.first == tt.quitter:
				quit = doAsync(q, ctx, tt.quitter)
				<-g.entered
			case tt.inBatch:
				// A job holds the writer; the bad job and the quitter queue
				// behind it and make the next batch, which fails whole.
				hold := doAsync(q, context.Background(), 1)
				<-g.entered
				first = doAsync(q, context.Background(), tt.first)
				waitQueued(q, 1)
				quit = doAsync(q, ctx, tt.quitter)
				waitQueued(q, 2)
				g.open <- struct{}{} // job 1 is written
				<-hold
				<-g.entered // the failing batch is being written
			default:
				first = doAsync(q, context.Background(), tt.first)
				<-g.entered
				quit = doAsync(q, ctx, tt.quitter)
				if !tt.deadline {
					waitQueued(q, 1)
				}
			}
			if !tt.deadline {
				cancel()
			}
			a := <-quit
			for _, want := range tt.wantErr {
				if !errors.Is(a.err, want) {
					t.Errorf("the quitter's error %v is not %v", a.err, want)
				}
			}
			close(g.open)
			if first != nil {
				<-first
			}
			q.Close() // drains: whatever was to be written is written now
			if n := b.count(tt.quitter); n != tt.wantWritten {
				t.Errorf("the quitter's job written %d times, want %d", n, tt.wantWritten)
			}
		})
	}
}

// A full queue gives up when the caller's context ends.
func TestFullQueueGivesUpWithContext(t *testing.T) {
	t.Parallel()
	b, g := newBook(), newGate()
	q := New(Options{Writers: 1, MaxBatch: 1}, g.wrap(writer(b)))
	t.Cleanup(func() { close(g.open); q.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	_ = doAsync(q, context.Background(), 0)
	<-g.entered
	for i := range cap(q.items) {
		_ = doAsync(q, context.Background(), i+1)
	}
	waitQueued(q, cap(q.items))
	blocked := doAsync(q, ctx, 99)
	cancel()
	if a := <-blocked; !errors.Is(a.err, context.Canceled) {
		t.Fatalf("Do on a full queue: %v", a.err)
	}
}

// A panicking write answers its jobs with an error; the writer goes on.
func TestPanicDoesNotKillTheWriter(t *testing.T) {
	t.Parallel()
	b := newBook()
	q := New(Options{Writers: 1}, writer(b))
	t.Cleanup(q.Close)
	for range 3 { // one writer: each Do after a panic needs it alive
		if _, err := q.Do(context.Background(), -666); !errors.Is(err, ErrOutcomeUnknown) {
			t.Fatalf("a panicking job: %v", err)
		}
		if v, err := q.Do(context.Background(), 4); err != nil || v != 8 {
			t.Fatalf("after a panic: %d, %v", v, err)
		}
	}
}

// Each batch has its own deadline, whatever its callers' contexts: a write
// that outlives it answers its jobs with an error of unknown outcome.
func TestBatchDeadline(t *testing.T) {
	t.Parallel()
	q := New(Options{Writers: 1, Timeout: time.Millisecond}, func(ctx context.Context, batch []int) ([]Result[int], error) {
		<-ctx.Done() // a stuck database
		return nil, ctx.Err()
	})
	t.Cleanup(q.Close)
	_, err := q.Do(context.Background(), 1)
	if !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a write past its deadline: %v", err)
	}
}

// Close refuses new jobs at once, writes every job already queued, and
// returns once the writers have stopped (TestMain checks none is left).
func TestCloseDrainsThenRefuses(t *testing.T) {
	t.Parallel()
	b, g := newBook(), newGate()
	q := New(Options{Writers: 1, MaxBatch: 2}, g.wrap(writer(b)))
	var answers []<-chan answer
	answers = append(answers, doAsync(q, context.Background(), 0))
	<-g.entered
	for i := 1; i <= 5; i++ {
		answers = append(answers, doAsync(q, context.Background(), i))
	}
	waitQueued(q, 5)
	closed := make(chan struct{})
	go func() { q.Close(); close(closed) }()
	for !q.isClosed() {
		runtime.Gosched()
	}
	if _, err := q.Do(context.Background(), 100); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do while closing: %v", err)
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a batch was being written")
	default:
	}
	close(g.open)
	<-closed
	for i, c := range answers {
		if a := <-c; a.err != nil || a.v != 2*i {
			t.Errorf("job %d queued before Close: %d, %v", i, a.v, a.err)
		}
	}
	if _, err := q.Do(context.Background(), 101); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do after Close: %v", err)
	}
	q.Close() // again: nothing happens
	if n := b.count(100) + b.count(101); n != 0 {
		t.Fatalf("jobs refused by Close written %d times", n)
	}
}

func (q *Queue[J, R]) isClosed() bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.closed
}
