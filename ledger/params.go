package ledger

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/problem"
)

// Query parameter parsing for the HTTP API: every error names its field.

// parseTime accepts an RFC 3339 timestamp or a date, which means the start of
// that business day (GMT+7). "" is the zero time.
func parseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, v, bizday.Zone)
	if err != nil {
		t, err = time.Parse(time.RFC3339Nano, v)
	}
	if err != nil || t.Before(earliest) || !t.Before(latest) {
		return time.Time{}, problem.Invalid(field, "want an RFC 3339 time or a YYYY-MM-DD business day between %d and %d", earliest.Year(), latest.Year())
	}
	return t.UTC(), nil
}

// Page sizes of the list endpoints.
const (
	defaultLimit = 50
	maxLimit     = 500
)

func parseLimit(v string) (int, error) {
	if v == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		return 0, problem.Invalid("query.limit", "want an integer from 1 to %d", maxLimit)
	}
	return n, nil
}

// Cursors are opaque to clients: base64url of a version tag and the keyset
// position.

func encodeEntryCursor(c EntryCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte("e1:" + strconv.FormatInt(c.EffectiveAt.UnixMicro(), 10) + ":" + strconv.FormatInt(c.ID, 10)))
}

func decodeEntryCursor(s string) (EntryCursor, error) {
	if s == "" {
		return EntryCursor{}, nil
	}
	bad := problem.Invalid("query.cursor", "not a cursor from this listing")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return EntryCursor{}, bad
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 || parts[0] != "e1" {
		return EntryCursor{}, bad
	}
	micros, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	at := time.UnixMicro(micros).UTC()
	if err1 != nil || err2 != nil || id < 1 || at.Before(earliest) || !at.Before(latest) {
		return EntryCursor{}, bad
	}
	return EntryCursor{EffectiveAt: at, ID: id}, nil
}

func encodeAccountCursor(code string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("a1:" + code))
}

func decodeAccountCursor(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	code, ok := strings.CutPrefix(string(raw), "a1:")
	if err != nil || !ok || code == "" || !utf8.ValidString(code) {
		return "", problem.Invalid("query.cursor", "not a cursor from this listing")
	}
	return code, nil
}

// Revenue pages: GET /revenue returns at most limit groups (default
// revenueDefaultLimit), the totals of every group, and a cursor to the next.
const (
	revenueDefaultLimit = 1000
	revenueMaxLimit     = 10000
)

func parseRevenueLimit(v string) (int, error) {
	if v == "" {
		return revenueDefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > revenueMaxLimit {
		return 0, problem.Invalid("query.limit", "want an integer from 1 to %d", revenueMaxLimit)
	}
	return n, nil
}

// revenueCursor is the group key a revenue page ended at.
type revenueCursor struct {
	Day      string `json:"d,omitempty"`
	Agency   string `json:"a,omitempty"`
	Service  string `json:"s,omitempty"`
	Channel  string `json:"c,omitempty"`
	Currency string `json:"x"`
}

func encodeRevenueCursor(r RevenueRow) string {
	b, _ := json.Marshal(revenueCursor{r.Day, r.Agency, r.Service, r.Channel, r.Currency})
	return base64.RawURLEncoding.EncodeToString(append([]byte("r1:"), b...))
}

// decodeRevenueCursor reads a cursor of a query grouped by by: the fields of
// other dimensions are empty, the day a day.
func decodeRevenueCursor(s string, by []Dimension) (*RevenueRow, error) {
	if s == "" {
		return nil, nil
	}
	bad := problem.Invalid("query.cursor", "not a cursor from this listing")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	body, ok := bytes.CutPrefix(raw, []byte("r1:"))
	var c revenueCursor
	if err != nil || !ok || json.Unmarshal(body, &c) != nil || !isCurrencyCode(c.Currency) {
		return nil, bad
	}
	for d, v := range map[Dimension]string{ByDay: c.Day, ByAgency: c.Agency, ByService: c.Service, ByChannel: c.Channel} {
		if (v != "") != containsDim(by, d) || !utf8.ValidString(v) {
			return nil, bad
		}
	}
	if c.Day != "" {
		if _, err := time.Parse(time.DateOnly, c.Day); err != nil {
			return nil, bad
		}
	}
	return &RevenueRow{Day: c.Day, Agency: c.Agency, Service: c.Service, Channel: c.Channel, Currency: c.Currency}, nil
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range []byte(s) {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
