package ledger

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/shopspring/decimal"
)

func TestKindOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		want AccountKind // "" = not in the chart
	}{
		{"gateway:vnpay:clearing", AssetAccount},
		{"gateway:momo:fees", ExpenseAccount},
		{"agency:HCM-TP:collected", LiabilityAccount},
		{"treasury:0123456789:bank", AssetAccount},
		{"overpayments", LiabilityAccount},
		{"suspense", LiabilityAccount},
		{"revenue:convenience-fee", RevenueAccount},
		{"expense:write-off", ExpenseAccount},
		{"gateway:vnpay", ""},
		{"gateway::clearing", ""},
		{"gateway:vn:pay:clearing", ""},
		{"agency:HCM TP:collected", ""},
		{"agency:-X:collected", ""},
		{"bank:x", ""},
		{"", ""},
		{"suspense:x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			got, err := KindOf(tt.code)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("KindOf(%q) = %s, want an error", tt.code, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("KindOf(%q) = %q, %v; want %q", tt.code, got, err, tt.want)
			}
		})
	}
}

func TestNormalBalance(t *testing.T) {
	t.Parallel()
	net := decimal.NewFromInt(-500)
	for _, tt := range []struct {
		kind AccountKind
		want int64
	}{{AssetAccount, -500}, {ExpenseAccount, -500}, {LiabilityAccount, 500}, {RevenueAccount, 500}} {
		if got := tt.kind.NormalBalance(net); !got.Equal(decimal.NewFromInt(tt.want)) {
			t.Errorf("%s.NormalBalance(-500) = %s, want %d", tt.kind, got, tt.want)
		}
	}
}

func TestMatchRegexp(t *testing.T) {
	t.Parallel()
	codes := []string{"agency:HCM-TP:collected", "agency:HN:collected", "gateway:vnpay:clearing", "gateway:vnpay:fees", "gateway:momo:clearing", "suspense"}
	tests := []struct {
		pattern string
		want    []string
	}{
		{"agency:HCM-TP:", []string{"agency:HCM-TP:collected"}},
		{"gateway:*:clearing", []string{"gateway:vnpay:clearing", "gateway:momo:clearing"}},
		{"gateway:", []string{"gateway:vnpay:clearing", "gateway:vnpay:fees", "gateway:momo:clearing"}},
		{"*", codes},
		{"agency.HN", nil}, // "." is literal
	}
	for _, tt := range tests {
		re, err := matchRegexp(tt.pattern)
		if err != nil {
			t.Fatalf("matchRegexp(%q): %v", tt.pattern, err)
		}
		var got []string
		for _, c := range codes {
			if regexp.MustCompile(re).MatchString(c) {
				got = append(got, c)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("pattern %q matches %v, want %v", tt.pattern, got, tt.want)
		}
	}
	if _, err := matchRegexp(""); err == nil {
		t.Error("empty pattern accepted")
	}
}

func ExampleKindOf() {
	for _, code := range []string{GatewayClearing("vnpay"), AgencyCollected("HCM-TP"), GatewayFees("momo"), "bank:x"} {
		kind, err := KindOf(code)
		fmt.Println(code, kind, err != nil)
	}
	// Output:
	// gateway:vnpay:clearing asset false
	// agency:HCM-TP:collected liability false
	// gateway:momo:fees expense false
	// bank:x  true
}
