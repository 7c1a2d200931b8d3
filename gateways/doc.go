// Package gateways defines what civicpay expects of a payment gateway and routes
// calls between gateways behind circuit breakers.
//
// An adapter (packages vnpay, momo, zalopay and vietqr below this one) implements
// [Gateway]: it creates a payment (a redirect URL or a QR payload), verifies and
// parses the gateway's callback, answers it in the gateway's own protocol, queries
// a payment's status and refunds. Adapters speak the published wire protocols
// (see shared/GATEWAYS.md) and know nothing of the database or of HTTP servers;
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
// [Router] wraps every gateway in its own local gobreaker/v2 breaker and hands out
// wrapped gateways: Create, Query, Refund (and QueryRefund) run through the
// breaker, ParseCallback and Reply do not (they make no outgoing call). There is
// no separate Do: holding a Gateway from the router is enough to be protected.
// [Router.Pick] chooses, for a payment method, the preferred gateway or the next
// one in the configured order whose breaker is not open. A call refused by an open
// breaker returns an error matching both [ErrOpen] and gobreaker.ErrOpenState
// (use [IsUnavailable] to also catch the half-open limit), which a River job should
// answer with a snooze rather than a failed attempt.
package gateways
