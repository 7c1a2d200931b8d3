package statement

import (
	"strings"
	"testing"
)

func TestFindPaymentReference(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		texts []string
		want  string
	}{
		{"alone", []string{"RF18539007547034"}, "RF18539007547034"},
		{"grouped in fours among words", []string{"CK RF18 5390 0754 7034 NOP PHI"}, "RF18539007547034"},
		{"glued to bank punctuation", []string{"MBVCB.8812345.RF18539007547034.CT tu 0123"}, "RF18539007547034"},
		{"lower case", []string{"nop le phi rf18539007547034"}, "RF18539007547034"},
		{"split across lines", []string{"nop le phi ho tich rf68 1234 5678", "9012 345 ma hs 0012"}, "RF68123456789012345"},
		{"dashes inside", []string{"RF18-5390-0754-7034"}, "RF18539007547034"},
		{"same reference twice", []string{"RF18539007547034", "CT RF18 5390 0754 7034"}, "RF18539007547034"},
		{"two references", []string{"RF18539007547034 RF40202611230000001"}, ""},
		{"mistyped check digits", []string{"RF19539007547034"}, ""},
		{"transposed digits", []string{"RF18539007547043"}, ""},
		{"nothing", []string{"CHUYEN TIEN"}, ""},
		{"Vietnamese letters split words", []string{"NỘP PHÍ RF18539007547034 ĐỢT 1"}, "RF18539007547034"},
		{"no texts", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := FindPaymentReference(tt.texts, validRF)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("FindPaymentReference(%q) = %q, %t; want %q", tt.texts, got, ok, tt.want)
			}
		})
	}
}

// TestFindPaymentReferenceAmbiguity uses a validator that accepts a fixed set,
// to show which readings count as ambiguous.
func TestFindPaymentReferenceAmbiguity(t *testing.T) {
	t.Parallel()
	valid := func(set ...string) func(string) bool {
		return func(s string) bool {
			for _, v := range set {
				if s == v {
					return true
				}
			}
			return false
		}
	}
	tests := []struct {
		name  string
		texts []string
		set   []string
		want  string
	}{
		{"a longer reading is also valid", []string{"AB12 34"}, []string{"AB12", "AB1234"}, ""},
		{"a valid run inside another", []string{"XX 1234 56"}, []string{"XX123456", "123456"}, ""},
		{"candidates are upper-cased and joined", []string{"ab-12 34"}, []string{"AB1234"}, "AB1234"},
		{"at most eight words", []string{"A B C D E F G H I"}, []string{"ABCDEFGHI"}, ""},
		{"eight words", []string{"A B C D E F G H"}, []string{"ABCDEFGH"}, "ABCDEFGH"},
		{"at most 35 characters", []string{strings.Repeat("A", 20) + " " + strings.Repeat("B", 16)}, []string{strings.Repeat("A", 20) + strings.Repeat("B", 16)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, _ := FindPaymentReference(tt.texts, valid(tt.set...)); got != tt.want {
				t.Errorf("FindPaymentReference(%q) = %q, want %q", tt.texts, got, tt.want)
			}
		})
	}
}
