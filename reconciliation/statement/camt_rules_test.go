package statement

import (
	"errors"
	"strings"
	"testing"
)

// summary is a TxsSummry element.
func summary(inner string) string { return `<TxsSummry>` + inner + `</TxsSummry>` }

// TestParseCAMTRules holds each document to the strict rule (the default)
// and to the tolerant one: what strict refuses, tolerant loads with a
// finding, and what neither refuses is the same under both.
func TestParseCAMTRules(t *testing.T) {
	t.Parallel()
	tolerantSample := string(readTestdata(t, "camt053_tolerant.xml"))
	tests := []struct {
		name      string
		input     string
		strictErr error  // nil: strict accepts
		strictMsg string // substring of strict's error
		findings  string // tolerant: code:count of each finding of the first statement, in order
		diff      string // tolerant: the first statement's Difference ("" when balanced)
		detail    string // tolerant: substring of the first finding's detail
	}{
		{name: "balanced", input: doc053(balanced)},
		{name: "unbalanced", input: doc053(bal("OPBD", "1000", "CRDT") + bal("CLBD", "1200", "CRDT") + ntry("300", "CRDT", "")),
			strictErr: ErrUnbalanced, strictMsg: "opening 1000 + entries 300 = 1300, closing says 1200: difference 100 VND",
			findings: "unbalanced:0", diff: "100", detail: "difference 100 VND"},
		{name: "value after closing explains the difference", input: tolerantSample,
			strictErr: ErrUnbalanced, strictMsg: "difference 7500000 VND; 1 entry is valued after the closing balance's date 2026-11-23, booked for 7500000 VND, which is the difference",
			findings: "value_after_closing:1 booked_outside_period:1 unbalanced:0", diff: "7500000", detail: "entries valued after"},
		{name: "no closing balance", input: doc053(bal("OPBD", "1000", "CRDT") + ntry("300", "CRDT", "")),
			strictErr: ErrNoBalance, strictMsg: "no closing booked balance (CLBD); its balances are OPBD",
			findings: "balance_missing:0", detail: "no closing booked balance (CLBD)"},
		{name: "no opening balance", input: doc053(bal("CLBD", "1000", "CRDT") + bal("ITBD", "900", "CRDT")),
			strictErr: ErrNoBalance, strictMsg: "no opening booked balance (OPBD or PRCD); its balances are CLBD, ITBD",
			findings: "balance_missing:0", detail: "no opening booked balance"},
		{name: "summary counts an entry too many", input: doc053(balanced + summary(`<TtlNtries><NbOfNtries>2</NbOfNtries></TtlNtries>`)),
			strictErr: ErrSummary, strictMsg: "TxsSummry disagrees with its entries: entries: 2 said, 1 given",
			findings: "summary_mismatch:0", detail: "entries: 2 said, 1 given"},
		{name: "summary sums disagree", input: doc053(balanced + ntry("50", "DBIT", "<Sts>PDNG</Sts>") +
			summary(`<TtlCdtNtries><NbOfNtries>1</NbOfNtries><Sum>301</Sum></TtlCdtNtries><TtlDbtNtries><NbOfNtries>1</NbOfNtries><Sum>50</Sum></TtlDbtNtries>`)),
			strictErr: ErrSummary, strictMsg: "credit entries sum: 301 said, 300 given",
			findings: "summary_mismatch:0", detail: "credit entries sum: 301 said, 300 given"},
		{name: "summary net (.04) disagrees", input: doc053(balanced + summary(`<TtlNtries><TtlNetNtry><Amt>300</Amt><CdtDbtInd>DBIT</CdtDbtInd></TtlNetNtry></TtlNtries>`)),
			strictErr: ErrSummary, strictMsg: "net: -300 said, 300 given", findings: "summary_mismatch:0"},
		{name: "summary (.02) agrees", input: doc053(balanced + summary(`<TtlNtries><NbOfNtries>1</NbOfNtries><Sum>300</Sum><TtlNetNtryAmt>300</TtlNetNtryAmt><CdtDbtInd>CRDT</CdtDbtInd></TtlNtries>`))},
		{name: "summary of booked entries only agrees", input: doc053(balanced + ntry("7", "CRDT", "<Sts>PDNG</Sts>") +
			summary(`<TtlNtries><NbOfNtries>1</NbOfNtries><Sum>300</Sum></TtlNtries>`))},
		{name: "summary per bank transaction code only: not checked", input: doc053(balanced + summary(`<TtlNtriesPerBkTxCd><NbOfNtries>9</NbOfNtries></TtlNtriesPerBkTxCd>`))},
		{name: "booked outside the period", input: strings.Replace(doc053(balanced),
			"<Acct>", "<FrToDt><FrDtTm>2026-11-24T00:00:00+07:00</FrDtTm><ToDtTm>2026-11-24T23:59:59+07:00</ToDtTm></FrToDt><Acct>", 1),
			findings: "booked_outside_period:1"},
		{name: "booked at the very end of the period", input: strings.Replace(doc053(bal("OPBD", "1000", "CRDT")+bal("CLBD", "1300", "CRDT")+
			`<Ntry><Amt Ccy="VND">300</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><DtTm>2026-11-23T23:59:59+07:00</DtTm></BookgDt></Ntry>`),
			"<Acct>", "<FrToDt><FrDtTm>2026-11-23T00:00:00+07:00</FrDtTm><ToDtTm>2026-11-23T23:59:59+07:00</ToDtTm></FrToDt><Acct>", 1)},
		{name: "transaction direction disagrees", input: doc053(bal("OPBD", "1000", "CRDT") + bal("CLBD", "1300", "CRDT") +
			`<Ntry><Amt Ccy="VND">300</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><NtryDtls><TxDtls><CdtDbtInd>CRDT</CdtDbtInd></TxDtls><TxDtls><CdtDbtInd>DBIT</CdtDbtInd></TxDtls></NtryDtls></Ntry>`),
			findings: "direction_disagrees:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseCAMT(strings.NewReader(tt.input), nil)
			var pe *ParseError
			switch {
			case tt.strictErr == nil && err != nil:
				t.Fatalf("strict: %v", err)
			case tt.strictErr != nil && (!errors.Is(err, tt.strictErr) || !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.strictMsg)):
				t.Fatalf("strict: err = %v, want %v containing %q", err, tt.strictErr, tt.strictMsg)
			}
			stmts, err := CAMTOptions{Tolerant: true}.ParseCAMT(strings.NewReader(tt.input), nil)
			if err != nil {
				t.Fatalf("tolerant: %v", err)
			}
			s := stmts[0]
			var codes []string
			for _, f := range s.Findings {
				codes = append(codes, f.Code+":"+itoa(f.Count))
			}
			if got := strings.Join(codes, " "); got != tt.findings {
				t.Errorf("tolerant findings %q, want %q", got, tt.findings)
			}
			if tt.detail != "" && (len(s.Findings) == 0 || !strings.Contains(s.Findings[0].Detail+s.Findings[len(s.Findings)-1].Detail, tt.detail)) {
				t.Errorf("tolerant findings %+v, want a detail containing %q", s.Findings, tt.detail)
			}
			if s.Unbalanced != (tt.diff != "") || (tt.diff != "" && s.Difference.String() != tt.diff) || (tt.diff == "" && !s.Difference.IsZero()) {
				t.Errorf("tolerant: unbalanced %t by %s, want difference %q", s.Unbalanced, s.Difference, tt.diff)
			}
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestParseCAMTCurrencies holds every amount of a statement to one currency,
// also when a camt.054 does not name its account's.
func TestParseCAMTCurrencies(t *testing.T) {
	t.Parallel()
	twoCurrencies := string(readTestdata(t, "camt054_two_currencies.xml"))
	for _, tolerant := range []bool{false, true} {
		var seen int
		_, err := CAMTOptions{Tolerant: tolerant}.ParseCAMT(strings.NewReader(twoCurrencies), func(s Statement, e Entry) error {
			seen++
			if s.Currency != "VND" {
				t.Errorf("entry %d handed with statement currency %q, want VND (its first entry's)", e.Seq, s.Currency)
			}
			return nil
		})
		var pe *ParseError
		if !errors.Is(err, ErrFormat) || !errors.As(err, &pe) || pe.Entry != 2 || pe.Line != lineOf(twoCurrencies, "<Ntry>", 2) ||
			!strings.Contains(err.Error(), "entry in USD on a VND notification") || seen != 1 {
			t.Errorf("tolerant=%t: err = %v after %d entries, want entry 2 at line %d refused: entry in USD on a VND notification",
				tolerant, err, seen, lineOf(twoCurrencies, "<Ntry>", 2))
		}
	}
}

// TestParseCAMTEncodings reads what a document declares it is in, or says
// why not.
func TestParseCAMTEncodings(t *testing.T) {
	t.Parallel()
	body := doc053(balanced)[len(`<?xml version="1.0" encoding="UTF-8"?>`):]
	declared := func(enc string) string { return `<?xml version="1.0" encoding="` + enc + `"?>` + body }
	latin1 := string(readTestdata(t, "camt053_latin1.xml"))
	ascii := string(readTestdata(t, "camt054_ascii.xml"))
	tests := []struct {
		name  string
		input string
		want  error  // nil: accepted
		msg   string // substring of the error
		line  int    // of the error
	}{
		{name: "ISO-8859-1", input: latin1},
		{name: "latin1 alias, lower case", input: declared("latin1")},
		{name: "ISO_8859-1 alias", input: declared("ISO_8859-1")},
		{name: "US-ASCII", input: ascii},
		{name: "ASCII alias", input: declared("ascii")},
		{name: "utf-8 in lower case", input: declared("utf-8")},
		{name: "UTF8 without the dash", input: declared("UTF8")},
		{name: "Vietnamese Windows code page", input: declared("windows-1258"), want: ErrEncoding, line: 1,
			msg: `camt: line 1, column 46: malformed input: unsupported character encoding: the document declares encoding "windows-1258"; only UTF-8, ISO-8859-1 and US-ASCII are read`},
		{name: "UTF-16 declared", input: declared("UTF-16"), want: ErrEncoding, line: 1, msg: `declares encoding "UTF-16"`},
		{name: "unknown label", input: declared("klingon"), want: ErrEncoding, line: 1, msg: `declares encoding "klingon"`},
		{name: "a Latin-1 byte in a US-ASCII document", input: strings.Replace(ascii, "SO TAI CHINH", "S\xd4 TAI CHINH", 1),
			want: ErrEncoding, line: lineOf(ascii, "SO TAI CHINH", 1), msg: "byte 0xD4 in a document declared US-ASCII"},
		{name: "Latin-1 bytes undeclared (read as UTF-8)", input: strings.Replace(latin1, `encoding="ISO-8859-1"`, `encoding="UTF-8"`, 1),
			want: ErrFormat, line: lineOf(latin1, "Ambassade", 1), msg: "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stmts, err := ParseCAMT(strings.NewReader(tt.input), nil)
			if tt.want == nil {
				if err != nil || len(stmts) != 1 {
					t.Fatalf("%d statements, %v", len(stmts), err)
				}
				return
			}
			var pe *ParseError
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrFormat) || !errors.As(err, &pe) || pe.Line != tt.line ||
				!strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want %v at line %d containing %q", err, tt.want, tt.line, tt.msg)
			}
		})
	}
}

