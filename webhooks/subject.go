package webhooks

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/internal/domain/auth"
)

// SubjectDelivery is one delivery of an event about a subject (an order's
// events have the order's id as subject) to one endpoint, with its last
// attempt.
type SubjectDelivery struct {
	ID            uuid.UUID  `json:"id"`
	EventID       string     `json:"event_id"`
	EventType     string     `json:"event_type"`
	EventAt       time.Time  `json:"event_at"`
	EndpointID    uuid.UUID  `json:"endpoint_id"`
	URL           string     `json:"url"`
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	LastAttemptAt *time.Time `json:"last_attempt_at,omitempty"`
	LastStatus    *int       `json:"last_status_code,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
}

// MaxSubjectDeliveries bounds what SubjectDeliveries returns.
const MaxSubjectDeliveries = 500

// subjectScope is who sees which deliveries of a subject's events: a
// condition on webhook_events (ev) and webhook_endpoints (e).
//
//	admin, treasury  every delivery (they read the whole order)
//	agency           its agency's events, to its agency's endpoints (the
//	                 agency's own and its keys': e.agency_code)
//	portal           the events it owns, to its own endpoints
func subjectScope(p auth.Principal) (string, pgx.NamedArgs) {
	switch p.Role {
	case auth.RoleAdmin, auth.RoleTreasury:
		return "true", pgx.NamedArgs{}
	case auth.RoleAgency:
		return "ev.agency_code = @scope_agency AND e.agency_code = @scope_agency",
			pgx.NamedArgs{"scope_agency": p.AgencyCode}
	case auth.RolePortal:
		return "ev.owner_key_id = @scope_key AND e.owner_key_id = @scope_key", pgx.NamedArgs{"scope_key": p.KeyID}
	}
	return "false", pgx.NamedArgs{}
}

// SubjectDeliveries lists the deliveries of the events about subject that p
// may see (subjectScope), in the events' order, at most limit (up to
// MaxSubjectDeliveries). It reads by the events' subject index.
func (s *Service) SubjectDeliveries(ctx context.Context, p auth.Principal, subject string, limit int) ([]SubjectDelivery, error) {
	if subject == "" {
		return nil, nil
	}
	if limit <= 0 || limit > MaxSubjectDeliveries {
		limit = MaxSubjectDeliveries
	}
	scope, args := subjectScope(p)
	return collect(ctx, s.pool, "list deliveries of "+subject, pgx.RowToStructByPos[SubjectDelivery], `
		SELECT d.id, ev.id, ev.type, ev.created_at, e.id, e.url, d.state, d.attempts, d.last_attempt_at,
			last.status_code, coalesce(last.error, '')
		FROM webhook_events ev
		JOIN webhook_deliveries d ON d.event_id = ev.id
		JOIN webhook_endpoints e ON e.id = d.endpoint_id
		LEFT JOIN LATERAL (SELECT a.status_code, a.error FROM webhook_attempts a
			WHERE a.delivery_id = d.id ORDER BY a.id DESC LIMIT 1) last ON true
		WHERE ev.subject = @subject AND ev.subject <> '' AND `+scope+`
		ORDER BY ev.seq, e.id LIMIT @limit`, merge(args, pgx.NamedArgs{"subject": subject, "limit": limit}))
}
