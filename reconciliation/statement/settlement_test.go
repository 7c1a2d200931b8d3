package statement

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The examples of the package documentation, verbatim.
var docSettlementFiles = map[string]string{
	GatewayVNPAY: "vnp_SettlementFileId,vnp_SettlementDate,vnp_TransactionNo,vnp_TxnRef,vnp_TransactionType,vnp_Amount,vnp_FeeAmount,vnp_NetAmount,vnp_CurrCode,vnp_PayDate\r\n" +
		"STL-VNPAY-20261123-R1,20261123,14422574,ATT20261123000001,01,10000000,220000,9780000,VND,20261123091806\r\n" +
		"STL-VNPAY-20261123-R1,20261123,14422990,ATT20261122000417,02,5000000,0,5000000,VND,20261123144000\r\n" +
		"TRAILER,STL-VNPAY-20261123-R1,2,5000000,220000,4780000,VND\r\n",
	GatewayMoMo: "settlementFileId,settlementDate,transId,orderId,transType,amount,fee,netAmount,currency,responseTime\n" +
		"STL-MOMO-20261123-R1,23/11/2026,4088878653,ATT20261123000002,PAYMENT,50000,1100,48900,VND,1795400286000\n" +
		"STL-MOMO-20261123-R1,23/11/2026,4088879001,RFD20261123000001,REFUND,-20000,0,-20000,VND,1795419600000\n" +
		"TOTAL,STL-MOMO-20261123-R1,2,30000,1100,28900,VND\n",
	GatewayZaloPay: "settlement_file_id|settlement_date|zp_trans_id|app_trans_id|trans_type|amount|fee_amount|net_amount|currency|trans_time\n" +
		"STL-ZALOPAY-20261123-R1|2026-11-23|261123000000123|261123_ATT000003|1|200000|2000|198000|VND|2026-11-23 10:15:00\n" +
		"SUMMARY|STL-ZALOPAY-20261123-R1|1|200000|2000|198000|VND\n",
}

func settlementLineString(l SettlementLine) string {
	return fmt.Sprintf("%d %s %s %s gross=%s fee=%s net=%s %s at=%s",
		l.Line, l.GatewayTxnID, l.Reference, l.Type, l.Gross, l.Fee, l.Net, l.Currency, l.At.In(ICT).Format(isoDateTimeWrite))
}

func settlementFileString(f SettlementFile) string {
	return fmt.Sprintf("%s %s R%d %s count=%d gross=%s fees=%s net=%s %s",
		f.Gateway, f.FileID, f.Revision, when(f.BusinessDate), f.Count, f.Gross, f.Fees, f.Net, f.Currency)
}

func parseSettlementString(gateway, s string) (SettlementFile, []SettlementLine, error) {
	var lines []SettlementLine
	f, err := ParseSettlement(gateway, strings.NewReader(s), func(l SettlementLine) error {
		lines = append(lines, l)
		return nil
	})
	return f, lines, err
}

func TestParseSettlementDocExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		gateway string
		file    string
		lines   []string
	}{
		{GatewayVNPAY, "vnpay STL-VNPAY-20261123-R1 R1 2026-11-23 count=2 gross=50000 fees=2200 net=47800 VND", []string{
			"2 14422574 ATT20261123000001 payment gross=100000 fee=2200 net=97800 VND at=2026-11-23T09:18:06+07:00",
			"3 14422990 ATT20261122000417 refund gross=-50000 fee=0 net=-50000 VND at=2026-11-23T14:40:00+07:00",
		}},
		{GatewayMoMo, "momo STL-MOMO-20261123-R1 R1 2026-11-23 count=2 gross=30000 fees=1100 net=28900 VND", []string{
			"2 4088878653 ATT20261123000002 payment gross=50000 fee=1100 net=48900 VND at=2026-11-23T09:18:06+07:00",
			"3 4088879001 RFD20261123000001 refund gross=-20000 fee=0 net=-20000 VND at=2026-11-23T14:40:00+07:00",
		}},
		{GatewayZaloPay, "zalopay STL-ZALOPAY-20261123-R1 R1 2026-11-23 count=1 gross=200000 fees=2000 net=198000 VND", []string{
			"2 261123000000123 261123_ATT000003 payment gross=200000 fee=2000 net=198000 VND at=2026-11-23T10:15:00+07:00",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.gateway, func(t *testing.T) {
			t.Parallel()
			input := docSettlementFiles[tt.gateway]
			if k, err := Detect([]byte(input)); err != nil || k.Gateway() != tt.gateway {
				t.Errorf("Detect = %q, %v; want the %s layout", k, err, tt.gateway)
			}
			f, lines, err := parseSettlementString(tt.gateway, input)
			if err != nil {
				t.Fatal(err)
			}
			if got := settlementFileString(f); got != tt.file {
				t.Errorf("file:\n got %s\nwant %s", got, tt.file)
			}
			var got []string
			for _, l := range lines {
				got = append(got, settlementLineString(l))
			}
			assertLines(t, "lines", got, tt.lines)
		})
	}
}

