package webhooks

import (
	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/internal/domain/auth"
)

// Who receives what. One rule, used for the endpoints an event fans out to and
// for what a caller may read in GET /v1/events:
//
//	admin, treasury  every event but agency-only ones
//	agency           events whose agency is the key's agency
//	portal           events whose owner is the key (the orders it created)
//
// An order whose lines belong to several agencies is published once with its
// full view, with no agency (treasury, admin, its portal), and once per
// agency on its lines, agency-only, with that agency's view (payments.
// NewAgencyView): so every agency on the order receives its events, and none
// receives another agency's line detail.
//
// Endpoints are entitled through the key that owns them (k is its row of
// auth_key_roles, the view of api_keys the auth schema publishes, LEFT JOINed
// on e.owner_key_id; @ev_agency, @ev_owner and @ev_agency_only are the
// event's), and a revoked key's endpoints get nothing. An endpoint of an
// agency (no owner key: its staff made it in the console) is entitled as an
// agency key of its agency.
var fanOutRule = fanOut("@ev_agency", "@ev_owner", "@ev_agency_only")

// fanOut is the rule for an event whose agency, owner and agency-only flag
// are the SQL expressions agency, owner and agencyOnly.
func fanOut(agency, owner, agencyOnly string) string {
	return `CASE WHEN e.owner_key_id IS NULL THEN e.agency_code = ` + agency + `
	ELSE k.revoked_at IS NULL AND (
	(k.role IN ('admin', 'treasury') AND NOT ` + agencyOnly + `)
	OR (k.role = 'agency' AND k.agency_code = ` + agency + `)
	OR (k.role = 'portal' AND k.id = ` + owner + `)) END`
}

// readScope is the same rule seen from a reader: a condition on webhook_events
// (alias ev) and its arguments.
func readScope(p auth.Principal) (string, pgx.NamedArgs) {
	switch p.Role {
	case auth.RoleAdmin, auth.RoleTreasury:
		return "NOT ev.agency_only", pgx.NamedArgs{}
	case auth.RoleAgency:
		return "ev.agency_code = @scope_agency", pgx.NamedArgs{"scope_agency": p.AgencyCode}
	case auth.RolePortal:
		return "ev.owner_key_id = @scope_key", pgx.NamedArgs{"scope_key": p.KeyID}
	}
	return "false", pgx.NamedArgs{}
}

// ownerScope restricts webhook_endpoints (alias e) to those the caller
// manages: an admin (key or staff), all of them; an API key, its own; an
// agency's staff, every endpoint of their agency (its own and its keys').
func ownerScope(p auth.Principal) (string, pgx.NamedArgs) {
	switch {
	case p.Role == auth.RoleAdmin:
		return "true", pgx.NamedArgs{}
	case p.Staff && p.Role == auth.RoleAgency && p.AgencyCode != "":
		return "e.agency_code = @scope_agency", pgx.NamedArgs{"scope_agency": p.AgencyCode}
	case p.Staff:
		return "false", pgx.NamedArgs{}
	}
	return "e.owner_key_id = @scope_owner", pgx.NamedArgs{"scope_owner": p.KeyID}
}

// eventArgs are the parameters of fanOutRule for one event.
func eventArgs(agencyCode string, owner any, agencyOnly bool) pgx.NamedArgs {
	return pgx.NamedArgs{"ev_agency": nullIfEmpty(agencyCode), "ev_owner": owner, "ev_agency_only": agencyOnly}
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// merge returns one argument set with all of them (later ones win).
func merge(sets ...pgx.NamedArgs) pgx.NamedArgs {
	out := pgx.NamedArgs{}
	for _, s := range sets {
		for k, v := range s {
			out[k] = v
		}
	}
	return out
}
