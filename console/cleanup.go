package console

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/civicpay/civicpay/internal/foundation/db"
)

// CleanupInterval is how often the app deletes the console's dead rows.
const CleanupInterval = time.Hour

// cleanupBatch is how many rows one transaction of the clean-up deletes.
const cleanupBatch = 1000

// Swept is what a clean-up deleted.
type Swept struct {
	// Sessions: signed-in sessions past their idle or absolute expiry,
	// revoked ones, and the steps between password and second factor (or
	// set-password and TOTP enrolment) left unfinished past their time.
	Sessions int
	// Links: set-password links used or past their expiry.
	Links int
}

// Cleanup deletes the console's sessions and set-password links that can no
// longer be used — Resume and LinkUser already refuse every one of them, so
// deleting them changes nothing a user can see — batch rows per
// transaction. Rows another run holds are skipped (that run deletes them),
// so two runs at once, or one after the other, are harmless.
func (s *Store) Cleanup(ctx context.Context, batch int) (Swept, error) {
	if batch <= 0 {
		batch = cleanupBatch
	}
	now := s.clock.Now()
	var out Swept
	var err error
	out.Sessions, err = db.InBatches(ctx, s.pool, func(tx pgx.Tx) (int, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM staff_sessions WHERE id IN (
			SELECT id FROM staff_sessions
			WHERE revoked_at IS NOT NULL OR idle_expires_at <= $1 OR absolute_expires_at <= $1
			LIMIT $2 FOR UPDATE SKIP LOCKED)`, now, batch)
		return int(tag.RowsAffected()), err
	}, nil)
	if err != nil {
		return out, fmt.Errorf("console: clean up sessions: %w", err)
	}
	out.Links, err = db.InBatches(ctx, s.pool, func(tx pgx.Tx) (int, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM staff_password_tokens WHERE token_hash IN (
			SELECT token_hash FROM staff_password_tokens
			WHERE used_at IS NOT NULL OR expires_at <= $1
			LIMIT $2 FOR UPDATE SKIP LOCKED)`, now, batch)
		return int(tag.RowsAffected()), err
	}, nil)
	if err != nil {
		return out, fmt.Errorf("console: clean up set-password links: %w", err)
	}
	return out, nil
}

// CleanupArgs is the periodic job that runs Store.Cleanup.
type CleanupArgs struct{}

// Kind names the job in River.
func (CleanupArgs) Kind() string { return "console.cleanup" }

// InsertOpts keep one pending clean-up at a time: a new leader's RunOnStart
// and the schedule do not pile up duplicates.
func (CleanupArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// CleanupWorker runs CleanupArgs. Running it twice, or on two instances, is harmless.
type CleanupWorker struct {
	river.WorkerDefaults[CleanupArgs]
	Store *Store
	Log   *slog.Logger
}

// Work deletes what is dead.
func (w *CleanupWorker) Work(ctx context.Context, _ *river.Job[CleanupArgs]) error {
	n, err := w.Store.Cleanup(ctx, cleanupBatch)
	if (n.Sessions > 0 || n.Links > 0) && w.Log != nil {
		w.Log.InfoContext(ctx, "console: expired sessions and links deleted", "sessions", n.Sessions, "links", n.Links)
	}
	return err
}

// CleanupPeriodic schedules the clean-up every interval (and once at start).
func CleanupPeriodic(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return CleanupArgs{}, nil },
		&river.PeriodicJobOpts{ID: "console.cleanup", RunOnStart: true})
}
