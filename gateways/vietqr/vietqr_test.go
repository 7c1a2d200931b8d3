package vietqr_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/vietqr"
	"github.com/shopspring/decimal"
)

func TestCRC16(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want uint16
	}{
		{"123456789", 0x29B1}, // the CRC-16/CCITT-FALSE check value
		{"", 0xFFFF},
		// A static VietQR published by github.com/thanhtinhpas1/vietqr-parser, CRC CD60.
		{"00020001021238570010A00000072701270006970436011308810004580860208QRIBFTTA53037045802VN6304", 0xCD60},
	}
	for _, tt := range tests {
		if got := vietqr.CRC16([]byte(tt.in)); got != tt.want {
			t.Errorf("CRC16(%q) = %04X, want %04X", tt.in, got, tt.want)
		}
	}
}

func TestBuild(t *testing.T) {
	t.Parallel()
	got, err := vietqr.Build(vietqr.Payload{BankBIN: "970415", Account: "113366668888",
		Amount: decimal.NewFromInt(79000), Purpose: "RF18539007547034"})
	if err != nil {
		t.Fatal(err)
	}
	body := "000201" + "010212" +
		"3856" + "0010A000000727" + "0126" + "0006970415" + "0112113366668888" + "0208QRIBFTTA" +
		"5303704" + "540579000" + "5802VN" + "6220" + "0816RF18539007547034" + "6304"
	if want := body + fmt.Sprintf("%04X", vietqr.CRC16([]byte(body))); got != want {
		t.Errorf("Build = %s\nwant    %s", got, want)
	}
}

func TestBuildParseRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []vietqr.Payload{
		{BankBIN: "970415", Account: "113366668888", Amount: decimal.NewFromInt(79000), Purpose: "RF18539007547034"},
		{BankBIN: "970436", Account: "0881000458086"},
		{BankBIN: "970422", Account: "9704229200000000", Service: vietqr.ServiceCard, Amount: decimal.NewFromInt(1), Purpose: "Le phi 2025/03"},
	}
	for _, p := range tests {
		s, err := vietqr.Build(p)
		if err != nil {
			t.Fatalf("Build(%+v): %v", p, err)
		}
		got, err := vietqr.Parse(s)
		if err != nil {
			t.Fatalf("Parse(%s): %v", s, err)
		}
		checkPayload(t, got, p)
	}
}

// checkPayload compares got with want as Build fills its defaults.
func checkPayload(t *testing.T, got, want vietqr.Payload) {
	t.Helper()
	if want.Service == "" {
		want.Service = vietqr.ServiceAccount
	}
	want.Currency, want.Country, want.Initiation = vietqr.CurrencyVND, vietqr.CountryVN, vietqr.InitiationFixed
	if want.Amount.IsPositive() {
		want.Initiation = vietqr.InitiationOnce
	}
	if !got.Amount.Equal(want.Amount) {
		t.Errorf("amount %s, want %s", got.Amount, want.Amount)
	}
	got.Amount = want.Amount
	if got != want {
		t.Errorf("parsed %+v\nwant   %+v", got, want)
	}
}

