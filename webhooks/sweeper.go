package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
)

// SweepArgs is the periodic job that disables endpoints which have failed
// every attempt for Config.DisableAfter.
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "webhooks.sweep" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (SweepArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }

// PeriodicJob schedules the sweeper every Config.SweepInterval, also when a new
// leader starts (periodic jobs live in the leader's memory); unique per period
// so a change of leader does not run it twice, and idempotent if it does.
func PeriodicJob(cfg Config) *river.PeriodicJob {
	cfg = cfg.ready()
	return river.NewPeriodicJob(river.PeriodicInterval(cfg.SweepInterval),
		func() (river.JobArgs, *river.InsertOpts) {
			return SweepArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: max(cfg.SweepInterval, time.Second)}}
		},
		&river.PeriodicJobOpts{ID: "webhooks.sweep", RunOnStart: true})
}

// SweepWorker runs SweepArgs.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	pool *pgxpool.Pool
	cfg  Config
}

// NewSweepWorker returns the sweeper; register it with river.AddWorker.
func NewSweepWorker(pool *pgxpool.Pool, cfg Config) *SweepWorker {
	return &SweepWorker{pool: pool, cfg: cfg.ready()}
}

// Work sweeps, publishing through the client running the job.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("webhooks: sweep: %w", err)
	}
	_, err = w.Sweep(ctx, NewPublisher(client, w.cfg))
	return err
}

// Sweep disables every enabled endpoint whose attempts have all failed for
// DisableAfter, announcing each (endpoint.disabled event and a warning), and
// returns them. Running it twice disables nothing more.
func (w *SweepWorker) Sweep(ctx context.Context, pub *Publisher) ([]Endpoint, error) {
	reason := fmt.Sprintf("every delivery attempt failed for %s", w.cfg.DisableAfter)
	var disabled []Endpoint
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		ids, err := failingEndpoints(ctx, tx, w.cfg.Clock.Now().Add(-w.cfg.DisableAfter))
		if err != nil {
			return err
		}
		for _, id := range ids {
			e, err := disableAndAnnounce(ctx, tx, pub, id, reason)
			if err != nil {
				return err
			}
			if e != nil {
				disabled = append(disabled, *e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks: sweep: %w", err)
	}
	for i := range disabled {
		logDisabled(ctx, w.cfg.Logger, &disabled[i], reason)
	}
	return disabled, nil
}

// disableAndAnnounce switches an endpoint off and publishes endpoint.disabled
// in tx: treasury and admin endpoints hear of it, and so does its owner
// (through its other endpoints and GET /v1/events). It returns nil if the
// endpoint was already off.
func disableAndAnnounce(ctx context.Context, tx pgx.Tx, pub *Publisher, id uuid.UUID, reason string) (*Endpoint, error) {
	e, ok, err := disableEndpoint(ctx, tx, id, reason)
	if err != nil || !ok {
		return nil, err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("webhooks: encode endpoint %s: %w", id, err)
	}
	if _, err := pub.Publish(ctx, tx, Event{Type: EventEndpointDisabled, AgencyCode: e.AgencyCode, OwnerKeyID: e.ownerKey(),
		Subject: e.ID.String(), Data: data}); err != nil {
		return nil, err
	}
	return &e, nil
}

func logDisabled(ctx context.Context, log *slog.Logger, e *Endpoint, reason string) {
	if e == nil {
		return
	}
	log.WarnContext(ctx, "webhook endpoint disabled", "endpoint_id", e.ID, "owner_key_id", e.OwnerKeyID, "agency", e.AgencyCode,
		"reason", reason)
}
