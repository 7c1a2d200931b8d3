package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/foundation/db"
)

// Queue is the River queue of paying's jobs (status queries and refunds),
// apart from the default queue so that other work cannot starve them.
const Queue = "payments"

// AttemptStatusArgs is the River job that follows one pending attempt: it
// asks the gateway for the attempt's status with backoff until the outcome
// is final or the attempt expires. Callbacks get lost; this job is why a
// lost callback still ends in a paid order. FollowPending inserts it for each
// attempt still pending when its first status query is due.
type AttemptStatusArgs struct {
	AttemptID uuid.UUID `json:"attempt_id"`
}

// Kind names the job in River.
func (AttemptStatusArgs) Kind() string { return "payments.attempt_status" }

// InsertOpts put the job on the payments queue.
func (AttemptStatusArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }

// AttemptStatusWorker runs AttemptStatusArgs. Waiting is a snooze, which does
// not use up the job's attempts; an error (the database) is retried by River.
type AttemptStatusWorker struct {
	river.WorkerDefaults[AttemptStatusArgs]
	Flow *Paying
}

// Work makes one status check.
func (w *AttemptStatusWorker) Work(ctx context.Context, job *river.Job[AttemptStatusArgs]) error {
	return snoozeOrDone(w.Flow.checkAttempt(ctx, job.Args.AttemptID, snoozes(job.Metadata)))
}

// AttemptFollowArgs was the River periodic job that ran FollowPending. The
// sweep is RunFollower now, on every instance, without River's leader; the
// kind stays registered so that such a job left in the queue by an earlier
// version still runs (harmlessly: it is one more sweep).
type AttemptFollowArgs struct{}

// Kind names the job in River.
func (AttemptFollowArgs) Kind() string { return "payments.attempt_follow" }

