package statement

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// doc053 wraps a statement body (after Id and Acct) in a camt.053.001.08 document.
func doc053(body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>
<GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-11-23T10:00:00+07:00</CreDtTm></GrpHdr>
<Stmt><Id>S1</Id><Acct><Id><Othr><Id>0011004123456</Id></Othr></Id><Ccy>VND</Ccy></Acct>
` + body + `
</Stmt></BkToCstmrStmt></Document>`
}

// bal is a Bal element.
func bal(tp, amt, ind string) string {
	return `<Bal><Tp><CdOrPrtry><Cd>` + tp + `</Cd></CdOrPrtry></Tp><Amt Ccy="VND">` + amt +
		`</Amt><CdtDbtInd>` + ind + `</CdtDbtInd><Dt><Dt>2026-11-23</Dt></Dt></Bal>`
}

// ntry is an Ntry element with a BOOK status unless sts replaces it.
func ntry(amt, ind, sts string) string {
	if sts == "" {
		sts = `<Sts><Cd>BOOK</Cd></Sts>`
	}
	return `<Ntry><Amt Ccy="VND">` + amt + `</Amt><CdtDbtInd>` + ind + `</CdtDbtInd>` + sts +
		`<BookgDt><Dt>2026-11-23</Dt></BookgDt></Ntry>`
}

// balanced is a body whose balances hold: 1000 + 300 = 1300.
var balanced = bal("OPBD", "1000", "CRDT") + bal("CLBD", "1300", "CRDT") + ntry("300", "CRDT", "")

func TestParseCAMTErrors(t *testing.T) {
	t.Parallel()
	v02 := string(readTestdata(t, "camt053_v02.xml"))
	deep := strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100)
	tests := []struct {
		name   string
		input  string
		limits Limits
		want   error
		msg    string // substring of the error
	}{
		{"unbalanced sample", string(readTestdata(t, "camt053_unbalanced.xml")), Limits{}, ErrUnbalanced,
			"statement 1 (UNBAL-STMT-1): statement does not balance: opening 1000 + entries 250 = 1250, closing says 1200: difference 50 VND"},
		{"unbalanced debit opening", doc053(bal("OPBD", "500", "DBIT") + bal("CLBD", "200", "CRDT") + ntry("600", "CRDT", "")), Limits{}, ErrUnbalanced,
			"opening -500 + entries 600 = 100, closing says 200: difference -100 VND"},
		{"pending entry does not count", doc053(bal("OPBD", "1000", "CRDT") + bal("CLBD", "1300", "CRDT") + ntry("300", "CRDT", "<Sts>PDNG</Sts>")), Limits{}, ErrUnbalanced,
			"opening 1000 + entries 0 = 1000, closing says 1300"},
		{"truncated", v02[:len(v02)/2], Limits{}, ErrFormat, "unexpected EOF"},
		{"garbage", "hello, world", Limits{}, ErrFormat, "no BkToCstmrStmt"},
		{"binary", "\x00\x01\x02<<>>\xff", Limits{}, ErrFormat, "xml"},
		{"empty", "", Limits{}, ErrFormat, "no BkToCstmrStmt"},
		{"other XML", `<Document><CstmrCdtTrfInitn/></Document>`, Limits{}, ErrFormat, "no BkToCstmrStmt"},
		{"mismatched tags", doc053("<Ntry></Bal>"), Limits{}, ErrFormat, "closed by"},
		{"undefined entity", doc053("<AddtlStmtInf>&bomb;</AddtlStmtInf>"), Limits{}, ErrFormat, "entity"},
		{"entity expansion attempt", `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>` +
			doc053(`<AddtlStmtInf>&b;</AddtlStmtInf>`)[len(`<?xml version="1.0" encoding="UTF-8"?>`):], Limits{}, ErrFormat, "entity"},
		{"too deep outside entries", doc053(deep), Limits{}, ErrLimit, "nested deeper than 64"},
		{"too deep inside an entry", doc053(`<Ntry>` + deep + `</Ntry>`), Limits{}, ErrLimit, "nested deeper than 64"},
		{"token too long", doc053(`<AddtlStmtInf>` + strings.Repeat("x", 5000) + `</AddtlStmtInf>`), Limits{MaxTokenBytes: 4096}, ErrLimit, "token is longer than 4096"},
		{"token too long after a Latin-1 declaration", strings.Replace(doc053(`<AddtlStmtInf>`+strings.Repeat("\xe9", 5000)+`</AddtlStmtInf>`),
			`encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1), Limits{MaxTokenBytes: 4096}, ErrLimit, "token is longer than 4096"},
		{"entry too long", doc053(`<Ntry>` + strings.Repeat("<AddtlNtryInf>x</AddtlNtryInf>", 500) + `</Ntry>`), Limits{MaxElementBytes: 8000}, ErrLimit, "element is longer than 8000"},
		{"too many statements", string(readTestdata(t, "camt053_v04.xml")), Limits{MaxStatements: 1}, ErrLimit, "more than 1 statements"},
		{"no closing balance", doc053(bal("OPBD", "1000", "CRDT")), Limits{}, ErrNoBalance,
			"statement lacks a booked balance: no closing booked balance (CLBD); its balances are OPBD"},
		{"only available balances", doc053(bal("OPAV", "1000", "CRDT") + bal("CLAV", "1000", "CRDT")), Limits{}, ErrNoBalance,
			"no opening booked balance (OPBD or PRCD) and no closing booked balance (CLBD); its balances are OPAV, CLAV"},
		{"no balance at all", doc053(""), Limits{}, ErrNoBalance, "; it has no balance at all"},
		{"closing balance twice", doc053(balanced + bal("CLBD", "1300", "CRDT")), Limits{}, ErrFormat, "balance CLBD repeated"},
		{"fractional VND", doc053(bal("OPBD", "1000", "CRDT") + bal("CLBD", "1300.5", "CRDT") + ntry("300.5", "CRDT", "")), Limits{}, ErrFormat, "VND amount 1300.5 has more than 0 decimal places"},
		{"negative amount", doc053(balanced + ntry("-5", "CRDT", "")), Limits{}, ErrFormat, `amount "-5" is not a plain unsigned decimal`},
		{"exponent", doc053(balanced + ntry("1e3", "CRDT", "")), Limits{}, ErrFormat, "not a plain unsigned decimal"},
		{"too many digits", doc053(balanced + ntry("1234567890123456789", "CRDT", "")), Limits{}, ErrFormat, "too many digits"},
		{"bad currency", doc053(balanced + `<Ntry><Amt Ccy="dong">5</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts></Ntry>`), Limits{}, ErrFormat, "not an ISO 4217 code"},
		{"entry in another currency", doc053(balanced + `<Ntry><Amt Ccy="USD">5</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts></Ntry>`), Limits{}, ErrFormat, "entry in USD on a VND statement"},
		{"bad direction", doc053(balanced + ntry("5", "CR", "")), Limits{}, ErrFormat, `CdtDbtInd "CR" is neither CRDT nor DBIT`},
		{"amount twice", doc053(balanced + `<Ntry><Amt Ccy="VND">5</Amt><Amt Ccy="VND">6</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts></Ntry>`), Limits{}, ErrFormat, "Amt repeated"},
		{"status missing", doc053(balanced + `<Ntry><Amt Ccy="VND">5</Amt><CdtDbtInd>CRDT</CdtDbtInd></Ntry>`), Limits{}, ErrFormat, "Sts missing"},
		{"status in both forms", doc053(balanced + ntry("5", "CRDT", "<Sts>BOOK<Cd>BOOK</Cd></Sts>")), Limits{}, ErrFormat, "exactly one of"},
		{"bad reversal flag", doc053(balanced + `<Ntry><Amt Ccy="VND">5</Amt><CdtDbtInd>CRDT</CdtDbtInd><RvslInd>yes</RvslInd><Sts>BOOK</Sts></Ntry>`), Limits{}, ErrFormat, "RvslInd"},
		{"bad date", doc053(balanced + `<Ntry><Amt Ccy="VND">5</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-13-01</Dt></BookgDt></Ntry>`), Limits{}, ErrFormat, "BookgDt"},
		{"date and date-time", doc053(balanced + `<Ntry><Amt Ccy="VND">5</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><ValDt><Dt>2026-11-23</Dt><DtTm>2026-11-23T10:00:00</DtTm></ValDt></Ntry>`), Limits{}, ErrFormat, "both Dt and DtTm"},
		{"IBAN and Othr", strings.Replace(doc053(balanced), "<Othr>", "<IBAN>VN00</IBAN><Othr>", 1), Limits{}, ErrFormat, "both IBAN and Othr"},
		{"account twice", doc053(`<Acct><Id><Othr><Id>1</Id></Othr></Id></Acct>` + balanced), Limits{}, ErrFormat, "Acct repeated"},
		{"statement without Id", strings.Replace(doc053(balanced), "<Id>S1</Id>", "", 1), Limits{}, ErrFormat, "statement without Id"},
		{"statement before GrpHdr", strings.Replace(doc053(balanced), "<MsgId>M1</MsgId>", "", 1), Limits{}, ErrFormat, "Stmt before GrpHdr/MsgId"},
		{"notification inside a statement message", strings.Replace(doc053(balanced), "</Stmt>", "</Stmt><Ntfctn/>", 1), Limits{}, ErrFormat, "Ntfctn inside BkToCstmrStmt"},
		{"namespace of another message", strings.Replace(doc053(balanced), "camt.053.001.08", "camt.054.001.08", 1), Limits{}, ErrFormat, "in namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stmts, err := tt.limits.ParseCAMT(strings.NewReader(tt.input), nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Errorf("err = %#v, want a *ParseError with a line", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %q, want it to contain %q", err, tt.msg)
			}
			if stmts != nil {
				t.Errorf("statements returned with an error: %v", stmts)
			}
		})
	}
}

func TestParseCAMTAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, input string
		want        string // stmtLine of the only statement
	}{
		{"trailing zeros of VND", doc053(bal("OPBD", "1000.00", "CRDT") + bal("CLBD", "1300.0", "CRDT") + ntry("300.000", "CRDT", "")),
			"camt.053 001.08 #1 msg=M1 id=S1 seq= created=2026-11-23T10:00:00+07:00 from=- to=- acct=0011004123456 VND open=[OPBD 1000 VND 2026-11-23] close=[CLBD 1300 VND 2026-11-23] n=1 cr=300 dr=0"},
		{"PRCD gives way to OPBD", doc053(bal("PRCD", "7", "CRDT") + balanced),
			"camt.053 001.08 #1 msg=M1 id=S1 seq= created=2026-11-23T10:00:00+07:00 from=- to=- acct=0011004123456 VND open=[OPBD 1000 VND 2026-11-23] close=[CLBD 1300 VND 2026-11-23] n=1 cr=300 dr=0"},
		{"no namespace, in an envelope, BOM", "\xef\xbb\xbf<BizMsg><AppHdr><MsgDefIdr>camt.053.001.08</MsgDefIdr></AppHdr>" +
			strings.ReplaceAll(doc053(balanced)[len(`<?xml version="1.0" encoding="UTF-8"?>`):], ` xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"`, "") + "</BizMsg>",
			"camt.053  #1 msg=M1 id=S1 seq= created=2026-11-23T10:00:00+07:00 from=- to=- acct=0011004123456 VND open=[OPBD 1000 VND 2026-11-23] close=[CLBD 1300 VND 2026-11-23] n=1 cr=300 dr=0"},
		{"proprietary status, unknown elements, comments", doc053("<!-- note --><RptgSrc><Prtry>X</Prtry></RptgSrc>" + balanced +
			ntry("9", "CRDT", "<Sts><Prtry>HELD</Prtry></Sts>") + "<AddtlStmtInf>end</AddtlStmtInf>"),
			"camt.053 001.08 #1 msg=M1 id=S1 seq= created=2026-11-23T10:00:00+07:00 from=- to=- acct=0011004123456 VND open=[OPBD 1000 VND 2026-11-23] close=[CLBD 1300 VND 2026-11-23] n=2 cr=300 dr=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stmts, _, err := parseCAMTString(tt.input)
			if err != nil {
				t.Fatal(err)
			}
			if len(stmts) != 1 || stmtLine(stmts[0]) != tt.want {
				t.Errorf("got %d statements:\n%s\nwant\n%s", len(stmts), stmtLine(stmts[0]), tt.want)
			}
		})
	}
}

