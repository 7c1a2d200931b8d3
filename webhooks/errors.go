package webhooks

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/internal/foundation/problem"
)

// Errors of the endpoint, delivery and event API.
var (
	ErrEndpointNotFound = errors.New("webhook endpoint not found")
	ErrDeliveryNotFound = errors.New("webhook delivery not found")
	ErrEventNotFound    = errors.New("event not found")
	// ErrTooManyEndpoints: the key owns Config.MaxEndpointsPerKey endpoints.
	ErrTooManyEndpoints = errors.New("this API key already owns the most webhook endpoints allowed")
	// ErrInvalidEvent is a programming error of a publisher (unknown type,
	// data that is not JSON, …): the caller's transaction must roll back.
	ErrInvalidEvent = errors.New("invalid event")
)

// ValidationError is a request to the service that names a wrong value:
// Field is the request's field, Reason what is wrong with it. Malformed
// marks a value that cannot be read at all (a cursor that is not one),
// as opposed to a well-formed value the service refuses.
type ValidationError struct {
	Field     string
	Reason    string
	Malformed bool
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// invalid is a *ValidationError for field, its reason formatted.
func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// malformed is a *ValidationError for a field that cannot be read.
func malformed(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...), Malformed: true}
}

// problemFor turns a *ValidationError into its problem+json answer: a 400
// naming the field when it is malformed, a 422 when it is refused. Other
// errors go to HTTPErrors.
func problemFor(err error) error {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	if ve.Malformed {
		return problem.BadRequest(ve.Field, "%s", ve.Reason)
	}
	return problem.Invalid(ve.Field, "%s", ve.Reason)
}

// problems is h with its error passed through problemFor.
func problems(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error { return problemFor(h(c)) }
}

// Errors of Verify and of secret parsing.
var (
	ErrInvalidSecret       = errors.New("webhooks: invalid signing secret (want whsec_ and base64 of 24 to 64 bytes)")
	ErrMissingHeaders      = errors.New("webhooks: missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrInvalidTimestamp    = errors.New("webhooks: webhook-timestamp is not Unix seconds")
	ErrTimestampOutOfRange = errors.New("webhooks: webhook-timestamp outside the tolerance")
	ErrNoMatchingSignature = errors.New("webhooks: no matching signature")
)

// HTTPErrors maps this package's errors to HTTP statuses.
var HTTPErrors = []problem.Mapping{
	{Err: ErrEndpointNotFound, Status: http.StatusNotFound, Title: "Not found"},
	{Err: ErrDeliveryNotFound, Status: http.StatusNotFound, Title: "Not found"},
	{Err: ErrEventNotFound, Status: http.StatusNotFound, Title: "Not found"},
	{Err: ErrTooManyEndpoints, Status: http.StatusUnprocessableEntity, Title: "Too many webhook endpoints"},
}
