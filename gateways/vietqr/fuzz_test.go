package vietqr_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/civicpay/civicpay/gateways/vietqr"
	"github.com/shopspring/decimal"
)

func FuzzParse(f *testing.F) {
	for _, p := range []vietqr.Payload{
		{BankBIN: "970415", Account: "113366668888", Amount: decimal.NewFromInt(79000), Purpose: "RF18539007547034"},
		{BankBIN: "970436", Account: "0881000458086"},
	} {
		s, err := vietqr.Build(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
	}
	f.Add("00020001021238570010A00000072701270006970436011308810004580860208QRIBFTTA53037045802VN6304CD60")
	f.Add("6304FFFF")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := vietqr.Parse(s)
		if err != nil {
			return
		}
		if want := fmt.Sprintf("%04X", vietqr.CRC16([]byte(s[:len(s)-4]))); !strings.EqualFold(s[len(s)-4:], want) {
			t.Fatalf("accepted %q whose CRC is not %s", s, want)
		}
		// What Parse reads and Build accepts must survive a round trip.
		rebuilt, err := vietqr.Build(p)
		if err != nil {
			return
		}
		again, err := vietqr.Parse(rebuilt)
		if err != nil || !again.Amount.Equal(p.Amount) {
			t.Fatalf("round trip of %+v: %v, amount %s", p, err, again.Amount)
		}
		again.Amount = p.Amount
		if again != p {
			t.Fatalf("round trip changed %+v into %+v", p, again)
		}
	})
}
