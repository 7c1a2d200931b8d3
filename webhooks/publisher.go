package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/civicpay/civicpay/internal/foundation/clock"
)

// Queue is the River queue deliveries run on. Give it its own QueueConfig so a
// burst of webhooks cannot starve payment jobs.
const Queue = "webhooks"

// DeliverArgs is the River job that delivers one event to one endpoint. A
// retry or resend starts a new generation of the delivery with a new job; a
// job of an older generation sends nothing.
type DeliverArgs struct {
	DeliveryID uuid.UUID `json:"delivery_id"`
	Generation int       `json:"generation"`
	EndpointID uuid.UUID `json:"endpoint_id"`
	EventID    string    `json:"event_id"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "webhooks.deliver" }

// InsertOpts puts deliveries on their own queue.
func (DeliverArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }

// Publisher records events and queues their deliveries in the caller's transaction.
type Publisher struct {
	river       *river.Client[pgx.Tx]
	maxAttempts int
	clock       clock.Clock
}

// NewPublisher returns a publisher inserting jobs through client (an
// insert-only client is enough). cfg must be the one the DeliveryWorker gets:
// its retry schedule sets each job's MaxAttempts.
func NewPublisher(client *river.Client[pgx.Tx], cfg Config) *Publisher {
	cfg = cfg.ready()
	return &Publisher{river: client, maxAttempts: cfg.maxAttempts(), clock: cfg.Clock}
}

// Publish writes the event and one delivery job per matching enabled endpoint
// in tx, and returns the event id (the webhook-id receivers see). If it fails,
// roll tx back: nothing of the change it describes may commit without it.
func (p *Publisher) Publish(ctx context.Context, tx pgx.Tx, e Event) (string, error) {
	ids, err := p.PublishMany(ctx, tx, []Event{e})
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// PublishMany is Publish for several events, in the order given (the order
// receivers and GET /v1/events see them in): one statement writes them all
// with their deliveries, one more queues the delivery jobs.
func (p *Publisher) PublishMany(ctx context.Context, tx pgx.Tx, es []Event) ([]string, error) {
	rows := make([]eventRow, len(es))
	ids := make([]string, len(es))
	// Microseconds: what timestamptz keeps, so the stored time equals the body's.
	now := p.clock.Now().UTC().Truncate(time.Microsecond)
	for i, e := range es {
		if err := e.validate(); err != nil {
			return nil, err
		}
		id, err := newEventID()
		if err != nil {
			return nil, err
		}
		env := Envelope{ID: id, Type: e.Type, Timestamp: now, Data: e.Data}
		payload, err := json.Marshal(env)
		if err != nil {
			return nil, fmt.Errorf("webhooks: encode %s event: %w", e.Type, err)
		}
		rows[i] = eventRow{Envelope: env, AgencyCode: e.AgencyCode, AgencyOnly: e.AgencyOnly, OwnerKeyID: e.OwnerKeyID,
			Subject: e.Subject, Payload: payload}
		ids[i] = id
	}
	ds, err := insertEvents(ctx, tx, rows)
	if err != nil {
		return nil, err
	}
	if err := p.enqueue(ctx, tx, ds); err != nil {
		return nil, err
	}
	return ids, nil
}

// enqueue inserts a job for the current generation of each delivery.
func (p *Publisher) enqueue(ctx context.Context, tx pgx.Tx, ds []delivery) error {
	if len(ds) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(ds))
	for i, d := range ds {
		params[i] = river.InsertManyParams{
			Args:       DeliverArgs{DeliveryID: d.ID, Generation: d.Generation, EndpointID: d.EndpointID, EventID: d.EventID},
			InsertOpts: &river.InsertOpts{MaxAttempts: p.maxAttempts},
		}
	}
	if _, err := p.river.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("webhooks: enqueue deliveries: %w", err)
	}
	return nil
}
