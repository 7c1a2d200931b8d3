package statement

import (
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// The element shapes decoded whole with DecodeElement. Tags name local
// element names only, so any namespace (or none) matches. Elements that carry
// money or direction are slices so that a repeated one is refused instead of
// the last silently winning.

type xmlGrpHdr struct {
	MsgID   string `xml:"MsgId"`
	CreDtTm string `xml:"CreDtTm"`
}

type xmlFrToDt struct {
	FrDtTm string `xml:"FrDtTm"`
	ToDtTm string `xml:"ToDtTm"`
}

type xmlAcct struct {
	IBAN string `xml:"Id>IBAN"`
	Othr string `xml:"Id>Othr>Id"`
	Ccy  string `xml:"Ccy"`
}

type xmlAmt struct {
	Ccy   string `xml:"Ccy,attr"`
	Value string `xml:",chardata"`
}

type xmlDateChoice struct {
	Dt   string `xml:"Dt"`
	DtTm string `xml:"DtTm"`
}

type xmlBal struct {
	Cd        []string      `xml:"Tp>CdOrPrtry>Cd"`
	Amt       []xmlAmt      `xml:"Amt"`
	CdtDbtInd []string      `xml:"CdtDbtInd"`
	Dt        xmlDateChoice `xml:"Dt"`
}

type xmlStatus struct {
	Text  string `xml:",chardata"`
	Cd    string `xml:"Cd"`
	Prtry string `xml:"Prtry"`
}

type xmlEntry struct {
	NtryRef      string        `xml:"NtryRef"`
	Amt          []xmlAmt      `xml:"Amt"`
	CdtDbtInd    []string      `xml:"CdtDbtInd"`
	RvslInd      string        `xml:"RvslInd"`
	Sts          []xmlStatus   `xml:"Sts"`
	BookgDt      xmlDateChoice `xml:"BookgDt"`
	ValDt        xmlDateChoice `xml:"ValDt"`
	AcctSvcrRef  string        `xml:"AcctSvcrRef"`
	BkTxCd       xmlBkTxCd     `xml:"BkTxCd"`
	Chrgs        []xmlChrgs    `xml:"Chrgs"`
	AmtDtls      []xmlAmtDtls  `xml:"AmtDtls"`
	NtryDtls     []xmlNtryDtls `xml:"NtryDtls"`
	AddtlNtryInf string        `xml:"AddtlNtryInf"`
}

type xmlNtryDtls struct {
	Btch   []xmlBtch `xml:"Btch"`
	TxDtls []xmlTx   `xml:"TxDtls"`
}

type xmlBtch struct {
	MsgID     string   `xml:"MsgId"`
	PmtInfID  string   `xml:"PmtInfId"`
	NbOfTxs   string   `xml:"NbOfTxs"`
	TtlAmt    []xmlAmt `xml:"TtlAmt"`
	CdtDbtInd []string `xml:"CdtDbtInd"`
}

type xmlBkTxCd struct {
	Domn    string `xml:"Domn>Cd"`
	Fmly    string `xml:"Domn>Fmly>Cd"`
	SubFmly string `xml:"Domn>Fmly>SubFmlyCd"`
	Prtry   string `xml:"Prtry>Cd"`
	Issr    string `xml:"Prtry>Issr"`
}

// xmlChrgs is a Chrgs element: .04 and later hold Rcrd elements; in .02
// each Chrgs is itself one record.
type xmlChrgs struct {
	TtlChrgsAndTaxAmt []xmlAmt       `xml:"TtlChrgsAndTaxAmt"`
	Rcrd              []xmlChrgsRcrd `xml:"Rcrd"`
	xmlChrgsRcrd
}

type xmlChrgsRcrd struct {
	Amt         []xmlAmt `xml:"Amt"`
	CdtDbtInd   []string `xml:"CdtDbtInd"`
	ChrgInclInd string   `xml:"ChrgInclInd"`
	TpCd        string   `xml:"Tp>Cd"`
	TpPrtry     string   `xml:"Tp>Prtry>Id"`
	Br          string   `xml:"Br"`
}

type xmlCcyXchg struct {
	SrcCcy   string `xml:"SrcCcy"`
	TrgtCcy  string `xml:"TrgtCcy"`
	UnitCcy  string `xml:"UnitCcy"`
	XchgRate string `xml:"XchgRate"`
}

type xmlAmtAndXchg struct {
	Amt     []xmlAmt     `xml:"Amt"`
	CcyXchg []xmlCcyXchg `xml:"CcyXchg"`
}

type xmlAmtDtls struct {
	InstdAmt   []xmlAmtAndXchg `xml:"InstdAmt"`
	TxAmt      []xmlAmtAndXchg `xml:"TxAmt"`
	CntrValAmt []xmlAmtAndXchg `xml:"CntrValAmt"`
}

// xmlParty reads a party's name as .02/.04 (Nm) and .08 (Pty/Nm) write it.
type xmlParty struct {
	Nm    string `xml:"Nm"`
	PtyNm string `xml:"Pty>Nm"`
}

func (p xmlParty) name() string {
	if n := trim(p.Nm); n != "" {
		return n
	}
	return trim(p.PtyNm)
}

type xmlAcctID struct {
	IBAN string `xml:"Id>IBAN"`
	Othr string `xml:"Id>Othr>Id"`
}

func (a xmlAcctID) id() string {
	if i := trim(a.IBAN); i != "" {
		return i
	}
	return trim(a.Othr)
}

type xmlStrd struct {
	CdtrRefInf struct {
		Cd    string `xml:"Tp>CdOrPrtry>Cd"`
		Prtry string `xml:"Tp>CdOrPrtry>Prtry"`
		Issr  string `xml:"Tp>Issr"`
		Ref   string `xml:"Ref"`
	} `xml:"CdtrRefInf"`
	AddtlRmtInf []string `xml:"AddtlRmtInf"`
}

type xmlTx struct {
	Refs struct {
		MsgID       string `xml:"MsgId"`
		AcctSvcrRef string `xml:"AcctSvcrRef"`
		PmtInfID    string `xml:"PmtInfId"`
		InstrID     string `xml:"InstrId"`
		EndToEndID  string `xml:"EndToEndId"`
		UETR        string `xml:"UETR"`
		TxID        string `xml:"TxId"`
	} `xml:"Refs"`
	Amt       []xmlAmt     `xml:"Amt"`
	CdtDbtInd []string     `xml:"CdtDbtInd"`
	AmtDtls   []xmlAmtDtls `xml:"AmtDtls"`
	BkTxCd    xmlBkTxCd    `xml:"BkTxCd"`
	Chrgs     []xmlChrgs   `xml:"Chrgs"`
	RltdPties struct {
		Dbtr      xmlParty  `xml:"Dbtr"`
		DbtrAcct  xmlAcctID `xml:"DbtrAcct"`
		UltmtDbtr xmlParty  `xml:"UltmtDbtr"`
		Cdtr      xmlParty  `xml:"Cdtr"`
		CdtrAcct  xmlAcctID `xml:"CdtrAcct"`
		UltmtCdtr xmlParty  `xml:"UltmtCdtr"`
	} `xml:"RltdPties"`
	Ustrd  []string  `xml:"RmtInf>Ustrd"`
	Strd   []xmlStrd `xml:"RmtInf>Strd"`
	RtrInf struct {
		Orgtr    xmlParty `xml:"Orgtr"`
		RsnCd    string   `xml:"Rsn>Cd"`
		RsnPrtry string   `xml:"Rsn>Prtry"`
		AddtlInf []string `xml:"AddtlInf"`
	} `xml:"RtrInf"`
	AddtlTxInf string `xml:"AddtlTxInf"`
}

// xmlTxsSummry is a TxsSummry: .04 and later give the net as TtlNetNtry,
// .02 as TtlNetNtryAmt and CdtDbtInd.
type xmlTxsSummry struct {
	TtlNtries struct {
		NbOfNtries string   `xml:"NbOfNtries"`
		Sum        string   `xml:"Sum"`
		NetAmt     string   `xml:"TtlNetNtry>Amt"`
		NetInd     []string `xml:"TtlNetNtry>CdtDbtInd"`
		NetAmtV2   string   `xml:"TtlNetNtryAmt"`
		NetIndV2   []string `xml:"CdtDbtInd"`
	} `xml:"TtlNtries"`
	TtlCdtNtries []xmlSummaryTotal `xml:"TtlCdtNtries"`
	TtlDbtNtries []xmlSummaryTotal `xml:"TtlDbtNtries"`
}

type xmlSummaryTotal struct {
	NbOfNtries string `xml:"NbOfNtries"`
	Sum        string `xml:"Sum"`
}

func trim(s string) string { return strings.TrimSpace(s) }

// trimAll trims every line and drops the empty ones.
func trimAll(in []string) []string {
	var out []string
	for _, s := range in {
		if s = trim(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// one returns the only element of a repeated field.
func one[T any](field string, v []T) (T, error) {
	var zero T
	switch len(v) {
	case 0:
		return zero, formatErr("%s missing", field)
	case 1:
		return v[0], nil
	}
	return zero, formatErr("%s repeated", field)
}

func (x xmlFrToDt) apply(st *Statement) error {
	var err error
	if x.FrDtTm != "" {
		if st.From, err = parseISODateTime(x.FrDtTm); err != nil {
			return err
		}
	}
	if x.ToDtTm != "" {
		if st.To, err = parseISODateTime(x.ToDtTm); err != nil {
			return err
		}
	}
	return nil
}

func (x xmlAcct) apply(st *Statement) error {
	iban, othr, ccy := trim(x.IBAN), trim(x.Othr), trim(x.Ccy)
	switch {
	case iban != "" && othr != "":
		return formatErr("Acct/Id has both IBAN and Othr")
	case iban != "":
		st.Account = iban
	default:
		st.Account = othr
	}
	if ccy == "" {
		return nil
	}
	if !validCurrency(ccy) {
		return formatErr("Acct/Ccy %q is not an ISO 4217 code", clip(ccy))
	}
	if st.Currency != "" && st.Currency != ccy {
		return formatErr("Acct/Ccy %s but balances in %s", ccy, st.Currency)
	}
	st.Currency = ccy
	return nil
}

func (a xmlAmt) amount() (decimal.Decimal, string, error) {
	d, err := parseISOAmount(a.Value, a.Ccy)
	return d, trim(a.Ccy), err
}

// credit reads a CdtDbtInd.
func credit(v []string) (bool, error) {
	ind, err := one("CdtDbtInd", v)
	if err != nil {
		return false, err
	}
	switch trim(ind) {
	case "CRDT":
		return true, nil
	case "DBIT":
		return false, nil
	}
	return false, formatErr("CdtDbtInd %q is neither CRDT nor DBIT", clip(ind))
}

// time reads a Dt|DtTm choice; zero when both are absent.
func (d xmlDateChoice) time(field string) (time.Time, error) {
	dt, dtTm := trim(d.Dt), trim(d.DtTm)
	var t time.Time
	var err error
	switch {
	case dt != "" && dtTm != "":
		err = formatErr("both Dt and DtTm")
	case dt != "":
		t, err = parseISODate(dt)
	case dtTm != "":
		t, err = parseISODateTime(dtTm)
	}
	if err != nil {
		return time.Time{}, formatErr("%s: %v", field, err)
	}
	return t, nil
}

func (x xmlBal) balance() (Balance, error) {
	var b Balance
	if len(x.Cd) == 0 {
		return b, nil // proprietary balance type: not one we use
	}
	cd, err := one("Bal/Tp/CdOrPrtry/Cd", x.Cd)
	if err != nil {
		return b, err
	}
	b.Type = trim(cd)
	amt, err := one("Bal/Amt", x.Amt)
	if err != nil {
		return b, err
	}
	if b.Amount, b.Currency, err = amt.amount(); err != nil {
		return b, err
	}
	cr, err := credit(x.CdtDbtInd)
	if err != nil {
		return b, err
	}
	if !cr {
		b.Amount = b.Amount.Neg()
	}
	b.Date, err = x.Dt.time("Bal/Dt")
	return b, err
}

func (x xmlStatus) status() (string, error) {
	text, cd, prtry := trim(x.Text), trim(x.Cd), trim(x.Prtry)
	n := 0
	for _, v := range []string{text, cd, prtry} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return "", formatErr("Sts must hold exactly one of a code, Cd or Prtry")
	}
	return text + cd + prtry, nil
}

func parseBool(field, s string) (bool, error) {
	switch trim(s) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, formatErr("%s %q is not a boolean", field, clip(s))
}

func (x *xmlEntry) entry() (Entry, error) {
	var e Entry
	amt, err := one("Amt", x.Amt)
	if err != nil {
		return e, err
	}
	if e.Amount, e.Currency, err = amt.amount(); err != nil {
		return e, err
	}
	if e.Credit, err = credit(x.CdtDbtInd); err != nil {
		return e, err
	}
	if e.Reversal, err = parseBool("RvslInd", x.RvslInd); err != nil {
		return e, err
	}
	sts, err := one("Sts", x.Sts)
	if err != nil {
		return e, err
	}
	if e.Status, err = sts.status(); err != nil {
		return e, err
	}
	if e.BookingDate, err = x.BookgDt.time("BookgDt"); err != nil {
		return e, err
	}
	if e.ValueDate, err = x.ValDt.time("ValDt"); err != nil {
		return e, err
	}
	e.EntryRef, e.AcctSvcrRef, e.AdditionalInfo = trim(x.NtryRef), trim(x.AcctSvcrRef), trim(x.AddtlNtryInf)
	e.BankTxCode = x.BkTxCd.code()
	if e.Charges, err = charges("Chrgs", x.Chrgs); err != nil {
		return e, err
	}
	if e.AmountDetails, err = amountDetails(x.AmtDtls); err != nil {
		return e, err
	}
	n := 0
	for _, d := range x.NtryDtls {
		for i := range d.TxDtls {
			n++
			tx, err := d.TxDtls[i].detail()
			if err != nil {
				return e, formatErr("TxDtls %d: %v", n, err)
			}
			e.TxDetails = append(e.TxDetails, tx)
			e.RemittanceInfo = append(e.RemittanceInfo, tx.RemittanceInfo...)
		}
		if len(d.Btch) == 0 {
			continue
		}
		b, err := one("Btch", d.Btch)
		if err != nil {
			return e, err
		}
		batch, err := b.batch()
		if err != nil {
			return e, err
		}
		batch.Transactions = len(d.TxDtls)
		e.Batches = append(e.Batches, batch)
	}
	if len(e.TxDetails) == 1 {
		e.EndToEndID, e.TxID = e.TxDetails[0].EndToEndID, e.TxDetails[0].TxID
	}
	return e, nil
}

func (x xmlBkTxCd) code() BankTxCode {
	return BankTxCode{Domain: trim(x.Domn), Family: trim(x.Fmly), SubFamily: trim(x.SubFmly),
		Proprietary: trim(x.Prtry), ProprietaryIssuer: trim(x.Issr)}
}

func (x xmlBtch) batch() (Batch, error) {
	b := Batch{MsgID: trim(x.MsgID), PmtInfID: trim(x.PmtInfID)}
	if n := trim(x.NbOfTxs); n != "" {
		v, err := parseCount("Btch/NbOfTxs", n)
		if err != nil {
			return b, err
		}
		b.NumberOfTxs = v
	}
	if len(x.TtlAmt) > 0 {
		amt, err := one("Btch/TtlAmt", x.TtlAmt)
		if err != nil {
			return b, err
		}
		if b.TotalAmount, b.Currency, err = amt.amount(); err != nil {
			return b, err
		}
	}
	var err error
	b.CreditDebit, err = optCreditDebit("Btch/CdtDbtInd", x.CdtDbtInd)
	return b, err
}

// parseCount reads a count (Max15NumericText).
func parseCount(field, s string) (int64, error) {
	if !allDigits(s) || len(s) > 15 {
		return 0, formatErr("%s %q is not a number of up to 15 digits", field, clip(s))
	}
	var v int64
	for i := 0; i < len(s); i++ {
		v = v*10 + int64(s[i]-'0')
	}
	return v, nil
}

// optCreditDebit reads an optional CdtDbtInd: "CRDT", "DBIT" or "".
func optCreditDebit(field string, v []string) (string, error) {
	if len(v) == 0 {
		return "", nil
	}
	ind, err := one(field, v)
	if err != nil {
		return "", err
	}
	switch ind = trim(ind); ind {
	case "CRDT", "DBIT":
		return ind, nil
	}
	return "", formatErr("%s %q is neither CRDT nor DBIT", field, clip(ind))
}

// charges reads the Chrgs elements of an entry or a transaction.
func charges(field string, xs []xmlChrgs) (Charges, error) {
	var c Charges
	for _, x := range xs {
		if len(x.TtlChrgsAndTaxAmt) > 0 {
			if c.TotalCurrency != "" {
				return c, formatErr("%s/TtlChrgsAndTaxAmt repeated", field)
			}
			amt, err := one(field+"/TtlChrgsAndTaxAmt", x.TtlChrgsAndTaxAmt)
			if err != nil {
				return c, err
			}
			if c.Total, c.TotalCurrency, err = amt.amount(); err != nil {
				return c, err
			}
		}
		recs := x.Rcrd
		if len(x.xmlChrgsRcrd.Amt) > 0 { // .02: the Chrgs is the record
			recs = append([]xmlChrgsRcrd{x.xmlChrgsRcrd}, recs...)
		}
		for _, r := range recs {
			ch, err := r.charge(field)
			if err != nil {
				return c, err
			}
			c.Records = append(c.Records, ch)
		}
	}
	return c, nil
}

func (r xmlChrgsRcrd) charge(field string) (Charge, error) {
	var ch Charge
	amt, err := one(field+"/Amt", r.Amt)
	if err != nil {
		return ch, err
	}
	if ch.Amount, ch.Currency, err = amt.amount(); err != nil {
		return ch, err
	}
	if ch.CreditDebit, err = optCreditDebit(field+"/CdtDbtInd", r.CdtDbtInd); err != nil {
		return ch, err
	}
	if ch.Included, err = parseBool(field+"/ChrgInclInd", r.ChrgInclInd); err != nil {
		return ch, err
	}
	ch.Type, ch.Bearer = trim(r.TpCd), trim(r.Br)
	if ch.Type == "" {
		ch.Type = trim(r.TpPrtry)
	}
	return ch, nil
}

// amountDetails reads an AmtDtls (at most one).
func amountDetails(xs []xmlAmtDtls) (AmountDetails, error) {
	var a AmountDetails
	if len(xs) == 0 {
		return a, nil
	}
	x, err := one("AmtDtls", xs)
	if err != nil {
		return a, err
	}
	var xchg []xmlCcyXchg
	for _, part := range []struct {
		name string
		v    []xmlAmtAndXchg
		amt  *decimal.Decimal
		ccy  *string
	}{
		{"AmtDtls/InstdAmt", x.InstdAmt, &a.Instructed, &a.InstructedCurrency},
		{"AmtDtls/TxAmt", x.TxAmt, &a.Transaction, &a.TransactionCurrency},
		{"AmtDtls/CntrValAmt", x.CntrValAmt, nil, nil},
	} {
		if len(part.v) == 0 {
			continue
		}
		v, err := one(part.name, part.v)
		if err != nil {
			return a, err
		}
		amt, err := one(part.name+"/Amt", v.Amt)
		if err != nil {
			return a, err
		}
		d, ccy, err := amt.amount()
		if err != nil {
			return a, err
		}
		if part.amt != nil {
			*part.amt, *part.ccy = d, ccy
		}
		if xchg == nil && len(v.CcyXchg) > 0 {
			if _, err := one(part.name+"/CcyXchg", v.CcyXchg); err != nil {
				return a, err
			}
			xchg = v.CcyXchg
		}
	}
	if xchg == nil {
		return a, nil
	}
	cx := xchg[0]
	for _, c := range []struct {
		name string
		v    string
		dst  *string
	}{{"SrcCcy", cx.SrcCcy, &a.SourceCurrency}, {"TrgtCcy", cx.TrgtCcy, &a.TargetCurrency}, {"UnitCcy", cx.UnitCcy, &a.UnitCurrency}} {
		v := trim(c.v)
		if v != "" && !validCurrency(v) {
			return a, formatErr("CcyXchg/%s %q is not an ISO 4217 code", c.name, clip(v))
		}
		*c.dst = v
	}
	rate, err := parseDecimalNumber("CcyXchg/XchgRate", cx.XchgRate)
	if err != nil {
		return a, err
	}
	a.ExchangeRate = rate
	return a, nil
}

// parseDecimalNumber reads an unsigned ISO DecimalNumber (at most 18 digits,
// 17 after the point); "" is zero.
func parseDecimalNumber(field, s string) (decimal.Decimal, error) {
	s = trim(s)
	if s == "" {
		return decimal.Zero, nil
	}
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if !allDigits(intPart) || (hasPoint && !allDigits(frac)) || len(intPart)+len(frac) > 18 {
		return decimal.Zero, formatErr("%s %q is not a plain unsigned decimal of up to 18 digits", field, clip(s))
	}
	return decimal.NewFromString(s)
}

func (x *xmlTx) detail() (TxDetail, error) {
	r := x.Refs
	p := x.RltdPties
	tx := TxDetail{
		EndToEndID: trim(r.EndToEndID), TxID: trim(r.TxID), AcctSvcrRef: trim(r.AcctSvcrRef),
		InstrID: trim(r.InstrID), MsgID: trim(r.MsgID), PmtInfID: trim(r.PmtInfID), UETR: trim(r.UETR),
		RemittanceInfo: trimAll(x.Ustrd), AdditionalInfo: trim(x.AddtlTxInf),
		BankTxCode: x.BkTxCd.code(),
		Parties: Parties{Debtor: p.Dbtr.name(), DebtorAccount: p.DbtrAcct.id(), UltimateDebtor: p.UltmtDbtr.name(),
			Creditor: p.Cdtr.name(), CreditorAccount: p.CdtrAcct.id(), UltimateCreditor: p.UltmtCdtr.name()},
		Return: ReturnInfo{Reason: trim(x.RtrInf.RsnCd), ReasonProprietary: trim(x.RtrInf.RsnPrtry),
			Originator: x.RtrInf.Orgtr.name(), AdditionalInfo: trimAll(x.RtrInf.AddtlInf)},
	}
	for _, s := range x.Strd {
		if ref := trim(s.CdtrRefInf.Ref); ref != "" {
			typ := trim(s.CdtrRefInf.Cd)
			if typ == "" {
				typ = trim(s.CdtrRefInf.Prtry)
			}
			tx.CreditorRefs = append(tx.CreditorRefs, CreditorRef{Ref: ref, Type: typ, Issuer: trim(s.CdtrRefInf.Issr)})
		}
		tx.AdditionalRmt = append(tx.AdditionalRmt, trimAll(s.AddtlRmtInf)...)
	}
	var err error
	if tx.CreditDebit, err = optCreditDebit("CdtDbtInd", x.CdtDbtInd); err != nil {
		return tx, err
	}
	if tx.Charges, err = charges("Chrgs", x.Chrgs); err != nil {
		return tx, err
	}
	if tx.AmountDetails, err = amountDetails(x.AmtDtls); err != nil {
		return tx, err
	}
	// The amount: TxDtls/Amt, else (.02) the transaction's or the
	// instructed amount of AmtDtls.
	if len(x.Amt) > 0 {
		amt, err := one("Amt", x.Amt)
		if err != nil {
			return tx, err
		}
		tx.Amount, tx.Currency, err = amt.amount()
		return tx, err
	}
	switch a := tx.AmountDetails; {
	case a.TransactionCurrency != "":
		tx.Amount, tx.Currency = a.Transaction, a.TransactionCurrency
	case a.InstructedCurrency != "":
		tx.Amount, tx.Currency = a.Instructed, a.InstructedCurrency
	}
	return tx, nil
}

// summary reads a TxsSummry.
func (x xmlTxsSummry) summary() (*Summary, error) {
	var s Summary
	t := x.TtlNtries
	total, err := summaryTotal("TtlNtries", t.NbOfNtries, t.Sum)
	if err != nil {
		return nil, err
	}
	s.Entries = total
	for _, net := range []struct {
		field, amt string
		ind        []string
	}{{"TtlNetNtry", t.NetAmt, t.NetInd}, {"TtlNetNtryAmt", t.NetAmtV2, t.NetIndV2}} {
		if trim(net.amt) == "" {
			continue
		}
		if s.Net != nil {
			return nil, formatErr("TtlNtries has both TtlNetNtry and TtlNetNtryAmt")
		}
		d, err := parseDecimalNumber("TxsSummry/TtlNtries/"+net.field, net.amt)
		if err != nil {
			return nil, err
		}
		cr, err := credit(net.ind)
		if err != nil {
			return nil, formatErr("TxsSummry/TtlNtries/%s: %v", net.field, err)
		}
		if !cr {
			d = d.Neg()
		}
		s.Net = &d
	}
	for _, side := range []struct {
		field string
		v     []xmlSummaryTotal
		dst   **SummaryTotal
	}{{"TtlCdtNtries", x.TtlCdtNtries, &s.Credits}, {"TtlDbtNtries", x.TtlDbtNtries, &s.Debits}} {
		if len(side.v) == 0 {
			continue
		}
		v, err := one("TxsSummry/"+side.field, side.v)
		if err != nil {
			return nil, err
		}
		if *side.dst, err = summaryTotal(side.field, v.NbOfNtries, v.Sum); err != nil {
			return nil, err
		}
	}
	if s == (Summary{}) {
		return nil, nil // only totals per bank transaction code, which are not checked
	}
	return &s, nil
}

func summaryTotal(field, count, sum string) (*SummaryTotal, error) {
	count, sum = trim(count), trim(sum)
	if count == "" && sum == "" {
		return nil, nil
	}
	var t SummaryTotal
	if count != "" {
		n, err := parseCount("TxsSummry/"+field+"/NbOfNtries", count)
		if err != nil {
			return nil, err
		}
		t.Count = &n
	}
	if sum != "" {
		d, err := parseDecimalNumber("TxsSummry/"+field+"/Sum", sum)
		if err != nil {
			return nil, err
		}
		t.Sum = &d
	}
	return &t, nil
}
