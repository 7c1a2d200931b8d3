package webhooks

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Endpoint is a subscriber URL as the API shows it (never with its secret).
//
// An endpoint belongs to the API key that created it, or to an agency (one its
// staff created in the console): such an endpoint has no owner key (OwnerKeyID
// is the nil UUID) and receives what an agency key of its agency would.
type Endpoint struct {
	ID         uuid.UUID `json:"id"`
	OwnerKeyID uuid.UUID `json:"owner_key_id"`
	// AgencyCode is the agency the endpoint belongs to: its own, or its
	// owner key's for an agency key's endpoint (empty for the endpoints of
	// portal, treasury and admin keys). Not in the API's answers yet: the
	// OpenAPI document does not have it.
	AgencyCode     string     `json:"-"`
	URL            string     `json:"url"`
	Events         []string   `json:"events"`
	Description    string     `json:"description"`
	Enabled        bool       `json:"enabled"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	FailingSince   *time.Time `json:"failing_since,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// EndpointInput creates an endpoint. Enabled defaults to true.
type EndpointInput struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
	Enabled     *bool    `json:"enabled"`
	// AgencyCode is the agency an admin staff user creates the endpoint for
	// (the console's admin chooses it). Not in the API: a key's endpoint is
	// the key's, and an agency staff user's is its own agency's.
	AgencyCode string `json:"-"`
}

// ownerKey is the key that owns e, nil for an endpoint of an agency.
func (e *Endpoint) ownerKey() *uuid.UUID {
	if e.OwnerKeyID == uuid.Nil {
		return nil
	}
	id := e.OwnerKeyID
	return &id
}

// EndpointPatch changes the fields it sets (nil: unchanged). Enabling a
// disabled endpoint clears its failure record.
type EndpointPatch struct {
	URL         *string  `json:"url"`
	Events      []string `json:"events"`
	Description *string  `json:"description"`
	Enabled     *bool    `json:"enabled"`
}

// EndpointWithSecret is an endpoint with its signing secret: returned only when
// the endpoint is created and when its secret is rotated.
type EndpointWithSecret struct {
	Endpoint
	Secret string `json:"secret"`
}

const (
	maxDescription = 500
	maxEventTypes  = 32
)

// validateFields checks what needs no network; checkURL does the rest.
func validateFields(e *Endpoint) error {
	if len(e.Events) == 0 || len(e.Events) > maxEventTypes {
		return invalid("events", "list between 1 and %d event types", maxEventTypes)
	}
	seen := make([]string, 0, len(e.Events))
	for i, t := range e.Events {
		if !IsEventType(t) {
			return invalid(fmt.Sprintf("events[%d]", i), "unknown event type %q (known: %s)", t, strings.Join(eventTypes, ", "))
		}
		if !slices.Contains(seen, t) {
			seen = append(seen, t)
		}
	}
	e.Events = seen
	if utf8.RuneCountInString(e.Description) > maxDescription || strings.ContainsRune(e.Description, 0) {
		return invalid("description", "at most %d characters, no NUL", maxDescription)
	}
	return nil
}
