package money

import (
	"fmt"
	"testing"

	"github.com/shopspring/decimal"
)

func TestGrouped(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, vi, en string
	}{
		{"0", "0", "0"},
		{"999", "999", "999"},
		{"1000", "1.000", "1,000"},
		{"200000", "200.000", "200,000"},
		{"-1234567.5", "-1.234.567,5", "-1,234,567.5"},
		{"12.345", "12,345", "12.345"},
		{"999999999999999", "999.999.999.999.999", "999,999,999,999,999"},
	} {
		d := decimal.RequireFromString(tt.in)
		if got := Grouped(d, ".", ","); got != tt.vi {
			t.Errorf("Grouped(%s) vi = %q, want %q", tt.in, got, tt.vi)
		}
		if got := Grouped(d, ",", "."); got != tt.en {
			t.Errorf("Grouped(%s) en = %q, want %q", tt.in, got, tt.en)
		}
	}
}

func ExampleGrouped() {
	d := decimal.RequireFromString("1500000.5")
	fmt.Println(Grouped(d, ".", ","), "VND")
	fmt.Println(Grouped(d, ",", "."), "VND")
	// Output:
	// 1.500.000,5 VND
	// 1,500,000.5 VND
}
