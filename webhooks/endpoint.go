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
type Endpoint struct {
	ID             uuid.UUID  `json:"id"`
	OwnerKeyID     uuid.UUID  `json:"owner_key_id"`
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