// simLines are the lines of a day at one gateway, in normalised form.
func simLines(gateway string) []SettlementLine {
	at := time.Date(2026, time.November, 23, 9, 18, 6, 0, ICT)
	ref := map[string]func(int) string{
		GatewayVNPAY:   func(i int) string { return fmt.Sprintf("ATT2026112300%04d", i) },
		GatewayMoMo:    func(i int) string { return fmt.Sprintf("ATT-20261123.%04d", i) },
		GatewayZaloPay: func(i int) string { return fmt.Sprintf("261123_ATT%06d", i) },
	}[gateway]
	return []SettlementLine{
		{GatewayTxnID: "1001", Reference: ref(1), Type: TypePayment, Gross: dec("100000"), Fee: dec("2200"), Net: dec("97800"), Currency: "VND", At: at},
		{GatewayTxnID: "1002", Reference: ref(2), Type: TypePayment, Gross: dec("1"), Fee: dec("0"), Net: dec("1"), Currency: "VND", At: at.Add(time.Hour)},
		{GatewayTxnID: "1003", Reference: ref(3), Type: TypeRefund, Gross: dec("-50000"), Fee: dec("1000"), Net: dec("-51000"), Currency: "VND", At: at.Add(2 * time.Hour)},
		{GatewayTxnID: "1004", Reference: ref(4), Type: TypePayment, Gross: dec("49999999999"), Fee: dec("99999"), Net: dec("49999900000"), Currency: "VND", At: at.Add(-10 * time.Hour)},
	}
}

