package statement

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// simStatement is a statement as gatewaysim would write it, and the entries
// as ParseCAMT must give them back (the derived EndToEndID, TxID and
// RemittanceInfo filled in).
func simStatement() (Statement, []Entry) {
	d := day(2026, time.November, 23)
	s := Statement{
		MessageID: "SIM-053-20261123", StatementID: "SIM-STMT-1", ElectronicSeq: "7",
		Created: time.Date(2026, time.November, 23, 23, 0, 0, 0, ICT), From: d, To: d.Add(24*time.Hour - time.Second),
		Account: "0011004123456", Currency: "VND",
		Opening: &Balance{Type: BalanceOpening, Amount: dec("-1000000"), Currency: "VND", Date: d},
	}
	settlement := "CK TU VNPAY STL VNPAY 20261123 R1 /REF 88213"
	quoted := `NOP PHI <&> "quoted" 'x'`
	entries := []Entry{
		{Amount: dec("49780000"), Currency: "VND", Credit: true, Status: StatusBooked, BookingDate: d, ValueDate: d,
			AcctSvcrRef: "SIM0001", EndToEndID: "NOTPROVIDED", TxID: "SIM0001", RemittanceInfo: []string{settlement},
			AdditionalInfo: "VNPAY QUYET TOAN",
			TxDetails: []TxDetail{{EndToEndID: "NOTPROVIDED", TxID: "SIM0001", Amount: dec("49780000"), Currency: "VND",
				RemittanceInfo: []string{settlement}}}},
		{EntryRef: "2", Amount: dec("250000"), Currency: "VND", Credit: true, Status: StatusBooked,
			BookingDate: time.Date(2026, time.November, 23, 10, 15, 30, 500_000_000, ICT), ValueDate: d,
			EndToEndID: "VQR1", RemittanceInfo: []string{quoted},
			TxDetails: []TxDetail{{EndToEndID: "VQR1", RemittanceInfo: []string{quoted}, CreditorRefs: []CreditorRef{{Ref: "RF18539007547034", Type: "SCOR"}},
				AdditionalInfo: "line one\nline two\twith tab"}}},
		{Amount: dec("11000"), Currency: "VND", Status: StatusPending, ValueDate: d.Add(24 * time.Hour)},
		{Amount: dec("250000"), Currency: "VND", Reversal: true, Status: StatusBooked, BookingDate: d, AdditionalInfo: "HOAN TRA"},
		{Amount: dec("300000"), Currency: "VND", Credit: true, Status: StatusBooked, BookingDate: d,
			RemittanceInfo: []string{"RF40202611230000001", "RF70771122334455667", "LO 2"},
			TxDetails: []TxDetail{
				{EndToEndID: "E1", TxID: "T1", AcctSvcrRef: "A1", InstrID: "I1", MsgID: "M1", PmtInfID: "P1",
					Amount: dec("100000"), Currency: "VND", RemittanceInfo: []string{"RF40202611230000001"}},
				{EndToEndID: "E2", TxID: "T2", Amount: dec("200000"), Currency: "VND",
					RemittanceInfo: []string{"RF70771122334455667", "LO 2"}},
			}},
		{Amount: dec("5"), Currency: "VND", Credit: true, Status: "HELD", BookingDate: d},
		// Everything the parser keeps: a returned foreign payment, charged,
		// in a batch of one with a second transaction outside it.
		{Amount: dec("2543050"), Currency: "VND", Status: StatusBooked, BookingDate: d, ValueDate: d, AcctSvcrRef: "SIM0007",
			BankTxCode:    BankTxCode{Domain: "PMNT", Family: "ICDT", SubFamily: "RRTN", Proprietary: "TRA_LAI", ProprietaryIssuer: "VCB"},
			Charges:       Charges{Total: dec("11000"), TotalCurrency: "VND", Records: []Charge{{Amount: dec("10000"), Currency: "VND", CreditDebit: "DBIT", Type: "COMM", Bearer: "DEBT"}, {Amount: dec("1000"), Currency: "VND", Included: true, Type: "VAT 10%"}}},
			AmountDetails: AmountDetails{Instructed: dec("100"), InstructedCurrency: "USD", Transaction: dec("2543050"), TransactionCurrency: "VND", ExchangeRate: dec("25430.5"), SourceCurrency: "USD", TargetCurrency: "VND", UnitCurrency: "USD"},
			Batches:       []Batch{{MsgID: "BATCH-MSG-1", PmtInfID: "PMT-1", NumberOfTxs: 1, TotalAmount: dec("2543050"), Currency: "VND", CreditDebit: "DBIT", Transactions: 1}},
			TxDetails: []TxDetail{
				{EndToEndID: "E2E-RTN-1", UETR: "eb6305c9-1f7f-49de-aed0-16487c27b42d", Amount: dec("2543050"), Currency: "VND", CreditDebit: "DBIT",
					AmountDetails: AmountDetails{Instructed: dec("100"), InstructedCurrency: "USD", ExchangeRate: dec("25430.5"), SourceCurrency: "USD", TargetCurrency: "VND"},
					BankTxCode:    BankTxCode{Proprietary: "RTN"},
					Charges:       Charges{Records: []Charge{{Amount: dec("1.5"), Currency: "USD", Type: "CORR", Bearer: "SHAR"}}},
					Parties:       Parties{Debtor: "KHO BAC NHA NUOC", DebtorAccount: "0011004123456", UltimateDebtor: "SO TAI CHINH", Creditor: "ACME GMBH", CreditorAccount: "DE89370400440532013000", UltimateCreditor: "ACME AG"},
					Return:        ReturnInfo{Reason: "AC04", Originator: "DEUTSCHE BANK", AdditionalInfo: []string{"ACCOUNT CLOSED"}},
					CreditorRefs:  []CreditorRef{{Ref: "INV-2026-118", Type: "RPIN"}, {Ref: "HD-88", Type: "HOPDONG", Issuer: "KBNN"}},
					AdditionalRmt: []string{"a", "b", "c", "d"}},
				{TxID: "T-OUT", CreditDebit: "CRDT", Return: ReturnInfo{ReasonProprietary: "TRA LAI KHONG RO LY DO"}},
			}},
	}
	return s, entries
}

func TestWriteCAMTRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind  Kind
		write func(*bytes.Buffer, Statement, []Entry) error
		stmt  string
	}{
		{KindCAMT053, func(b *bytes.Buffer, s Statement, e []Entry) error { return WriteCAMT053(b, s, e) },
			// closing computed: -1000000 + 49780000 + 250000 - 250000 + 300000 - 2543050 = 46536950 (PDNG and HELD left out)
			"camt.053 001.08 #1 msg=SIM-053-20261123 id=SIM-STMT-1 seq=7 created=2026-11-23T23:00:00+07:00 from=2026-11-23 to=2026-11-23T23:59:59+07:00 acct=0011004123456 VND open=[OPBD -1000000 VND 2026-11-23] close=[CLBD 46536950 VND 2026-11-23] n=7 cr=50330000 dr=2793050"},
		{KindCAMT054, func(b *bytes.Buffer, s Statement, e []Entry) error {
			s.Opening = nil
			return WriteCAMT054(b, s, e)
		}, "camt.054 001.08 #1 msg=SIM-053-20261123 id=SIM-STMT-1 seq=7 created=2026-11-23T23:00:00+07:00 from=2026-11-23 to=2026-11-23T23:59:59+07:00 acct=0011004123456 VND open=[-] close=[-] n=7 cr=50330000 dr=2793050"},
		{KindCAMT052, func(b *bytes.Buffer, s Statement, e []Entry) error {
			s.Interim = &Balance{Type: BalanceInterim, Amount: dec("46536950"), Currency: "VND", Date: s.Created}
			return writeDoc(b, KindCAMT052, s, e)
		}, "camt.052 001.08 #1 msg=SIM-053-20261123 id=SIM-STMT-1 seq=7 created=2026-11-23T23:00:00+07:00 from=2026-11-23 to=2026-11-23T23:59:59+07:00 acct=0011004123456 VND open=[OPBD -1000000 VND 2026-11-23] close=[-] n=7 cr=50330000 dr=2793050"},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			t.Parallel()
			s, want := simStatement()
			var buf bytes.Buffer
			if err := tt.write(&buf, s, want); err != nil {
				t.Fatal(err)
			}
			if k, err := Detect(buf.Bytes()); k != tt.kind || err != nil {
				t.Errorf("Detect = %q, %v; want %q", k, err, tt.kind)
			}
			stmts, got, err := parseCAMTString(buf.String())
			if err != nil {
				t.Fatalf("%v\n%s", err, buf.String())
			}
			if len(stmts) != 1 || stmtLine(stmts[0]) != tt.stmt {
				t.Errorf("statements %d:\n got %s\nwant %s", len(stmts), stmtLine(stmts[0]), tt.stmt)
			}
			if len(got) != len(want) {
				t.Fatalf("%d entries, want %d", len(got), len(want))
			}
			for i := range want {
				want[i].Seq = i + 1
				if want[i].BankTxCode.IsZero() {
					want[i].BankTxCode = defaultBankTxCode(want[i].Credit)
				}
				if i == 6 { // T-OUT says CRDT in a debit entry
					want[i].Flags = []string{FindingDirectionDisagrees}
				}
				if want[i].Status == StatusPending { // valued after the day its statement closes
					want[i].Flags = []string{FindingValueAfterClosing}
					if tt.kind != KindCAMT053 {
						want[i].Flags = nil
					}
				}
				if canonEntry(got[i]) != canonEntry(want[i]) {
					t.Errorf("entry %d:\n got %s\nwant %s", i+1, canonEntry(got[i]), canonEntry(want[i]))
				}
			}
		})
	}
}