func TestParseCAMTErrorPosition(t *testing.T) {
	t.Parallel()
	// Make the third entry of the .02 sample fractional: the error names
	// statement, entry and the line where the entry starts.
	v02 := string(readTestdata(t, "camt053_v02.xml"))
	bad := strings.Replace(v02, `<Amt Ccy="VND">11000</Amt>`, `<Amt Ccy="VND">11000.5</Amt>`, 1)
	_, err := ParseCAMT(strings.NewReader(bad), nil)
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *ParseError", err)
	}
	if want := lineOf(bad, "<Ntry>", 3); pe.Line != want || pe.Statement != 1 || pe.Entry != 3 || pe.StatementID != "STMT-0011004123456-20261123" {
		t.Errorf("error at line %d statement %d (%s) entry %d, want line %d statement 1 entry 3: %v",
			pe.Line, pe.Statement, pe.StatementID, pe.Entry, want, err)
	}
}

var errStop = errors.New("stop here")

func TestParseCAMTCallbackError(t *testing.T) {
	t.Parallel()
	calls := 0
	_, err := ParseCAMT(strings.NewReader(string(readTestdata(t, "camt053_v08.xml"))), func(_ Statement, e Entry) error {
		calls++
		if e.Seq == 2 {
			return errStop
		}
		return nil
	})
	var pe *ParseError
	if !errors.Is(err, errStop) || !errors.As(err, &pe) || pe.Entry != 2 || calls != 2 {
		t.Errorf("err = %v after %d calls, want errStop at entry 2 after 2 calls", err, calls)
	}
}

// failingReader returns its data, then an I/O error.
type failingReader struct{ r io.Reader }

var errDisk = errors.New("disk on fire")

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errDisk
	}
	return n, err
}

func TestParseCAMTReaderError(t *testing.T) {
	t.Parallel()
	v08 := string(readTestdata(t, "camt053_v08.xml"))
	_, err := ParseCAMT(&failingReader{strings.NewReader(v08[:len(v08)-20])}, nil)
	if !errors.Is(err, errDisk) {
		t.Errorf("err = %v, want the reader's error", err)
	}
}
