package console

import (
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/gateways"
)

// The gateways' page: each gateway's breakers as GET /v1/gateways reports
// them (gateways.Router.Stats), read-only. The create breaker decides
// whether the gateway is offered for new payments; the query breaker guards
// status queries and refunds. Counts are the breaker's current window.

// breakerRow is one breaker of a gateway as the page shows it.
type breakerRow struct {
	State, StateKey                                    string
	Requests, Successes, Failures, Excluded, InARowBad uint32
}

type gatewayRow struct {
	Name, Methods string
	Create, Query breakerRow
}

func breakerRowOf(v *view, c gateways.BreakerCounts) breakerRow {
	key := strings.ReplaceAll(c.State, "-", "")
	return breakerRow{State: v.T("admin.gw." + key), StateKey: key, Requests: c.Requests, Successes: c.TotalSuccesses,
		Failures: c.TotalFailures, Excluded: c.TotalExclusions, InARowBad: c.ConsecutiveFailures}
}

func (h *Handler) adminGateways(c *fiber.Ctx) error {
	if h.deps.Gateways == nil {
		return h.unavailable(c)
	}
	v := h.adminView(c, "admin.gw.title")
	var rows []gatewayRow
	for _, s := range h.deps.Gateways.Stats() {
		methods := make([]string, 0, len(s.Methods))
		for _, m := range s.Methods {
			methods = append(methods, string(m))
		}
		rows = append(rows, gatewayRow{Name: s.Name, Methods: strings.Join(methods, ", "),
			Create: breakerRowOf(v, gateways.BreakerCounts{State: s.State, Requests: s.Requests, TotalSuccesses: s.TotalSuccesses,
				TotalFailures: s.TotalFailures, TotalExclusions: s.TotalExclusions, ConsecutiveSuccesses: s.ConsecutiveSuccesses,
				ConsecutiveFailures: s.ConsecutiveFailures}),
			Query: breakerRowOf(v, s.Query)})
	}
	v.Data = rows
	return h.render(c, http.StatusOK, "admin_gateways", v)
}
