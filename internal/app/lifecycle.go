package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/civicpay/civicpay/internal/app/server"
)

// jobsCancelWait bounds the wait for jobs whose contexts were cancelled at
// the end of JobsStopTimeout: a job that ignores its context is left behind
// (River runs it again after RiverRescueAfter), the process does not hang.
const jobsCancelWait = 5 * time.Second

// cutLogLines bounds the per-request lines logged when the grace cuts
// requests (the summary line counts them all).
const cutLogLines = 50

// Run starts River and the background loops (the attempt follow sweep),
// serves HTTP on ln and, if metricsLn is not nil, Prometheus' /metrics on
// metricsLn (never on the public ln) until ctx is cancelled (SIGTERM) or a
// listener fails, and then shuts down in this order:
//
//  1. the HTTP server stops accepting and in-flight requests get
//     ShutdownGrace to finish; those still running are cut and logged; the
//     metrics server closes;
//  2. the background loops stop;
//  3. River stops fetching jobs and running ones get JobsStopTimeout to
//     finish; the contexts of those still running are then cancelled (each is
//     logged, and runs again later: every job is idempotent), and River gets
//     jobsCancelWait more to stop.
//
// River is started on a context that ctx's cancellation does not reach:
// cancelling the context given to River's Client.Start cancels the contexts
// of running jobs at once (River's documentation, and its code: without
// SoftStopTimeout the work context derives from it), so SIGTERM would abort
// jobs instead of letting them finish. A failing listener shuts everything
// down the same way, River included.
func (a *App) Run(ctx context.Context, ln, metricsLn net.Listener) error {
	closeAll := func() {
		_ = ln.Close()
		if metricsLn != nil {
			_ = metricsLn.Close()
		}
	}
	ln, err := server.LimitConns(ln, a.Config.Limits.MaxConnsPerIP, a.Config.Limits.TrustedProxies)
	if err != nil {
		closeAll()
		return fmt.Errorf("app: %w", err)
	}
	if err := a.River.Start(context.WithoutCancel(ctx)); err != nil {
		closeAll()
		return fmt.Errorf("app: start river: %w", err)
	}
	bgCtx, bgStop := context.WithCancel(ctx)
	defer bgStop()
	var bg sync.WaitGroup
	for _, run := range a.background {
		bg.Go(func() { run(bgCtx) })
	}

	errc := make(chan error, 2)
	go func() {
		// Serving ends with the shutdown below, or before it when the listener
		// fails: fasthttp returns nil, not an error, for a listener closed
		// under it. Either way the app stops; after the shutdown nobody reads.
		err := a.HTTP.Listener(ln)
		if err == nil {
			err = errors.New("stopped serving")
		}
		errc <- fmt.Errorf("http: %w", err)
	}()
	var ms *http.Server
	if metricsLn != nil {
		ms = &http.Server{Handler: a.Metrics.Handler(a.Log), ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
		go func() {
			if err := ms.Serve(metricsLn); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics: %w", err)
			}
		}()
		a.Log.Info("metrics serving", "addr", metricsLn.Addr().String())
	}
	a.Log.Info("civicpay serving", "addr", ln.Addr().String(), "public_url", a.Config.PublicURL)

	var errs []error
	select {
	case err := <-errc:
		a.Log.Error("listener failed; shutting down", "err", err)
		errs = append(errs, fmt.Errorf("app: %w", err))
	case <-ctx.Done():
	}
	errs = append(errs, a.shutdownHTTP(ms))
	bgStop()
	bg.Wait()
	errs = append(errs, a.stopRiver())
	// The group-commit writers close last: requests queue work on them, and so do
	// running jobs (a status job records its result through the recorder), which
	// River's soft stop lets finish.
	a.CloseWriters()
	if a.Gateways != nil {
		a.Gateways.Close() // stops the breakers' probes
	}
	a.reads.Close()
	a.Log.Info("stopped")
	return errors.Join(errs...)
}

