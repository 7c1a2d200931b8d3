package wire

import (
	"errors"
	"testing"

	"github.com/civicpay/civicpay/gateways"
	"github.com/shopspring/decimal"
)

func TestVND(t *testing.T) {
	t.Parallel()
	tests := []struct {
		amount   string
		currency string
		want     int64
		ok       bool
	}{
		{"150000", "VND", 150000, true},
		{"150000.00", "VND", 150000, true},
		{"150000.5", "VND", 0, false},
		{"0", "VND", 0, false},
		{"-1", "VND", 0, false},
		{"1000000000000000", "VND", 0, false},
		{"10", "USD", 0, false},
	}
	for _, tt := range tests {
		got, err := VND(decimal.RequireFromString(tt.amount), tt.currency)
		if got != tt.want || (err == nil) != tt.ok || err != nil && !errors.Is(err, gateways.ErrInvalidRequest) {
			t.Errorf("VND(%s %s) = %d, %v; want %d, ok %v", tt.amount, tt.currency, got, err, tt.want, tt.ok)
		}
	}
}

func TestRef(t *testing.T) {
	t.Parallel()
	for ref, ok := range map[string]bool{
		"AT7Q2X9": true, "a": true, "0123456789abcdefghijABCDEFGHIJ01": true,
		"": false, "0123456789abcdefghijABCDEFGHIJ012": false, "AT-1": false, "AT 1": false, "ĐT1": false,
	} {
		if err := Ref(ref); (err == nil) != ok {
			t.Errorf("Ref(%q) = %v, want ok %v", ref, err, ok)
		}
	}
}

func TestEqualMAC(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got, want string
		equal     bool
	}{
		{"abcdef", "abcdef", true},
		{"ABCDEF", "abcdef", true},
		{"abcdee", "abcdef", false},
		{"abcde", "abcdef", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if EqualMAC(tt.got, tt.want) != tt.equal {
			t.Errorf("EqualMAC(%q, %q) = %v", tt.got, tt.want, !tt.equal)
		}
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	a, b := NewID(), NewID()
	if len(a) != 32 || a == b {
		t.Errorf("NewID = %q, %q; want two different 32-character ids", a, b)
	}
}
