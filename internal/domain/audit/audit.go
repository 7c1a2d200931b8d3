// Package audit is civicpay's audit log: an append-only record of every
// mutation a person or an API key makes through the API or the CLI.
//
// The caller of a mutation is carried in the context (WithActor, set by the
// API's authentication middleware and by each CLI command), and the store that
// makes the change calls Record with its own transaction, so the change and its
// audit row commit together or not at all. The table refuses UPDATE, DELETE and
// TRUNCATE (migration 00009), like the ledger.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// Actor is who makes a change and from where.
type Actor struct {
	// ID names the actor: "key:<prefix>", "user:<id>", "cli:<os user>".
	ID string
	// Role is the actor's role (portal, agency, treasury, admin, or "cli").
	Role string
	// IP is the client address of an API request ("" for the CLI).
	IP string
	// RequestID ties the row to the request's log line.
	RequestID string
	// Route is "METHOD /route/pattern" or the CLI command.
	Route string
}

type ctxKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// ActorFrom returns the actor in ctx and whether there is one.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(ctxKey{}).(Actor)
	return a, ok && a.ID != ""
}

// ErrNoActor is returned by Record when the context carries no actor: a
// mutation that cannot say who made it is refused rather than written
// anonymously.
var ErrNoActor = errors.New("audit: no actor in context")

// Event is one audited change.
type Event struct {
	// Action is what was done, dotted: "key.create", "catalogue.agency.update".
	Action string
	// ResourceType and ResourceID name what it was done to.
	ResourceType string
	ResourceID   string
	// Before and After are the resource as JSON-marshalable values (nil when
	// there is none: no before for a creation, no after for a deletion).
	// Secrets must never be in them.
	Before, After any
}

// Execer is a transaction (or anything that runs a statement in one).
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Record writes e, made by the actor in ctx, with tx — the transaction that
// makes the change.
func Record(ctx context.Context, tx Execer, e Event) error {
	a, ok := ActorFrom(ctx)
	if !ok {
		return fmt.Errorf("%w (%s %s)", ErrNoActor, e.Action, e.ResourceID)
	}
	before, err := marshal(e.Before)
	if err != nil {
		return fmt.Errorf("audit: %s before: %w", e.Action, err)
	}
	after, err := marshal(e.After)
	if err != nil {
		return fmt.Errorf("audit: %s after: %w", e.Action, err)
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO audit_log (actor, actor_role, action, resource_type, resource_id, source_ip, request_id, route, before, after)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		a.ID, a.Role, e.Action, e.ResourceType, e.ResourceID, a.IP, a.RequestID, a.Route, before, after)
	if err != nil {
		return fmt.Errorf("audit: record %s %s: %w", e.Action, e.ResourceID, err)
	}
	return nil
}

func marshal(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}
