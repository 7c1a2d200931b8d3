package statement

import (
	"io"
	"math"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/money"
)

// SettlementRow is a transaction line of a settlement file as
// ParseSettlementRows hands it over: a SettlementLine whose amounts are
// whole numbers of the file's unit, 10^-Scale of the currency's (Gross is
// GrossUnits × 10^-Scale), so that a bulk loader can write a million of them
// without decimal arithmetic. Signs and rules are SettlementLine's: Gross
// and Net signed from civicpay's point of view, NetUnits = GrossUnits −
// FeeUnits.
type SettlementRow struct {
	Line         int
	GatewayTxnID string
	Reference    string
	Type         string // TypePayment or TypeRefund
	GrossUnits   int64
	FeeUnits     int64
	NetUnits     int64
	Scale        int32 // decimal places of the units (VNPAY: 2; the others: 0)
	Currency     string
	At           time.Time
}

// SettlementLine is r with decimal amounts, exactly as ParseSettlement gives
// the same line (same values and exponents).
func (r *SettlementRow) SettlementLine() SettlementLine {
	return SettlementLine{Line: r.Line, GatewayTxnID: r.GatewayTxnID, Reference: r.Reference, Type: r.Type,
		Gross: decimal.New(r.GrossUnits, -r.Scale), Fee: decimal.New(r.FeeUnits, -r.Scale),
		Net: decimal.New(r.NetUnits, -r.Scale), Currency: r.Currency, At: r.At}
}

// ParseSettlementRows is ParseSettlement handing each transaction line to fn
// as a SettlementRow (valid only during the call: fn must copy what it
// keeps). Same rules, same errors, same result.
func (o SettlementOptions) ParseSettlementRows(gateway string, r io.Reader, fn func(*SettlementRow) error) (SettlementFile, error) {
	return o.parse(gateway, r, nil, fn)
}

// rowSums are the running totals of the lines in file units: int64 while
// they fit, spilled into the decimal totals before they would not.
type rowSums struct {
	gross, fee, net int64
}

// add adds a row's units, first spilling the running sums into dec when an
// addition could overflow.
func (p *settlementParser) addUnits(g, f, n int64) {
	if !fits(p.units.gross, g) || !fits(p.units.fee, f) || !fits(p.units.net, n) {
		p.spill()
	}
	p.units.gross += g
	p.units.fee += f
	p.units.net += n
	p.unitsUsed = true
}

// fits reports whether a+b does not overflow (amounts are below 10^18,
// sums stay within ±2^62 before they spill).
func fits(a, b int64) bool {
	const lim = 1 << 62
	s := a + b
	return s < lim && s > -lim
}

// spill moves the int64 running sums into p.sum's decimals.
func (p *settlementParser) spill() {
	if !p.unitsUsed {
		return
	}
	sc := -p.l.scale
	p.sum.Gross = p.sum.Gross.Add(decimal.New(p.units.gross, sc))
	p.sum.Fees = p.sum.Fees.Add(decimal.New(p.units.fee, sc))
	p.sum.Net = p.sum.Net.Add(decimal.New(p.units.net, sc))
	p.units, p.unitsUsed = rowSums{}, false
}

// fastRow reads a transaction line without decimals into p.row. It reports
// false whenever the line is not plainly valid: the caller then reads it the
// general way (settlementParser.line), which says what is wrong, so every
// error is the same as before.
func (p *settlementParser) fastRow(n int, rec []string) bool {
	l := p.l
	if p.file.FileID == "" || rec[colFileID] != p.file.FileID || rec[colCurrency] != p.file.Currency {
		return false // the first line (identify) and any disagreement: the general way
	}
	if p.dateText == "" {
		p.dateText = p.file.BusinessDate.Format(l.dateLayout)
		p.unitDiv = minorDivisor(l.scale, p.file.Currency)
	}
	if rec[colDate] != p.dateText || !l.txnOK(rec[colTxnID]) || !l.refOK(rec[colReference]) {
		return false
	}
	typ, ok := l.types[rec[colType]]
	if !ok {
		return false
	}
	g, ok1 := parseUnits(rec[colGross], l.signed)
	f, ok2 := parseUnits(rec[colFee], l.signed)
	net, ok3 := parseUnits(rec[colNet], l.signed)
	if !ok1 || !ok2 || !ok3 || g%p.unitDiv != 0 || f%p.unitDiv != 0 || net%p.unitDiv != 0 {
		return false
	}
	at, err := l.parseTime(rec[colTime])
	if err != nil {
		return false
	}
	if !l.signed && typ == TypeRefund {
		g, net = -g, -net
	}
	switch {
	case typ == TypePayment && g <= 0, typ == TypeRefund && g >= 0, net != g-f:
		return false
	}
	p.row = SettlementRow{Line: n, GatewayTxnID: rec[colTxnID], Reference: rec[colReference], Type: typ,
		GrossUnits: g, FeeUnits: f, NetUnits: net, Scale: l.scale, Currency: p.file.Currency, At: at}
	return true
}

// rowOf is a SettlementLine read the general way as a row (its amounts
// have at most l.scale decimals and fewer than 19 digits).
func (l *layout) rowOf(sl SettlementLine) SettlementRow {
	units := func(d decimal.Decimal) int64 { return d.Shift(l.scale).IntPart() }
	return SettlementRow{Line: sl.Line, GatewayTxnID: sl.GatewayTxnID, Reference: sl.Reference, Type: sl.Type,
		GrossUnits: units(sl.Gross), FeeUnits: units(sl.Fee), NetUnits: units(sl.Net), Scale: l.scale,
		Currency: sl.Currency, At: sl.At}
}

// parseUnits reads a whole number of at most isoMaxDigits digits, with a
// leading minus when signed (parseAmount's rule).
func parseUnits(s string, signed bool) (int64, bool) {
	neg := false
	if signed && len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) == 0 || len(s) > isoMaxDigits {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// minorDivisor is what a file amount (the amount × 10^scale) must be a
// multiple of to have no more decimals than ccy allows (checkMinorUnits).
func minorDivisor(scale int32, ccy string) int64 {
	exp := int32(isoMaxFraction)
	if c, err := money.Lookup(ccy); err == nil {
		exp = c.Decimals
	}
	if scale <= exp {
		return 1
	}
	return int64(math.Pow10(int(scale - exp)))
}

// charsOK reports whether s has between 1 and max bytes, each one of the
// ASCII letters or digits or in extra.
func charsOK(s string, max int, extra string) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') {
			continue
		}
		ok := false
		for j := 0; j < len(extra); j++ {
			if c == extra[j] {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// digitsOK is digitsID without a regular expression.
func digitsOK(s string) bool { return len(s) <= 20 && allDigits(s) }

// vnpayRefOK is vnpayRef without a regular expression.
func vnpayRefOK(s string) bool { return charsOK(s, 100, "_-") }
