package webhooks

import (
	"errors"
	"net/http"

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
