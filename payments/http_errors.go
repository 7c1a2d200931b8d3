package payments

import (
	"errors"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/foundation/problem"
)

// This file is where payments' errors become problem+json: sentinel errors
// by HTTPErrors (the server's error handler matches them with errors.Is),
// and the errors that carry more than a status (a *ValidationError's field)
// by problemFor, which every route of the package is mounted through
// (answer).

// HTTPErrors maps payments' errors to HTTP.
var HTTPErrors = []problem.Mapping{
	{Err: ErrOrderNotFound, Status: http.StatusNotFound, Title: "Not found"},
	{Err: ErrNotOpen, Status: http.StatusConflict, Title: "Order not open"},
	{Err: ErrIdempotencyMismatch, Status: http.StatusUnprocessableEntity, Title: "Idempotency key reused"},
	{Err: ErrIdempotencyInProgress, Status: http.StatusConflict, Title: "Request in progress", RetryAfter: time.Second},
	{Err: ErrAttemptNotFound, Status: http.StatusNotFound, Title: "Not found"},
	{Err: ErrRefundNotFound, Status: http.StatusNotFound, Title: "Not found"},
	{Err: gateways.ErrUnknownGateway, Status: http.StatusNotFound, Title: "Unknown gateway"},
	{Err: ErrMethodUnavailable, Status: http.StatusUnprocessableEntity, Title: "Payment method unavailable"},
	{Err: ErrGatewayRefused, Status: http.StatusUnprocessableEntity, Title: "Refused by the gateway"},
	{Err: ErrGatewayUnavailable, Status: http.StatusServiceUnavailable, Title: "Gateway unavailable", RetryAfter: time.Second},
	{Err: ErrTooManyAttempts, Status: http.StatusTooManyRequests, Title: "Too many attempts"},
	{Err: ErrNotRefundable, Status: http.StatusConflict, Title: "Nothing to refund"},
	{Err: ErrRefundableChanged, Status: http.StatusConflict, Title: "Refundable amount changed"},
	{Err: ErrNotOrderAgency, Status: http.StatusForbidden, Title: "Another agency's"},
	// A *ValidationError is made a field problem by problemFor; one that
	// reached the server's handler another way is still a 422.
	{Err: ErrInvalid, Status: http.StatusUnprocessableEntity, Title: "Invalid field"},
}

// problemFor is err as the API answers it: a *ValidationError is a 422
// "Invalid field" naming the field (problem.Invalid); any other error is
// left to HTTPErrors.
func problemFor(err error) error {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return problem.Invalid(ve.Field, "%s", ve.Reason)
	}
	return err
}

// answer is h with its error passed through problemFor.
func answer(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error { return problemFor(h(c)) }
}
