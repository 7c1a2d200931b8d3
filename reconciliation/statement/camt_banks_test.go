package statement

import (
	"encoding/json"
	"strings"
	"testing"
)

// bankFileCases are camt files written for the tests after banks' published
// samples, one per way real statements differ from the textbook.
var bankFileCases = []struct {
	file     string
	tolerant bool
	stmts    []string // stmtLine and statementJSON of each statement
	entries  []string // entryJSON of each entry handed to the callback
}{
	{
		// CLBD by value date: an entry valued tomorrow is in the statement, not in
		// CLBD; one booked the day before; a second statement without CLBD
		// whose TxsSummry counts an entry it lacks.
		file: "camt053_tolerant.xml", tolerant: true,
		stmts: []string{
			"camt.053 001.08 #1 msg=TCB053202611230001 id=TCB-19031234567012-20261123 seq=327 created=2026-11-24T01:15:00+07:00 from=2026-11-23 to=2026-11-23T23:59:59+07:00 acct=19031234567012 VND open=[OPBD 500000000 VND 2026-11-23] close=[CLBD 602000000 VND 2026-11-23] n=4 cr=129500000 dr=20000000 {\"summary\":{\"entries\":{\"count\":4,\"sum\":\"149500000\"},\"net\":\"109500000\",\"credits\":{\"count\":3,\"sum\":\"129500000\"},\"debits\":{\"count\":1,\"sum\":\"20000000\"}},\"unbalanced\":true,\"difference\":\"7500000\",\"findings\":[{\"code\":\"value_after_closing\",\"detail\":\"entries valued after the closing balance's date\",\"count\":1,\"entries\":[3]},{\"code\":\"booked_outside_period\",\"detail\":\"entries booked outside the statement's period (FrToDt)\",\"count\":1,\"entries\":[4]},{\"code\":\"unbalanced\",\"detail\":\"opening 500000000 + entries 109500000 = 609500000, closing says 602000000: difference 7500000 VND; 1 entry is valued after the closing balance's date 2026-11-23, booked for 7500000 VND, which is the difference\"}]}",
			"camt.053 001.08 #2 msg=TCB053202611230001 id=TCB-19039999000111-20261123 seq= created=2026-11-24T01:15:00+07:00 from=- to=- acct=19039999000111 VND open=[OPBD 1000000 VND 2026-11-23] close=[-] n=1 cr=250500 dr=0 {\"summary\":{\"entries\":{\"count\":2,\"sum\":\"250500\"}},\"findings\":[{\"code\":\"balance_missing\",\"detail\":\"no closing booked balance (CLBD); its balances are OPBD, CLAV: the balances are not checked\"},{\"code\":\"summary_mismatch\",\"detail\":\"TxsSummry disagrees with the entries: entries: 2 said, 1 given\"}]}",
		},
		entries: []string{
			`{"seq":1,"entry_ref":"1","amount":"120000000","currency":"VND","credit":true,"status":"BOOK","booking_date":"2026-11-23T00:00:00+07:00","value_date":"2026-11-23T00:00:00+07:00","acct_svcr_ref":"FT26327A1B2C3","end_to_end_id":"STL-VNPAY-20261122-R1","tx_id":"FT26327A1B2C3","remittance_info":["VNPAY QUYET TOAN STL-VNPAY-20261122-R1"],"transactions":[{"end_to_end_id":"STL-VNPAY-20261122-R1","tx_id":"FT26327A1B2C3","amount":"120000000","currency":"VND","credit_debit":"CRDT","related_parties":{"debtor":"CONG TY CP GIAI PHAP THANH TOAN VIET NAM","debtor_account":"0691000123456"},"remittance_info":["VNPAY QUYET TOAN STL-VNPAY-20261122-R1"]}],"bank_tx_code":{"domain":"PMNT","family":"RCDT","sub_family":"DMCT"}}`,
			`{"seq":2,"entry_ref":"2","amount":"20000000","currency":"VND","credit":false,"status":"BOOK","booking_date":"2026-11-23T16:40:00+07:00","value_date":"2026-11-23T00:00:00+07:00","acct_svcr_ref":"FT26327D4E5F6","additional_info":"NOP NGAN SACH NHA NUOC","bank_tx_code":{"domain":"PMNT","family":"ICDT","sub_family":"DMCT"}}`,
			`{"seq":3,"entry_ref":"3","amount":"7500000","currency":"VND","credit":true,"status":"BOOK","booking_date":"2026-11-23T23:48:12+07:00","value_date":"2026-11-24T00:00:00+07:00","acct_svcr_ref":"FT26327G7H8I9","additional_info":"NAPAS247 GD NGOAI GIO, HIEU LUC NGAY 24/11","bank_tx_code":{"domain":"PMNT","family":"RCDT","sub_family":"DMCT"},"flags":["value_after_closing"]}`,
			`{"seq":4,"entry_ref":"4","amount":"2000000","currency":"VND","credit":true,"status":"BOOK","booking_date":"2026-11-22T00:00:00+07:00","value_date":"2026-11-22T00:00:00+07:00","acct_svcr_ref":"FT26326Z9Y8X7","additional_info":"BO SUNG GIAO DICH NGAY 22/11","bank_tx_code":{"proprietary":"BS_DIEU_CHINH","proprietary_issuer":"TCB"},"flags":["booked_outside_period"]}`,
			`{"seq":1,"amount":"250500","currency":"VND","credit":true,"status":"BOOK","booking_date":"2026-11-23T00:00:00+07:00","value_date":"2026-11-23T00:00:00+07:00","acct_svcr_ref":"FT26327SEC001","bank_tx_code":{"domain":"PMNT","family":"RCDT","sub_family":"XBCT"}}`,
		},
	},
	{
		// .04 batch booking: Btch with many TxDtls, each with its creditor,
		// account and typed structured reference with AddtlRmtInf; one batch
		// details fewer transactions than it counts.
		file: "camt053_batch.xml",
		stmts: []string{
			"camt.053 001.04 #1 msg=BIDV053-12010000123456-20261123 id=12010000123456-20261123 seq=1123 created=2026-11-23T23:59:00+07:00 from=2026-11-23 to=2026-11-23T23:59:59+07:00 acct=12010000123456 VND open=[OPBD 100000000 VND 2026-11-23] close=[CLBD 102000000 VND 2026-11-23] n=3 cr=5000000 dr=3000000 {\"summary\":{\"entries\":{\"count\":3,\"sum\":\"8000000\"},\"net\":\"2000000\",\"credits\":{\"count\":1,\"sum\":\"5000000\"},\"debits\":{\"count\":2,\"sum\":\"3000000\"}},\"findings\":[{\"code\":\"batch_count_mismatch\",\"detail\":\"batch entries whose NbOfTxs is not the number of transactions given\",\"count\":1,\"entries\":[2]}]}",
		},
		entries: []string{
			`{"seq":1,"amount":"2000000","currency":"VND","credit":false,"status":"BOOK","booking_date":"2026-11-23T00:00:00+07:00","value_date":"2026-11-23T00:00:00+07:00","acct_svcr_ref":"BIDV-BATCH-5521","additional_info":"CHI LO HOAN TIEN 5 GIAO DICH","transactions":[{"end_to_end_id":"RFD-20261123-0001","tx_id":"BIDV0001X","instr_id":"1","msg_id":"KBNN-RFD-20261123-01","pmt_inf_id":"PMT-RFD-01","amount":"150000","currency":"VND","credit_debit":"DBIT","related_parties":{"creditor":"NGUYEN VAN AN","creditor_account":"0011000123401"},"creditor_refs":[{"ref":"RF6220261120000101","type":"SCOR","issuer":"ISO"}],"additional_remittance":["HOAN TIEN LE PHI THEO DON RFD-20261123-0001"]},{"end_to_end_id":"RFD-20261123-0002","tx_id":"BIDV0002X","instr_id":"2","msg_id":"KBNN-RFD-20261123-01","pmt_inf_id":"PMT-RFD-01","amount":"200000","currency":"VND","credit_debit":"DBIT","related_parties":{"creditor":"TRAN THI BINH","creditor_account":"1903112233445"},"creditor_refs":[{"ref":"RF3520261120000102","type":"SCOR","issuer":"ISO"}],"additional_remittance":["HOAN TIEN LE PHI THEO DON RFD-20261123-0002"]},{"end_to_end_id":"RFD-20261123-0003","tx_id":"BIDV0003X","instr_id":"3","msg_id":"KBNN-RFD-20261123-01","pmt_inf_id":"PMT-RFD-01","amount":"75000","currency":"VND","credit_debit":"DBIT","related_parties":{"creditor":"LE VAN CUONG","creditor_account":"0071000555666"},"creditor_refs":[{"ref":"RF1620261121000417","type":"SCOR","issuer":"ISO"}],"additional_remittance":["HOAN TIEN LE PHI THEO DON RFD-20261123-0003"]},{"end_to_end_id":"RFD-20261123-0004","tx_id":"BIDV0004X","instr_id":"4","msg_id":"KBNN-RFD-20261123-01","pmt_inf_id":"PMT-RFD-01","amount":"1250000","currency":"VND","credit_debit":"DBIT","related_parties":{"creditor":"PHAM THI DUNG","creditor_account":"12010000987654"},"creditor_refs":[{"ref":"RF2220261121000988","type":"SCOR","issuer":"ISO"}],"additional_remittance":["HOAN TIEN LE PHI THEO DON RFD-20261123-0004"]},{"end_to_end_id":"RFD-20261123-0005","tx_id":"BIDV0005X","instr_id":"5","msg_id":"KBNN-RFD-20261123-01","pmt_inf_id":"PMT-RFD-01","amount":"325000","currency":"VND","credit_debit":"DBIT","related_parties":{"creditor":"HOANG VAN EM","creditor_account":"107870011223"},"creditor_refs":[{"ref":"RF9520261122000035","type":"SCOR","issuer":"ISO"}],"additional_remittance":["HOAN TIEN LE PHI THEO DON RFD-20261123-0005"]}],"bank_tx_code":{"domain":"PMNT","family":"ICDT","sub_family":"DMCT","proprietary":"CK_LO","proprietary_issuer":"BIDV"},"batches":[{"msg_id":"KBNN-RFD-20261123-01","pmt_inf_id":"PMT-RFD-01","number_of_txs":5,"total_amount":"2000000","currency":"VND","credit_debit":"DBIT","transactions":5}]}`,
			`{"seq":2,"amount":"1000000","currency":"VND","credit":false,"status":"BOOK","booking_date":"2026-11-23T00:00:00+07:00","value_date":"2026-11-23T00:00:00+07:00","acct_svcr_ref":"BIDV-BATCH-5522","transactions":[{"end_to_end_id":"RFD-20261123-0006","tx_id":"BIDV0006X","instr_id":"1","msg_id":"KBNN-RFD-20261123-02","pmt_inf_id":"PMT-RFD-02","amount":"500000","currency":"VND","credit_debit":"DBIT","related_parties":{"creditor":"VO THI GIANG","creditor_account":"0451000778899"},"creditor_refs":[{"ref":"RF4320261122000777","type":"SCOR","issuer":"ISO"}],"additional_remittance":["HOAN TIEN LE PHI THEO DON RFD-20261123-0006"]},{"end_to_end_id":"RFD-20261123-0007","tx_id":"BIDV0007X","instr_id":"2","msg_id":"KBNN-RFD-20261123-02","pmt_inf_id":"PMT-RFD-02","amount":"300000","currency":"VND","credit_debit":"DBIT","related_parties":{"creditor":"DANG VAN HUNG","creditor_account":"0181003344556"},"creditor_refs":[{"ref":"RF1620261122000778","type":"SCOR","issuer":"ISO"}],"additional_remittance":["HOAN TIEN LE PHI THEO DON RFD-20261123-0007"]}],"bank_tx_code":{"domain":"PMNT","family":"ICDT","sub_family":"DMCT"},"batches":[{"msg_id":"KBNN-RFD-20261123-02","pmt_inf_id":"PMT-RFD-02","number_of_txs":3,"total_amount":"1000000","currency":"VND","credit_debit":"DBIT","transactions":2}],"flags":["batch_count_mismatch"]}`,
			`{"seq":3,"amount":"5000000","currency":"VND","credit":true,"status":"BOOK","booking_date":"2026-11-23T00:00:00+07:00","value_date":"2026-11-23T00:00:00+07:00","acct_svcr_ref":"BIDV26112300777","end_to_end_id":"NOTPROVIDED","tx_id":"BIDV26112300777","remittance_info":["MOMO TT STL-MOMO-20261122-R1"],"transactions":[{"end_to_end_id":"NOTPROVIDED","tx_id":"BIDV26112300777","amount":"5000000","currency":"VND","credit_debit":"CRDT","related_parties":{"debtor":"CONG TY CP DICH VU DI DONG TRUC TUYEN","ultimate_debtor":"MOMO"},"remittance_info":["MOMO TT STL-MOMO-20261122-R1"]}],"bank_tx_code":{"domain":"PMNT","family":"RCDT","sub_family":"DMCT"}}`,
		},
	},
	{
		// An AppHdr envelope, prefixed namespaces, PRCD opening: a returned
		// cross-border payment (RtrInf, UETR, InstdAmt with CcyXchg, charges), a
		// reversal with its return reason, a charges entry, PDNG and INFO
		// entries, a transaction whose CdtDbtInd is not its entry's; TxsSummry
		// counts the booked entries alone.
		file: "camt053_returns.xml",
		stmts: []string{
			"camt.053 001.08 #1 msg=VCB053-0071001234567-20261123 id=VCB-0071001234567-20261123 seq= created=2026-11-24T00:30:00+07:00 from=2026-11-23 to=2026-11-23T23:59:59+07:00 acct=0071001234567 VND open=[PRCD 10000000 VND 2026-11-22] close=[CLBD 12738050 VND 2026-11-23] n=6 cr=3043050 dr=305000 {\"summary\":{\"credits\":{\"count\":2,\"sum\":\"3043050\"},\"debits\":{\"count\":2,\"sum\":\"305000\"}},\"findings\":[{\"code\":\"value_after_closing\",\"detail\":\"entries valued after the closing balance's date\",\"count\":2,\"entries\":[4,5]},{\"code\":\"direction_disagrees\",\"detail\":\"entries with a transaction whose CdtDbtInd is not the entry's\",\"count\":1,\"entries\":[6]}]}",
		},
		entries: []string{
			`{"seq":1,"entry_ref":"0001","amount":"2543050","currency":"VND","credit":true,"status":"BOOK","booking_date":"2026-11-23T00:00:00+07:00","value_date":"2026-11-23T00:00:00+07:00","acct_svcr_ref":"VCB26327RTN0001","end_to_end_id":"KBNN-XB-20261118-7","tx_id":"VCB26327RTN0001","remittance_info":["INVOICE 2026-118 CONFERENCE FEE"],"additional_info":"RETURN OF KBNN-XB-20261118-7","transactions":[{"end_to_end_id":"KBNN-XB-20261118-7","tx_id":"VCB26327RTN0001","instr_id":"KBNN-XB-20261118-7","uetr":"eb6305c9-1f7f-49de-aed0-16487c27b42d","amount":"2543050","currency":"VND","credit_debit":"CRDT","amount_details":{"instructed":"100","instructed_currency":"USD","exchange_rate":"25430.5","source_currency":"USD","target_currency":"VND","unit_currency":"USD"},"related_parties":{"debtor":"KHO BAC NHA NUOC HA NOI","debtor_account":"0071001234567","creditor":"ACME GMBH","creditor_account":"DE89370400440532013000","ultimate_creditor":"ACME HOLDING AG"},"return":{"reason":"AC04","originator":"COMMERZBANK AG","additional_info":["ACCOUNT CLOSED","FUNDS RETURNED LESS CHARGES"]},"remittance_info":["INVOICE 2026-118 CONFERENCE FEE"]}],"bank_tx_code":{"domain":"PMNT","family":"ICDT","sub_family":"RRTN","proprietary":"TRA_VE_NN"},"charges":{"total":"1.5","total_currency":"USD","records":[{"amount":"1.5","currency":"USD","credit_debit":"DBIT","included":true,"type":"CORR","bearer":"SHAR"}]},"amount_details":{"instructed":"100","instructed_currency":"USD","transaction":"2543050","transaction_currency":"VND"}}`,
			`{"seq":2,"entry_ref":"0002","amount":"250000","currency":"VND","credit":false,"reversal":true,"status":"BOOK","booking_date":"2026-11-23T00:00:00+07:00","value_date":"2026-11-23T00:00:00+07:00","acct_svcr_ref":"VCB26327REV0002","end_to_end_id":"NOTPROVIDED","tx_id":"FT26327000456","additional_info":"HUY GHI CO TRUNG","transactions":[{"end_to_end_id":"NOTPROVIDED","tx_id":"FT26327000456","amount":"250000","currency":"VND","credit_debit":"DBIT","related_parties":{"debtor":"NGUYEN VAN A","debtor_account":"0451000123456"},"return":{"reason":"DUPL","additional_info":["GHI CO TRUNG FT26327000456"]},"creditor_refs":[{"ref":"RF18539007547034","type":"SCOR"}]}],"bank_tx_code":{"domain":"PMNT","family":"RCDT","sub_family":"RRTN"}}`,
			`{"seq":3,"entry_ref":"0003","amount":"55000","currency":"VND","credit":false,"status":"BOOK","booking_date":"2026-11-23T00:00:00+07:00","value_date":"2026-11-23T00:00:00+07:00","acct_svcr_ref":"VCB26327FEE0003","additional_info":"PHI DICH VU THANG 11/2026 VA THUE GTGT","bank_tx_code":{"domain":"ACMT","family":"MDOP","sub_family":"CHRG"},"charges":{"total":"55000","total_currency":"VND","records":[{"amount":"50000","currency":"VND","credit_debit":"DBIT","type":"COMM","bearer":"DEBT"},{"amount":"5000","currency":"VND","credit_debit":"DBIT","type":"VAT10","bearer":"DEBT"}]}}`,
			`{"seq":4,"entry_ref":"0004","amount":"30000000","currency":"VND","credit":true,"status":"PDNG","value_date":"2026-11-24T00:00:00+07:00","additional_info":"CHO XU LY: GD NAPAS SAU GIO KHOA SO","bank_tx_code":{"domain":"PMNT","family":"RCDT","sub_family":"DMCT"},"flags":["value_after_closing"]}`,
			`{"seq":5,"entry_ref":"0005","amount":"1000000","currency":"VND","credit":false,"status":"INFO","value_date":"2026-11-25T00:00:00+07:00","additional_info":"LENH CHI DINH KY SE THUC HIEN NGAY 25/11","bank_tx_code":{"domain":"PMNT","family":"ICDT","sub_family":"STDO"},"flags":["value_after_closing"]}`,
			`{"seq":6,"entry_ref":"0006","amount":"500000","currency":"VND","credit":true,"status":"BOOK","booking_date":"2026-11-23T00:00:00+07:00","value_date":"2026-11-23T00:00:00+07:00","acct_svcr_ref":"VCB26327ADJ0006","end_to_end_id":"VQR2611230006","remittance_info":["RF60998877665544332 NOP PHAT"],"transactions":[{"end_to_end_id":"VQR2611230006","amount":"500000","currency":"VND","credit_debit":"DBIT","remittance_info":["RF60998877665544332 NOP PHAT"]}],"bank_tx_code":{"domain":"PMNT","family":"RCDT","sub_family":"DMCT"},"flags":["direction_disagrees"]}`,
		},
	},
	{
		// An intraday report: OPBD, the noon position (ITBD), a pending entry.
		file: "camt052_intraday.xml",
		stmts: []string{
			"camt.052 001.08 #1 msg=VCB052-0071001234567-20261123-1200 id=VCB-RPT-0071001234567-20261123-12 seq=12 created=2026-11-23T12:00:05+07:00 from=2026-11-23 to=2026-11-23T12:00:00+07:00 acct=0071001234567 VND open=[OPBD 12738050 VND 2026-11-23] close=[-] n=3 cr=5000000 dr=0 {\"interim\":\"ITBD 17738050 VND 2026-11-23T12:00:00+07:00\",\"summary\":{\"entries\":{\"count\":3}}}",
		},
		entries: []string{
			`{"seq":1,"amount":"4890000","currency":"VND","credit":true,"status":"BOOK","booking_date":"2026-11-23T09:12:44+07:00","value_date":"2026-11-23T00:00:00+07:00","acct_svcr_ref":"VCB26327IT0001","end_to_end_id":"NOTPROVIDED","remittance_info":["CTY MOMO TT QUYET TOAN STL-MOMO-20261122-R1"],"transactions":[{"end_to_end_id":"NOTPROVIDED","remittance_info":["CTY MOMO TT QUYET TOAN STL-MOMO-20261122-R1"]}],"bank_tx_code":{"domain":"PMNT","family":"RCDT","sub_family":"DMCT"}}`,
			`{"seq":2,"amount":"110000","currency":"VND","credit":true,"status":"BOOK","booking_date":"2026-11-23T11:02:10+07:00","value_date":"2026-11-23T00:00:00+07:00","acct_svcr_ref":"VCB26327IT0002","end_to_end_id":"VQR2611230077","remittance_info":["RF18539007547034 NOP LE PHI"],"transactions":[{"end_to_end_id":"VQR2611230077","remittance_info":["RF18539007547034 NOP LE PHI"]}],"bank_tx_code":{"domain":"PMNT","family":"RCDT","sub_family":"DMCT"}}`,
			`{"seq":3,"amount":"2000000","currency":"VND","credit":true,"status":"PDNG","value_date":"2026-11-23T00:00:00+07:00","bank_tx_code":{"domain":"PMNT","family":"RCDT","sub_family":"DMCT"}}`,
		},
	},
	{
		// Declared ISO-8859-1: the names come out in UTF-8; .02 charges and net total.
		file: "camt053_latin1.xml",
		stmts: []string{
			"camt.053 001.02 #1 msg=CA-053-FR7630006000011234567890189-261123 id=261123-FR7630006000011234567890189 seq= created=2026-11-24T03:00:00+07:00 from=- to=- acct=FR7630006000011234567890189 EUR open=[OPBD 15230.4 EUR 2026-11-23] close=[CLBD 15305.4 EUR 2026-11-23] n=2 cr=85 dr=10 {\"summary\":{\"entries\":{\"count\":2,\"sum\":\"95\"},\"net\":\"75\"}}",
		},
		entries: []string{
			`{"seq":1,"amount":"85","currency":"EUR","credit":true,"status":"BOOK","booking_date":"2026-11-23T00:00:00+07:00","value_date":"2026-11-23T00:00:00+07:00","acct_svcr_ref":"2611230001A","end_to_end_id":"VISA-2026-FR-00412","remittance_info":["Frais de visa - dossier n° 412 - Réf. château"],"transactions":[{"end_to_end_id":"VISA-2026-FR-00412","amount":"85","currency":"EUR","amount_details":{"transaction":"85","transaction_currency":"EUR"},"related_parties":{"debtor":"Hélène Dupré-Müller","debtor_account":"DE89370400440532013000"},"remittance_info":["Frais de visa - dossier n° 412 - Réf. château"]}],"bank_tx_code":{"domain":"PMNT","family":"RCDT","sub_family":"ESCT","proprietary":"0158","proprietary_issuer":"CFONB"}}`,
			`{"seq":2,"amount":"10","currency":"EUR","credit":false,"status":"BOOK","booking_date":"2026-11-23T00:00:00+07:00","value_date":"2026-11-23T00:00:00+07:00","additional_info":"Commission de tenue de compte","bank_tx_code":{"domain":"ACMT","family":"MDOP","sub_family":"CHRG"},"charges":{"records":[{"amount":"10","currency":"EUR","type":"COMM","bearer":"DEBT"}]}}`,
		},
	},
	{
		// Lines ended by CR alone (the line break inside a Ustrd reads as LF).
		file: "camt053_cr.xml",
		stmts: []string{
			"camt.053 001.08 #1 msg=ACB053-88886666-20261123 id=ACB-88886666-20261123 seq= created=2026-11-23T23:30:00+07:00 from=- to=- acct=88886666 VND open=[OPBD 3000000 VND 2026-11-23] close=[CLBD 4200000 VND 2026-11-23] n=1 cr=1200000 dr=0 {}",
		},
		entries: []string{
			`{"seq":1,"amount":"1200000","currency":"VND","credit":true,"status":"BOOK","booking_date":"2026-11-23T00:00:00+07:00","value_date":"2026-11-23T00:00:00+07:00","acct_svcr_ref":"ACB5531A","end_to_end_id":"VQR2611235531","remittance_info":["nop le phi ho tich\nrf68 1234 5678 9012 345"],"transactions":[{"end_to_end_id":"VQR2611235531","remittance_info":["nop le phi ho tich\nrf68 1234 5678 9012 345"]}],"bank_tx_code":{"domain":"PMNT","family":"RCDT","sub_family":"DMCT"}}`,
		},
	},
	{
		// Declared US-ASCII.
		file: "camt054_ascii.xml",
		stmts: []string{
			"camt.054 001.04 #1 msg=MB054-0001 id=MB-NTF-0001 seq= created=2026-11-23T15:00:00+07:00 from=- to=- acct=0801001234567 VND open=[-] close=[-] n=1 cr=0 dr=20000000 {}",
		},
		entries: []string{
			`{"seq":1,"amount":"20000000","currency":"VND","credit":false,"status":"BOOK","booking_date":"2026-11-23T00:00:00+07:00","acct_svcr_ref":"MB26327000321","end_to_end_id":"KBNN-CHI-20261123-01","transactions":[{"end_to_end_id":"KBNN-CHI-20261123-01","amount":"20000000","currency":"VND","credit_debit":"DBIT","related_parties":{"creditor":"SO TAI CHINH HA NOI","creditor_account":"3713.0.1058520"}}],"bank_tx_code":{"domain":"PMNT","family":"ICDT","sub_family":"DMCT"}}`,
		},
	},
}

