package statement

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

var camtSamples = []string{
	"camt053_v02.xml", "camt053_v04.xml", "camt053_v08.xml",
	"camt054_v02.xml", "camt054_v04.xml", "camt054_v08.xml", "camt053_unbalanced.xml",
	"camt053_tolerant.xml", "camt053_batch.xml", "camt053_returns.xml", "camt053_latin1.xml", "camt053_cr.xml",
	"camt054_ascii.xml", "camt054_two_currencies.xml",
}

// fuzzLimits are small so that the fuzzer reaches them.
var fuzzLimits = Limits{MaxDepth: 24, MaxTokenBytes: 2048, MaxElementBytes: 16 << 10, MaxStatements: 8, MaxLineBytes: 2048}

func FuzzParseCAMT(f *testing.F) {
	for _, name := range camtSamples {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte(doc053(balanced)))
	f.Add([]byte(doc053(bal("PRCD", "10.5", "DBIT") + bal("CLBD", "0", "CRDT"))))
	f.Add([]byte(doc053(balanced + summary(`<TtlNtries><NbOfNtries>2</NbOfNtries></TtlNtries>`))))
	f.Add([]byte("<Document><BkToCstmrStmt><GrpHdr><MsgId>x</MsgId></GrpHdr><Stmt>"))
	f.Add([]byte{})
	f.Fuzz(fuzzCAMT)
}

// FuzzParseCAMT052 starts from intraday reports: balances that are not
// checked, interim positions, reports with and without entries.
func FuzzParseCAMT052(f *testing.F) {
	f.Add(readTestdata(f, "camt052_intraday.xml"))
	report := strings.NewReplacer("camt.053", "camt.052", "BkToCstmrStmt", "BkToCstmrAcctRpt", "<Stmt>", "<Rpt>", "</Stmt>", "</Rpt>")
	f.Add([]byte(report.Replace(doc053(bal("OPBD", "1000", "CRDT") + bal("ITBD", "1300", "CRDT") + ntry("300", "CRDT", "")))))
	f.Add([]byte(report.Replace(doc053(bal("ITBD", "5", "DBIT")))))
	f.Add([]byte(report.Replace(doc053(bal("OPBD", "1000", "CRDT") + summary(`<TtlNtries><NbOfNtries>1</NbOfNtries></TtlNtries>`) + ntry("300", "DBIT", "<Sts>PDNG</Sts>")))))
	s, entries := simStatement()
	s.Interim = &Balance{Type: BalanceInterim, Amount: dec("7"), Currency: "VND", Date: s.Created}
	var buf bytes.Buffer
	if err := writeDoc(&buf, KindCAMT052, s, entries); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(fuzzCAMT)
}

// fuzzCAMT parses data under both rules. Whatever strict accepts, tolerant
// accepts the same; what tolerant accepts and strict refuses is flagged.
func fuzzCAMT(t *testing.T, data []byte) {
	parse := func(tolerant bool) ([]Statement, map[int][]Entry, error) {
		entries := map[int][]Entry{}
		stmts, err := CAMTOptions{Limits: fuzzLimits, Tolerant: tolerant}.ParseCAMT(bytes.NewReader(data), func(s Statement, e Entry) error {
			entries[s.Seq] = append(entries[s.Seq], e)
			return nil
		})
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || stmts != nil {
				t.Fatalf("error %v (%T) without a position, or with statements", err, err)
			}
		} else if len(stmts) == 0 {
			t.Fatal("no statements and no error")
		}
		return stmts, entries, err
	}
	strict, strictEntries, strictErr := parse(false)
	tolerant, tolerantEntries, tolerantErr := parse(true)
	switch {
	case strictErr == nil && tolerantErr != nil:
		t.Fatalf("strict accepts what tolerant refuses: %v", tolerantErr)
	case strictErr != nil && tolerantErr == nil && !errors.Is(strictErr, ErrUnbalanced) &&
		!errors.Is(strictErr, ErrNoBalance) && !errors.Is(strictErr, ErrSummary):
		t.Fatalf("tolerant accepts what strict refuses for another reason: %v", strictErr)
	}
	for _, s := range tolerant {
		checkParsedStatement(t, s, tolerantEntries[s.Seq], true)
	}
	if strictErr != nil {
		return
	}
	for i, s := range strict {
		checkParsedStatement(t, s, strictEntries[s.Seq], false)
		if a, b := statementJSON(t, s), statementJSON(t, tolerant[i]); a != b {
			t.Fatalf("strict and tolerant disagree on an accepted statement:\n%s\n%s", a, b)
		}
	}
	checkCAMTRoundTrip(t, strict, strictEntries)
}

