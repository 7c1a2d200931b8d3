package statement

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Settlement line types, as SettlementLine.Type spells them whatever the
// gateway's own code.
const (
	TypePayment = "payment"
	TypeRefund  = "refund"
)

// SettlementFile is what a gateway settlement file says about itself. The
// totals are those of the trailer, which ParseSettlement has checked against
// the lines.
type SettlementFile struct {
	Gateway      string
	FileID       string    // canonical SettlementFileID
	Revision     int       // from the file id
	BusinessDate time.Time // from the file id, midnight ICT
	Count        int       // transaction lines
	Gross        decimal.Decimal
	Fees         decimal.Decimal
	Net          decimal.Decimal // what the gateway pays into the treasury account (negative: what it takes back)
	Currency     string
	// Under the tolerant rule, a file whose trailer disagrees with its lines
	// (or has none) has its lines' totals above, what the trailer said here
	// (nil when it agrees or is missing), and a Finding saying so.
	Trailer  *SettlementTotals
	Findings []Finding
}

// SettlementTotals are a settlement file's trailer totals.
type SettlementTotals struct {
	Count int             `json:"count"`
	Gross decimal.Decimal `json:"gross"`
	Fees  decimal.Decimal `json:"fees"`
	Net   decimal.Decimal `json:"net"`
}

// SettlementLine is one transaction of a settlement file, normalised: Gross
// and Net are signed from civicpay's point of view (positive: money the
// gateway owes us; a refund is negative), Fee is what the gateway charges
// (negative if it gives a fee back), and Net = Gross − Fee.
type SettlementLine struct {
	Line         int    // physical line in the file (1-based)
	GatewayTxnID string // the gateway's transaction id
	Reference    string // our reference: vnp_TxnRef, MoMo orderId, ZaloPay app_trans_id / m_refund_id
	Type         string // TypePayment or TypeRefund
	Gross        decimal.Decimal
	Fee          decimal.Decimal
	Net          decimal.Decimal
	Currency     string
	At           time.Time // transaction time, in ICT
}

// settlementColumns is the column order shared by the three layouts; only the
// header names and the value formats differ.
const (
	colFileID = iota
	colDate
	colTxnID
	colReference
	colType
	colGross
	colFee
	colNet
	colCurrency
	colTime
	settlementColumns
)

// trailer columns: tag, file id, count, gross, fee, net, currency.
const trailerColumns = 7

// layout is one gateway's CSV settlement layout. A real layout agreed by
// contract replaces the value in layouts; the parser and the writer only go
// through these fields.
type layout struct {
	gateway    string
	kind       Kind
	comma      rune
	crlf       bool
	header     []string
	trailerTag string
	scale      int32             // amounts in the file are the amount × 10^scale (VNPAY: 2)
	signed     bool              // amounts carry their sign; otherwise they are magnitudes and the type gives the direction
	types      map[string]string // file code → TypePayment / TypeRefund
	typeCodes  map[string]string // TypePayment / TypeRefund → code written
	dateLayout string            // business date
	parseTime  func(string) (time.Time, error)
	formatTime func(time.Time) string
	txnID      *regexp.Regexp
	reference  *regexp.Regexp
	// txnOK and refOK tell the same as txnID and reference, faster where a
	// layout has a plain character class (nil: the regular expression).
	fastTxnID, fastRef func(string) bool
}

func (l *layout) txnOK(s string) bool {
	if l.fastTxnID != nil {
		return l.fastTxnID(s)
	}
	return l.txnID.MatchString(s)
}

func (l *layout) refOK(s string) bool {
	if l.fastRef != nil {
		return l.fastRef(s)
	}
	return l.reference.MatchString(s)
}

func (l *layout) headerLine() string { return strings.Join(l.header, string(l.comma)) }

func timeLayout(layout string) (func(string) (time.Time, error), func(time.Time) string) {
	parse := func(s string) (time.Time, error) {
		t, err := time.ParseInLocation(layout, s, ICT)
		if err != nil {
			return time.Time{}, formatErr("time %q is not %s", clip(s), layout)
		}
		return t, nil
	}
	format := func(t time.Time) string { return t.In(ICT).Format(layout) }
	return parse, format
}

func parseUnixMilli(s string) (time.Time, error) {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || !allDigits(s) || len(s) > 15 {
		return time.Time{}, formatErr("time %q is not Unix milliseconds", clip(s))
	}
	return time.UnixMilli(ms).In(ICT), nil
}