// TestParseCAMTLineEnds: an error names the same line whether the file ends
// its lines with LF, CR LF or CR alone.
func TestParseCAMTLineEnds(t *testing.T) {
	t.Parallel()
	lf := strings.ReplaceAll(string(readTestdata(t, "camt053_cr.xml")), "\r", "\n")
	badAmount := strings.Replace(lf, `<Amt Ccy="VND">1200000</Amt>`, `<Amt Ccy="VND">1200000.5</Amt>`, 1)
	badTag := strings.Replace(lf, "</AcctSvcrRef>", "</AcctSvcrReff>", 1)
	badClosing := strings.Replace(lf, `<Amt Ccy="VND">4200000</Amt>`, `<Amt Ccy="VND">4200001</Amt>`, 1)
	cases := []struct {
		name, doc string
		line      int
		want      error
	}{
		{"fractional VND in an entry", badAmount, lineOf(lf, "<Ntry>", 1), ErrFormat},
		{"mismatched tag", badTag, lineOf(lf, "</AcctSvcrRef>", 1), ErrFormat},
		{"unbalanced", badClosing, lineOf(lf, "</Stmt>", 1), ErrUnbalanced},
	}
	for _, c := range cases {
		for _, end := range []struct{ name, eol string }{{"LF", "\n"}, {"CR LF", "\r\n"}, {"CR", "\r"}} {
			t.Run(c.name+"/"+end.name, func(t *testing.T) {
				t.Parallel()
				_, err := ParseCAMT(strings.NewReader(strings.ReplaceAll(c.doc, "\n", end.eol)), nil)
				var pe *ParseError
				if !errors.Is(err, c.want) || !errors.As(err, &pe) || pe.Line != c.line {
					t.Errorf("err = %v, want %v at line %d", err, c.want, c.line)
				}
			})
		}
	}
	// The sample itself (CR alone) reads, and the remittance line break
	// inside its Ustrd does not hide the reference.
	_, entries, err := parseCAMTString(string(readTestdata(t, "camt053_cr.xml")))
	if err != nil || len(entries) != 1 {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	if ref, ok := FindPaymentReference(entries[0].Texts(), validRF); !ok || ref != "RF68123456789012345" {
		t.Errorf("FindPaymentReference(%q) = %q, %t", entries[0].Texts(), ref, ok)
	}
}