func writeSettlement(t testing.TB, gateway string, file SettlementFile, lines []SettlementLine) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewSettlementWriter(gateway, &buf, file)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if err := w.Write(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

func TestSettlementRoundTrip(t *testing.T) {
	t.Parallel()
	for _, gateway := range Gateways() {
		t.Run(gateway, func(t *testing.T) {
			t.Parallel()
			want := simLines(gateway)
			buf := writeSettlement(t, gateway, SettlementFile{BusinessDate: day(2026, time.November, 23), Revision: 2}, want)
			f, got, err := parseSettlementString(gateway, buf.String())
			if err != nil {
				t.Fatalf("%v\n%s", err, buf)
			}
			wantFile := fmt.Sprintf("%s STL-%s-20261123-R2 R2 2026-11-23 count=4 gross=50000050000 fees=103199 net=49999946801 VND",
				gateway, strings.ToUpper(gateway))
			if settlementFileString(f) != wantFile {
				t.Errorf("file:\n got %s\nwant %s", settlementFileString(f), wantFile)
			}
			if len(got) != len(want) {
				t.Fatalf("%d lines, want %d", len(got), len(want))
			}
			for i := range want {
				want[i].Line = i + 2
				if a, b := settlementLineString(got[i]), settlementLineString(want[i]); a != b {
					t.Errorf("line %d:\n got %s\nwant %s", i+1, a, b)
				}
			}
		})
	}
}

func TestSettlementEmptyDay(t *testing.T) {
	t.Parallel()
	for _, gateway := range Gateways() {
		t.Run(gateway, func(t *testing.T) {
			t.Parallel()
			buf := writeSettlement(t, gateway, SettlementFile{FileID: "STL-" + strings.ToUpper(gateway) + "-20261124-R1"}, nil)
			f, lines, err := parseSettlementString(gateway, buf.String())
			want := gateway + " STL-" + strings.ToUpper(gateway) + "-20261124-R1 R1 2026-11-24 count=0 gross=0 fees=0 net=0 VND"
			if err != nil || len(lines) != 0 || settlementFileString(f) != want {
				t.Errorf("got %s, %d lines, %v; want %s", settlementFileString(f), len(lines), err, want)
			}
		})
	}
}

func TestSettlementTrailerMismatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		gateway string
		trailer func(*SettlementFile)
		msg     string
	}{
		{GatewayVNPAY, func(f *SettlementFile) { f.Gross = f.Gross.Add(dec("100000")) },
			"gross: trailer 50000150000, lines 50000050000 (difference 100000 VND)"},
		{GatewayMoMo, func(f *SettlementFile) { f.Count++; f.Net = f.Net.Sub(dec("1")) },
			"count: trailer 5, lines 4 (difference 1); net: trailer 49999946800, lines 49999946801 (difference -1 VND)"},
		{GatewayZaloPay, func(f *SettlementFile) { f.Fees = dec("0") },
			"fees: trailer 0, lines 103199 (difference -103199 VND)"},
	}
	for _, tt := range tests {
		t.Run(tt.gateway, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			w, err := NewSettlementWriter(tt.gateway, &buf, SettlementFile{BusinessDate: day(2026, time.November, 23)})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range simLines(tt.gateway) {
				if err := w.Write(l); err != nil {
					t.Fatal(err)
				}
			}
			bad := w.File()
			lineTotals := bad
			tt.trailer(&bad)
			if err := w.CloseWithTrailer(bad); err != nil {
				t.Fatal(err)
			}
			_, lines, err := parseSettlementString(tt.gateway, buf.String())
			var pe *ParseError
			if !errors.Is(err, ErrTrailer) || !errors.As(err, &pe) || pe.Line != 6 || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want ErrTrailer on line 6 naming %q", err, tt.msg)
			}
			if len(lines) != 4 {
				t.Errorf("callback saw %d lines before the trailer, want 4", len(lines))
			}
			// The tolerant rule loads it: the lines' totals, the trailer's
			// beside them, the differences named.
			f, err := SettlementOptions{Tolerant: true}.ParseSettlement(tt.gateway, strings.NewReader(buf.String()), nil)
			if err != nil || settlementFileString(f) != settlementFileString(lineTotals) || f.Trailer == nil ||
				f.Trailer.Count != bad.Count || !f.Trailer.Gross.Equal(bad.Gross) || !f.Trailer.Fees.Equal(bad.Fees) || !f.Trailer.Net.Equal(bad.Net) ||
				len(f.Findings) != 1 || f.Findings[0].Code != FindingTrailerMismatch || !strings.HasSuffix(f.Findings[0].Detail, tt.msg) {
				t.Errorf("tolerant: %s trailer %+v findings %+v, %v; want %s with the trailer's totals and %q",
					settlementFileString(f), f.Trailer, f.Findings, err, settlementFileString(lineTotals), tt.msg)
			}
		})
	}
}

func TestParseSettlementTolerantWithoutTrailer(t *testing.T) {
	t.Parallel()
	vnpay := docSettlementFiles[GatewayVNPAY]
	truncated := vnpay[:strings.Index(vnpay, "TRAILER")]
	strictFile, _, strictErr := parseSettlementString(GatewayVNPAY, vnpay)
	tests := []struct {
		name, input string
		want        string // settlementFileString; "" when refused
		finding     string
	}{
		{"whole file: as strict", vnpay, settlementFileString(strictFile), ""},
		{"truncated before the trailer: the lines' totals", truncated, settlementFileString(strictFile), FindingTrailerMissing},
		{"header only: nothing says which file", strings.SplitN(vnpay, "\n", 2)[0] + "\n", "", ""},
		{"empty", "", "", ""},
	}
	if strictErr != nil {
		t.Fatal(strictErr)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := SettlementOptions{Tolerant: true}.ParseSettlement(GatewayVNPAY, strings.NewReader(tt.input), nil)
			if tt.want == "" {
				if !errors.Is(err, ErrTrailer) {
					t.Fatalf("err = %v, want ErrTrailer", err)
				}
				return
			}
			var codes []string
			for _, fd := range f.Findings {
				codes = append(codes, fd.Code)
			}
			if err != nil || settlementFileString(f) != tt.want || strings.Join(codes, ",") != tt.finding || f.Trailer != nil {
				t.Errorf("%s findings %v trailer %+v, %v; want %s %q", settlementFileString(f), codes, f.Trailer, err, tt.want, tt.finding)
			}
		})
	}
}

