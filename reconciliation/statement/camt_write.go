package statement

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// WriteVersion is the message version the writers produce.
const WriteVersion = "001.08"

// ISO 20022 text lengths the writer enforces (the parser accepts longer).
const (
	max34  = 34
	max35  = 35
	max140 = 140
	max500 = 500
)

var ibanPattern = regexp.MustCompile(`^[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}$`)

// CAMTWriter writes a camt.053.001.08 or camt.054.001.08 document as a
// stream: NewCAMTWriter writes the group header, then for each statement
// StartStatement (header and balances), WriteEntry per entry, EndStatement;
// Close ends the document. It checks what it is given (ISO lengths, amounts,
// currencies) but not that balances add up, so a simulator can write an
// unbalanced statement on purpose.
type CAMTWriter struct {
	enc      *xml.Encoder
	kind     Kind
	currency string // of the open statement; "" when none is open
	closed   bool
	err      error // first write error; sticky
}

// NewCAMTWriter starts a document of kind (KindCAMT053 or KindCAMT054) with
// the group header messageID and created.
func NewCAMTWriter(w io.Writer, kind Kind, messageID string, created time.Time) (*CAMTWriter, error) {
	if !kind.IsCAMT() {
		return nil, fmt.Errorf("statement: camt writer: %q is not a camt kind", kind)
	}
	if err := checkText("GrpHdr/MsgId", messageID, max35, true); err != nil {
		return nil, fmt.Errorf("statement: camt writer: %w", err)
	}
	if created.IsZero() {
		return nil, errors.New("statement: camt writer: GrpHdr/CreDtTm missing")
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return nil, fmt.Errorf("statement: camt writer: %w", err)
	}
	c := &CAMTWriter{enc: xml.NewEncoder(w), kind: kind}
	c.enc.Indent("", "  ")
	root := "BkToCstmrStmt"
	if kind == KindCAMT054 {
		root = "BkToCstmrDbtCdtNtfctn"
	}
	ns := fmt.Sprintf("urn:iso:std:iso:20022:tech:xsd:%s.%s", kind, WriteVersion)
	c.open("Document", xml.Attr{Name: xml.Name{Local: "xmlns"}, Value: ns})
	c.open(root)
	c.open("GrpHdr")
	c.text("MsgId", messageID)
	c.text("CreDtTm", created.In(ICT).Format(isoDateTimeWrite))
	c.close("GrpHdr")
	return c, c.failed()
}

func (c *CAMTWriter) token(t xml.Token) {
	if c.err == nil {
		c.err = c.enc.EncodeToken(t)
	}
}

func (c *CAMTWriter) open(name string, attrs ...xml.Attr) {
	c.token(xml.StartElement{Name: xml.Name{Local: name}, Attr: attrs})
}

func (c *CAMTWriter) close(name string) { c.token(xml.EndElement{Name: xml.Name{Local: name}}) }

func (c *CAMTWriter) text(name, value string) {
	c.open(name)
	c.token(xml.CharData(value))
	c.close(name)
}

func (c *CAMTWriter) optText(name, value string) {
	if value != "" {
		c.text(name, value)
	}
}

// path writes <a><b>…<leaf>value</leaf>…</b></a>.
func (c *CAMTWriter) path(value string, names ...string) {
	last := len(names) - 1
	for _, n := range names[:last] {
		c.open(n)
	}
	c.text(names[last], value)
	for i := last - 1; i >= 0; i-- {
		c.close(names[i])
	}
}

func (c *CAMTWriter) amount(d decimal.Decimal, ccy string) {
	c.open("Amt", xml.Attr{Name: xml.Name{Local: "Ccy"}, Value: ccy})
	c.token(xml.CharData(d.String()))
	c.close("Amt")
}

func (c *CAMTWriter) creditDebit(credit bool) {
	if credit {
		c.text("CdtDbtInd", "CRDT")
	} else {
		c.text("CdtDbtInd", "DBIT")
	}
}

// dateChoice writes <name><Dt>…</Dt></name> for a time at midnight ICT, else
// <name><DtTm>…</DtTm></name>; nothing for a zero time.
func (c *CAMTWriter) dateChoice(name string, t time.Time) {
	switch {
	case t.IsZero():
	case isMidnightICT(t):
		c.path(t.In(ICT).Format(isoDate), name, "Dt")
	default:
		c.path(t.In(ICT).Format(isoDateTimeWrite), name, "DtTm")
	}
}

