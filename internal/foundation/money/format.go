package money

import (
	"strings"

	"github.com/shopspring/decimal"
)

// Grouped writes d with its whole part grouped in thousands by group and
// its fraction after point, every digit kept: Grouped(-1234567.5, ".", ",")
// is "-1.234.567,5" (Vietnamese), with ",", "." "-1,234,567.5" (English).
func Grouped(d decimal.Decimal, group, point string) string {
	return GroupedString(d.String(), group, point)
}

// GroupedString is Grouped on a decimal already written out ("-1234.50"),
// for callers that fix the number of decimals first.
func GroupedString(s, group, point string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(group)
		}
		b.WriteRune(r)
	}
	if frac != "" {
		b.WriteString(point + frac)
	}
	return b.String()
}