func TestParseSettlementErrors(t *testing.T) {
	t.Parallel()
	vnpay := docSettlementFiles[GatewayVNPAY]
	momo := docSettlementFiles[GatewayMoMo]
	zalo := docSettlementFiles[GatewayZaloPay]
	tests := []struct {
		name    string
		gateway string
		input   string
		limits  Limits
		want    error
		line    int
		msg     string
	}{
		{"unknown gateway", "paypal", vnpay, Limits{}, ErrUnknownGateway, 0, `"paypal"`},
		{"another gateway's file", GatewayMoMo, vnpay, Limits{}, ErrFormat, 1, "header is not"},
		{"empty", GatewayMoMo, "", Limits{}, ErrTrailer, 0, "no TOTAL line"},
		{"truncated", GatewayVNPAY, vnpay[:strings.Index(vnpay, "TRAILER")], Limits{}, ErrTrailer, 3, "no TRAILER line (truncated file?)"},
		{"cut inside a line", GatewayZaloPay, zalo[:len(zalo)-30], Limits{}, ErrFormat, 3, "SUMMARY line has 2 columns"},
		{"data after the trailer", GatewayMoMo, momo + momo[strings.Index(momo, "\n")+1:], Limits{}, ErrFormat, 5, "data after the TOTAL line"},
		{"missing column", GatewayMoMo, strings.Replace(momo, ",VND,1795400286000", ",1795400286000", 1), Limits{}, ErrFormat, 2, "9 columns, want 10"},
		{"file id of another day", GatewayMoMo, strings.Replace(momo, "STL-MOMO-20261123-R1,23/11/2026,4088879001", "STL-MOMO-20261124-R1,23/11/2026,4088879001", 1), Limits{}, ErrFormat, 3, "differs from"},
		{"file id of another gateway", GatewayMoMo, strings.ReplaceAll(momo, "STL-MOMO-", "STL-VNPAY-"), Limits{}, ErrFormat, 2, "is not a momo file"},
		{"malformed file id", GatewayMoMo, strings.ReplaceAll(momo, "STL-MOMO-20261123-R1", "STL-MOMO-20261123-R01"), Limits{}, ErrFormat, 2, "is not STL-"},
		{"business date differs", GatewayMoMo, strings.Replace(momo, "23/11/2026", "24/11/2026", 1), Limits{}, ErrFormat, 2, `business date "24/11/2026", the file id says 23/11/2026`},
		{"net is not gross - fee", GatewayMoMo, strings.Replace(momo, "50000,1100,48900", "50000,1100,48000", 1), Limits{}, ErrFormat, 2, "net 48000 is not gross 50000 − fee 1100"},
		{"positive refund in a signed layout", GatewayMoMo, strings.Replace(momo, "REFUND,-20000,0,-20000", "REFUND,20000,0,20000", 1), Limits{}, ErrFormat, 3, "refund with gross 20000"},
		{"sign in an unsigned layout", GatewayZaloPay, strings.Replace(zalo, "|1|200000|", "|1|-200000|", 1), Limits{}, ErrFormat, 2, `gross "-200000" is not a whole number`},
		{"fractional VND after ×100", GatewayVNPAY, strings.Replace(vnpay, "01,10000000,220000,9780000", "01,10000050,220000,9780050", 1), Limits{}, ErrFormat, 2, "VND amount 100000.5 has more than 0 decimal places"},
		{"decimal point", GatewayMoMo, strings.Replace(momo, "50000,1100,48900", "50000.0,1100,48900", 1), Limits{}, ErrFormat, 2, "not a whole number"},
		{"unknown type", GatewayVNPAY, strings.Replace(vnpay, ",01,", ",04,", 1), Limits{}, ErrFormat, 2, `transaction type "04" unknown`},
		{"bad time", GatewayZaloPay, strings.Replace(zalo, "2026-11-23 10:15:00", "2026-11-23T10:15:00", 1), Limits{}, ErrFormat, 2, "is not 2006-01-02 15:04:05"},
		{"bad transaction id", GatewayMoMo, strings.Replace(momo, "4088878653", "40888786x3", 1), Limits{}, ErrFormat, 2, "gateway transaction id"},
		{"bad reference", GatewayZaloPay, strings.Replace(zalo, "261123_ATT000003", "ATT000003", 1), Limits{}, ErrFormat, 2, `reference "ATT000003" malformed`},
		{"currency differs", GatewayMoMo, strings.Replace(momo, "-20000,VND", "-20000,USD", 1), Limits{}, ErrFormat, 3, `currency "USD" differs`},
		{"bad trailer count", GatewayMoMo, strings.Replace(momo, "TOTAL,STL-MOMO-20261123-R1,2,", "TOTAL,STL-MOMO-20261123-R1,two,", 1), Limits{}, ErrFormat, 4, `count "two"`},
		{"bare quote", GatewayMoMo, strings.Replace(momo, "ATT20261123000002", `ATT2026"1123000002`, 1), Limits{}, ErrFormat, 2, "csv"},
		{"line too long", GatewayMoMo, strings.Replace(momo, "ATT20261123000002", strings.Repeat("A", 20000), 1), Limits{MaxLineBytes: 8192}, ErrLimit, 2, "record is longer than 8192"},
		{"quoted newlines without end", GatewayMoMo, momo[:strings.Index(momo, "\n")+1] + `"` + strings.Repeat("a\n", 10000), Limits{MaxLineBytes: 8192}, ErrLimit, 2, "record is longer than 8192"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.limits.ParseSettlement(tt.gateway, strings.NewReader(tt.input), nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %q, want it to contain %q", err, tt.msg)
			}
			var pe *ParseError
			if tt.line > 0 && (!errors.As(err, &pe) || pe.Line != tt.line) {
				t.Errorf("err = %v, want a *ParseError on line %d", err, tt.line)
			}
		})
	}
}