func (c *CAMTWriter) failed() error {
	if c.err != nil {
		return fmt.Errorf("statement: camt writer: %w", c.err)
	}
	return nil
}

func (c *CAMTWriter) container() string {
	if c.kind == KindCAMT054 {
		return "Ntfctn"
	}
	return "Stmt"
}

// StartStatement writes a statement's header and, for camt.053, its opening
// and closing balances (both required; for camt.054 both must be nil). The
// statement's Kind, Version, MessageID, Seq and totals are ignored.
func (c *CAMTWriter) StartStatement(s Statement) error {
	if err := c.checkStatement(s); err != nil {
		return fmt.Errorf("statement: camt writer: statement %q: %w", s.StatementID, err)
	}
	c.currency = s.Currency
	c.open(c.container())
	c.text("Id", s.StatementID)
	c.optText("ElctrncSeqNb", s.ElectronicSeq)
	if !s.Created.IsZero() {
		c.text("CreDtTm", s.Created.In(ICT).Format(isoDateTimeWrite))
	}
	if !s.From.IsZero() || !s.To.IsZero() {
		c.open("FrToDt")
		c.text("FrDtTm", s.From.In(ICT).Format(isoDateTimeWrite))
		c.text("ToDtTm", s.To.In(ICT).Format(isoDateTimeWrite))
		c.close("FrToDt")
	}
	c.open("Acct")
	if ibanPattern.MatchString(s.Account) {
		c.path(s.Account, "Id", "IBAN")
	} else {
		c.path(s.Account, "Id", "Othr", "Id")
	}
	c.text("Ccy", s.Currency)
	c.close("Acct")
	for _, b := range []*Balance{s.Opening, s.Closing} {
		if b != nil {
			c.balance(*b)
		}
	}
	return c.failed()
}

func (c *CAMTWriter) checkStatement(s Statement) error {
	switch {
	case c.closed:
		return errors.New("document already closed")
	case c.currency != "":
		return errors.New("previous statement not ended")
	case !validCurrency(s.Currency):
		return fmt.Errorf("currency %q is not an ISO 4217 code", s.Currency)
	case s.From.IsZero() != s.To.IsZero():
		return errors.New("FrToDt needs both From and To")
	case s.ElectronicSeq != "" && (!allDigits(s.ElectronicSeq) || len(s.ElectronicSeq) > 18):
		return fmt.Errorf("ElctrncSeqNb %q is not a number", s.ElectronicSeq)
	}
	if err := firstErr(
		checkText("Id", s.StatementID, max35, true),
		checkText("Acct/Id", s.Account, max34, true),
	); err != nil {
		return err
	}
	if c.kind == KindCAMT054 {
		if s.Opening != nil || s.Closing != nil {
			return errors.New("camt.054 carries no balances")
		}
		return nil
	}
	if s.Opening == nil || s.Closing == nil {
		return errors.New("camt.053 needs an opening and a closing balance")
	}
	for _, b := range []struct {
		b     *Balance
		types []string
	}{{s.Opening, []string{BalanceOpening, BalancePreviousClosing}}, {s.Closing, []string{BalanceClosing}}} {
		if err := checkBalance(*b.b, s.Currency, b.types...); err != nil {
			return err
		}
	}
	return nil
}

func checkBalance(b Balance, ccy string, types ...string) error {
	ok := false
	for _, t := range types {
		ok = ok || b.Type == t
	}
	switch {
	case !ok:
		return fmt.Errorf("balance type %q, want one of %v", b.Type, types)
	case b.Currency != ccy:
		return fmt.Errorf("%s balance in %q on a %s statement", b.Type, b.Currency, ccy)
	case b.Date.IsZero():
		return fmt.Errorf("%s balance without a date", b.Type)
	}
	return checkISOAmount(b.Type+" balance", b.Amount.Abs(), ccy)
}