// statementJSON prints what stmtLine leaves out: interim balance, summary,
// findings and the unexplained difference.
func statementJSON(t testing.TB, s Statement) string {
	t.Helper()
	v := struct {
		Interim    string    `json:"interim,omitempty"`
		Summary    *Summary  `json:"summary,omitempty"`
		Unbalanced bool      `json:"unbalanced,omitempty"`
		Difference string    `json:"difference,omitempty"`
		Findings   []Finding `json:"findings,omitempty"`
	}{Summary: s.Summary, Unbalanced: s.Unbalanced, Findings: s.Findings}
	if s.Interim != nil {
		v.Interim = balanceLine(s.Interim)
	}
	if !s.Difference.IsZero() {
		v.Difference = s.Difference.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return stmtLine(s) + " " + string(b)
}

func entryJSON(t testing.TB, e Entry) string {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseCAMTBankFiles(t *testing.T) {
	t.Parallel()
	for _, tt := range bankFileCases {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			var entries []string
			stmts, err := CAMTOptions{Tolerant: tt.tolerant}.ParseCAMT(strings.NewReader(string(readTestdata(t, tt.file))),
				func(_ Statement, e Entry) error {
					entries = append(entries, entryJSON(t, e))
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range stmts {
				got = append(got, statementJSON(t, s))
			}
			assertLines(t, "statements", got, tt.stmts)
			assertLines(t, "entries", entries, tt.entries)
		})
	}
}
