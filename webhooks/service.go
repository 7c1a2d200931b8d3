package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
)

// Service manages endpoints, deliveries and events on behalf of an API key:
// a key sees and changes only its own endpoints (an admin, all of them) and
// reads only the events it is entitled to.
type Service struct {
	pool   *pgxpool.Pool
	pub    *Publisher
	cfg    Config
	policy urlPolicy
}

// NewService returns the service; client inserts retry and resend jobs.
func NewService(pool *pgxpool.Pool, client *river.Client[pgx.Tx], cfg Config) *Service {
	cfg = cfg.ready()
	return &Service{pool: pool, pub: NewPublisher(client, cfg), cfg: cfg, policy: newURLPolicy(cfg)}
}

func (s *Service) checkURL(ctx context.Context, raw string) error {
	if err := s.policy.checkURL(ctx, raw); err != nil {
		return invalid("url", "%v", err)
	}
	return nil
}

// CreateEndpoint subscribes a URL for the caller and returns it with its
// secret. An API key's endpoint is the key's; a staff user's belongs to an
// agency: an agency user's own, the one an admin names in in.AgencyCode.
func (s *Service) CreateEndpoint(ctx context.Context, p auth.Principal, in EndpointInput) (EndpointWithSecret, error) {
	e := Endpoint{ID: uuid.Must(uuid.NewV7()), URL: in.URL, Events: in.Events,
		Description: in.Description, Enabled: in.Enabled == nil || *in.Enabled}
	switch {
	case !p.Staff:
		e.OwnerKeyID = p.KeyID
		if p.Role == auth.RoleAgency {
			e.AgencyCode = p.AgencyCode
		}
	case p.Role == auth.RoleAgency && p.AgencyCode != "":
		e.AgencyCode = p.AgencyCode
	case p.Role == auth.RoleAdmin && in.AgencyCode != "":
		e.AgencyCode = in.AgencyCode
	case p.Role == auth.RoleAdmin:
		return EndpointWithSecret{}, invalid("agency_code", "choose the agency the endpoint is for")
	default:
		return EndpointWithSecret{}, invalid("agency_code", "only an agency's staff and admins manage an agency's endpoints")
	}
	if err := validateFields(&e); err != nil {
		return EndpointWithSecret{}, err
	}
	if err := s.checkURL(ctx, e.URL); err != nil {
		return EndpointWithSecret{}, err
	}
	secret, err := NewSecret()
	if err != nil {
		return EndpointWithSecret{}, err
	}
	sealed, err := SealSecret(s.cfg.Keys, e.ID, secret)
	if err != nil {
		return EndpointWithSecret{}, err
	}
	ctx = auth.ActorContext(ctx, p)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if e, err = insertEndpoint(ctx, tx, e, sealed, s.cfg.MaxEndpointsPerKey); err != nil {
			return err
		}
		return recordEndpoint(ctx, tx, "webhook_endpoint.create", nil, &e)
	})
	if err != nil {
		return EndpointWithSecret{}, err
	}
	return EndpointWithSecret{Endpoint: e, Secret: secret}, nil
}

// Endpoint returns one of the caller's endpoints.
func (s *Service) Endpoint(ctx context.Context, p auth.Principal, id uuid.UUID) (Endpoint, error) {
	scope, args := ownerScope(p)
	return getEndpoint(ctx, s.pool, scope, args, id, false)
}

// Endpoints lists the caller's endpoints (an admin's: all) by id after after.
func (s *Service) Endpoints(ctx context.Context, p auth.Principal, after uuid.UUID, limit int) ([]Endpoint, error) {
	scope, args := ownerScope(p)
	return listEndpoints(ctx, s.pool, scope, args, after, clampLimit(limit))
}

// AgencyEndpoints lists, of the endpoints the caller manages, those of
// agency (its own and its keys'), by id after after.
func (s *Service) AgencyEndpoints(ctx context.Context, p auth.Principal, agency string, after uuid.UUID, limit int) ([]Endpoint, error) {
	scope, args := ownerScope(p)
	return listEndpoints(ctx, s.pool, scope+" AND e.agency_code = @agency", merge(args, pgx.NamedArgs{"agency": agency}),
		after, clampLimit(limit))
}