func TestParseSettlementTolerates(t *testing.T) {
	t.Parallel()
	momo := docSettlementFiles[GatewayMoMo]
	tests := []struct{ name, input string }{
		{"byte order mark", "\xef\xbb\xbf" + momo},
		{"CRLF and blank lines", strings.ReplaceAll(momo, "\n", "\r\n\r\n")},
		{"no final newline", strings.TrimSuffix(momo, "\n")},
		{"quoted fields", strings.Replace(momo, "ATT20261123000002,PAYMENT", `"ATT20261123000002","PAYMENT"`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, lines, err := parseSettlementString(GatewayMoMo, tt.input)
			if err != nil || f.Count != 2 || len(lines) != 2 || lines[0].Reference != "ATT20261123000002" || !f.Net.Equal(dec("28900")) {
				t.Errorf("got %s, %d lines, %v", settlementFileString(f), len(lines), err)
			}
		})
	}
}

func TestParseSettlementCallbackError(t *testing.T) {
	t.Parallel()
	_, err := ParseSettlement(GatewayVNPAY, strings.NewReader(docSettlementFiles[GatewayVNPAY]), func(l SettlementLine) error {
		if l.Type == TypeRefund {
			return errStop
		}
		return nil
	})
	var pe *ParseError
	if !errors.Is(err, errStop) || !errors.As(err, &pe) || pe.Line != 3 {
		t.Errorf("err = %v, want errStop on line 3", err)
	}
}

