package pages

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestFormatAmount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		amount, currency string
		vi, en           string
	}{
		{"200000", "VND", "200.000 ₫", "200,000 ₫"},
		{"0", "VND", "0 ₫", "0 ₫"},
		{"999", "VND", "999 ₫", "999 ₫"},
		{"1000", "VND", "1.000 ₫", "1,000 ₫"},
		{"1234567890", "VND", "1.234.567.890 ₫", "1,234,567,890 ₫"},
		{"-50000", "VND", "-50.000 ₫", "-50,000 ₫"},
		{"200000.00", "VND", "200.000 ₫", "200,000 ₫"},    // NUMERIC scale: the zeros go
		{"1000.5", "VND", "1.000,5 ₫", "1,000.5 ₫"},       // never rounded, even where it should not exist
		{"1234.5", "USD", "1.234,50 USD", "1,234.50 USD"}, // minor units filled in
		{"12.345", "USD", "12,345 USD", "12.345 USD"},     // more than the currency has: shown, not rounded
		{"100", "EUR", "100 EUR", "100 EUR"},
	}
	for _, tc := range tests {
		t.Run(tc.amount+tc.currency, func(t *testing.T) {
			t.Parallel()
			d := decimal.RequireFromString(tc.amount)
			for lang, want := range map[string]string{langVI: tc.vi, langEN: tc.en} {
				// The tests write a plain space; the pages use a no-break space.
				if got := FormatAmount(d, tc.currency, lang); got != replaceSpace(want) {
					t.Errorf("%s: got %q, want %q", lang, got, replaceSpace(want))
				}
			}
		})
	}
}

func replaceSpace(s string) string {
	b := []rune(s)
	for i := range b {
		if b[i] == ' ' {
			b[i] = '\u00a0'
		}
	}
	return string(b)
}

func TestFormatTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		at     time.Time
		vi, en string
	}{
		{time.Date(2026, 11, 24, 7, 30, 0, 0, time.UTC), "14:30 ngày 24/11/2026 (GMT+7)", "24 Nov 2026, 14:30 (GMT+7)"},
		// 20:00 UTC is already the next day in Vietnam.
		{time.Date(2026, 12, 31, 20, 5, 0, 0, time.UTC), "03:05 ngày 01/01/2027 (GMT+7)", "1 Jan 2027, 03:05 (GMT+7)"},
		{time.Date(2026, 1, 2, 3, 4, 0, 0, time.FixedZone("X", -5*3600)), "15:04 ngày 02/01/2026 (GMT+7)", "2 Jan 2026, 15:04 (GMT+7)"},
	}
	for _, tc := range tests {
		if got := formatTime(tc.at, langVI); got != tc.vi {
			t.Errorf("vi %s: %q, want %q", tc.at, got, tc.vi)
		}
		if got := formatTime(tc.at, langEN); got != tc.en {
			t.Errorf("en %s: %q, want %q", tc.at, got, tc.en)
		}
	}
}

func TestAcceptLanguage(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"": langVI, "vi": langVI, "en": langEN, "en-US": langEN, "EN-gb;q=0.5": langEN,
		"vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7": langVI, "fr-FR,fr;q=0.9,en;q=0.5": langEN,
		"de": langVI, "*": langVI, "zh-Hant-TW": langVI, ",,,": langVI, "en;q=nope": langVI,
	}
	for header, want := range tests {
		if got := acceptLanguage(header); got != want {
			t.Errorf("%q: %s, want %s", header, got, want)
		}
	}
}

func ExampleFormatAmount() {
	fee := decimal.RequireFromString("200000")
	fmt.Printf("%q\n", FormatAmount(fee, "VND", "vi"))
	fmt.Printf("%q\n", FormatAmount(fee, "VND", "en"))
	fmt.Printf("%q\n", FormatAmount(decimal.RequireFromString("1234.5"), "USD", "vi"))
	// Output:
	// "200.000\u00a0₫"
	// "200,000\u00a0₫"
	// "1.234,50\u00a0USD"
}
