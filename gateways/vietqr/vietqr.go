package vietqr

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/civicpay/civicpay/gateways"
	"github.com/shopspring/decimal"
)

// EMVCo and NAPAS constants.
const (
	NapasGUID       = "A000000727"
	ServiceAccount  = "QRIBFTTA" // transfer to an account
	ServiceCard     = "QRIBFTTC" // transfer to a card
	InitiationFixed = "11"       // static QR, the payer types the amount
	InitiationOnce  = "12"       // dynamic QR, with amount
	CurrencyVND     = "704"
	CountryVN       = "VN"

	maxPurpose = 25 // NAPAS: purpose of transaction up to 25 characters
	maxAccount = 19
	maxAmount  = 13 // EMVCo: field 54 up to 13 characters
)

// Payload is the content of a VietQR code.
type Payload struct {
	Initiation string          // "11" static or "12" dynamic; Build picks by Amount when empty
	BankBIN    string          // the beneficiary bank's 6-digit BIN
	Account    string          // beneficiary account (or card) number
	Service    string          // ServiceAccount (default) or ServiceCard
	Currency   string          // ISO 4217 numeric; default "704" (VND)
	Amount     decimal.Decimal // whole VND; zero for none
	Country    string          // default "VN"
	Purpose    string          // purpose of transaction (62/08): our payment reference
}

func (p Payload) withDefaults() Payload {
	if p.Service == "" {
		p.Service = ServiceAccount
	}
	if p.Currency == "" {
		p.Currency = CurrencyVND
	}
	if p.Country == "" {
		p.Country = CountryVN
	}
	if p.Initiation == "" {
		p.Initiation = InitiationFixed
		if p.Amount.IsPositive() {
			p.Initiation = InitiationOnce
		}
	}
	return p
}

// Build writes p as an EMVCo merchant-presented QR payload in NAPAS's VietQR
// profile: 00 payload format "01", 01 initiation, 38 merchant account
// (00 GUID A000000727, 01 {00 BIN, 01 account}, 02 service code), 53
// currency, 54 amount (when not zero), 58 country, 62 {08 purpose} (when
// set), and 63 the CRC16 of everything before it including "6304", as four
// uppercase hex digits. Defaults fill empty fields (see Payload).
func Build(p Payload) (string, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return "", fmt.Errorf("vietqr: build: %w", err)
	}
	beneficiary := (&tlv{}).add("00", p.BankBIN).add("01", p.Account).String()
	account := (&tlv{}).add("00", NapasGUID).add("01", beneficiary).add("02", p.Service).String()
	var qr tlv
	qr.add("00", "01").add("01", p.Initiation).add("38", account).add("53", p.Currency)
	if !p.Amount.IsZero() {
		qr.add("54", p.Amount.String())
	}
	qr.add("58", p.Country)
	if p.Purpose != "" {
		qr.add("62", (&tlv{}).add("08", p.Purpose).String())
	}
	s := qr.String() + "6304"
	return s + fmt.Sprintf("%04X", CRC16([]byte(s))), nil
}

func (p Payload) validate() error {
	switch {
	case len(p.BankBIN) != 6 || !isDigits(p.BankBIN):
		return fmt.Errorf("bank BIN %q: want 6 digits", p.BankBIN)
	case p.Account == "" || len(p.Account) > maxAccount || !isAlnum(p.Account):
		return fmt.Errorf("account %q: want 1 to %d letters or digits", p.Account, maxAccount)
	case p.Service != ServiceAccount && p.Service != ServiceCard:
		return fmt.Errorf("service code %q", p.Service)
	case p.Initiation != InitiationFixed && p.Initiation != InitiationOnce:
		return fmt.Errorf("point of initiation %q", p.Initiation)
	case len(p.Currency) != 3 || !isDigits(p.Currency):
		return fmt.Errorf("currency %q: want ISO 4217 numeric", p.Currency)
	case len(p.Country) != 2:
		return fmt.Errorf("country %q", p.Country)
	case p.Amount.IsNegative() || !p.Amount.IsInteger() || len(p.Amount.String()) > maxAmount:
		return fmt.Errorf("amount %s: want whole VND, at most %d digits", p.Amount, maxAmount)
	case len(p.Purpose) > maxPurpose || !isPrintableASCII(p.Purpose):
		return fmt.Errorf("purpose %q: want at most %d printable ASCII characters", p.Purpose, maxPurpose)
	}
	return nil
}

func isAlnum(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func isPrintableASCII(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7E {
			return false
		}
	}
	return true
}

// Parse checks a VietQR payload — its structure, its CRC (field 63, the last,
// four hex digits in either case) and the NAPAS merchant account — and
// returns its fields. It reads what Build writes and what other generators
// write in the same profile (optional fields such as 52, 59 and 60 are
// allowed and ignored), and refuses anything else with gateways.ErrMalformed.
func Parse(payload string) (Payload, error) {
	p, err := parse(payload)
	if err != nil {
		return Payload{}, fmt.Errorf("vietqr: parse: %v: %w", err, gateways.ErrMalformed)
	}
	return p, nil
}

func parse(s string) (Payload, error) {
	if len(s) < 8 || s[len(s)-8:len(s)-4] != "6304" {
		return Payload{}, fmt.Errorf("no CRC (6304….) at the end")
	}
	want, err := strconv.ParseUint(s[len(s)-4:], 16, 16)
	if err != nil {
		return Payload{}, fmt.Errorf("CRC %q is not four hex digits", s[len(s)-4:])
	}
	if got := CRC16([]byte(s[:len(s)-4])); uint64(got) != want {
		return Payload{}, fmt.Errorf("CRC %04X, computed %04X", want, got)
	}
	root, err := parseTLV(s[:len(s)-8])
	if err != nil {
		return Payload{}, err
	}
	if root["00"] != "01" {
		return Payload{}, fmt.Errorf("payload format %q, want 01", root["00"])
	}
	account, err := parseTLV(root["38"])
	if err != nil {
		return Payload{}, fmt.Errorf("merchant account (38): %w", err)
	}
	if account["00"] != NapasGUID {
		return Payload{}, fmt.Errorf("merchant account GUID %q, want %s", account["00"], NapasGUID)
	}
	beneficiary, err := parseTLV(account["01"])
	if err != nil {
		return Payload{}, fmt.Errorf("beneficiary (38/01): %w", err)
	}
	extra, err := parseTLV(root["62"])
	if err != nil {
		return Payload{}, fmt.Errorf("additional data (62): %w", err)
	}
	p := Payload{
		Initiation: root["01"], BankBIN: beneficiary["00"], Account: beneficiary["01"], Service: account["02"],
		Currency: root["53"], Country: root["58"], Purpose: extra["08"],
	}
	if a, ok := root["54"]; ok {
		if p.Amount, err = parseAmount(a); err != nil {
			return Payload{}, err
		}
	}
	if p.BankBIN == "" || p.Account == "" || p.Currency == "" {
		return Payload{}, fmt.Errorf("bank BIN, account and currency are required")
	}
	return p, nil
}

// parseAmount reads field 54: digits with at most one decimal point.
func parseAmount(s string) (decimal.Decimal, error) {
	whole, frac, dot := strings.Cut(s, ".")
	if !isDigits(whole) || dot && !isDigits(frac) {
		return decimal.Decimal{}, fmt.Errorf("amount %q: want digits with at most one decimal point", s)
	}
	return decimal.NewFromString(s)
}
