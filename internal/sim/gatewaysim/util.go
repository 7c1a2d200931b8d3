package gatewaysim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"time"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
)

// equalMAC compares two hex MACs, ignoring case, in constant time for equal
// lengths; an empty MAC never matches.
func equalMAC(got, want string) bool {
	if got == "" || want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(strings.ToLower(want))) == 1
}

// newID is 32 random hex characters.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// ICT is the business time zone (GMT+7): bizday.Zone.
var ICT = bizday.Zone

const dayLayout = "2006-01-02"

// dayString is t's business day.
func dayString(t time.Time) string { return t.In(ICT).Format(dayLayout) }

// ParseDay reads a business day (yyyy-mm-dd) as midnight GMT+7.
func ParseDay(s string) (time.Time, error) {
	d, err := time.ParseInLocation(dayLayout, s, ICT)
	if err != nil {
		return time.Time{}, invalid("day %q is not yyyy-mm-dd", clip(s))
	}
	return d, nil
}

// clip shortens untrusted text before it goes into an error message.
func clip(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

// midnight is the start of t's business day.
func midnight(t time.Time) time.Time {
	y, m, d := t.In(ICT).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, ICT)
}