// InsertOpts keep one sweep waiting at a time on the payments queue.
func (AttemptFollowArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// AttemptFollowWorker runs the sweep. Running it twice, or on two instances at
// once, gives no attempt two status jobs.
type AttemptFollowWorker struct {
	river.WorkerDefaults[AttemptFollowArgs]
	Flow *Paying
}

// Work follows what is due.
func (w *AttemptFollowWorker) Work(ctx context.Context, _ *river.Job[AttemptFollowArgs]) error {
	_, err := w.Flow.followOnce(ctx)
	return err
}

// RunFollower runs FollowPending at once and then every FollowInterval until
// ctx ends. Every instance runs it (app.Run does): it does not wait for
// River's leader, as a River periodic job would — after a crash of the
// leader, River elects another only once the dead one's lease has expired
// (some 15-20 s), and attempts made just before the crash would have waited
// that long for their status job. Sweeps on several instances at once are
// safe: FollowPending claims attempts with FOR UPDATE SKIP LOCKED and marks
// them followed in the transaction that inserts their job.
func (f *Paying) RunFollower(ctx context.Context) {
	tick := time.NewTicker(f.FollowInterval())
	defer tick.Stop()
	for {
		if _, err := f.followOnce(ctx); err != nil && ctx.Err() == nil {
			f.log.WarnContext(ctx, "attempt follow sweep failed; next one in the interval", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// followOnce is one sweep, logged when it followed anything.
func (f *Paying) followOnce(ctx context.Context) (int, error) {
	n, err := f.FollowPending(ctx, 500)
	if n > 0 {
		f.log.InfoContext(ctx, "pending attempts given a status job", "count", n)
	}
	return n, err
}

// FollowInterval is how often FollowPending runs: a quarter of the first poll
// delay, between 100ms and 15s, so a status query is at most that late.
func (f *Paying) FollowInterval() time.Duration {
	return min(max(f.cfg.StatusPollDelay/4, 100*time.Millisecond), 15*time.Second)
}

// FollowPending gives every attempt still pending StatusPollDelay after it was
// made (or at its expiry, if that comes first) its status job, in batches: the
// job is inserted in the transaction that marks the attempt followed, and rows
// are claimed with FOR UPDATE SKIP LOCKED, so two sweeps at once never follow
// one attempt twice, and a crash before the commit leaves the attempt to the
// next sweep. Attempts settled by their callback before then never get a job.
// It returns how many attempts it followed.
//
// The sweep locks attempts without their order, against paying's lock order
// (order, then attempts); it never waits for a lock (SKIP LOCKED) and takes no
// other, so it cannot be part of a deadlock: a callback at most waits for its
// commit.
func (f *Paying) FollowPending(ctx context.Context, batch int) (int, error) {
	total := 0
	for {
		now := f.now()
		n := 0
		err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `UPDATE payment_attempts SET followed_at = $1
				WHERE (id, created_at) IN (SELECT id, created_at FROM payment_attempts
					WHERE status = 'pending' AND followed_at IS NULL AND (created_at <= $2 OR expires_at <= $1)
					ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
				RETURNING id`, now, now.Add(-f.cfg.StatusPollDelay), batch)
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
			if err != nil || len(ids) == 0 {
				return err
			}
			params := make([]river.InsertManyParams, len(ids))
			for i, id := range ids {
				params[i] = river.InsertManyParams{Args: AttemptStatusArgs{AttemptID: id}}
			}
			if _, err := f.jobs.InsertManyTx(ctx, tx, params); err != nil {
				return fmt.Errorf("insert status jobs: %w", err)
			}
			n = len(ids)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("follow pending attempts: %w", err)
		}
		total += n
		if n < batch {
			return total, nil
		}
	}
}

// RefundWorker runs RefundArgs, waiting between tries by snoozing.
type RefundWorker struct {
	river.WorkerDefaults[RefundArgs]
	Flow *Paying
}

// Work makes one step of the refund.
func (w *RefundWorker) Work(ctx context.Context, job *river.Job[RefundArgs]) error {
	return snoozeOrDone(w.Flow.advanceRefund(ctx, job.Args.RefundID, snoozes(job.Metadata)))
}

func snoozeOrDone(wait time.Duration, err error) error {
	if err != nil {
		return err
	}
	if wait > 0 {
		return river.JobSnooze(wait)
	}
	return nil
}

// checkAttempt asks the gateway about a pending attempt and records a final
// answer through RecordResult. It returns how long to wait before asking
// again, or 0 when the attempt needs no more checks: it is final, or it
// expired (a last check at its expiry found it still pending; a later
// success, by callback or reconciliation, is still recorded). An open
// breaker or a failing gateway only delays the next check.
func (f *Paying) checkAttempt(ctx context.Context, id uuid.UUID, waits int) (time.Duration, error) {
	a, err := getAttempt(ctx, f.pool, id, false)
	if err != nil {
		return 0, err
	}
	if a.Status != AttemptPending {
		return 0, nil
	}
	res, err := f.query(ctx, a)
	switch {
	case errors.Is(err, gateways.ErrBadSignature):
		// Not the gateway's word (a tampered answer, or keys out of step):
		// no result, asked again later like any failed query.
		f.log.ErrorContext(ctx, "attempt status answer with a bad signature refused", "attempt", a.ID, "gateway", a.Gateway, "err", err)
	case err != nil:
		if !gateways.IsUnavailable(err) {
			f.log.WarnContext(ctx, "attempt status query failed", "attempt", a.ID, "gateway", a.Gateway, "err", err)
		}
	case res.Status == gateways.StatusSucceeded || res.Status == gateways.StatusFailed:
		ack, err := f.RecordResult(ctx, a.Gateway, res, "system:status")
		if err != nil {
			return 0, err
		}
		if ack != gateways.AckAmountMismatch {
			return 0, nil
		}
		f.log.ErrorContext(ctx, "status query reports another amount; the attempt stays pending",
			"attempt", a.ID, "gateway", a.Gateway, "reported", res.Amount, "expected", a.Amount)
	}
	now := f.now()
	if !now.Before(a.ExpiresAt) {
		return 0, f.expire(ctx, a)
	}
	return min(backoff(f.cfg.StatusPollDelay, f.cfg.StatusPollMax, waits), a.ExpiresAt.Sub(now)), nil
}

func (f *Paying) query(ctx context.Context, a Attempt) (gateways.Result, error) {
	gw, err := f.router.Get(a.Gateway)
	if err != nil {
		return gateways.Result{}, err
	}
	callCtx, cancel := context.WithTimeout(ctx, f.cfg.CallTimeout)
	defer cancel()
	res, err := gw.Query(callCtx, gateways.QueryRequest{GatewayRef: a.GatewayRef, CreatedAt: a.CreatedAt})
	if err == nil && res.GatewayRef == "" {
		res.GatewayRef = a.GatewayRef
	}
	return res, err
}

// expire gives up on a still pending attempt, with the order locked first as
// everywhere else.
func (f *Paying) expire(ctx context.Context, a Attempt) error {
	err := db.IdempotentTx(ctx, f.pool, "payments.expire_attempt", func(tx pgx.Tx) error {
		if err := lockOrder(ctx, tx, a.OrderID); err != nil {
			return err
		}
		ok, err := expireAttempt(ctx, tx, a, f.now())
		if err != nil || !ok {
			return err
		}
		return InsertEvent(ctx, tx, a.OrderID, "attempt.expired", "system:status",
			map[string]any{"attempt_id": a.ID, "gateway": a.Gateway})
	})
	if err != nil {
		return fmt.Errorf("expire attempt %s: %w", a.ID, err)
	}
	return nil
}

// backoff is initial doubled n times, at most max.
func backoff(initial, max time.Duration, n int) time.Duration {
	d := initial
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// snoozes is how many times River has snoozed the job (its metadata's count).
func snoozes(metadata []byte) int {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(metadata, &m) // absent or unreadable: none yet
	return m.Snoozes
}