func TestBuildRefuses(t *testing.T) {
	t.Parallel()
	ok := vietqr.Payload{BankBIN: "970415", Account: "113366668888"}
	tests := []struct {
		name   string
		change func(*vietqr.Payload)
	}{
		{"short BIN", func(p *vietqr.Payload) { p.BankBIN = "97041" }},
		{"account with dash", func(p *vietqr.Payload) { p.Account = "1133-6666" }},
		{"fractional amount", func(p *vietqr.Payload) { p.Amount = decimal.RequireFromString("1.5") }},
		{"negative amount", func(p *vietqr.Payload) { p.Amount = decimal.NewFromInt(-1) }},
		{"amount too long", func(p *vietqr.Payload) { p.Amount = decimal.RequireFromString("12345678901234") }},
		{"purpose too long", func(p *vietqr.Payload) { p.Purpose = strings.Repeat("A", 26) }},
		{"purpose not ASCII", func(p *vietqr.Payload) { p.Purpose = "Lệ phí" }},
		{"unknown service", func(p *vietqr.Payload) { p.Service = "QRPUSH" }},
	}
	for _, tt := range tests {
		p := ok
		tt.change(&p)
		if _, err := vietqr.Build(p); err == nil {
			t.Errorf("%s: Build accepted %+v", tt.name, p)
		}
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	good, _ := vietqr.Build(vietqr.Payload{BankBIN: "970415", Account: "113366668888", Amount: decimal.NewFromInt(79000)})
	withCRC := func(body string) string { return body + fmt.Sprintf("%04X", vietqr.CRC16([]byte(body))) }
	tests := map[string]string{
		"empty":          "",
		"no crc":         good[:len(good)-8],
		"wrong crc":      good[:len(good)-4] + "0000",
		"amount changed": strings.Replace(good, "540579000", "540589000", 1),
		"bad length":     withCRC("00020101021238990010A0000007276304"),
		"bad format":     withCRC("000202010212" + good[12:len(good)-4]),
		"not NAPAS":      withCRC(strings.Replace(good[:len(good)-4], vietqr.NapasGUID, "A000000999", 1)),
		"repeated field": withCRC("000201000201" + good[6:len(good)-4]),
		"amount letters": withCRC(strings.Replace(good[:len(good)-4], "540579000", "54057900x", 1)),
		"crc not hex":    good[:len(good)-4] + "G000",
	}
	for name, s := range tests {
		if _, err := vietqr.Parse(s); !errors.Is(err, gateways.ErrMalformed) {
			t.Errorf("%s: Parse(%q) error = %v, want ErrMalformed", name, s, err)
		}
	}
	// The published static QR is refused: its payload format indicator is "00", not "01".
	if _, err := vietqr.Parse("00020001021238570010A00000072701270006970436011308810004580860208QRIBFTTA53037045802VN6304CD60"); !errors.Is(err, gateways.ErrMalformed) {
		t.Errorf("Parse accepted payload format 00: %v", err)
	}
}

func TestParseLowercaseCRC(t *testing.T) {
	t.Parallel()
	good, _ := vietqr.Build(vietqr.Payload{BankBIN: "970415", Account: "113366668888"})
	if _, err := vietqr.Parse(good[:len(good)-4] + strings.ToLower(good[len(good)-4:])); err != nil {
		t.Errorf("Parse refused a lowercase CRC: %v", err)
	}
}

func newAdapter(t *testing.T) *vietqr.Adapter {
	t.Helper()
	a, err := vietqr.New(vietqr.Config{BankBIN: "970415", Account: "113366668888"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAdapterCreate(t *testing.T) {
	t.Parallel()
	a := newAdapter(t)
	r := gateways.CreateRequest{AttemptRef: "AT1", PaymentRef: "RF18539007547034", Amount: decimal.RequireFromString("150000.00"),
		Currency: "VND", Method: gateways.MethodBankTransfer}
	res, err := a.Create(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if res.GatewayRef != "RF18539007547034" || res.RedirectURL != "" {
		t.Errorf("result = %+v", res)
	}
	p, err := vietqr.Parse(res.QRPayload)
	if err != nil {
		t.Fatal(err)
	}
	checkPayload(t, p, vietqr.Payload{BankBIN: "970415", Account: "113366668888", Amount: decimal.NewFromInt(150000), Purpose: "RF18539007547034"})

	for name, change := range map[string]func(*gateways.CreateRequest){
		"fractional":   func(r *gateways.CreateRequest) { r.Amount = decimal.RequireFromString("150000.5") },
		"wrong method": func(r *gateways.CreateRequest) { r.Method = gateways.MethodCard },
		"ref too long": func(r *gateways.CreateRequest) { r.PaymentRef = strings.Repeat("1", 26) },
		"ref spaces":   func(r *gateways.CreateRequest) { r.PaymentRef = "RF18 5390" },
	} {
		bad := r
		change(&bad)
		if _, err := a.Create(context.Background(), bad); !errors.Is(err, gateways.ErrInvalidRequest) {
			t.Errorf("%s: error = %v, want ErrInvalidRequest", name, err)
		}
	}
}

func TestAdapterHasNoAPI(t *testing.T) {
	t.Parallel()
	a := newAdapter(t)
	if _, err := a.ParseCallback(gateways.CallbackRequest{Method: "POST", Body: []byte("{}")}); !errors.Is(err, gateways.ErrUnsupported) {
		t.Errorf("ParseCallback error = %v, want ErrUnsupported", err)
	}
	if _, err := a.Refund(context.Background(), gateways.RefundRequest{}); !errors.Is(err, gateways.ErrUnsupported) {
		t.Errorf("Refund error = %v, want ErrUnsupported", err)
	}
	res, err := a.Query(context.Background(), gateways.QueryRequest{GatewayRef: "RF18539007547034"})
	if err != nil || res.Status != gateways.StatusPending || res.GatewayRef != "RF18539007547034" {
		t.Errorf("Query = %+v, %v; want pending", res, err)
	}
	if status, _, _ := a.Reply(gateways.AckOK); status != 404 {
		t.Errorf("Reply status = %d, want 404", status)
	}
	if _, err := vietqr.New(vietqr.Config{BankBIN: "x", Account: "1"}); err == nil {
		t.Error("New accepted a bad BIN")
	}
}