// checkParsedStatement checks what must hold of any statement ParseCAMT accepts.
func checkParsedStatement(t *testing.T, s Statement, entries []Entry, tolerant bool) {
	t.Helper()
	credits, debits := decimal.Zero, decimal.Zero
	flagged := map[string]int{}
	for i, e := range entries {
		if e.Seq != i+1 || e.Amount.IsNegative() || !validCurrency(e.Currency) || e.Status == "" || e.Currency != s.Currency {
			t.Fatalf("statement %d: bad entry %+v", s.Seq, e)
		}
		switch {
		case e.Booked() && e.Credit:
			credits = credits.Add(e.Amount)
		case e.Booked():
			debits = debits.Add(e.Amount)
		}
		for _, f := range e.Flags {
			flagged[f]++
		}
	}
	if s.Entries != len(entries) || !s.BookedCredits.Equal(credits) || !s.BookedDebits.Equal(debits) {
		t.Fatalf("statement %d totals %d/%s/%s, entries give %d/%s/%s",
			s.Seq, s.Entries, s.BookedCredits, s.BookedDebits, len(entries), credits, debits)
	}
	codes := map[string]bool{}
	for _, f := range s.Findings {
		if codes[f.Code] {
			t.Fatalf("statement %d: finding %s twice", s.Seq, f.Code)
		}
		codes[f.Code] = true
		if _, entryLevel := entryFindingDetail[f.Code]; entryLevel && (f.Count != flagged[f.Code] || len(f.Entries) != min(f.Count, MaxFindingEntries)) {
			t.Fatalf("statement %d: finding %+v, but %d entries flagged", s.Seq, f, flagged[f.Code])
		}
	}
	for code, n := range flagged {
		if !codes[code] {
			t.Fatalf("statement %d: %d entries flagged %s without the finding", s.Seq, n, code)
		}
	}
	if !tolerant && (codes[FindingUnbalanced] || codes[FindingBalanceMissing] || codes[FindingSummaryMismatch] || s.Unbalanced) {
		t.Fatalf("statement %d: strict rule accepted %+v", s.Seq, s.Findings)
	}
	if s.Unbalanced != codes[FindingUnbalanced] || s.Unbalanced == s.Difference.IsZero() {
		t.Fatalf("statement %d: unbalanced %t by %s, findings %+v", s.Seq, s.Unbalanced, s.Difference, s.Findings)
	}
	if s.Kind == KindCAMT053 && !codes[FindingBalanceMissing] &&
		!s.Opening.Amount.Add(credits).Sub(debits).Sub(s.Closing.Amount).Equal(s.Difference) {
		t.Fatalf("statement %d: difference %s is not opening + entries - closing", s.Seq, s.Difference)
	}
	if s.StatementID == "" || s.Account == "" || s.MessageID == "" {
		t.Fatalf("statement %d without an id, account or message id", s.Seq)
	}
}

