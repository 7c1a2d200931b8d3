package payments

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/money"
	"github.com/civicpay/civicpay/payments/catalogue"
)

// CreateRequest is the body of POST /v1/orders.
type CreateRequest struct {
	Lines       []LineRequest     `json:"lines"`
	Payer       Payer             `json:"payer"`
	Description string            `json:"description"`
	ReturnURL   string            `json:"return_url,omitempty"`
	ExpiresAt   *time.Time        `json:"expires_at,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// LineRequest is one requested line.
type LineRequest struct {
	Service string          `json:"service"`
	Agency  string          `json:"agency"`
	Amount  decimal.Decimal `json:"amount"`
}

// Limits on a create request.
const (
	MaxLines         = 5
	MaxMetadataKeys  = 20
	MaxMetadataKey   = 40
	MaxMetadataValue = 500
	MaxIdemKeyLen    = 255
)

var (
	nationalIDRE = regexp.MustCompile(`^[0-9]{9}$|^[0-9]{12}$`) // CMND (9) or CCCD (12)
	phoneRE      = regexp.MustCompile(`^\+?[0-9]{9,15}$`)
	metaKeyRE    = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,40}$`)
)

// Hash is the request's fingerprint for idempotency: the canonical JSON of the
// decoded request, so whitespace and key order do not matter but every value does.
func (r *CreateRequest) Hash() []byte {
	b, _ := json.Marshal(r) // a decoded request always marshals
	sum := sha256.Sum256(b)
	return sum[:]
}

// validate checks everything that does not need the catalogue.
func (r *CreateRequest) validate(now time.Time, defaultExpiry, maxExpiry time.Duration) (time.Time, error) {
	if len(r.Lines) == 0 || len(r.Lines) > MaxLines {
		return time.Time{}, invalid("lines", "between 1 and %d lines are required", MaxLines)
	}
	for i := range r.Lines {
		l := &r.Lines[i]
		l.Service = strings.ToUpper(strings.TrimSpace(l.Service))
		l.Agency = strings.ToUpper(strings.TrimSpace(l.Agency))
		if l.Service == "" {
			return time.Time{}, invalid(fmt.Sprintf("lines[%d].service", i), "required")
		}
		if l.Agency == "" {
			return time.Time{}, invalid(fmt.Sprintf("lines[%d].agency", i), "required")
		}
	}
	p := &r.Payer
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || utf8.RuneCountInString(p.Name) > 200 {
		return time.Time{}, invalid("payer.name", "required, at most 200 characters")
	}
	if p.NationalID != "" && !nationalIDRE.MatchString(p.NationalID) {
		return time.Time{}, invalid("payer.national_id", "must be 9 (CMND) or 12 (CCCD) digits")
	}
	if p.Email == "" && p.Phone == "" {
		return time.Time{}, invalid("payer.email", "an email or a phone number is required")
	}
	if p.Email != "" {
		if a, err := mail.ParseAddress(p.Email); err != nil || a.Address != p.Email || len(p.Email) > 254 {
			return time.Time{}, invalid("payer.email", "not a valid email address")
		}
	}
	if p.Phone != "" && !phoneRE.MatchString(p.Phone) {
		return time.Time{}, invalid("payer.phone", "9 to 15 digits, optionally starting with +")
	}
	r.Description = strings.TrimSpace(r.Description)
	if r.Description == "" || utf8.RuneCountInString(r.Description) > 500 {
		return time.Time{}, invalid("description", "required, at most 500 characters")
	}
	if r.ReturnURL != "" {
		u, err := url.Parse(r.ReturnURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(r.ReturnURL) > 2000 {
			return time.Time{}, invalid("return_url", "must be an absolute http(s) URL")
		}
	}
	if len(r.Metadata) > MaxMetadataKeys {
		return time.Time{}, invalid("metadata", "at most %d keys", MaxMetadataKeys)
	}
	for k, v := range r.Metadata {
		if !metaKeyRE.MatchString(k) {
			return time.Time{}, invalid("metadata", "key %q: 1 to %d characters A-Z a-z 0-9 _ . -", k, MaxMetadataKey)
		}
		if utf8.RuneCountInString(v) > MaxMetadataValue || !utf8.ValidString(v) {
			return time.Time{}, invalid("metadata."+k, "at most %d characters of valid UTF-8", MaxMetadataValue)
		}
	}
	expires := now.Add(defaultExpiry)
	if r.ExpiresAt != nil {
		expires = r.ExpiresAt.UTC()
		if !expires.After(now.Add(time.Minute)) {
			return time.Time{}, invalid("expires_at", "must be at least a minute in the future")
		}
		if expires.After(now.Add(maxExpiry)) {
			return time.Time{}, invalid("expires_at", "must be within %s", maxExpiry)
		}
	}
	return expires, nil
}

// price checks each line against its catalogue service and returns the lines,
// the currency and the total.
func (r *CreateRequest) price(services map[string]catalogue.Service) ([]Line, string, decimal.Decimal, error) {
	var (
		lines    = make([]Line, 0, len(r.Lines))
		currency string
		total    decimal.Decimal
	)
	for i, l := range r.Lines {
		svc, ok := services[l.Service]
		if !ok || !svc.Active {
			return nil, "", total, invalid(fmt.Sprintf("lines[%d].service", i), "unknown or inactive service %q", l.Service)
		}
		if svc.AgencyCode != l.Agency {
			return nil, "", total, invalid(fmt.Sprintf("lines[%d].agency", i), "service %s is collected for %s, not %s", svc.Code, svc.AgencyCode, l.Agency)
		}
		if currency == "" {
			currency = svc.Currency
		} else if svc.Currency != currency {
			return nil, "", total, invalid(fmt.Sprintf("lines[%d].service", i), "all lines must be in one currency")
		}
		if err := svc.CheckAmount(l.Amount); err != nil {
			return nil, "", total, invalid(fmt.Sprintf("lines[%d].amount", i), "%v", err)
		}
		total = total.Add(l.Amount)
		lines = append(lines, Line{No: i + 1, ServiceCode: svc.Code, AgencyCode: svc.AgencyCode, Kind: string(svc.Kind), Amount: l.Amount})
	}
	if err := money.Valid(total, currency); err != nil {
		return nil, "", total, invalid("lines", "total: %v", err)
	}
	return lines, currency, total, nil
}
