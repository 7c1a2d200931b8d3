// Package groupcommit writes work that arrives together as one batch: while a
// batch is being written, what arrives waits, and the next writer takes all of
// it at once (up to a maximum). Under no load a batch is one job and costs
// what writing it alone does; under load the round trip, the statement and
// the commit are shared by many.
//
// The package owns the protocol between callers and the write function:
//
//   - A caller calls Do and gets its own job's result or error.
//   - The write function gets a batch and returns one Result per job, or one
//     error meaning "nothing of this batch was written". On that error every
//     job is written again alone, one by one, in arrival order; a job whose
//     Result is ErrAlone is also written alone, after the batch. Writers never
//     re-implement that fallback.
//   - Each batch (with the jobs written alone after it) has its own deadline,
//     Options.Timeout, whatever its callers' contexts say: a batch is shared,
//     so no one caller's context may cancel it.
//   - A panic in the write function becomes an error for the jobs of that
//     write, and the writer goroutine goes on.
//   - A caller whose context ends while its job is still queued gets the
//     context's error, and the job is never written. A caller whose context
//     ends while its job is being written gets an error wrapping
//     ErrOutcomeUnknown (and the context's error): the job may or may not be
//     committed, and is not written again after that (no fallback, no ErrAlone
//     write) once its caller has left.
//   - New starts the writers; Close stops taking jobs (Do then fails with
//     ErrClosed), writes every job already queued, and returns once the
//     writers have stopped.
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTimeout bounds a batch and the jobs written alone after it when
// Options.Timeout is not set.
const DefaultTimeout = 30 * time.Second

var (
	// ErrClosed is returned by Do once Close was called.
	ErrClosed = errors.New("groupcommit: queue closed")
	// ErrOutcomeUnknown means the job may or may not have been written: its
	// caller stopped waiting while it was being written, the batch's deadline
	// passed while it was written, or the write function panicked. A caller
	// that must know reads the database again (or retries idempotently).
	ErrOutcomeUnknown = errors.New("groupcommit: outcome unknown")
	// ErrAlone, as a job's Result.Err, says the batch did not write this job
	// (but did write the others): it is written alone after the batch,
	// seeing what the batch committed.
	ErrAlone = errors.New("groupcommit: write this job alone")
)

// Result is what became of one job: its value, or its error.
type Result[R any] struct {
	Value R
	Err   error
}

// WriteFunc writes a batch of jobs in one go. It returns one Result per job,
// in the batch's order, or an error when nothing of the batch was written
// (the jobs are then written again one by one). ctx carries the batch's
// deadline. A batch of one job is that job written alone: a WriteFunc must
// not answer ErrAlone to it.
type WriteFunc[J, R any] func(ctx context.Context, batch []J) ([]Result[R], error)

// Options tune a Queue. Zero values take the defaults shown.
type Options struct {
	// Name names the queue in logs and errors ("orders").
	Name string
	// Writers is how many batches may be in flight at once (1). Fewer
	// writers make bigger batches.
	Writers int
	// MaxBatch is the most jobs in one batch (64).
	MaxBatch int
	// Timeout bounds each batch, with the jobs written alone after it
	// (DefaultTimeout).
	Timeout time.Duration
	// Log gets the fallbacks (warn) and panics (error); nil: no logs.
	Log *slog.Logger
	// OnBatch, if set, is told the size of each batch before it is written.
	OnBatch func(n int)
}

// Queue batches jobs of type J for its write function, which answers each
// with an R.
type Queue[J, R any] struct {
	o     Options
	write WriteFunc[J, R]
	items chan *job[J, R]
	// mu guards closed and sending on items: Do sends under the read lock,
	// Close closes items under the write lock, so no job is sent once the
	// writers may have drained the channel.
	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
}

// A job's state: queued until a writer takes it or its caller gives up.
const (
	queued int32 = iota
	taken
	abandoned
)

type job[J, R any] struct {
	in    J
	state atomic.Int32
	res   chan Result[R] // buffered: a writer never waits for the caller
}

// New returns a queue and starts its writers; Close stops them.
func New[J, R any](o Options, write WriteFunc[J, R]) *Queue[J, R] {
	if o.Writers <= 0 {
		o.Writers = 1
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 64
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Name == "" {
		o.Name = "queue"
	}
	q := &Queue[J, R]{o: o, write: write, items: make(chan *job[J, R], 4*o.MaxBatch*o.Writers)}
	q.wg.Add(o.Writers)
	for range o.Writers {
		go q.loop()
	}
	return q
}

// Do queues j for the next batch and waits for its result. It returns ctx's
// error if ctx ends while j is queued (j is then never written), an error
// wrapping ErrOutcomeUnknown and ctx's error if ctx ends while j is being
// written, and ErrClosed after Close.
func (q *Queue[J, R]) Do(ctx context.Context, in J) (R, error) {
	var zero R
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	j := &job[J, R]{in: in, res: make(chan Result[R], 1)}
	if err := q.add(ctx, j); err != nil {
		return zero, err
	}
	select {
	case r := <-j.res:
		return r.Value, r.Err
	case <-ctx.Done():
	}
	if j.state.CompareAndSwap(queued, abandoned) {
		return zero, ctx.Err() // no writer took it, and none will
	}
	select {
	case r := <-j.res: // answered meanwhile
		return r.Value, r.Err
	default:
	}
	j.state.Store(abandoned) // not written again by a fallback after this
	return zero, fmt.Errorf("groupcommit %s: %w: the caller stopped waiting while it was written: %w",
		q.o.Name, ErrOutcomeUnknown, ctx.Err())
}

func (q *Queue[J, R]) add(ctx context.Context, j *job[J, R]) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return fmt.Errorf("groupcommit %s: %w", q.o.Name, ErrClosed)
	}
	select {
	case q.items <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops taking jobs, writes those already queued and returns once the
// writers have stopped. Do fails with ErrClosed after Close; Close may be
// called more than once.
func (q *Queue[J, R]) Close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.items)
	}
	q.mu.Unlock()
	q.wg.Wait()
}