// clampLimit bounds a page size (0 or less: the default).
func clampLimit(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return min(n, maxLimit)
}

// UpdateEndpoint applies patch to one of the caller's endpoints.
func (s *Service) UpdateEndpoint(ctx context.Context, p auth.Principal, id uuid.UUID, patch EndpointPatch) (Endpoint, error) {
	if patch.URL != nil {
		// Resolve before taking the row lock.
		if err := s.checkURL(ctx, *patch.URL); err != nil {
			return Endpoint{}, err
		}
	}
	scope, args := ownerScope(p)
	ctx = auth.ActorContext(ctx, p)
	var out Endpoint
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		e, err := getEndpoint(ctx, tx, scope, args, id, true)
		if err != nil {
			return err
		}
		before := e
		if patch.URL != nil {
			e.URL = *patch.URL
		}
		if patch.Events != nil {
			e.Events = patch.Events
		}
		if patch.Description != nil {
			e.Description = *patch.Description
		}
		if patch.Enabled != nil {
			e.Enabled = *patch.Enabled
		}
		if err := validateFields(&e); err != nil {
			return err
		}
		if out, err = saveEndpoint(ctx, tx, e); err != nil {
			return err
		}
		return recordEndpoint(ctx, tx, "webhook_endpoint.update", &before, &out)
	})
	return out, err
}

// DeleteEndpoint removes one of the caller's endpoints with its delivery log;
// its queued deliveries are cancelled when they come up.
func (s *Service) DeleteEndpoint(ctx context.Context, p auth.Principal, id uuid.UUID) error {
	scope, args := ownerScope(p)
	ctx = auth.ActorContext(ctx, p)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := getEndpoint(ctx, tx, scope, args, id, true)
		if err != nil {
			return err
		}
		if err := deleteEndpoint(ctx, tx, id); err != nil {
			return err
		}
		return recordEndpoint(ctx, tx, "webhook_endpoint.delete", &before, nil)
	})
}

// RotateSecret gives an endpoint a new secret. For Config.SecretGrace messages
// carry signatures by both, so the receiver can switch at its own pace.
func (s *Service) RotateSecret(ctx context.Context, p auth.Principal, id uuid.UUID) (EndpointWithSecret, error) {
	secret, err := NewSecret()
	if err != nil {
		return EndpointWithSecret{}, err
	}
	sealed, err := SealSecret(s.cfg.Keys, id, secret)
	if err != nil {
		return EndpointWithSecret{}, err
	}
	scope, args := ownerScope(p)
	ctx = auth.ActorContext(ctx, p)
	var out EndpointWithSecret
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := getEndpoint(ctx, tx, scope, args, id, true)
		if err != nil {
			return err
		}
		e, err := rotateSecret(ctx, tx, id, sealed, s.cfg.Clock.Now().Add(s.cfg.SecretGrace))
		if err != nil {
			return err
		}
		out = EndpointWithSecret{Endpoint: e, Secret: secret}
		return recordEndpoint(ctx, tx, "webhook_endpoint.rotate_secret", &before, &e)
	})
	return out, err
}

// recordEndpoint writes an endpoint's change to the audit log in tx. An
// Endpoint carries no secret, so none can reach the log.
func recordEndpoint(ctx context.Context, tx pgx.Tx, action string, before, after *Endpoint) error {
	ev := audit.Event{Action: action, ResourceType: "webhook_endpoint"}
	if before != nil {
		ev.Before, ev.ResourceID = before, before.ID.String()
	}
	if after != nil {
		ev.After, ev.ResourceID = after, after.ID.String()
	}
	return audit.Record(ctx, tx, ev)
}