func TestSettlementWriterRefuses(t *testing.T) {
	t.Parallel()
	d := day(2026, time.November, 23)
	good := simLines(GatewayZaloPay)[0]
	tests := []struct {
		name    string
		gateway string
		file    SettlementFile
		line    func(*SettlementLine)
		msg     string
	}{
		{"unknown gateway", "paypal", SettlementFile{BusinessDate: d}, nil, "unknown gateway"},
		{"no business date", GatewayZaloPay, SettlementFile{}, nil, "without a business date"},
		{"revision too high", GatewayZaloPay, SettlementFile{BusinessDate: d, Revision: 1000}, nil, "revision 1000 outside 1..999"},
		{"file of another gateway", GatewayZaloPay, SettlementFile{Gateway: GatewayMoMo, BusinessDate: d}, nil, "file of momo given to a zalopay writer"},
		{"file id of another gateway", GatewayZaloPay, SettlementFile{FileID: "STL-MOMO-20261123-R1"}, nil, "is not a zalopay file"},
		{"file id against revision", GatewayZaloPay, SettlementFile{FileID: "STL-ZALOPAY-20261123-R1", Revision: 2}, nil, "revision 2 but file id"},
		{"file id against date", GatewayZaloPay, SettlementFile{FileID: "STL-ZALOPAY-20261123-R1", BusinessDate: d.Add(24 * time.Hour)}, nil, "business date 2026-11-24 but file id"},
		{"bad currency", GatewayZaloPay, SettlementFile{BusinessDate: d, Currency: "vnd"}, nil, "not an ISO 4217 code"},
		{"unknown type", GatewayZaloPay, SettlementFile{BusinessDate: d}, func(l *SettlementLine) { l.Type = "chargeback" }, `type "chargeback"`},
		{"net not gross - fee", GatewayZaloPay, SettlementFile{BusinessDate: d}, func(l *SettlementLine) { l.Net = l.Gross }, "is not gross"},
		{"positive refund", GatewayZaloPay, SettlementFile{BusinessDate: d}, func(l *SettlementLine) { l.Type = TypeRefund }, "refund with gross 100000"},
		{"negative fee in an unsigned layout", GatewayZaloPay, SettlementFile{BusinessDate: d}, func(l *SettlementLine) { l.Fee, l.Net = dec("-1"), dec("100001") }, "cannot write the amount -1"},
		{"fractional VND", GatewayVNPAY, SettlementFile{BusinessDate: d}, func(l *SettlementLine) { l.Gross, l.Net = dec("100000.5"), dec("97800.5") }, "decimal places"},
		{"bad reference", GatewayZaloPay, SettlementFile{BusinessDate: d}, func(l *SettlementLine) { l.Reference = "ATT,1" }, `reference "ATT,1"`},
		{"bad transaction id", GatewayZaloPay, SettlementFile{BusinessDate: d}, func(l *SettlementLine) { l.GatewayTxnID = "" }, "gateway transaction id"},
		{"other currency", GatewayZaloPay, SettlementFile{BusinessDate: d}, func(l *SettlementLine) { l.Currency = "USD" }, "currency USD in a VND file"},
		{"no time", GatewayZaloPay, SettlementFile{BusinessDate: d}, func(l *SettlementLine) { l.At = time.Time{} }, "no transaction time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := NewSettlementWriter(tt.gateway, &bytes.Buffer{}, tt.file)
			if err == nil {
				l := good
				if tt.line != nil {
					tt.line(&l)
				}
				err = w.Write(l)
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want one containing %q", err, tt.msg)
			}
		})
	}
}

func TestSettlementWriterClosed(t *testing.T) {
	t.Parallel()
	w, err := NewSettlementWriter(GatewayMoMo, &bytes.Buffer{}, SettlementFile{BusinessDate: day(2026, time.November, 23)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(simLines(GatewayMoMo)[0]); err == nil {
		t.Error("Write after Close succeeded")
	}
	if err := w.Close(); err == nil {
		t.Error("second Close succeeded")
	}
}

// TestZaloPayRefundIDs: a refund line carries m_refund_id (yymmdd_<app id>_<our
// refund ref>), longer than an app_trans_id; a whole refund reference must parse.
func TestZaloPayRefundIDs(t *testing.T) {
	t.Parallel()
	lines := simLines(GatewayZaloPay)
	lines[2].Reference = "261123_2554_01a20c15edad78c49f1a2ab8e7475013" // 32-character refund ref
	buf := writeSettlement(t, GatewayZaloPay, SettlementFile{BusinessDate: day(2026, time.November, 23), Revision: 1}, lines)
	var got []string
	if _, err := ParseSettlement(GatewayZaloPay, buf, func(l SettlementLine) error {
		got = append(got, l.Reference)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(lines) || got[2] != lines[2].Reference {
		t.Fatalf("references %v", got)
	}
}
