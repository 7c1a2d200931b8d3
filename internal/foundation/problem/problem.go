// Package problem is civicpay's error vocabulary at the HTTP edge: RFC 9457
// application/problem+json bodies, field-level validation errors, and the single
// Fiber error handler that maps every error to a status.
//
// Domain packages return their own sentinel errors (payments.ErrOrderNotFound,
// ledger.ErrUnbalanced, …) wrapped with context; each package's transport file
// lists how those map to HTTP as []problem.Mapping, and the server hands all of
// them to Handler. That is the one place an error becomes a status code.
package problem

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/foundation/groupcommit"
)

// ContentType is the media type of every error body.
const ContentType = "application/problem+json"

// Problem is an RFC 9457 problem details object. It is also an error.
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Errors   []FieldError `json:"errors,omitempty"`
	// RequestID lets a caller quote the log line that goes with the error.
	RequestID string `json:"request_id,omitempty"`
	// retryAfter, if set, is sent as Retry-After.
	retryAfter time.Duration
}

func (p *Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
	}
	return fmt.Sprintf("%d %s", p.Status, p.Title)
}

// FieldError names one offending input field (JSON path such as "lines[0].amount",
// or "query.from", or "header.Idempotency-Key").
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Detail }

// Invalid is a 422 for one field.
func Invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Detail: fmt.Sprintf(format, args...)}
}

// New builds a problem with a status, a short title and a detail.
func New(status int, title, detail string) *Problem {
	return &Problem{Type: typeURI(title), Title: title, Status: status, Detail: detail}
}

// BadRequest is a 400 naming the field (body, query or header) that is malformed.
func BadRequest(field, format string, args ...any) *Problem {
	d := fmt.Sprintf(format, args...)
	return &Problem{Type: typeURI("Malformed request"), Title: "Malformed request", Status: http.StatusBadRequest,
		Detail: field + ": " + d, Errors: []FieldError{{Field: field, Detail: d}}}
}

// RetryAfterer is an error that says when to try again: Handler sends it as
// Retry-After (whole seconds, rounded up).
type RetryAfterer interface {
	error
	RetryAfter() time.Duration
}

// Mapping says which HTTP status and title a domain error (matched with errors.Is) gets.
type Mapping struct {
	Err    error
	Status int
	Title  string
	// RetryAfter, if set, is sent as Retry-After: the error passes (a
	// concurrent request with the same Idempotency-Key still in flight).
	RetryAfter time.Duration
}

// The problem types of a passing database condition (db.Unavailable), both
// 503 with Retry-After. TypeTemporarilyUnavailable says that sending the
// same request again is safe: nothing was done (PostgreSQL said so), or the
// request is a read, or it carries an Idempotency-Key (answered once
// whatever happened). TypeOutcomeUnknown is the one case where it may not
// be: a request that changes something, without an Idempotency-Key, whose
// connection to the database was lost while it was being written — it may
// or may not have taken effect.
const (
	TypeTemporarilyUnavailable = "https://civicpay.dev/problems/temporarily-unavailable"
	TypeOutcomeUnknown         = "https://civicpay.dev/problems/outcome-unknown"
)

// Handler is the Fiber error handler: it turns any error into problem+json.
// Unknown errors are a 500 with no internals in the body (they are logged).
func Handler(log *slog.Logger, mappings ...Mapping) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		p := From(err, mappings)
		if p.Type == TypeTemporarilyUnavailable && db.OutcomeUnknown(err) && !safeToRepeat(c) {
			p.Type, p.Title = TypeOutcomeUnknown, "Outcome unknown"
			p.Detail = "the connection to the database was lost while this request was being written: it may or may not " +
				"have taken effect; look before sending it again"
		}
		if rid, ok := c.Locals("request_id").(string); ok {
			p.RequestID = rid
		}
		if p.Instance == "" {
			p.Instance = c.Path()
		}
		if p.Status >= 500 {
			// The route pattern, not the path: paths carry payment references and receipt codes.
			log.ErrorContext(c.UserContext(), "request failed", "method", c.Method(), "route", c.Route().Path, "status", p.Status, "err", err, "request_id", p.RequestID)
		}
		var ra RetryAfterer
		if errors.As(err, &ra) {
			p.retryAfter = ra.RetryAfter()
		}
		if p.retryAfter > 0 {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(1, int(math.Ceil(p.retryAfter.Seconds())))))
		}
		c.Set(fiber.HeaderContentType, ContentType)
		return c.Status(p.Status).JSON(p, ContentType)
	}
}

// From converts err to a Problem using mappings.
func From(err error, mappings []Mapping) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		cp := *p
		return &cp
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return &Problem{Type: typeURI("Invalid field"), Title: "Invalid field", Status: http.StatusUnprocessableEntity,
			Detail: fe.Error(), Errors: []FieldError{*fe}}
	}
	for _, m := range mappings {
		if errors.Is(err, m.Err) {
			return &Problem{Type: typeURI(m.Title), Title: m.Title, Status: m.Status, Detail: err.Error(), retryAfter: m.RetryAfter}
		}
	}
	// A group-commit queue closed by a shutdown: the job was never queued, so
	// nothing was written, and another instance (or this one restarted) takes it.
	if errors.Is(err, groupcommit.ErrClosed) {
		return &Problem{Type: TypeTemporarilyUnavailable, Title: "Temporarily unavailable", Status: http.StatusServiceUnavailable,
			Detail: "the service is shutting down; send the same request again after Retry-After seconds", retryAfter: time.Second}
	}
	// A passing condition of the database (a lost connection, a restart, a
	// deadlock that outlasted its retries): db.Classify decides which.
	if reason, wait, ok := db.Unavailable(err); ok {
		return &Problem{Type: TypeTemporarilyUnavailable, Title: "Temporarily unavailable", Status: http.StatusServiceUnavailable,
			Detail:     "the database is unavailable for a moment (" + reason + "); send the same request again after Retry-After seconds",
			retryAfter: wait}
	}
	var fe2 *fiber.Error
	if errors.As(err, &fe2) {
		title := http.StatusText(fe2.Code)
		if title == "" {
			title = "Error"
		}
		return &Problem{Type: typeURI(title), Title: title, Status: fe2.Code, Detail: fe2.Message}
	}
	return &Problem{Type: typeURI("Internal error"), Title: "Internal error", Status: http.StatusInternalServerError,
		Detail: "an unexpected error occurred; quote the request_id when reporting it"}
}

// safeToRepeat reports whether sending the request again cannot do twice
// what it did once: a method HTTP defines as idempotent (civicpay's PUTs
// and DELETEs are), or a request carrying an Idempotency-Key.
func safeToRepeat(c *fiber.Ctx) bool {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions, fiber.MethodPut, fiber.MethodDelete:
		return true
	}
	return len(c.Request().Header.Peek("Idempotency-Key")) > 0
}

// typeURI gives each kind of problem a stable, dereferenceable-looking identifier.
func typeURI(title string) string {
	return "https://civicpay.dev/problems/" + strings.ReplaceAll(strings.ToLower(title), " ", "-")
}