// Attempts lists an endpoint's delivery log, newest first, before attempt id
// before (0: from the newest).
func (s *Service) Attempts(ctx context.Context, p auth.Principal, endpointID uuid.UUID, before int64, limit int) ([]Attempt, error) {
	if _, err := s.Endpoint(ctx, p, endpointID); err != nil {
		return nil, err
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	return listAttempts(ctx, s.pool, endpointID, before, clampLimit(limit))
}

// RetryDelivery delivers one delivery of the caller's endpoints again, now and
// with a full retry schedule, whatever its state. A job still waiting for the
// previous generation's next retry will send nothing. The retry is audited.
func (s *Service) RetryDelivery(ctx context.Context, p auth.Principal, id uuid.UUID) error {
	scope, args := ownerScope(p)
	ctx = auth.ActorContext(ctx, p)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		d, err := reopenDelivery(ctx, tx, scope, args, id)
		if err != nil {
			return err
		}
		if err := s.pub.enqueue(ctx, tx, []delivery{d}); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: "webhook_delivery.retry", ResourceType: "webhook_delivery",
			ResourceID: d.ID.String(), After: map[string]any{"endpoint_id": d.EndpointID, "event_id": d.EventID, "generation": d.Generation}})
	})
}

// EventQuery filters GET /v1/events. After is a cursor from an earlier page.
type EventQuery struct {
	Type    string
	Subject string
	Since   time.Time
	After   string
	Limit   int
}

// EventPage is a page of events, each exactly as webhooks deliver it. Keep
// NextCursor and pass it as After to continue, now or later.
type EventPage struct {
	Data       []json.RawMessage `json:"data"`
	NextCursor string            `json:"next_cursor"`
	HasMore    bool              `json:"has_more"`
}

// Events lists the events the caller is entitled to, oldest first, from a
// cursor: a receiver that was down catches up by walking it.
func (s *Service) Events(ctx context.Context, p auth.Principal, q EventQuery) (EventPage, error) {
	after, err := parseCursor(q.After)
	if err != nil {
		return EventPage{}, malformed("query.after", "%v", err)
	}
	if q.Type != "" && !IsEventType(q.Type) {
		return EventPage{}, invalid("type", "unknown event type %q", q.Type)
	}
	q.Limit = clampLimit(q.Limit)
	scope, args := readScope(p)
	rows, next, err := listEvents(ctx, s.pool, scope, args,
		eventFilter{Type: q.Type, Subject: q.Subject, Since: q.Since, After: after, Limit: q.Limit})
	if err != nil {
		return EventPage{}, err
	}
	page := EventPage{Data: make([]json.RawMessage, len(rows)), NextCursor: next.String(), HasMore: len(rows) == q.Limit}
	for i, r := range rows {
		page.Data[i] = r.Payload
	}
	return page, nil
}

// Event returns one event the caller is entitled to, as delivered.
func (s *Service) Event(ctx context.Context, p auth.Principal, id string) (json.RawMessage, error) {
	if !eventIDPattern.MatchString(id) {
		return nil, fmt.Errorf("%w: %q", ErrEventNotFound, id)
	}
	scope, args := readScope(p)
	ev, err := getEvent(ctx, s.pool, scope, args, id)
	return ev.Payload, err
}

// ResendEvent delivers an event again to the caller's enabled endpoints that
// subscribe to it and are entitled to it (an admin's: all such endpoints), or
// only to endpoint if given. Endpoints created since the event get it too. It
// returns the deliveries queued.
func (s *Service) ResendEvent(ctx context.Context, p auth.Principal, id string, endpoint *uuid.UUID) ([]uuid.UUID, error) {
	if !eventIDPattern.MatchString(id) {
		return nil, fmt.Errorf("%w: %q", ErrEventNotFound, id)
	}
	readCond, readArgs := readScope(p)
	ownCond, ownArgs := ownerScope(p)
	ctx = auth.ActorContext(ctx, p)
	var ids []uuid.UUID
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ev, err := getEvent(ctx, tx, readCond, readArgs, id)
		if err != nil {
			return err
		}
		if endpoint != nil {
			if _, err := getEndpoint(ctx, tx, ownCond, ownArgs, *endpoint, false); err != nil {
				return err
			}
		}
		ds, err := redeliveries(ctx, tx, ownCond, ownArgs, ev, endpoint)
		if err != nil {
			return err
		}
		for _, d := range ds {
			ids = append(ids, d.ID)
		}
		if err := s.pub.enqueue(ctx, tx, ds); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: "webhook_event.resend", ResourceType: "webhook_event",
			ResourceID: ev.ID, After: map[string]any{"endpoint_id": endpoint, "deliveries": ids}})
	})
	return ids, err
}
