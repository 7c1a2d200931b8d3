package webhooks

import (
	"encoding/base32"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Event types. Publishers must use one of these; subscribers list them.
const (
	EventOrderPaid               = "order.paid"
	EventOrderExpired            = "order.expired"
	EventOrderCancelled          = "order.cancelled"
	EventOrderRefunded           = "order.refunded" // partial or full
	EventRefundFailed            = "refund.failed"
	EventOverpaymentDetected     = "overpayment.detected"
	EventReconciliationCompleted = "reconciliation.completed"
	EventReconciliationException = "reconciliation.exception"
	// EventReconciliationDayClosed: treasury closed a business day; the data
	// has who and when, the day's totals and where its report is.
	EventReconciliationDayClosed = "reconciliation.day_closed"
	// EventEndpointDisabled tells operators (and the endpoint's owner, through its
	// other endpoints or GET /v1/events) that an endpoint was switched off.
	EventEndpointDisabled = "endpoint.disabled"
)

var eventTypes = []string{
	EventOrderPaid, EventOrderExpired, EventOrderCancelled, EventOrderRefunded,
	EventRefundFailed, EventOverpaymentDetected,
	EventReconciliationCompleted, EventReconciliationException, EventReconciliationDayClosed,
	EventEndpointDisabled,
}

// EventTypes lists every event type, in documentation order.
func EventTypes() []string { return slices.Clone(eventTypes) }

// IsEventType reports whether t is a webhook event type. Publish refuses any
// other, so adapters forwarding a domain's own events filter with it.
func IsEventType(t string) bool { return slices.Contains(eventTypes, t) }

// Event is something that happened, as a publisher describes it.
type Event struct {
	Type       string          // one of the Event* constants
	AgencyCode string          // agency concerned ("" for treasury-wide events such as reconciliation)
	OwnerKeyID *uuid.UUID      // the API key that created the resource (portal endpoints get the orders they created)
	Subject    string          // e.g. order id; for filtering GET /v1/events
	Data       json.RawMessage // the resource exactly as the API returns it
	// AgencyOnly: only the agency's keys receive and read the event (an
	// agency's view of an order several agencies share); treasury, admin and
	// portals get the order's full view in an event of its own.
	AgencyOnly bool
}

const maxSubjectLen = 200

func (e Event) validate() error {
	switch {
	case !IsEventType(e.Type):
		return fmt.Errorf("%w: unknown type %q", ErrInvalidEvent, e.Type)
	case len(e.Data) == 0 || !json.Valid(e.Data):
		return fmt.Errorf("%w: %s: data is not a JSON value", ErrInvalidEvent, e.Type)
	case e.AgencyOnly && e.AgencyCode == "":
		return fmt.Errorf("%w: %s: an agency-only event names no agency", ErrInvalidEvent, e.Type)
	case len(e.Subject) > maxSubjectLen:
		return fmt.Errorf("%w: %s: subject longer than %d bytes", ErrInvalidEvent, e.Type, maxSubjectLen)
	}
	return nil
}

// Envelope is the body of every webhook and of each item of GET /v1/events.
type Envelope struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// idEncoding is Crockford's base32 in lower case: its alphabet is in ASCII
// order, so ids made from UUIDv7s sort by creation time.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

var eventIDPattern = regexp.MustCompile(`^msg_[0-9a-z]{26}$`)

// newEventID returns "msg_" and 26 characters: a UUIDv7 in base32.
func newEventID() (string, error) {
	u, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("webhooks: event id: %w", err)
	}
	return "msg_" + idEncoding.EncodeToString(u[:]), nil
}
