package payments

import (
	"errors"
	"fmt"
	"time"
)

// The errors of payments. Business code returns them, wrapped with context;
// callers match them with errors.Is (errors.As for *ValidationError and
// *TooManyAttemptsError). http_errors.go is the one place they become
// problem+json.
var (
	// ErrInvalid: a request breaks a rule of the order or of paying. The
	// error is a *ValidationError naming the field.
	ErrInvalid = errors.New("invalid request")

	// Orders.
	ErrOrderNotFound         = errors.New("order not found")
	ErrNotOpen               = errors.New("order is not open")
	ErrIdempotencyMismatch   = errors.New("Idempotency-Key was already used with a different request")
	ErrIdempotencyInProgress = errors.New("a request with this Idempotency-Key is still being processed")
	// ErrNotOrderAgency: an agency acted on an order's part that is another agency's.
	ErrNotOrderAgency = errors.New("not this agency's")

	// Paying.
	ErrAttemptNotFound = errors.New("payment attempt not found")
	// ErrMethodUnavailable: no configured gateway offers the payment method.
	ErrMethodUnavailable = errors.New("no gateway offers this payment method")
	// ErrGatewayUnavailable: every gateway offering the method is failing or
	// behind an open circuit breaker; try again later.
	ErrGatewayUnavailable = errors.New("no gateway is available for this payment method right now")
	// ErrGatewayRefused: the gateway refused to start the payment (amount out of
	// its range, merchant configuration).
	ErrGatewayRefused = errors.New("the gateway refused the payment")
	// ErrTooManyAttempts: the order already has as many open (pending,
	// unexpired) attempts as PayingConfig.MaxOpenAttempts allows. The error is
	// a *TooManyAttemptsError, which says when to retry.
	ErrTooManyAttempts = errors.New("too many open payment attempts on this order")

	// Refunds.
	ErrRefundNotFound = errors.New("refund not found")
	// ErrNotRefundable: the order is not paid (or is fully refunded).
	ErrNotRefundable = errors.New("order has nothing to refund")
	// ErrRefundableChanged: expected_refundable is not the refundable amount now.
	ErrRefundableChanged = errors.New("the refundable amount is not the one expected")
)

// ValidationError names the request field that broke a rule (a JSON path
// such as "lines[0].amount") and why. errors.Is(err, ErrInvalid) is true of it.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// invalid is a *ValidationError for field, its reason formatted.
func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// TooManyAttemptsError is ErrTooManyAttempts with the time until the oldest
// open attempt expires, when a new one may start.
type TooManyAttemptsError struct {
	Max   int
	After time.Duration
}

func (e *TooManyAttemptsError) Error() string {
	return fmt.Sprintf("%v: at most %d may be open at once; retry in %s", ErrTooManyAttempts, e.Max,
		e.RetryAfter().Round(time.Second))
}

// Is makes errors.Is(err, ErrTooManyAttempts) true.
func (e *TooManyAttemptsError) Is(target error) bool { return target == ErrTooManyAttempts }

// RetryAfter is when to try again (at least a second): the problem handler
// sends it as Retry-After.
func (e *TooManyAttemptsError) RetryAfter() time.Duration { return max(e.After, time.Second) }
