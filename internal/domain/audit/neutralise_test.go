package audit

import (
	"testing"

	"github.com/civicpay/civicpay/internal/foundation/csvsafe"
)

// TestNeutralise: the audit CSV's cells are csvsafe's.
func TestNeutralise(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":           "",
		"plain":      "plain",
		"=1+1":       "'=1+1",
		"+cmd":       "'+cmd",
		"-2+3":       "'-2+3",
		"@SUM(A1)":   "'@SUM(A1)",
		"\tx":        "'\tx",
		"\rx":        "'\rx",
		"-42":        "-42",
		"+1.50":      "+1.50",
		"12":         "12",
		"-Inf":       "'-Inf",
		`{"a":"=b"}`: `{"a":"=b"}`,
		"key:=abc":   "key:=abc",
	} {
		if got := csvsafe.Cell(in); got != want {
			t.Errorf("neutralise(%q) = %q, want %q", in, got, want)
		}
	}
}
