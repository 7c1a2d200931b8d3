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
	TxDtls       []xmlTx       `xml:"NtryDtls>TxDtls"`
	AddtlNtryInf string        `xml:"AddtlNtryInf"`
}

type xmlTx struct {
	Refs struct {
		MsgID       string `xml:"MsgId"`
		AcctSvcrRef string `xml:"AcctSvcrRef"`
		PmtInfID    string `xml:"PmtInfId"`
		InstrID     string `xml:"InstrId"`
		EndToEndID  string `xml:"EndToEndId"`
		TxID        string `xml:"TxId"`
	} `xml:"Refs"`
	Amt        []xmlAmt `xml:"Amt"`
	TxAmt      []xmlAmt `xml:"AmtDtls>TxAmt>Amt"`
	InstdAmt   []xmlAmt `xml:"AmtDtls>InstdAmt>Amt"`
	Ustrd      []string `xml:"RmtInf>Ustrd"`
	CdtrRef    []string `xml:"RmtInf>Strd>CdtrRefInf>Ref"`
	AddtlTxInf string   `xml:"AddtlTxInf"`
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
	for i := range x.TxDtls {
		tx, err := x.TxDtls[i].detail()
		if err != nil {
			return e, formatErr("TxDtls %d: %v", i+1, err)
		}
		e.TxDetails = append(e.TxDetails, tx)
		e.RemittanceInfo = append(e.RemittanceInfo, tx.RemittanceInfo...)
	}
	if len(e.TxDetails) == 1 {
		e.EndToEndID, e.TxID = e.TxDetails[0].EndToEndID, e.TxDetails[0].TxID
	}
	return e, nil
}

func (x *xmlTx) detail() (TxDetail, error) {
	r := x.Refs
	tx := TxDetail{
		EndToEndID: trim(r.EndToEndID), TxID: trim(r.TxID), AcctSvcrRef: trim(r.AcctSvcrRef),
		InstrID: trim(r.InstrID), MsgID: trim(r.MsgID), PmtInfID: trim(r.PmtInfID),
		RemittanceInfo: trimAll(x.Ustrd), CreditorRefs: trimAll(x.CdtrRef),
		AdditionalInfo: trim(x.AddtlTxInf),
	}
	for _, amts := range [][]xmlAmt{x.Amt, x.TxAmt, x.InstdAmt} {
		if len(amts) == 0 {
			continue
		}
		amt, err := one("Amt", amts)
		if err != nil {
			return tx, err
		}
		tx.Amount, tx.Currency, err = amt.amount()
		return tx, err
	}
	return tx, nil
}