// checkISOAmount refuses an amount ParseCAMT would refuse.
func checkISOAmount(field string, d decimal.Decimal, ccy string) error {
	if _, err := parseISOAmount(d.String(), ccy); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

func (c *CAMTWriter) balance(b Balance) {
	c.open("Bal")
	c.path(b.Type, "Tp", "CdOrPrtry", "Cd")
	c.amount(b.Amount.Abs(), b.Currency)
	c.creditDebit(!b.Amount.IsNegative())
	c.dateChoice("Dt", b.Date)
	c.close("Bal")
}

// isoStatuses are the entry statuses written as Sts/Cd; others go in Sts/Prtry.
var isoStatuses = map[string]bool{StatusBooked: true, StatusPending: true, StatusInfo: true, StatusFuture: true}

// WriteEntry writes one entry of the open statement. Status "" means BOOK.
// The entry's TxDetails are written as they are; an entry without TxDetails
// but with EndToEndID, TxID or RemittanceInfo gets one TxDtls made of them.
// Seq is ignored.
func (c *CAMTWriter) WriteEntry(e Entry) error {
	if e.Status == "" {
		e.Status = StatusBooked
	}
	if len(e.TxDetails) == 0 && (e.EndToEndID != "" || e.TxID != "" || len(e.RemittanceInfo) > 0) {
		e.TxDetails = []TxDetail{{EndToEndID: e.EndToEndID, TxID: e.TxID, RemittanceInfo: e.RemittanceInfo}}
	}
	if err := c.checkEntry(e); err != nil {
		return fmt.Errorf("statement: camt writer: entry %q: %w", e.EntryRef+e.AcctSvcrRef, err)
	}
	c.open("Ntry")
	c.optText("NtryRef", e.EntryRef)
	c.amount(e.Amount, e.Currency)
	c.creditDebit(e.Credit)
	if e.Reversal {
		c.text("RvslInd", "true")
	}
	if isoStatuses[e.Status] {
		c.path(e.Status, "Sts", "Cd")
	} else {
		c.path(e.Status, "Sts", "Prtry")
	}
	c.dateChoice("BookgDt", e.BookingDate)
	c.dateChoice("ValDt", e.ValueDate)
	c.optText("AcctSvcrRef", e.AcctSvcrRef)
	c.bankTransactionCode(e.Credit)
	if len(e.TxDetails) > 0 {
		c.open("NtryDtls")
		for _, tx := range e.TxDetails {
			c.txDetail(tx)
		}
		c.close("NtryDtls")
	}
	c.optText("AddtlNtryInf", e.AdditionalInfo)
	c.close("Ntry")
	return c.failed()
}

func (c *CAMTWriter) checkEntry(e Entry) error {
	switch {
	case c.currency == "":
		return errors.New("no statement open")
	case e.Currency != c.currency:
		return fmt.Errorf("entry in %q on a %s statement", e.Currency, c.currency)
	case e.Amount.IsNegative():
		return errors.New("negative amount (the direction goes in Credit)")
	}
	errs := []error{
		checkISOAmount("Amt", e.Amount, e.Currency),
		checkText("Sts", e.Status, max35, true),
		checkText("NtryRef", e.EntryRef, max35, false),
		checkText("AcctSvcrRef", e.AcctSvcrRef, max35, false),
		checkText("AddtlNtryInf", e.AdditionalInfo, max500, false),
	}
	for _, tx := range e.TxDetails {
		errs = append(errs, checkTxDetail(tx))
	}
	return firstErr(errs...)
}

func checkTxDetail(tx TxDetail) error {
	errs := []error{
		checkText("EndToEndId", tx.EndToEndID, max35, false),
		checkText("TxId", tx.TxID, max35, false),
		checkText("Refs/AcctSvcrRef", tx.AcctSvcrRef, max35, false),
		checkText("InstrId", tx.InstrID, max35, false),
		checkText("Refs/MsgId", tx.MsgID, max35, false),
		checkText("PmtInfId", tx.PmtInfID, max35, false),
		checkText("AddtlTxInf", tx.AdditionalInfo, max500, false),
	}
	if tx.Currency != "" || !tx.Amount.IsZero() {
		errs = append(errs, checkISOAmount("TxDtls/Amt", tx.Amount, tx.Currency))
	}
	for _, u := range tx.RemittanceInfo {
		errs = append(errs, checkText("Ustrd", u, max140, true))
	}
	for _, r := range tx.CreditorRefs {
		errs = append(errs, checkText("CdtrRefInf/Ref", r, max35, true))
	}
	return firstErr(errs...)
}

func (c *CAMTWriter) bankTransactionCode(credit bool) {
	family := "ICDT" // issued credit transfers
	if credit {
		family = "RCDT" // received credit transfers
	}
	c.open("BkTxCd")
	c.open("Domn")
	c.text("Cd", "PMNT")
	c.open("Fmly")
	c.text("Cd", family)
	c.text("SubFmlyCd", "DMCT")
	c.close("Fmly")
	c.close("Domn")
	c.close("BkTxCd")
}

func (c *CAMTWriter) txDetail(tx TxDetail) {
	c.open("TxDtls")
	refs := []struct{ name, v string }{
		{"MsgId", tx.MsgID}, {"AcctSvcrRef", tx.AcctSvcrRef}, {"PmtInfId", tx.PmtInfID},
		{"InstrId", tx.InstrID}, {"EndToEndId", tx.EndToEndID}, {"TxId", tx.TxID},
	}
	hasRefs := false
	for _, r := range refs {
		hasRefs = hasRefs || r.v != ""
	}
	if hasRefs {
		c.open("Refs")
		for _, r := range refs {
			c.optText(r.name, r.v)
		}
		c.close("Refs")
	}
	if tx.Currency != "" {
		c.amount(tx.Amount, tx.Currency)
	}
	if len(tx.RemittanceInfo) > 0 || len(tx.CreditorRefs) > 0 {
		c.open("RmtInf")
		for _, u := range tx.RemittanceInfo {
			c.text("Ustrd", u)
		}
		for _, r := range tx.CreditorRefs {
			c.open("Strd")
			c.open("CdtrRefInf")
			c.path("SCOR", "Tp", "CdOrPrtry", "Cd")
			c.text("Ref", r)
			c.close("CdtrRefInf")
			c.close("Strd")
		}
		c.close("RmtInf")
	}
	c.optText("AddtlTxInf", tx.AdditionalInfo)
	c.close("TxDtls")
}

// EndStatement closes the open statement.
func (c *CAMTWriter) EndStatement() error {
	if c.currency == "" {
		return errors.New("statement: camt writer: no statement open")
	}
	c.currency = ""
	c.close(c.container())
	return c.failed()
}

// Close ends the document and flushes; it does not close the underlying
// writer.
func (c *CAMTWriter) Close() error {
	if c.closed {
		return errors.New("statement: camt writer: closed twice")
	}
	if c.currency != "" {
		return errors.New("statement: camt writer: statement not ended")
	}
	c.closed = true
	root := "BkToCstmrStmt"
	if c.kind == KindCAMT054 {
		root = "BkToCstmrDbtCdtNtfctn"
	}
	c.close(root)
	c.close("Document")
	if c.err == nil {
		c.err = c.enc.Close()
	}
	return c.failed()
}

// WriteCAMT053 writes a camt.053.001.08 document holding one statement.
// s.MessageID and s.Created make the group header. When s.Closing is nil it
// is computed: s.Opening plus the booked entries, dated like the opening.
func WriteCAMT053(w io.Writer, s Statement, entries []Entry) error {
	if s.Opening != nil && s.Closing == nil {
		closing := Balance{Type: BalanceClosing, Amount: s.Opening.Amount, Currency: s.Opening.Currency, Date: s.Opening.Date}
		for _, e := range entries {
			if e.Status == "" || e.Booked() {
				closing.Amount = closing.Amount.Add(e.Signed())
			}
		}
		s.Closing = &closing
	}
	return writeOne(w, KindCAMT053, s, entries)
}

// WriteCAMT054 writes a camt.054.001.08 document holding one notification.
// s.MessageID and s.Created make the group header.
func WriteCAMT054(w io.Writer, s Statement, entries []Entry) error {
	return writeOne(w, KindCAMT054, s, entries)
}

func writeOne(w io.Writer, kind Kind, s Statement, entries []Entry) error {
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

// checkText refuses text a schema-valid document cannot carry: too long,
// not UTF-8, characters XML cannot represent, or empty when required.
func checkText(field, s string, max int, required bool) error {
	switch {
	case required && s == "":
		return fmt.Errorf("%s missing", field)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not UTF-8", field)
	case utf8.RuneCountInString(s) > max:
		return fmt.Errorf("%s %q is longer than %d characters", field, clip(s), max)
	}
	for _, r := range s {
		if !xmlChar(r) {
			return fmt.Errorf("%s holds the character %U, which XML cannot carry", field, r)
		}
	}
	return nil
}

// xmlChar reports whether r is a Char of XML 1.0.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
