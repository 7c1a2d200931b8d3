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

// CAMTWriter writes a camt.053.001.08, camt.052.001.08 or camt.054.001.08
// document as a stream: NewCAMTWriter writes the group header, then for each statement
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

// NewCAMTWriter starts a document of kind (KindCAMT053, KindCAMT052 or
// KindCAMT054) with the group header messageID and created.
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
	ns := fmt.Sprintf("urn:iso:std:iso:20022:tech:xsd:%s.%s", kind, WriteVersion)
	c.open("Document", xml.Attr{Name: xml.Name{Local: "xmlns"}, Value: ns})
	c.open(c.root())
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

// root is the message element of the writer's kind.
func (c *CAMTWriter) root() string {
	for name, m := range camtMessages {
		if m.kind == c.kind {
			return name
		}
	}
	return ""
}

// container is the statement element of the writer's kind.
func (c *CAMTWriter) container() string { return camtMessages[c.root()].container }

// StartStatement writes a statement's header, its balances — for camt.053 the
// opening and closing ones (both required) and an interim one if given, for
// camt.052 whichever of the three are given, for camt.054 none — and its
// Summary when it has one. The statement's Kind, Version, MessageID, Seq,
// totals and findings are ignored.
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
	for _, b := range []*Balance{s.Opening, s.Interim, s.Closing} {
		if b != nil {
			c.balance(*b)
		}
	}
	if s.Summary != nil {
		c.summary(*s.Summary)
	}
	return c.failed()
}

func (c *CAMTWriter) summary(s Summary) {
	c.open("TxsSummry")
	if s.Entries != nil || s.Net != nil {
		c.open("TtlNtries")
		if s.Entries != nil {
			c.summaryTotal(*s.Entries)
		}
		if s.Net != nil {
			c.open("TtlNetNtry")
			c.text("Amt", s.Net.Abs().String())
			c.creditDebit(!s.Net.IsNegative())
			c.close("TtlNetNtry")
		}
		c.close("TtlNtries")
	}
	for _, side := range []struct {
		name string
		t    *SummaryTotal
	}{{"TtlCdtNtries", s.Credits}, {"TtlDbtNtries", s.Debits}} {
		if side.t != nil {
			c.open(side.name)
			c.summaryTotal(*side.t)
			c.close(side.name)
		}
	}
	c.close("TxsSummry")
}

func (c *CAMTWriter) summaryTotal(t SummaryTotal) {
	if t.Count != nil {
		c.text("NbOfNtries", fmt.Sprint(*t.Count))
	}
	if t.Sum != nil {
		c.text("Sum", t.Sum.String())
	}
}

