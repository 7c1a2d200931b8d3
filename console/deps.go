package console

import (
	"context"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/catalogue"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/webhooks"
)

// Deps are the domains the console's pages act through. A change a staff
// user makes in a page goes through the same domain function the API calls,
// with the same rules and the same audit row, never through SQL of the
// console's own. A nil field leaves the pages that need it answering 503
// (tests build the console on the parts they exercise).
type Deps struct {
	Orders   *payments.Orders
	Paying   *payments.Paying
	Webhooks *webhooks.Service
	Keys     *auth.Store
	Catalog  *catalogue.Store
	Gateways *gateways.Router
	// Reads sends the pages' reports (lists, exports, dashboard, revenue,
	// audit log) to a replica within its staleness bound (nil: the primary).
	// An order's own page reads the primary: it follows the forms that change it.
	Reads *db.Reads
	// Receipts draws a paid order's PDF receipt, the citizen's document
	// (the app gives the citizen pages' handler: order.go).
	Receipts Receipts
	Recon    *reconciliation.Service
}

// reports is the pool a report reads from now.
func (h *Handler) reports() *pgxpool.Pool {
	if h.deps.Reads == nil {
		return h.pool
	}
	return h.deps.Reads.ForReports()
}

// SetDeps gives the console the domains it acts through (before it serves).
func (h *Handler) SetDeps(d Deps) { h.deps = d }

// principal is the staff user as the domains see a caller: the API role of
// the same name, its agency, and an actor naming the person. The console
// has no role the API lacks, so separation of duties is the API's: an admin
// user moves no money (the API's admin key without treasury). Staff marks
// it as a person's, not a key's: what the person creates belongs to the
// agency (a webhook endpoint), not to a key.
func principal(u User) auth.Principal {
	p := auth.Principal{KeyID: u.ID, Prefix: "staff:" + u.Email, Role: auth.Role(u.Role), Name: u.Email, Staff: true}
	if u.Role == RoleAgency {
		p.AgencyCode = u.AgencyCode
	}
	return p
}

// acting is the request's context for a domain call on behalf of the
// signed-in user: the audit actor is the person (with IP, request id and
// route), and the principal carries the user's role and agency.
func (h *Handler) acting(c *fiber.Ctx) (context.Context, auth.Principal) {
	u := cur(c).user
	return audit.WithActor(c.UserContext(), actorFor(u, h.client(c))), principal(u)
}
