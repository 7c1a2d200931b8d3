// Package statement reads the statements civicpay reconciles — the treasury
// bank account's ISO 20022 camt.053 statements, camt.052 intraday reports and
// camt.054 notifications, and each gateway's daily settlement file — and
// writes them for the gateway simulator. Every parser streams: it holds one entry or one line at a time,
// never the file, and bad input of any shape ends in an error, never a panic.
//
// Use [DetectReader] (or [Detect]) to tell the format of an upload, then
// [ParseCAMT] or [ParseSettlement] (with [DefaultLimits], or your own
// [Limits]). Errors are *[ParseError] values carrying the line (and for XML the
// column, statement and entry number) and wrapping a sentinel such as
// [ErrFormat], [ErrLimit], [ErrUnbalanced], [ErrSummary], [ErrEncoding] or
// [ErrTrailer].
//
// # ISO 20022 statements
//
// [ParseCAMT] reads camt.053 (BkToCstmrStmt), camt.052 (BkToCstmrAcctRpt)
// and camt.054 (BkToCstmrDbtCdtNtfctn) in versions .001.02, .001.04 and
// .001.08 (and others of the same shape): elements are matched by local name,
// so any namespace prefix, or none, is accepted, and the message may sit
// inside an envelope (a business application header, AppHdr, beside it is
// skipped). The version is taken from the namespace ("001.08") when there is
// one. A document may hold several Stmt, Rpt or Ntfctn.
//
//   - Encoding: UTF-8, or what the XML declaration names if it is ISO-8859-1
//     (decoded) or US-ASCII (a byte above 0x7F is then an error); any other
//     declared encoding is refused with [ErrEncoding]. A CR alone ends a line
//     as XML says it does, so error lines are right in files from systems
//     that end lines so.
//
//   - Entry status: <Sts>BOOK</Sts> (.02, .04) and <Sts><Cd>BOOK</Cd></Sts>
//     (.08) are both read; a proprietary <Sts><Prtry> is passed through.
//     Only BOOK entries are booked: PDNG (pending), INFO and FUTR entries are
//     still handed to the callback, with their Status, so that the caller
//     keeps them apart (the matcher should match BOOK entries only), but they
//     are not part of the balance check or of BookedCredits/BookedDebits.
//
//   - Amounts are decimal text with a Ccy attribute, read with
//     shopspring/decimal (never floats); more decimals than the currency has
//     (any fraction of VND) is an error. Entry amounts are unsigned with
//     CdtDbtInd giving the direction; a reversal (RvslInd true) is reported
//     by the bank in the opposite direction of what it reverses, so it is
//     summed by its CdtDbtInd like any entry.
//
//   - Balances: OPBD is the opening balance (PRCD when there is no OPBD),
//     CLBD the closing one, ITBD a camt.052's interim position; a DBIT balance
//     is negative. For every camt.053 statement ParseCAMT checks opening +
//     booked credits − booked debits = closing and refuses the document with
//     [ErrUnbalanced], naming the difference ("opening 1000 + entries 250 =
//     1250, closing says 1200: difference 50 VND") and the entries valued
//     after the closing balance's date, a common cause; a missing balance is
//     [ErrNoBalance], naming which. camt.054 carries no balances and a
//     camt.052 is a position during the day: neither is checked.
//
//   - TxsSummry, when present, must agree with the entries — counted over all
//     of them, as ISO 20022 defines it, or over the booked ones alone, as some
//     banks do — or the document is refused with [ErrSummary].
//
//   - The tolerant rule ([CAMTOptions].Tolerant) loads instead what the
//     strict one refuses for its balances or its summary: the statement comes
//     back with Unbalanced, the Difference its entries do not explain, and a
//     [Finding] saying what is wrong. Either way, entries booked outside the
//     statement's period, valued after its closing balance's date, whose
//     transaction CdtDbtInd is not theirs, or whose batch counts other
//     transactions than it details, are flagged (Entry.Flags) and counted
//     (Statement.Findings).
//
//   - Kept from each entry and transaction: the bank transaction code
//     (BkTxCd, ISO and proprietary), batch information (Btch), charges
//     (Chrgs), amount details (instructed amount and exchange rate), and per
//     transaction its references (UETR too), related parties' names and
//     accounts, typed structured references (CdtrRefInf) and AddtlRmtInf,
//     its own CdtDbtInd and return information (RtrInf).
//
//   - Dates: BookgDt, ValDt and Bal/Dt accept Dt or DtTm. All times come back
//     in ICT (GMT+7, the business day); a date alone is midnight ICT of that
//     day and a date-time without an offset is taken as ICT.
//
//   - One currency per statement: Acct/Ccy (or the first balance's, or — a
//     camt.054 without Acct/Ccy — the first entry's), and every balance and
//     entry must be in it.
//
// [CAMTWriter], [WriteCAMT053] and [WriteCAMT054] write .001.08 documents (a
// gateway simulator's view of the treasury account), camt.052 included, with
// every field ParseCAMT keeps, and ParseCAMT reads them back.
//
// # Gateway settlement files
//
// Gateways publish no settlement file specification (it is set by contract),
// so this package defines one CSV layout per gateway, in the spirit of each
// gateway's API, and keeps the layout in one table (settlement.go) that a
// real layout can replace. All three are UTF-8 (an optional byte order mark is
// skipped), RFC 4180 CSV with the separator below, and have the same shape:
//
//	header line          exactly the column names below
//	transaction lines    file id, business date, gateway transaction id,
//	                     our reference, type, gross, fee, net, currency, time
//	trailer line         tag, file id, count, gross, fee, net, currency
//
// Every line carries the file id (see [SettlementFileID]: gateway, business
// day and revision, e.g. STL-VNPAY-20261123-R2 for a corrected re-issue) and
// the business date it names. The trailer's totals are signed sums of the
// normalised lines (see [SettlementLine]); the parser refuses the file, naming
// each difference, when they do not match its lines or when the trailer is
// missing — unless [SettlementOptions].Tolerant, which loads it with its
// lines' totals, the trailer's beside them and a [Finding] naming each
// difference. Our reference is what civicpay sent the gateway: vnp_TxnRef, MoMo
// orderId, ZaloPay app_trans_id; for a refund, the refund's own id where the
// gateway has one (MoMo's refund orderId, ZaloPay's m_refund_id) and the
// original vnp_TxnRef for VNPAY.
//
// VNPAY — separator ",", CRLF line ends. Amounts are VND × 100 (as vnp_Amount)
// and unsigned: the type gives the direction, a payment's net is gross − fee
// and a refund's net (what is taken back) is gross + fee; trailer totals are
// signed. Type 01 payment, 02 full refund, 03 partial refund (the writer
// writes 02). Business date yyyyMMdd; vnp_PayDate yyyyMMddHHmmss GMT+7.
//
//	vnp_SettlementFileId,vnp_SettlementDate,vnp_TransactionNo,vnp_TxnRef,vnp_TransactionType,vnp_Amount,vnp_FeeAmount,vnp_NetAmount,vnp_CurrCode,vnp_PayDate
//	STL-VNPAY-20261123-R1,20261123,14422574,ATT20261123000001,01,10000000,220000,9780000,VND,20261123091806
//	STL-VNPAY-20261123-R1,20261123,14422990,ATT20261122000417,02,5000000,0,5000000,VND,20261123144000
//	TRAILER,STL-VNPAY-20261123-R1,2,5000000,220000,4780000,VND
//
// MoMo — separator ",", LF. Amounts are plain VND and signed: a refund's
// gross and net are negative, a fee given back is negative. Type PAYMENT or
// REFUND. Business date dd/MM/yyyy; responseTime Unix milliseconds (as in
// MoMo's IPN).
//
//	settlementFileId,settlementDate,transId,orderId,transType,amount,fee,netAmount,currency,responseTime
//	STL-MOMO-20261123-R1,23/11/2026,4088878653,ATT20261123000002,PAYMENT,50000,1100,48900,VND,1795400286000
//	STL-MOMO-20261123-R1,23/11/2026,4088879001,RFD20261123000001,REFUND,-20000,0,-20000,VND,1795419600000
//	TOTAL,STL-MOMO-20261123-R1,2,30000,1100,28900,VND
//
// ZaloPay — separator "|", LF. Amounts plain VND, unsigned as for VNPAY. Type
// 1 payment, 2 refund. Business date yyyy-MM-dd; trans_time
// yyyy-MM-dd HH:mm:ss GMT+7.
//
//	settlement_file_id|settlement_date|zp_trans_id|app_trans_id|trans_type|amount|fee_amount|net_amount|currency|trans_time
//	STL-ZALOPAY-20261123-R1|2026-11-23|261123000000123|261123_ATT000003|1|200000|2000|198000|VND|2026-11-23 10:15:00
//	SUMMARY|STL-ZALOPAY-20261123-R1|1|200000|2000|198000|VND
//
// Gateway transaction ids are 1 to 20 digits; references follow each
// gateway's rule (VNPAY letters, digits, "_" and "-"; MoMo's orderId pattern;
// ZaloPay yymmdd_ then up to 33 characters). [SettlementWriter] writes these
// layouts (for cmd/gatewaysim) and refuses what the parser would refuse.
//
// # Finding references in bank text
//
// A gateway's settlement transfer names its file id in the remittance text,
// and a citizen's VietQR transfer names the order's payment reference; banks
// add words, change case and eat dashes. [FindSettlementFileID] and
// [FindPaymentReference] dig them out, and answer only when the answer is
// unambiguous.
package statement
