package statement

import (
	"time"

	"github.com/shopspring/decimal"
)

// Entry statuses (Ntry/Sts). Only StatusBooked entries move the booked balance.
const (
	StatusBooked  = "BOOK"
	StatusPending = "PDNG"
	StatusInfo    = "INFO"
	StatusFuture  = "FUTR"
)

// Balance types (Bal/Tp/CdOrPrtry/Cd) that ParseCAMT uses.
const (
	BalanceOpening         = "OPBD" // opening booked
	BalancePreviousClosing = "PRCD" // previous closing booked: the opening when OPBD is absent
	BalanceClosing         = "CLBD" // closing booked
)

// Statement is one Stmt (camt.053) or Ntfctn (camt.054) of a document.
type Statement struct {
	Kind          Kind
	Version       string // message version from the namespace, e.g. "001.08"; "" when none is declared
	MessageID     string // GrpHdr/MsgId
	Seq           int    // 1-based position of the statement in the document
	StatementID   string // Stmt/Id or Ntfctn/Id
	ElectronicSeq string // ElctrncSeqNb, when given
	Created       time.Time
	From, To      time.Time // FrToDt, when given
	Account       string    // Acct/Id/IBAN or Acct/Id/Othr/Id
	Currency      string    // Acct/Ccy, else the currency of the first balance
	// Opening and Closing are the booked balances (camt.053 only). Amounts are
	// signed: a DBIT balance is negative.
	Opening, Closing *Balance

	// Filled in as the entries are read; final in the slice ParseCAMT returns.
	Entries       int             // all entries, whatever their status
	BookedCredits decimal.Decimal // sum of BOOK credit entries
	BookedDebits  decimal.Decimal // sum of BOOK debit entries (positive)
}

// Balance is a booked balance of a statement.
type Balance struct {
	Type     string          // BalanceOpening, BalancePreviousClosing or BalanceClosing
	Amount   decimal.Decimal // signed: negative when CdtDbtInd is DBIT
	Currency string
	Date     time.Time
}

// Entry is one Ntry.
type Entry struct {
	Seq         int    // 1-based position of the entry within its statement
	EntryRef    string // NtryRef, when given
	Amount      decimal.Decimal
	Currency    string
	Credit      bool   // CdtDbtInd is CRDT (money in); false for DBIT
	Reversal    bool   // RvslInd: this entry reverses an earlier one (its direction is already in Credit)
	Status      string // StatusBooked, StatusPending, StatusInfo, StatusFuture or a proprietary code
	BookingDate time.Time
	ValueDate   time.Time
	AcctSvcrRef string // the bank's reference of the entry
	// EndToEndID and TxID are copied from the only TxDetail when the entry has
	// exactly one; for a batch entry, look in TxDetails.
	EndToEndID, TxID string
	// RemittanceInfo is every RmtInf/Ustrd line of every TxDetail, in order.
	RemittanceInfo []string
	AdditionalInfo string // AddtlNtryInf
	TxDetails      []TxDetail
}

// TxDetail is one NtryDtls/TxDtls of an entry.
type TxDetail struct {
	EndToEndID, TxID, AcctSvcrRef, InstrID, MsgID, PmtInfID string // Refs
	// Amount and Currency are TxDtls/Amt (or, in .001.02,
	// AmtDtls/TxAmt/Amt or AmtDtls/InstdAmt/Amt); zero and "" when absent.
	Amount         decimal.Decimal
	Currency       string
	RemittanceInfo []string // RmtInf/Ustrd
	CreditorRefs   []string // RmtInf/Strd/CdtrRefInf/Ref (ISO 11649 references)
	AdditionalInfo string   // AddtlTxInf
}

// Booked reports whether the entry is booked (counts toward the balance).
func (e Entry) Booked() bool { return e.Status == StatusBooked }

// Signed is the amount as it moves the account: negative for a debit.
func (e Entry) Signed() decimal.Decimal {
	if e.Credit {
		return e.Amount
	}
	return e.Amount.Neg()
}

// Texts is all the free text of the entry where a payer's or a gateway's
// reference may appear: every Ustrd line and creditor reference, the
// transactions' additional information, then AddtlNtryInf. Pass it to
// FindSettlementFileID or FindPaymentReference.
func (e Entry) Texts() []string {
	var out []string
	for _, tx := range e.TxDetails {
		out = append(out, tx.RemittanceInfo...)
		out = append(out, tx.CreditorRefs...)
		if tx.AdditionalInfo != "" {
			out = append(out, tx.AdditionalInfo)
		}
	}
	if e.AdditionalInfo != "" {
		out = append(out, e.AdditionalInfo)
	}
	return out
}

// Limits bound what the parsers accept so that hostile or broken input fails
// with ErrLimit instead of exhausting memory. A zero field takes its default
// (DefaultLimits).
type Limits struct {
	MaxDepth        int   // deepest XML element nesting
	MaxTokenBytes   int64 // largest single XML token: a tag, a text run, a comment
	MaxElementBytes int64 // largest GrpHdr, Acct, Bal or Ntry, which are decoded whole
	MaxStatements   int   // Stmt/Ntfctn per document
	MaxLineBytes    int64 // longest settlement CSV record
}

// DefaultLimits are generous for real statements: a batch Ntry with tens of
// thousands of TxDtls still fits in MaxElementBytes.
var DefaultLimits = Limits{
	MaxDepth:        64,
	MaxTokenBytes:   1 << 20,
	MaxElementBytes: 32 << 20,
	MaxStatements:   10000,
	MaxLineBytes:    64 << 10,
}

func (lim Limits) withDefaults() Limits {
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultLimits.MaxDepth
	}
	if lim.MaxTokenBytes <= 0 {
		lim.MaxTokenBytes = DefaultLimits.MaxTokenBytes
	}
	if lim.MaxElementBytes <= 0 {
		lim.MaxElementBytes = DefaultLimits.MaxElementBytes
	}
	if lim.MaxStatements <= 0 {
		lim.MaxStatements = DefaultLimits.MaxStatements
	}
	if lim.MaxLineBytes <= 0 {
		lim.MaxLineBytes = DefaultLimits.MaxLineBytes
	}
	return lim
}