func formatUnixMilli(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

var (
	digitsID = regexp.MustCompile(`^[0-9]{1,20}$`)
	vnpayRef = regexp.MustCompile(`^[0-9A-Za-z_-]{1,100}$`)
	momoRef  = regexp.MustCompile(`^[0-9a-zA-Z]([-_.]*[0-9a-zA-Z]+)*$`)
	// zalopayRef takes app_trans_id (yymmdd_ + at most 33 characters) and refund
	// lines' m_refund_id (yymmdd_<app id>_<refund ref>), which is longer.
	zalopayRef = regexp.MustCompile(`^[0-9]{6}_[0-9A-Za-z_-]{1,64}$`)
)

var vnpayTime, vnpayTimeFormat = timeLayout("20060102150405")
var zalopayTime, zalopayTimeFormat = timeLayout("2006-01-02 15:04:05")

// layouts are the settlement CSV layouts, documented in the package comment.
var layouts = map[string]*layout{
	GatewayVNPAY: {
		gateway: GatewayVNPAY, kind: KindVNPAYSettlement, comma: ',', crlf: true,
		header: []string{"vnp_SettlementFileId", "vnp_SettlementDate", "vnp_TransactionNo", "vnp_TxnRef",
			"vnp_TransactionType", "vnp_Amount", "vnp_FeeAmount", "vnp_NetAmount", "vnp_CurrCode", "vnp_PayDate"},
		trailerTag: "TRAILER", scale: 2,
		types:      map[string]string{"01": TypePayment, "02": TypeRefund, "03": TypeRefund},
		typeCodes:  map[string]string{TypePayment: "01", TypeRefund: "02"},
		dateLayout: "20060102", parseTime: vnpayTime, formatTime: vnpayTimeFormat,
		txnID: digitsID, reference: vnpayRef, fastTxnID: digitsOK, fastRef: vnpayRefOK,
	},
	GatewayMoMo: {
		gateway: GatewayMoMo, kind: KindMoMoSettlement, comma: ',',
		header: []string{"settlementFileId", "settlementDate", "transId", "orderId",
			"transType", "amount", "fee", "netAmount", "currency", "responseTime"},
		trailerTag: "TOTAL", signed: true,
		types:      map[string]string{"PAYMENT": TypePayment, "REFUND": TypeRefund},
		typeCodes:  map[string]string{TypePayment: "PAYMENT", TypeRefund: "REFUND"},
		dateLayout: "02/01/2006", parseTime: parseUnixMilli, formatTime: formatUnixMilli,
		txnID: digitsID, reference: momoRef, fastTxnID: digitsOK,
	},
	GatewayZaloPay: {
		gateway: GatewayZaloPay, kind: KindZaloPaySettlement, comma: '|',
		header: []string{"settlement_file_id", "settlement_date", "zp_trans_id", "app_trans_id",
			"trans_type", "amount", "fee_amount", "net_amount", "currency", "trans_time"},
		trailerTag: "SUMMARY",
		types:      map[string]string{"1": TypePayment, "2": TypeRefund},
		typeCodes:  map[string]string{TypePayment: "1", TypeRefund: "2"},
		dateLayout: "2006-01-02", parseTime: zalopayTime, formatTime: zalopayTimeFormat,
		txnID: digitsID, reference: zalopayRef, fastTxnID: digitsOK,
	},
}

// Gateways lists the gateways with a settlement layout.
func Gateways() []string { return []string{GatewayVNPAY, GatewayMoMo, GatewayZaloPay} }

// amountField is one amount column to parse into dst.
type amountField struct {
	name, text string
	dst        *decimal.Decimal
}

func (l *layout) parseAmounts(ccy string, signed bool, fields ...amountField) error {
	for _, f := range fields {
		d, err := l.parseAmount(f.name, f.text, ccy, signed)
		if err != nil {
			return err
		}
		*f.dst = d
	}
	return nil
}

// parseAmount reads an amount column. Trailer totals are always signed;
// line amounts only in a signed layout.
func (l *layout) parseAmount(field, s, ccy string, signed bool) (decimal.Decimal, error) {
	digits := s
	if signed {
		digits = strings.TrimPrefix(s, "-")
	}
	if !allDigits(digits) || len(digits) > isoMaxDigits {
		return decimal.Decimal{}, formatErr("%s %q is not a whole number", field, clip(s))
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, formatErr("%s %q: %v", field, clip(s), err)
	}
	d = d.Shift(-l.scale)
	if err := checkMinorUnits(d, ccy); err != nil {
		return decimal.Decimal{}, formatErr("%s: %v", field, err)
	}
	return d, nil
}

func (l *layout) formatAmount(d decimal.Decimal) string { return d.Shift(l.scale).String() }

// normalise turns the file's amounts into a SettlementLine's signed ones.
// fileNet is the net column as read; it must agree.
func (l *layout) normalise(line *SettlementLine, fileNet decimal.Decimal) error {
	if !l.signed {
		if line.Type == TypeRefund {
			line.Gross, fileNet = line.Gross.Neg(), fileNet.Neg()
		}
	}
	line.Net = fileNet
	return line.check()
}

// check verifies the rules every normalised line obeys.
func (line *SettlementLine) check() error {
	switch {
	case line.Type == TypePayment && !line.Gross.IsPositive():
		return formatErr("payment with gross %s (must be positive)", line.Gross)
	case line.Type == TypeRefund && !line.Gross.IsNegative():
		return formatErr("refund with gross %s (must be negative once signed)", line.Gross)
	case !line.Net.Equal(line.Gross.Sub(line.Fee)):
		return formatErr("net %s is not gross %s − fee %s", line.Net, line.Gross, line.Fee)
	}
	return nil
}

// fileValues are the columns of a line as written: the inverse of normalise.
func (l *layout) fileValues(line SettlementLine) (gross, fee, net string) {
	g, n := line.Gross, line.Net
	if !l.signed && line.Type == TypeRefund {
		g, n = g.Neg(), n.Neg()
	}
	return l.formatAmount(g), l.formatAmount(line.Fee), l.formatAmount(n)
}
