// Package gateways defines what civicpay expects of a payment gateway and routes
// calls between gateways behind circuit breakers.
//
// An adapter (packages vnpay, momo, zalopay and vietqr below this one) implements
// [Gateway]: it creates a payment (a redirect URL or a QR payload), verifies and
// parses the gateway's callback, answers it in the gateway's own protocol, queries
// a payment's status and refunds. Adapters speak the published wire protocols
// (each adapter's doc names its protocol) and know nothing of the database or of HTTP servers;
// the webhooks and payments packages drive them.
//
// # Errors
//
// Adapters return a handful of sentinel errors ([ErrBadSignature], [ErrMalformed],
// [ErrUnsupported], [ErrInvalidRequest], [ErrRejected]) wrapped with context, and a
// [TechnicalError] for timeouts, connection errors and 5xx answers. Only a
// TechnicalError says the gateway is unhealthy, so it is the only error a circuit
// breaker counts ([IsTechnical]). A business outcome — a declined card, a user who
// cancelled, insufficient funds — is not an error at all: it is a [Result] whose
// Status is [StatusFailed].
//
// # Router
//
// [Router] wraps every gateway in two local gobreaker/v2 breakers and hands
// out wrapped gateways: Create runs through the gateway's create breaker;
// Query, Refund and QueryRefund through its query breaker; ParseCallback and
// Reply through neither (they make no outgoing call). There is no separate
// Do: holding a Gateway from the router is enough to be protected. Only the
// create breaker decides whether a gateway is offered: [Router.Pick]
// chooses, for a payment method, the preferred gateway or the next one in the
// configured order whose create breaker is not open. Status queries are
// background work in bursts (one per pending attempt) and say nothing about
// whether a payment can start, so their failures open the query breaker only
// ([BreakerCreate], [BreakerQuery]). A call refused by an open breaker
// returns an error matching both [ErrOpen] and gobreaker.ErrOpenState (use
// [IsUnavailable] to also catch the half-open limit), which a River job
// should answer with a snooze rather than a failed attempt.
//
// An open breaker closes as soon as the gateway answers again: while one of
// a gateway's breakers is open, the router probes it every ProbeInterval
// ([Prober]: a status query for a reference that cannot exist) and records
// the first answer — "not found" is an answer — as the half-open trial's
// success. OpenTimeout is only the longest a breaker stays open when no probe
// gets through; it runs on the router's [Clock], which tests replace.
package gateways