func checkSummary(s *Summary) error {
	if s == nil {
		return nil
	}
	if s.Entries == nil && s.Net == nil && s.Credits == nil && s.Debits == nil {
		return errors.New("TxsSummry without a total")
	}
	if s.Net != nil {
		if err := checkDecimalNumber("TtlNetNtry", s.Net.Abs()); err != nil {
			return err
		}
	}
	for _, t := range []*SummaryTotal{s.Entries, s.Credits, s.Debits} {
		if t == nil {
			continue
		}
		if t.Count == nil && t.Sum == nil {
			return errors.New("TxsSummry total without a count or a sum")
		}
		if t.Count != nil && (*t.Count < 0 || *t.Count > 999_999_999_999_999) {
			return fmt.Errorf("TxsSummry count %d out of range", *t.Count)
		}
		if t.Sum != nil {
			if err := checkDecimalNumber("TxsSummry sum", *t.Sum); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkDecimalNumber refuses what parseDecimalNumber would refuse.
func checkDecimalNumber(field string, d decimal.Decimal) error {
	if _, err := parseDecimalNumber(field, d.String()); err != nil {
		return err
	}
	return nil
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
	if err := checkSummary(s.Summary); err != nil {
		return err
	}
	switch c.kind {
	case KindCAMT054:
		if s.Opening != nil || s.Closing != nil || s.Interim != nil {
			return errors.New("camt.054 carries no balances")
		}
		return nil
	case KindCAMT053:
		if s.Opening == nil || s.Closing == nil {
			return errors.New("camt.053 needs an opening and a closing balance")
		}
	}
	for _, b := range []struct {
		b     *Balance
		types []string
	}{
		{s.Opening, []string{BalanceOpening, BalancePreviousClosing}},
		{s.Interim, []string{BalanceInterim}},
		{s.Closing, []string{BalanceClosing}},
	} {
		if b.b == nil {
			continue
		}
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
	code := e.BankTxCode
	if code.IsZero() {
		code = defaultBankTxCode(e.Credit)
	}
	c.bankTxCode(code)
	c.amountDetails(e.AmountDetails)
	c.charges(e.Charges)
	// Each batch opens an NtryDtls holding its Transactions; the rest of
	// the transactions go in one more.
	txs := e.TxDetails
	for _, b := range e.Batches {
		c.open("NtryDtls")
		c.batch(b)
		for _, tx := range txs[:b.Transactions] {
			c.txDetail(tx)
		}
		txs = txs[b.Transactions:]
		c.close("NtryDtls")
	}
	if len(txs) > 0 {
		c.open("NtryDtls")
		for _, tx := range txs {
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
	errs = append(errs, checkBankTxCode(e.BankTxCode), checkAmountDetails(e.AmountDetails), checkCharges(e.Charges))
	inBatches := 0
	for _, b := range e.Batches {
		errs = append(errs, checkBatch(b))
		inBatches += b.Transactions
	}
	if inBatches > len(e.TxDetails) {
		errs = append(errs, fmt.Errorf("batches hold %d transactions, the entry has %d", inBatches, len(e.TxDetails)))
	}
	for _, tx := range e.TxDetails {
		errs = append(errs, checkTxDetail(tx))
	}
	return firstErr(errs...)
}

// defaultBankTxCode is the code written for an entry that has none (BkTxCd
// is required): a domestic credit transfer received or issued.
func defaultBankTxCode(credit bool) BankTxCode {
	family := "ICDT" // issued credit transfers
	if credit {
		family = "RCDT" // received credit transfers
	}
	return BankTxCode{Domain: "PMNT", Family: family, SubFamily: "DMCT"}
}

var (
	isoCode4    = regexp.MustCompile(`^[A-Z0-9]{1,4}$`)
	uetrPattern = regexp.MustCompile(`^[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}$`)
	// documentTypes are the ISO codes of a creditor reference's type
	// (DocumentType3Code); another type is written as Prtry.
	documentTypes = map[string]bool{"RADM": true, "RPIN": true, "FXDR": true, "DISP": true, "PUOR": true, "SCOR": true}
	bearers       = map[string]bool{"": true, "DEBT": true, "CRED": true, "SHAR": true, "SLEV": true}
)

func checkCreditDebit(field, v string) error {
	if v != "" && v != "CRDT" && v != "DBIT" {
		return fmt.Errorf("%s %q is neither CRDT nor DBIT", field, v)
	}
	return nil
}

func checkBankTxCode(b BankTxCode) error {
	if (b.Domain != "" || b.Family != "" || b.SubFamily != "") &&
		(!isoCode4.MatchString(b.Domain) || !isoCode4.MatchString(b.Family) || !isoCode4.MatchString(b.SubFamily)) {
		return fmt.Errorf("BkTxCd/Domn needs a domain, a family and a sub-family code of up to 4 letters or digits: %+v", b)
	}
	if b.ProprietaryIssuer != "" && b.Proprietary == "" {
		return errors.New("BkTxCd/Prtry/Issr without a code")
	}
	return firstErr(checkText("BkTxCd/Prtry/Cd", b.Proprietary, max35, false),
		checkText("BkTxCd/Prtry/Issr", b.ProprietaryIssuer, max35, false))
}

func checkBatch(b Batch) error {
	errs := []error{
		checkText("Btch/MsgId", b.MsgID, max35, false),
		checkText("Btch/PmtInfId", b.PmtInfID, max35, false),
		checkCreditDebit("Btch/CdtDbtInd", b.CreditDebit),
	}
	if b.NumberOfTxs < 0 || b.NumberOfTxs > 999_999_999_999_999 || b.Transactions < 0 {
		errs = append(errs, fmt.Errorf("Btch/NbOfTxs %d out of range", b.NumberOfTxs))
	}
	if b.Currency != "" || !b.TotalAmount.IsZero() {
		errs = append(errs, checkISOAmount("Btch/TtlAmt", b.TotalAmount, b.Currency))
	}
	return firstErr(errs...)
}

func checkCharges(ch Charges) error {
	var errs []error
	if ch.TotalCurrency != "" || !ch.Total.IsZero() {
		errs = append(errs, checkISOAmount("Chrgs/TtlChrgsAndTaxAmt", ch.Total, ch.TotalCurrency))
	} else if len(ch.Records) == 0 {
		return nil
	}
	for _, r := range ch.Records {
		errs = append(errs, checkISOAmount("Chrgs/Rcrd/Amt", r.Amount, r.Currency),
			checkCreditDebit("Chrgs/Rcrd/CdtDbtInd", r.CreditDebit), checkText("Chrgs/Rcrd/Tp", r.Type, max35, false))
		if !bearers[r.Bearer] {
			errs = append(errs, fmt.Errorf("Chrgs/Rcrd/Br %q is not DEBT, CRED, SHAR or SLEV", r.Bearer))
		}
	}
	return firstErr(errs...)
}

func checkAmountDetails(a AmountDetails) error {
	var errs []error
	if a.InstructedCurrency != "" || !a.Instructed.IsZero() {
		errs = append(errs, checkISOAmount("AmtDtls/InstdAmt", a.Instructed, a.InstructedCurrency))
	}
	if a.TransactionCurrency != "" || !a.Transaction.IsZero() {
		errs = append(errs, checkISOAmount("AmtDtls/TxAmt", a.Transaction, a.TransactionCurrency))
	}
	if a.ExchangeRate.IsZero() && a.SourceCurrency == "" && a.TargetCurrency == "" && a.UnitCurrency == "" {
		return firstErr(errs...)
	}
	switch {
	case a.InstructedCurrency == "" && a.TransactionCurrency == "":
		errs = append(errs, errors.New("AmtDtls/CcyXchg without an instructed or transaction amount to go with"))
	case !validCurrency(a.SourceCurrency) || !a.ExchangeRate.IsPositive():
		errs = append(errs, errors.New("AmtDtls/CcyXchg needs a source currency and a positive rate"))
	case (a.TargetCurrency != "" && !validCurrency(a.TargetCurrency)) || (a.UnitCurrency != "" && !validCurrency(a.UnitCurrency)):
		errs = append(errs, errors.New("AmtDtls/CcyXchg currencies must be ISO 4217 codes"))
	}
	errs = append(errs, checkDecimalNumber("CcyXchg/XchgRate", a.ExchangeRate))
	return firstErr(errs...)
}

func checkParties(p Parties) error {
	return firstErr(
		checkText("RltdPties/Dbtr/Pty/Nm", p.Debtor, max140, false),
		checkText("RltdPties/DbtrAcct/Id", p.DebtorAccount, max34, false),
		checkText("RltdPties/UltmtDbtr/Pty/Nm", p.UltimateDebtor, max140, false),
		checkText("RltdPties/Cdtr/Pty/Nm", p.Creditor, max140, false),
		checkText("RltdPties/CdtrAcct/Id", p.CreditorAccount, max34, false),
		checkText("RltdPties/UltmtCdtr/Pty/Nm", p.UltimateCreditor, max140, false),
	)
}

func checkReturn(r ReturnInfo) error {
	errs := []error{
		checkText("RtrInf/Rsn/Prtry", r.ReasonProprietary, max35, false),
		checkText("RtrInf/Orgtr/Nm", r.Originator, max140, false),
	}
	if r.Reason != "" && !isoCode4.MatchString(r.Reason) {
		errs = append(errs, fmt.Errorf("RtrInf/Rsn/Cd %q is not a code of up to 4 letters or digits", r.Reason))
	}
	if r.Reason != "" && r.ReasonProprietary != "" {
		errs = append(errs, errors.New("RtrInf/Rsn is either Cd or Prtry"))
	}
	for _, a := range r.AdditionalInfo {
		errs = append(errs, checkText("RtrInf/AddtlInf", a, 105, true))
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
		checkCreditDebit("TxDtls/CdtDbtInd", tx.CreditDebit),
		checkBankTxCode(tx.BankTxCode),
		checkAmountDetails(tx.AmountDetails),
		checkCharges(tx.Charges),
		checkParties(tx.Parties),
		checkReturn(tx.Return),
	}
	if tx.UETR != "" && !uetrPattern.MatchString(tx.UETR) {
		errs = append(errs, fmt.Errorf("UETR %q is not a version 4 UUID in lower case", clip(tx.UETR)))
	}
	if tx.Currency != "" || !tx.Amount.IsZero() {
		errs = append(errs, checkISOAmount("TxDtls/Amt", tx.Amount, tx.Currency))
	}
	for _, u := range tx.RemittanceInfo {
		errs = append(errs, checkText("Ustrd", u, max140, true))
	}
	for _, r := range tx.CreditorRefs {
		errs = append(errs, checkText("CdtrRefInf/Ref", r.Ref, max35, true),
			checkText("CdtrRefInf/Tp", r.Type, max35, false), checkText("CdtrRefInf/Tp/Issr", r.Issuer, max35, false))
		if r.Issuer != "" && r.Type == "" {
			errs = append(errs, errors.New("CdtrRefInf/Tp/Issr without a type"))
		}
	}
	for _, a := range tx.AdditionalRmt {
		errs = append(errs, checkText("AddtlRmtInf", a, max140, true))
	}
	return firstErr(errs...)
}

func (c *CAMTWriter) bankTxCode(b BankTxCode) {
	if b.IsZero() {
		return
	}
	c.open("BkTxCd")
	if b.Domain != "" {
		c.open("Domn")
		c.text("Cd", b.Domain)
		c.open("Fmly")
		c.text("Cd", b.Family)
		c.text("SubFmlyCd", b.SubFamily)
		c.close("Fmly")
		c.close("Domn")
	}
	if b.Proprietary != "" {
		c.open("Prtry")
		c.text("Cd", b.Proprietary)
		c.optText("Issr", b.ProprietaryIssuer)
		c.close("Prtry")
	}
	c.close("BkTxCd")
}

func (c *CAMTWriter) batch(b Batch) {
	c.open("Btch")
	c.optText("MsgId", b.MsgID)
	c.optText("PmtInfId", b.PmtInfID)
	if b.NumberOfTxs > 0 {
		c.text("NbOfTxs", fmt.Sprint(b.NumberOfTxs))
	}
	if b.Currency != "" {
		c.open("TtlAmt", xml.Attr{Name: xml.Name{Local: "Ccy"}, Value: b.Currency})
		c.token(xml.CharData(b.TotalAmount.String()))
		c.close("TtlAmt")
	}
	c.optText("CdtDbtInd", b.CreditDebit)
	c.close("Btch")
}

func (c *CAMTWriter) charges(ch Charges) {
	if ch.IsZero() {
		return
	}
	c.open("Chrgs")
	if ch.TotalCurrency != "" {
		c.open("TtlChrgsAndTaxAmt", xml.Attr{Name: xml.Name{Local: "Ccy"}, Value: ch.TotalCurrency})
		c.token(xml.CharData(ch.Total.String()))
		c.close("TtlChrgsAndTaxAmt")
	}
	for _, r := range ch.Records {
		c.open("Rcrd")
		c.amount(r.Amount, r.Currency)
		c.optText("CdtDbtInd", r.CreditDebit)
		if r.Included {
			c.text("ChrgInclInd", "true")
		}
		switch {
		case r.Type == "":
		case isoCode4.MatchString(r.Type):
			c.path(r.Type, "Tp", "Cd")
		default:
			c.path(r.Type, "Tp", "Prtry", "Id")
		}
		c.optText("Br", r.Bearer)
		c.close("Rcrd")
	}
	c.close("Chrgs")
}

func (c *CAMTWriter) amountDetails(a AmountDetails) {
	if a.IsZero() {
		return
	}
	xchgDone := false
	c.open("AmtDtls")
	for _, part := range []struct {
		name string
		amt  decimal.Decimal
		ccy  string
	}{{"InstdAmt", a.Instructed, a.InstructedCurrency}, {"TxAmt", a.Transaction, a.TransactionCurrency}} {
		if part.ccy == "" {
			continue
		}
		c.open(part.name)
		c.amount(part.amt, part.ccy)
		if !xchgDone && !a.ExchangeRate.IsZero() {
			xchgDone = true
			c.open("CcyXchg")
			c.text("SrcCcy", a.SourceCurrency)
			c.optText("TrgtCcy", a.TargetCurrency)
			c.optText("UnitCcy", a.UnitCurrency)
			c.text("XchgRate", a.ExchangeRate.String())
			c.close("CcyXchg")
		}
		c.close(part.name)
	}
	c.close("AmtDtls")
}

// party writes a .08 party (Pty/Nm) and its account.
func (c *CAMTWriter) party(name, acct, partyElem, acctElem string) {
	if name != "" {
		c.path(name, partyElem, "Pty", "Nm")
	}
	if acct != "" {
		c.open(acctElem)
		if ibanPattern.MatchString(acct) {
			c.path(acct, "Id", "IBAN")
		} else {
			c.path(acct, "Id", "Othr", "Id")
		}
		c.close(acctElem)
	}
}

func (c *CAMTWriter) txDetail(tx TxDetail) {
	c.open("TxDtls")
	refs := []struct{ name, v string }{
		{"MsgId", tx.MsgID}, {"AcctSvcrRef", tx.AcctSvcrRef}, {"PmtInfId", tx.PmtInfID},
		{"InstrId", tx.InstrID}, {"EndToEndId", tx.EndToEndID}, {"UETR", tx.UETR}, {"TxId", tx.TxID},
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
	c.optText("CdtDbtInd", tx.CreditDebit)
	c.amountDetails(tx.AmountDetails)
	c.bankTxCode(tx.BankTxCode)
	c.charges(tx.Charges)
	if p := tx.Parties; !p.IsZero() {
		c.open("RltdPties")
		c.party(p.Debtor, p.DebtorAccount, "Dbtr", "DbtrAcct")
		c.party(p.UltimateDebtor, "", "UltmtDbtr", "")
		c.party(p.Creditor, p.CreditorAccount, "Cdtr", "CdtrAcct")
		c.party(p.UltimateCreditor, "", "UltmtCdtr", "")
		c.close("RltdPties")
	}
	if len(tx.RemittanceInfo) > 0 || len(tx.CreditorRefs) > 0 || len(tx.AdditionalRmt) > 0 {
		c.open("RmtInf")
		for _, u := range tx.RemittanceInfo {
			c.text("Ustrd", u)
		}
		for _, r := range tx.CreditorRefs {
			c.open("Strd")
			c.open("CdtrRefInf")
			if r.Type != "" {
				c.open("Tp")
				if documentTypes[r.Type] {
					c.path(r.Type, "CdOrPrtry", "Cd")
				} else {
					c.path(r.Type, "CdOrPrtry", "Prtry")
				}
				c.optText("Issr", r.Issuer)
				c.close("Tp")
			}
			c.text("Ref", r.Ref)
			c.close("CdtrRefInf")
			c.close("Strd")
		}
		for i := 0; i < len(tx.AdditionalRmt); i += 3 { // at most 3 AddtlRmtInf per Strd
			c.open("Strd")
			for _, a := range tx.AdditionalRmt[i:min(i+3, len(tx.AdditionalRmt))] {
				c.text("AddtlRmtInf", a)
			}
			c.close("Strd")
		}
		c.close("RmtInf")
	}
	if r := tx.Return; !r.IsZero() {
		c.open("RtrInf")
		if r.Originator != "" {
			c.path(r.Originator, "Orgtr", "Nm")
		}
		switch {
		case r.Reason != "":
			c.path(r.Reason, "Rsn", "Cd")
		case r.ReasonProprietary != "":
			c.path(r.ReasonProprietary, "Rsn", "Prtry")
		}
		for _, a := range r.AdditionalInfo {
			c.text("AddtlInf", a)
		}
		c.close("RtrInf")
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
	c.close(c.root())
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
