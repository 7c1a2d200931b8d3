package csvsafe_test

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/civicpay/civicpay/internal/foundation/csvsafe"
)

func TestCell(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"RF12345678", "RF12345678"},
		{"=HYPERLINK(\"http://evil\",\"x\")", "'=HYPERLINK(\"http://evil\",\"x\")"},
		{"=1+2", "'=1+2"},
		{"+84 90 123 4567", "'+84 90 123 4567"},
		{"-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"},
		{"@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"a=1", "a=1"}, // only the first character counts
		{" =1", " =1"},
		// Amounts stay numbers.
		{"-5000", "-5000"},
		{"+5000", "+5000"},
		{"-5000.50", "-5000.50"},
		{"200000", "200000"},
		// Not plain numbers: neutralised.
		{"-", "'-"},
		{"-.5", "'-.5"},
		{"-5.", "'-5."},
		{"-5.0.1", "'-5.0.1"},
		{"-1e10", "'-1e10"},
		{"-5000 VND", "'-5000 VND"},
		{"+", "'+"},
	}
	for _, tc := range tests {
		if got := csvsafe.Cell(tc.in); got != tc.want {
			t.Errorf("Cell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWriterNeutralisesEveryCell(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := csvsafe.NewWriter(&buf)
	rec := []string{"=1+2", "-5000", "ok"}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if rec[0] != "=1+2" {
		t.Fatal("Write changed the caller's record")
	}
	got, err := csv.NewReader(&buf).Read()
	if err != nil || got[0] != "'=1+2" || got[1] != "-5000" || got[2] != "ok" {
		t.Fatalf("read back %q, %v", got, err)
	}
}
