package statement

import (
	"fmt"
	"testing"
	"time"
)

func TestParseSettlementFileID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // "gateway date revision", "" for an error
	}{
		{"STL-VNPAY-20261123-R1", "vnpay 2026-11-23 1"},
		{"STL-MOMO-20261231-R12", "momo 2026-12-31 12"},
		{"STL-ZALOPAY-20280229-R999", "zalopay 2028-02-29 999"},
		{"STL-ZALOPAY-20270229-R1", ""}, // not a leap year
		{"STL-VNPAY-20261323-R1", ""},
		{"STL-VNPAY-20261123-R0", ""},
		{"STL-VNPAY-20261123-R01", ""},
		{"STL-VNPAY-20261123-R1000", ""},
		{"STL-PAYPAL-20261123-R1", ""},
		{"stl-vnpay-20261123-r1", ""}, // the canonical form only; FindSettlementFileID is lenient
		{" STL-VNPAY-20261123-R1", ""},
		{"STL-VNPAY-2026112-R1", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			id, err := ParseSettlementFileID(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Errorf("ParseSettlementFileID(%q) = %v, want an error", tt.in, id)
				}
				return
			}
			got := fmt.Sprintf("%s %s %d", id.Gateway, id.BusinessDate.Format(isoDate), id.Revision)
			if err != nil || got != tt.want || id.String() != tt.in || id.BusinessDate.Location() != ICT {
				t.Errorf("ParseSettlementFileID(%q) = %q (%s), %v; want %q", tt.in, got, id, err, tt.want)
			}
		})
	}
}

func TestFindSettlementFileID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		texts []string
		want  string // "" when nothing (or nothing unambiguous) is found
	}{
		{"canonical", []string{"STL-VNPAY-20261123-R1"}, "STL-VNPAY-20261123-R1"},
		{"bank noise with spaces", []string{"CK TU VNPAY STL VNPAY 20261123 R2 /REF 88213"}, "STL-VNPAY-20261123-R2"},
		{"lower case, underscores", []string{"zalopay quyet toan stl_zalopay_20261123_r1 ngay 23"}, "STL-ZALOPAY-20261123-R1"},
		{"dashes dropped", []string{"MOMO TT STLMOMO20261123R3.FT2632"}, "STL-MOMO-20261123-R3"},
		{"dots and slashes", []string{"IBFT/STL.VNPAY.20261123/R12/"}, "STL-VNPAY-20261123-R12"},
		{"doubled separators", []string{"STL--VNPAY - 20261123 / R 4"}, "STL-VNPAY-20261123-R4"},
		{"in the second text", []string{"CONG TY CP VNPAY", "QUYET TOAN STL-VNPAY-20261123-R1"}, "STL-VNPAY-20261123-R1"},
		{"wrapped across lines", []string{"CTY MOMO TT QUYET TOAN STL-MOMO-2026", "1123-R1 NGAY 23/11"}, "STL-MOMO-20261123-R1"},
		{"wrapped inside the revision", []string{"QUYET TOAN STL-MOMO-20261123-R1", "2 NGAY 23/11"}, ""},
		{"revision ends a line, words follow", []string{"QUYET TOAN STL-MOMO-20261123-R1", "NGAY 23/11"}, "STL-MOMO-20261123-R1"},
		{"same id twice", []string{"STL-VNPAY-20261123-R1", "ref stl vnpay 20261123 r1"}, "STL-VNPAY-20261123-R1"},
		{"two different ids", []string{"STL-VNPAY-20261123-R1 STL-VNPAY-20261123-R2"}, ""},
		{"two gateways", []string{"STL-VNPAY-20261123-R1", "STL-MOMO-20261123-R1"}, ""},
		{"revision glued to more digits", []string{"STL VNPAY 20261123 R288213"}, ""},
		{"revision zero", []string{"STL-VNPAY-20261123-R0"}, ""},
		{"not a date", []string{"STL-VNPAY-20261331-R1"}, ""},
		{"unknown gateway", []string{"STL-PAYPAL-20261123-R1"}, ""},
		{"too much between parts", []string{"STL    VNPAY 20261123 R1"}, ""},
		{"date too long", []string{"STL-VNPAY-202611230-R1"}, ""},
		{"nothing", []string{"PHI DICH VU SMS BANKING"}, ""},
		{"no texts", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, ok := FindSettlementFileID(tt.texts)
			got := ""
			if ok {
				got = id.String()
			}
			if got != tt.want {
				t.Errorf("FindSettlementFileID(%q) = %q, want %q", tt.texts, got, tt.want)
			}
		})
	}
}

func TestSettlementFileIDString(t *testing.T) {
	t.Parallel()
	// A business date given in another zone still names its ICT day.
	id := SettlementFileID{Gateway: GatewayMoMo, BusinessDate: time.Date(2026, time.November, 22, 17, 0, 0, 0, time.UTC), Revision: 3}
	if got := id.String(); got != "STL-MOMO-20261123-R3" {
		t.Errorf("String() = %q", got)
	}
}