// shutdownHTTP stops the HTTP server, waiting ShutdownGrace for the requests
// in flight, logs those it cut, and closes the metrics server.
func (a *App) shutdownHTTP(ms *http.Server) error {
	grace := a.Config.ShutdownGrace
	a.Log.Info("shutting down: HTTP", "grace", grace.String())
	var errs []error
	if err := a.HTTP.ShutdownWithTimeout(grace); err != nil {
		errs = append(errs, fmt.Errorf("app: http shutdown: %w", err))
	}
	if cut := a.inflight.Running(); len(cut) > 0 {
		routes := map[string]int{}
		for _, r := range cut {
			routes[r.Method+" "+routeName(r.Route)]++
		}
		a.Log.Warn("requests cut at shutdown: still running at the end of the grace", "count", len(cut),
			"routes", routes, "grace", grace.String())
		for i, r := range cut {
			if i == cutLogLines {
				a.Log.Warn("request cut at shutdown: more not listed", "more", len(cut)-i)
				break
			}
			a.Log.Warn("request cut at shutdown", "method", r.Method, "route", routeName(r.Route),
				"request_id", r.RequestID, "running_ms", r.Running.Milliseconds())
		}
	}
	if n := a.HTTP.Server().GetOpenConnectionsCount(); n > 0 {
		a.Log.Warn("connections still open at the end of the grace", "count", n)
	}
	if ms != nil {
		if err := ms.Close(); err != nil {
			errs = append(errs, fmt.Errorf("app: metrics close: %w", err))
		}
	}
	return errors.Join(errs...)
}

func routeName(r string) string {
	if r == "" {
		return "(no route)"
	}
	return r
}

// stopRiver stops River softly (running jobs finish) within JobsStopTimeout,
// then cancels the jobs still running and waits jobsCancelWait for them.
func (a *App) stopRiver() error {
	soft := a.Config.JobsStopTimeout
	if soft <= 0 {
		soft = 20 * time.Second
	}
	a.Log.Info("shutting down: River", "timeout", soft.String(), "running_jobs", len(a.jobs.running()))
	softCtx, cancel := context.WithTimeout(context.Background(), soft)
	err := a.River.Stop(softCtx)
	cancel()
	if err == nil {
		return nil
	}
	running := a.jobs.cancel()
	kinds := map[string]int{}
	for _, j := range running {
		kinds[j.kind]++
	}
	a.Log.Warn("jobs still running at the end of the stop timeout: cancelling them", "count", len(running),
		"kinds", kinds, "timeout", soft.String(), "stop_err", err)
	hardCtx, cancel := context.WithTimeout(context.Background(), jobsCancelWait)
	defer cancel()
	if err := a.River.StopAndCancel(hardCtx); err != nil {
		left := a.jobs.running()
		for _, j := range left {
			a.Log.Error("job still running after its context was cancelled: left to River's rescue",
				"job_id", j.id, "kind", j.kind, "running_ms", time.Since(j.start).Milliseconds())
		}
		return fmt.Errorf("app: river: %d jobs still running %s after being cancelled: %w", len(left), jobsCancelWait, err)
	}
	return nil
}

// jobTracker is River worker middleware that keeps the jobs running in this
// process, so that a shutdown can say which it cancelled.
type jobTracker struct {
	river.MiddlewareDefaults
	log        *slog.Logger
	mu         sync.Mutex
	jobs       map[int64]runningJob
	cancelling atomic.Bool
}

type runningJob struct {
	id      int64
	kind    string
	attempt int
	start   time.Time
}

var _ rivertype.WorkerMiddleware = (*jobTracker)(nil)

func newJobTracker(log *slog.Logger) *jobTracker {
	return &jobTracker{log: log, jobs: map[int64]runningJob{}}
}

// Work runs the job, logging it if the shutdown cancelled it.
func (t *jobTracker) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	t.mu.Lock()
	t.jobs[job.ID] = runningJob{id: job.ID, kind: job.Kind, attempt: job.Attempt, start: time.Now()}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.jobs, job.ID)
		t.mu.Unlock()
	}()
	err := doInner(ctx)
	// ctx is the client's work context (the job's own timeout is set inside
	// doInner): done here means the shutdown cancelled the job.
	if ctx.Err() != nil && t.cancelling.Load() {
		t.log.Warn("job cancelled at shutdown", "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt, "err", err)
	}
	return err
}

// running lists the jobs running now, the oldest first.
func (t *jobTracker) running() []runningJob {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]runningJob, 0, len(t.jobs))
	for _, j := range t.jobs {
		out = append(out, j)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].start.Before(out[k].start) })
	return out
}

// cancel marks the shutdown's cancelling of jobs and lists those running.
func (t *jobTracker) cancel() []runningJob {
	t.cancelling.Store(true)
	return t.running()
}
