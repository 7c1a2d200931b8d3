package vnpay_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/vnpay"
	"github.com/shopspring/decimal"
)

// vectorValues is VNPAY's published test fixture.
func vectorValues() url.Values {
	return url.Values{
		"vnp_Amount":            {"1000000"},
		"vnp_BankCode":          {"NCB"},
		"vnp_BankTranNo":        {"VNP14422574"},
		"vnp_CardType":          {"ATM"},
		"vnp_OrderInfo":         {"Thanh toan don hang 2024-05-21T02:17:31.249Z"},
		"vnp_PayDate":           {"20240521091806"},
		"vnp_ResponseCode":      {"00"},
		"vnp_TmnCode":           {"TEST_TMN_CODE"},
		"vnp_TransactionNo":     {"14422574"},
		"vnp_TransactionStatus": {"00"},
		"vnp_TxnRef":            {"1716257871703"},
	}
}

const vectorHash = "649982421beb422556a1374713c74e58e716ecbd05007c0c0e1f7effdfaf361dbf146889ca446139afe11b9954c4d5c486e99e3b86fcfab6957f29eb0be72895"

func TestSignPublishedVector(t *testing.T) {
	t.Parallel()
	if got := vnpay.Sign(vectorValues(), "test_secret"); got != vectorHash {
		t.Fatalf("Sign = %s, want %s", got, vectorHash)
	}
}

func TestSignIgnores(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		add  func(url.Values)
	}{
		{"secure hash", func(v url.Values) { v.Set("vnp_SecureHash", "abc") }},
		{"secure hash type", func(v url.Values) { v.Set("vnp_SecureHashType", "HmacSHA512") }},
		{"empty value", func(v url.Values) { v.Set("vnp_BankCode2", "") }},
		{"non-vnp parameter", func(v url.Values) { v.Set("utm_source", "mail") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := vectorValues()
			tt.add(v)
			if got := vnpay.Sign(v, "test_secret"); got != vectorHash {
				t.Errorf("Sign = %s, want the vector's hash", got)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(url.Values)
		want   bool
	}{
		{"as signed", func(url.Values) {}, true},
		{"uppercase hash", func(v url.Values) { v.Set("vnp_SecureHash", strings.ToUpper(vectorHash)) }, true},
		{"amount changed", func(v url.Values) { v.Set("vnp_Amount", "2000000") }, false},
		{"response code changed", func(v url.Values) { v.Set("vnp_ResponseCode", "24") }, false},
		{"field added", func(v url.Values) { v.Set("vnp_Extra", "1") }, false},
		{"field removed", func(v url.Values) { v.Del("vnp_BankTranNo") }, false},
		{"hash missing", func(v url.Values) { v.Del("vnp_SecureHash") }, false},
		{"hash truncated", func(v url.Values) { v.Set("vnp_SecureHash", vectorHash[:64]) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := vectorValues()
			v.Set("vnp_SecureHash", vectorHash)
			tt.change(v)
			if got := vnpay.Verify(v, "test_secret"); got != tt.want {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPipeHash(t *testing.T) {
	t.Parallel()
	a := vnpay.PipeHash("s", "a", "b|c")
	if a != vnpay.PipeHash("s", "a|b", "c") {
		t.Error("PipeHash should hash the joined string, whatever the split")
	}
	if a == vnpay.PipeHash("s", "a", "b", "c ") || a == vnpay.PipeHash("t", "a", "b|c") {
		t.Error("PipeHash ignores a value or the secret")
	}
	if len(a) != 128 || strings.ToLower(a) != a {
		t.Errorf("PipeHash = %q, want 128 lowercase hex digits", a)
	}
}

func TestAmount(t *testing.T) {
	t.Parallel()
	if got := vnpay.FormatAmount(10000); got != "1000000" {
		t.Errorf("FormatAmount(10000) = %s, want 1000000", got)
	}
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1000000", 10000, true},
		{"100", 1, true},
		{"1000050", 0, false}, // 10000.50 VND
		{"", 0, false},
		{"-100", 0, false},
		{"+100", 0, false},
		{"1e5", 0, false},
		{"99999999999999999999900", 0, false},
	}
	for _, tt := range tests {
		got, err := vnpay.ParseAmount(tt.in)
		if tt.ok != (err == nil) || tt.ok && !got.Equal(decimal.NewFromInt(tt.want)) {
			t.Errorf("ParseAmount(%q) = %s, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if !tt.ok && !errors.Is(err, gateways.ErrMalformed) {
			t.Errorf("ParseAmount(%q) error %v does not wrap ErrMalformed", tt.in, err)
		}
	}
}

func TestTime(t *testing.T) {
	t.Parallel()
	utc := time.Date(2024, 5, 21, 2, 18, 6, 0, time.UTC)
	if got := vnpay.FormatTime(utc); got != "20240521091806" {
		t.Errorf("FormatTime = %s, want 20240521091806 (GMT+7)", got)
	}
	got, err := vnpay.ParseTime("20240521091806")
	if err != nil || !got.Equal(utc) || got.Location() != time.UTC {
		t.Errorf("ParseTime = %v, %v; want %v UTC", got, err, utc)
	}
	if _, err := vnpay.ParseTime("2024-05-21"); err == nil {
		t.Error("ParseTime accepted a bad date")
	}
}
