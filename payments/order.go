package payments

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// Status of an order.
type Status string

// Order states.
const (
	StatusOpen              Status = "open"
	StatusPaid              Status = "paid"
	StatusPartiallyRefunded Status = "partially_refunded"
	StatusRefunded          Status = "refunded"
	StatusCancelled         Status = "cancelled"
	StatusExpired           Status = "expired"
)

// ParseStatus validates a status name.
func ParseStatus(s string) (Status, bool) {
	switch st := Status(s); st {
	case StatusOpen, StatusPaid, StatusPartiallyRefunded, StatusRefunded, StatusCancelled, StatusExpired:
		return st, true
	}
	return "", false
}

// Line is one catalogue service on an order and the agency credited with it.
type Line struct {
	No          int             `json:"line_no"`
	ServiceCode string          `json:"service"`
	AgencyCode  string          `json:"agency"`
	Kind        string          `json:"kind"`
	Amount      decimal.Decimal `json:"amount"`
	// AmountRefunded and AmountRefundPending are the line's part of the
	// order's refunds (payment_refund_lines): confirmed, and in flight.
	AmountRefunded      decimal.Decimal `json:"amount_refunded"`
	AmountRefundPending decimal.Decimal `json:"amount_refund_pending"`
}

// Payer is the citizen or business that owes the order.
type Payer struct {
	Name       string `json:"name"`
	NationalID string `json:"national_id,omitempty"`
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
}

// Order is a payment order.
type Order struct {
	ID             uuid.UUID       `json:"id"`
	Reference      string          `json:"reference"`
	AgencyCode     string          `json:"agency"`
	CreatedBy      uuid.UUID       `json:"-"`
	Status         Status          `json:"status"`
	Currency       string          `json:"currency"`
	Total          decimal.Decimal `json:"total"`
	AmountPaid     decimal.Decimal `json:"amount_paid"`
	AmountRefunded decimal.Decimal `json:"amount_refunded"`
	// AmountRefundPending is refunds requested and not yet confirmed by the gateway.
	AmountRefundPending decimal.Decimal   `json:"amount_refund_pending"`
	Lines               []Line            `json:"lines"`
	Payer               Payer             `json:"payer"`
	Description         string            `json:"description"`
	ReturnURL           string            `json:"return_url,omitempty"`
	Metadata            map[string]string `json:"metadata"`
	ExpiresAt           time.Time         `json:"expires_at"`
	CreatedAt           time.Time         `json:"created_at"`
	UpdatedAt           time.Time         `json:"updated_at"`
	PaidAt              *time.Time        `json:"paid_at,omitempty"`
	ClosedAt            *time.Time        `json:"closed_at,omitempty"`

	// The national ID as stored: sealed (internal/foundation/secretbox), its keyed hash and
	// its masked form. An order read from the database carries the masked form
	// in Payer.NationalID (or, not yet sealed by `civicpay keys
	// rotate-data-key`, the clear one); Orders.ForViewer opens the sealed one.
	sealedNationalID []byte
	nationalIDHash   []byte
	maskedNationalID string
}

// HasAgency reports whether one of o's lines is agency's.
func (o Order) HasAgency(agency string) bool {
	for _, l := range o.Lines {
		if l.AgencyCode == agency {
			return true
		}
	}
	return false
}

// Agencies lists the agencies of o's lines, each once, in line order.
func (o Order) Agencies() []string {
	var out []string
	for _, l := range o.Lines {
		if !slices.Contains(out, l.AgencyCode) {
			out = append(out, l.AgencyCode)
		}
	}
	return out
}

// MaskNationalID keeps the last three characters: "079203001234" -> "*********234".
func MaskNationalID(id string) string {
	if id == "" {
		return ""
	}
	if len(id) <= 3 {
		return strings.Repeat("*", len(id))
	}
	return strings.Repeat("*", len(id)-3) + id[len(id)-3:]
}

// Masked returns a copy of o with the payer's national ID masked.
func (o Order) Masked() Order {
	o.Payer.NationalID = MaskNationalID(o.Payer.NationalID)
	return o
}
