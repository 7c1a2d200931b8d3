package reference_test

import (
	"testing"

	"github.com/civicpay/civicpay/payments/reference"
)

// FuzzParse: whatever a person types, Parse never panics, and what it accepts is
// canonical (upper case, no spaces) and accepted again unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"RF18539007547034", "rf18 5390 0754 7034", "RF00", "RF1", "", "RF18 53A9", "ＲＦ18"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := reference.Parse(s)
		if err != nil {
			return
		}
		again, err := reference.Parse(got)
		if err != nil || again != got {
			t.Fatalf("Parse(%q) = %q, but Parse(%q) = %q, %v", s, got, got, again, err)
		}
		if len(got) < 5 || got[:2] != "RF" {
			t.Fatalf("Parse(%q) accepted %q", s, got)
		}
	})
}
