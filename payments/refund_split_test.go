package payments

import (
	"fmt"
	"testing"

	"github.com/shopspring/decimal"
)

// TestSplitRefund: a refund without lines is split across the lines of
// whoever refunds, in proportion to what each may still refund and in the
// currency's decimals; the parts add up to the refund and no line gets more
// than its refundable.
func TestSplitRefund(t *testing.T) {
	t.Parallel()
	d := decimal.RequireFromString
	line := func(no int, agency, amount, refunded string) Line {
		return Line{No: no, AgencyCode: agency, ServiceCode: "S-" + agency, Amount: d(amount),
			AmountRefunded: d(refunded), AmountRefundPending: decimal.Zero}
	}
	order := func(currency string, lines ...Line) Order {
		total := decimal.Zero
		for _, l := range lines {
			total = total.Add(l.Amount)
		}
		return Order{Lines: lines, Total: total, AmountPaid: total, Currency: currency}
	}
	tests := []struct {
		name   string
		order  Order
		agency string
		amount string
		want   string
	}{
		{"pro rata by refundable", order("VND", line(1, "A", "200000", "0"), line(2, "B", "50000", "30000")), "", "110000",
			"[1:A:100000 2:B:10000]"},
		{"a third each, the unit left to the first", order("VND", line(1, "A", "100", "0"), line(2, "B", "100", "0"),
			line(3, "C", "100", "0")), "", "100", "[1:A:34 2:B:33 3:C:33]"},
		{"only the agency's lines", order("VND", line(1, "A", "100", "0"), line(2, "B", "100", "0"), line(3, "A", "300", "0")),
			"A", "200", "[1:A:50 3:A:150]"},
		{"a line with nothing left is left out", order("VND", line(1, "A", "100", "100"), line(2, "B", "100", "0")), "", "60",
			"[2:B:60]"},
		{"everything left", order("VND", line(1, "A", "7", "2"), line(2, "B", "9", "1")), "", "13", "[1:A:5 2:B:8]"},
		{"USD in cents", order("USD", line(1, "A", "0.50", "0"), line(2, "B", "0.50", "0")), "", "0.51",
			"[1:A:0.26 2:B:0.25]"},
		{"USD a third each", order("USD", line(1, "A", "10", "0"), line(2, "B", "10", "0"), line(3, "C", "10", "0")), "", "10",
			"[1:A:3.34 2:B:3.33 3:C:3.33]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := splitRefund(tt.order, tt.agency, d(tt.amount))
			if err != nil {
				t.Fatal(err)
			}
			var b []string
			sum := decimal.Zero
			for _, rl := range got {
				b = append(b, fmt.Sprintf("%d:%s:%s", rl.LineNo, rl.AgencyCode, rl.Amount))
				sum = sum.Add(rl.Amount)
				l := tt.order.Lines[rl.LineNo-1]
				if rl.Amount.GreaterThan(tt.order.LineRefundable(l)) {
					t.Errorf("line %d gets %s, above its refundable %s", rl.LineNo, rl.Amount, tt.order.LineRefundable(l))
				}
			}
			if fmt.Sprint(b) != tt.want {
				t.Fatalf("split = %v, want %s", b, tt.want)
			}
			if !sum.Equal(d(tt.amount)) {
				t.Fatalf("parts add up to %s, not %s", sum, tt.amount)
			}
		})
	}
	if _, err := splitRefund(order("XXX", line(1, "A", "1", "0")), "", d("1")); err == nil {
		t.Error("a refund in a currency money does not know was split")
	}
}