func TestCAMTWriterStatements(t *testing.T) {
	t.Parallel()
	s, entries := simStatement()
	var buf bytes.Buffer
	w, err := NewCAMTWriter(&buf, KindCAMT053, "MULTI-1", s.Created)
	if err != nil {
		t.Fatal(err)
	}
	// Statement 2 is written with a wrong closing balance, as a simulator
	// injecting a fault would: the writer lets it through, the parser refuses it.
	for i, closing := range []string{"49030000", "49030001"} {
		s.StatementID = "PAGE-" + string(rune('1'+i))
		s.Closing = &Balance{Type: BalanceClosing, Amount: dec(closing), Currency: "VND", Date: s.Opening.Date}
		if err := w.StartStatement(s); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries[:2] {
			if err := w.WriteEntry(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.EndStatement(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	_, err = ParseCAMT(&buf, func(s Statement, _ Entry) error {
		n++
		return nil
	})
	var pe *ParseError
	if !errors.Is(err, ErrUnbalanced) || !errors.As(err, &pe) || pe.Statement != 2 || pe.StatementID != "PAGE-2" ||
		!strings.Contains(err.Error(), "closing says 49030001: difference -1 VND") || n != 4 {
		t.Errorf("err = %v after %d entries, want statement 2 unbalanced by -1 after 4 entries", err, n)
	}
}

func TestCAMTWriterRefuses(t *testing.T) {
	t.Parallel()
	base, entries := simStatement()
	good := entries[0]
	tests := []struct {
		name   string
		kind   Kind
		stmt   func(*Statement)
		entry  func(*Entry)
		msg    string
		closeW bool // close the document instead of writing an entry
	}{
		{name: "not a camt kind", kind: KindVNPAYSettlement, msg: "not a camt kind"},
		{name: "message id too long", stmt: func(s *Statement) { s.MessageID = strings.Repeat("M", 36) }, msg: "longer than 35"},
		{name: "camt.053 without opening", stmt: func(s *Statement) { s.Opening = nil }, msg: "needs an opening and a closing balance"},
		{name: "camt.054 with balances", kind: KindCAMT054, msg: "camt.054 carries no balances"},
		{name: "opening of the wrong type", stmt: func(s *Statement) { s.Opening.Type = BalanceClosing }, msg: `balance type "CLBD"`},
		{name: "fractional balance", stmt: func(s *Statement) { s.Opening.Amount = dec("0.5") }, msg: "decimal places"},
		{name: "no currency", stmt: func(s *Statement) { s.Currency = "" }, msg: "not an ISO 4217 code"},
		{name: "half a period", stmt: func(s *Statement) { s.To = time.Time{} }, msg: "needs both From and To"},
		{name: "Ustrd too long", entry: func(e *Entry) { e.TxDetails[0].RemittanceInfo = []string{strings.Repeat("x", 141)} }, msg: "Ustrd"},
		{name: "control character", entry: func(e *Entry) { e.AdditionalInfo = "bell\x07" }, msg: "U+0007"},
		{name: "invalid UTF-8", entry: func(e *Entry) { e.AcctSvcrRef = "\xff" }, msg: "not UTF-8"},
		{name: "entry in another currency", entry: func(e *Entry) { e.Currency = "USD" }, msg: `entry in "USD" on a VND statement`},
		{name: "negative entry", entry: func(e *Entry) { e.Amount = dec("-1") }, msg: "negative amount"},
		{name: "fractional VND entry", entry: func(e *Entry) { e.Amount = dec("1.5") }, msg: "decimal places"},
		{name: "close with a statement open", closeW: true, msg: "statement not ended"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := base
			opening := *base.Opening
			s.Opening = &opening
			if tt.stmt != nil {
				tt.stmt(&s)
			}
			e := good
			e.TxDetails = append([]TxDetail(nil), good.TxDetails...)
			if tt.entry != nil {
				tt.entry(&e)
			}
			kind := tt.kind
			if kind == "" {
				kind = KindCAMT053
			}
			s.Closing = &Balance{Type: BalanceClosing, Amount: dec("0"), Currency: "VND", Date: opening.Date}
			if kind == KindCAMT054 {
				s.Closing = nil
			}
			err := writeSteps(kind, s, e, tt.closeW)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want one containing %q", err, tt.msg)
			}
		})
	}
}

// writeDoc writes a document of kind holding one statement.
func writeDoc(w *bytes.Buffer, kind Kind, s Statement, entries []Entry) error {
	c, err := NewCAMTWriter(w, kind, s.MessageID, s.Created)
	if err != nil {
		return err
	}
	if err := c.StartStatement(s); err != nil {
		return err
	}
	for _, e := range entries {
		if err := c.WriteEntry(e); err != nil {
			return err
		}
	}
	if err := c.EndStatement(); err != nil {
		return err
	}
	return c.Close()
}

// writeSteps runs the writer up to the first error.
func writeSteps(kind Kind, s Statement, e Entry, closeEarly bool) error {
	w, err := NewCAMTWriter(&bytes.Buffer{}, kind, s.MessageID, s.Created)
	if err != nil {
		return err
	}
	if err := w.StartStatement(s); err != nil {
		return err
	}
	if closeEarly {
		return w.Close()
	}
	return w.WriteEntry(e)
}