// WriteBatch writes jobs as one batch, as a writer does with what it takes
// from the queue (the deadline, the one-by-one fallback, ErrAlone, panics),
// without the queue: for callers that hold a batch already, and tests.
func (q *Queue[J, R]) WriteBatch(in []J) []Result[R] {
	if len(in) == 0 {
		return nil
	}
	batch := make([]*job[J, R], len(in))
	for i, v := range in {
		batch[i] = &job[J, R]{in: v, res: make(chan Result[R], 1)}
		batch[i].state.Store(taken)
	}
	q.commit(batch)
	out := make([]Result[R], len(batch))
	for i, j := range batch {
		out[i] = <-j.res
	}
	return out
}

func (q *Queue[J, R]) loop() {
	defer q.wg.Done()
	batch := make([]*job[J, R], 0, q.o.MaxBatch)
	for first := range q.items {
		batch = q.take(batch[:0], first)
	fill:
		for len(batch) < q.o.MaxBatch {
			select {
			case j, ok := <-q.items:
				if !ok {
					break fill
				}
				batch = q.take(batch, j)
			default:
				break fill
			}
		}
		if len(batch) > 0 {
			q.commit(batch)
		}
		clear(batch) // let the jobs go
	}
}

// take adds j to batch unless its caller has given up on it.
func (q *Queue[J, R]) take(batch []*job[J, R], j *job[J, R]) []*job[J, R] {
	if j.state.CompareAndSwap(queued, taken) {
		batch = append(batch, j)
	}
	return batch
}

// commit writes a batch and answers each of its jobs.
func (q *Queue[J, R]) commit(batch []*job[J, R]) {
	if q.o.OnBatch != nil {
		q.o.OnBatch(len(batch))
	}
	ctx, cancel := context.WithTimeout(context.Background(), q.o.Timeout)
	defer cancel()
	results, err := q.call(ctx, batch)
	var alone []*job[J, R]
	switch {
	case err == nil:
		for i, j := range batch {
			switch {
			case !errors.Is(results[i].Err, ErrAlone):
				j.res <- results[i]
			case len(batch) > 1:
				alone = append(alone, j)
			default:
				j.res <- Result[R]{Err: q.aloneTwice()}
			}
		}
	case len(batch) == 1 || errors.Is(err, ErrOutcomeUnknown) || ctx.Err() != nil:
		// Nothing to fall back to: one job, or a batch that may have
		// committed (it panicked, or its deadline passed mid-write).
		if ctx.Err() != nil && !errors.Is(err, ErrOutcomeUnknown) {
			err = fmt.Errorf("groupcommit %s: %w: the batch's deadline passed: %w", q.o.Name, ErrOutcomeUnknown, err)
		}
		for _, j := range batch {
			j.res <- Result[R]{Err: err}
		}
	default:
		q.o.Log.Warn("batch failed, writing one by one", "queue", q.o.Name, "jobs", len(batch), "err", err)
		alone = batch
	}
	for _, j := range alone {
		if j.state.Load() == abandoned {
			continue // its caller was told the outcome is unknown, and left
		}
		results, err := q.call(ctx, []*job[J, R]{j})
		if err == nil {
			if errors.Is(results[0].Err, ErrAlone) {
				err = q.aloneTwice()
			} else {
				j.res <- results[0]
				continue
			}
		}
		if ctx.Err() != nil && !errors.Is(err, ErrOutcomeUnknown) {
			err = fmt.Errorf("groupcommit %s: %w: the batch's deadline passed: %w", q.o.Name, ErrOutcomeUnknown, err)
		}
		j.res <- Result[R]{Err: err}
	}
}

func (q *Queue[J, R]) aloneTwice() error {
	return fmt.Errorf("groupcommit %s: the write answered ErrAlone to a job written alone", q.o.Name)
}

// call runs the write function on batch, turning a panic, or an answer of
// the wrong length, into an error wrapping ErrOutcomeUnknown.
func (q *Queue[J, R]) call(ctx context.Context, batch []*job[J, R]) (results []Result[R], err error) {
	in := make([]J, len(batch))
	for i, j := range batch {
		in[i] = j.in
	}
	defer func() {
		if p := recover(); p != nil {
			q.o.Log.Error("batch write panicked", "queue", q.o.Name, "jobs", len(batch), "panic", p, "stack", string(debug.Stack()))
			results, err = nil, &PanicError{Queue: q.o.Name, Value: p}
		}
	}()
	results, err = q.write(ctx, in)
	if err == nil && len(results) != len(batch) {
		return nil, fmt.Errorf("groupcommit %s: %w: the write answered %d results for %d jobs",
			q.o.Name, ErrOutcomeUnknown, len(results), len(batch))
	}
	return results, err
}

// PanicError is the error of the jobs whose write panicked. It wraps
// ErrOutcomeUnknown: the write may have committed before it panicked.
type PanicError struct {
	Queue string
	Value any
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("groupcommit %s: the write panicked (outcome unknown): %v", e.Queue, e.Value)
}

func (e *PanicError) Unwrap() error { return ErrOutcomeUnknown }
