package statement_test

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/civicpay/civicpay/reconciliation/statement"
	"github.com/shopspring/decimal"
)

func ExampleParseCAMT() {
	doc := `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>
<GrpHdr><MsgId>VCB-1</MsgId><CreDtTm>2026-11-23T23:00:00+07:00</CreDtTm></GrpHdr>
<Stmt><Id>S-20261123</Id><Acct><Id><Othr><Id>0011004123456</Id></Othr></Id><Ccy>VND</Ccy></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="VND">1000</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-23</Dt></Dt></Bal>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="VND">1250</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-23</Dt></Dt></Bal>
<Ntry><Amt Ccy="VND">250</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-11-23</Dt></BookgDt>
<NtryDtls><TxDtls><RmtInf><Ustrd>CK TU VNPAY STL VNPAY 20261123 R1 /REF 88213</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
</Stmt></BkToCstmrStmt></Document>`
	stmts, err := statement.ParseCAMT(strings.NewReader(doc), func(s statement.Statement, e statement.Entry) error {
		id, ok := statement.FindSettlementFileID(e.Texts())
		fmt.Println(s.StatementID, e.Seq, e.Signed(), e.Currency, e.Status, id, ok)
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(stmts[0].Opening.Amount, "+", stmts[0].BookedCredits, "=", stmts[0].Closing.Amount)

	// A statement that does not add up is refused, with the difference.
	_, err = statement.ParseCAMT(strings.NewReader(strings.Replace(doc, ">1250<", ">1200<", 1)), nil)
	fmt.Println(err)
	// Output:
	// S-20261123 1 250 VND BOOK STL-VNPAY-20261123-R1 true
	// 1000 + 250 = 1250
	// camt.053: line 8, column 8: statement 1 (S-20261123): statement does not balance: opening 1000 + entries 250 = 1250, closing says 1200: difference 50 VND
}

func ExampleSettlementWriter() {
	var buf bytes.Buffer
	w, err := statement.NewSettlementWriter(statement.GatewayMoMo, &buf, statement.SettlementFile{
		BusinessDate: time.Date(2026, time.November, 23, 0, 0, 0, 0, statement.ICT),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range []statement.SettlementLine{
		{GatewayTxnID: "4088878653", Reference: "ATT20261123000002", Type: statement.TypePayment,
			Gross: decimal.NewFromInt(50000), Fee: decimal.NewFromInt(1100), Net: decimal.NewFromInt(48900),
			At: time.Date(2026, time.November, 23, 9, 18, 6, 0, statement.ICT)},
		{GatewayTxnID: "4088879001", Reference: "RFD20261123000001", Type: statement.TypeRefund,
			Gross: decimal.NewFromInt(-20000), Fee: decimal.Zero, Net: decimal.NewFromInt(-20000),
			At: time.Date(2026, time.November, 23, 14, 40, 0, 0, statement.ICT)},
	} {
		if err := w.Write(l); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := w.Close(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(buf.String())

	f, err := statement.ParseSettlement(statement.GatewayMoMo, &buf, func(l statement.SettlementLine) error {
		fmt.Println(l.Line, l.Reference, l.Type, l.Net)
		return nil
	})
	fmt.Println(f.FileID, f.Count, f.Net, err)
	// Output:
	// settlementFileId,settlementDate,transId,orderId,transType,amount,fee,netAmount,currency,responseTime
	// STL-MOMO-20261123-R1,23/11/2026,4088878653,ATT20261123000002,PAYMENT,50000,1100,48900,VND,1795400286000
	// STL-MOMO-20261123-R1,23/11/2026,4088879001,RFD20261123000001,REFUND,-20000,0,-20000,VND,1795419600000
	// TOTAL,STL-MOMO-20261123-R1,2,30000,1100,28900,VND
	// 2 ATT20261123000002 payment 48900
	// 3 RFD20261123000001 refund -20000
	// STL-MOMO-20261123-R1 2 28900 <nil>
}

func ExampleFindSettlementFileID() {
	for _, texts := range [][]string{
		{"CK TU VNPAY STL VNPAY 20261123 R2 /REF 88213"},
		{"zalopay quyet toan stl_zalopay_20261123_r1"},
		{"CTY MOMO TT QUYET TOAN STL-MOMO-2026", "1123-R1 NGAY 23/11"},
		{"STL-VNPAY-20261123-R1 STL-VNPAY-20261123-R2"},
	} {
		id, ok := statement.FindSettlementFileID(texts)
		fmt.Println(id.Gateway, id.Revision, ok)
	}
	// Output:
	// vnpay 2 true
	// zalopay 1 true
	// momo 1 true
	//  0 false
}

func ExampleFindPaymentReference() {
	// The caller supplies the check; payments/reference.Valid is the real one.
	// This stand-in accepts one reference.
	valid := func(s string) bool { return s == "RF18539007547034" }
	ref, ok := statement.FindPaymentReference([]string{"MBVCB.8812345.rf18 5390", "0754 7034 NOP PHI"}, valid)
	fmt.Println(ref, ok)
	// Output: RF18539007547034 true
}

func ExampleDetectReader() {
	upload := strings.NewReader("settlement_file_id|settlement_date|zp_trans_id|app_trans_id|trans_type|amount|fee_amount|net_amount|currency|trans_time\n" +
		"SUMMARY|STL-ZALOPAY-20261124-R1|0|0|0|0|VND\n")
	kind, r, err := statement.DetectReader(upload)
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := statement.ParseSettlement(kind.Gateway(), r, nil)
	fmt.Println(kind, f.FileID, f.Count, err)
	// Output: settlement.zalopay STL-ZALOPAY-20261124-R1 0 <nil>
}