// checkCAMTRoundTrip writes the statements back and parses them again when
// the writer (stricter than the parser: lengths, both period ends, a
// currency) accepts them, and when they come from one message.
func checkCAMTRoundTrip(t *testing.T, stmts []Statement, entries map[int][]Entry) {
	t.Helper()
	first := stmts[0]
	for _, s := range stmts {
		if s.Kind != first.Kind || s.MessageID != first.MessageID {
			return
		}
	}
	created := time.Date(2026, time.November, 23, 0, 0, 0, 0, ICT)
	var buf bytes.Buffer
	w, err := NewCAMTWriter(&buf, first.Kind, first.MessageID, created)
	if err != nil {
		return
	}
	for _, s := range stmts {
		if w.StartStatement(s) != nil {
			return
		}
		for _, e := range entries[s.Seq] {
			if w.WriteEntry(e) != nil {
				return
			}
		}
		if err := w.EndStatement(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	again := map[int][]Entry{}
	stmts2, err := ParseCAMT(&buf, func(s Statement, e Entry) error {
		again[s.Seq] = append(again[s.Seq], e)
		return nil
	})
	if err != nil {
		t.Fatalf("written document does not parse: %v\n%s", err, buf.String())
	}
	if len(stmts2) != len(stmts) {
		t.Fatalf("%d statements written, %d read back", len(stmts), len(stmts2))
	}
	for i, s := range stmts {
		s.Version = WriteVersion
		if s.Created.IsZero() {
			s.Created = created
		}
		if a, b := statementJSON(t, stmts2[i]), statementJSON(t, s); a != b {
			t.Fatalf("statement read back:\n got %s\nwant %s", a, b)
		}
		for j, e := range entries[s.Seq] {
			if e.BankTxCode.IsZero() { // the writer writes one: BkTxCd is required
				e.BankTxCode = defaultBankTxCode(e.Credit)
			}
			if a, b := canonEntry(again[s.Seq][j]), canonEntry(e); a != b {
				t.Fatalf("entry read back:\n got %s\nwant %s", a, b)
			}
		}
	}
}

func FuzzParseSettlementVNPAY(f *testing.F)   { fuzzSettlement(f, GatewayVNPAY) }
func FuzzParseSettlementMoMo(f *testing.F)    { fuzzSettlement(f, GatewayMoMo) }
func FuzzParseSettlementZaloPay(f *testing.F) { fuzzSettlement(f, GatewayZaloPay) }

func fuzzSettlement(f *testing.F, gateway string) {
	doc := docSettlementFiles[gateway]
	f.Add([]byte(doc))
	f.Add([]byte("\xef\xbb\xbf" + strings.ReplaceAll(doc, "\n", "\r\n")))
	f.Add([]byte(doc[:len(doc)/2]))
	var buf bytes.Buffer
	if err := generateSettlement(&buf, gateway, 12); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var lines []SettlementLine
		file, err := fuzzLimits.ParseSettlement(gateway, bytes.NewReader(data), func(l SettlementLine) error {
			lines = append(lines, l)
			return nil
		})
		tolerantFile, tolerantErr := SettlementOptions{Limits: fuzzLimits, Tolerant: true}.ParseSettlement(gateway, bytes.NewReader(data), nil)
		switch {
		case err == nil && (tolerantErr != nil || settlementFileString(tolerantFile) != settlementFileString(file) || tolerantFile.Findings != nil):
			t.Fatalf("tolerant reads an accepted file otherwise: %s %+v, %v", settlementFileString(tolerantFile), tolerantFile.Findings, tolerantErr)
		case err != nil && tolerantErr == nil && (!errors.Is(err, ErrTrailer) || len(tolerantFile.Findings) != 1):
			t.Fatalf("tolerant accepts what strict refuses (%v) with findings %+v", err, tolerantFile.Findings)
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) without a position", err, err)
			}
			return
		}
		sum := SettlementFile{Currency: file.Currency}
		for _, l := range lines {
			if l.check() != nil || l.Currency != file.Currency {
				t.Fatalf("accepted a bad line %+v", l)
			}
			sum.Count++
			sum.Gross, sum.Fees, sum.Net = sum.Gross.Add(l.Gross), sum.Fees.Add(l.Fee), sum.Net.Add(l.Net)
		}
		if d := trailerDiff(file, sum); d != "" {
			t.Fatalf("accepted totals that differ from the lines: %s", d)
		}
		// What the parser accepts, the writer writes and the parser reads back.
		var out bytes.Buffer
		w, err := NewSettlementWriter(gateway, &out, SettlementFile{FileID: file.FileID, Currency: file.Currency})
		if err != nil {
			t.Fatalf("writer refuses the file %+v: %v", file, err)
		}
		for _, l := range lines {
			if err := w.Write(l); err != nil {
				t.Fatalf("writer refuses a parsed line: %v", err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		file2, lines2, err := parseSettlementString(gateway, out.String())
		if err != nil || settlementFileString(file2) != settlementFileString(file) || len(lines2) != len(lines) {
			t.Fatalf("read back %s, %d lines, %v; want %s, %d lines", settlementFileString(file2), len(lines2), err,
				settlementFileString(file), len(lines))
		}
		for i := range lines {
			lines2[i].Line = lines[i].Line
			if a, b := settlementLineString(lines2[i]), settlementLineString(lines[i]); a != b {
				t.Fatalf("line read back:\n got %s\nwant %s", a, b)
			}
		}
	})
}

func FuzzFindSettlementFileID(f *testing.F) {
	f.Add("CK TU VNPAY ", " /REF ABC", uint8(0), uint16(1057), uint16(1), uint8(0))
	f.Add("", "", uint8(1), uint16(0), uint16(998), uint8(1))
	f.Add("zalopay quyet toan ", "", uint8(2), uint16(400), uint16(12), uint8(2))
	f.Add("CTY MOMO TT QUYET TOAN ", " NGAY", uint8(1), uint16(3000), uint16(3), uint8(4|8<<3))
	f.Add("STL VNPAY 2026", "1123 R2 /REF 88213", uint8(0), uint16(7), uint16(41), uint8(3))
	f.Fuzz(func(t *testing.T, prefix, suffix string, gw uint8, days, rev uint16, style uint8) {
		// Whatever the text, an answer is a canonical id.
		for _, texts := range [][]string{{prefix}, {prefix, suffix}, {prefix + suffix}} {
			if id, ok := FindSettlementFileID(texts); ok {
				back, err := ParseSettlementFileID(id.String())
				if err != nil || back != id {
					t.Fatalf("FindSettlementFileID(%q) = %v, which does not round-trip: %v", texts, id, err)
				}
			}
		}
		// An id embedded in digit-free noise is found, whatever the bank did to it.
		if strings.ContainsAny(prefix+suffix, "0123456789") {
			return
		}
		id := SettlementFileID{
			Gateway:      Gateways()[int(gw)%3],
			BusinessDate: day(2020, time.January, 1).AddDate(0, 0, int(days)%3650),
			Revision:     int(rev)%MaxRevision + 1,
		}
		noisy := mangleFileID(id.String(), style%4)
		texts := []string{prefix + noisy + suffix}
		splitInRevision := false
		if style&4 != 0 { // wrapped across two lines at some point
			k := len(prefix) + int(style>>3)%(len(noisy)+1)
			whole := texts[0]
			texts = []string{whole[:k], whole[k:]}
			splitInRevision = k > 0 && k < len(whole) && isDigit(whole[k-1]) && isDigit(whole[k]) &&
				k > len(prefix)+strings.LastIndexAny(noisy, "Rr")
		}
		got, ok := FindSettlementFileID(texts)
		switch {
		case ok && got.String() != id.String():
			t.Fatalf("FindSettlementFileID(%q) = %v, want %v", texts, got, id)
		case !ok && !splitInRevision:
			t.Fatalf("FindSettlementFileID(%q) found nothing, want %v", texts, id)
		}
	})
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// mangleFileID does to an id what banks do.
func mangleFileID(id string, style uint8) string {
	switch style {
	case 1:
		return strings.ReplaceAll(id, "-", " ")
	case 2:
		return strings.ToLower(strings.ReplaceAll(id, "-", "_"))
	case 3:
		return strings.ReplaceAll(id, "-", "")
	}
	return id
}
