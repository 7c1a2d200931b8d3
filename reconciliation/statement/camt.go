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
	BalanceInterim         = "ITBD" // interim booked: a camt.052's position so far
)

// Statement is one Stmt (camt.053), Rpt (camt.052) or Ntfctn (camt.054) of a
// document.
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
	// Opening and Closing are the booked balances (camt.053, and camt.052
	// when the report carries them); Interim is a camt.052's interim booked
	// balance (ITBD), its position at the time of the report. Amounts are
	// signed: a DBIT balance is negative.
	Opening, Closing, Interim *Balance
	// Summary is the statement's own TxsSummry, when it has one.
	Summary *Summary

	// Filled in as the entries are read; final in the slice ParseCAMT returns.
	Entries       int             // all entries, whatever their status
	BookedCredits decimal.Decimal // sum of BOOK credit entries
	BookedDebits  decimal.Decimal // sum of BOOK debit entries (positive)

	// Set when the statement ends (final in the slice ParseCAMT returns).
	//
	// Unbalanced says that a camt.053 loaded under the tolerant rule does not
	// add up: Difference is opening + booked entries − closing, what its
	// entries do not explain (zero otherwise).
	Unbalanced bool
	Difference decimal.Decimal
	// Findings are what the parser noticed but did not refuse, one per code
	// (see the Finding* constants), in the order first seen.
	Findings []Finding
}

// Finding codes. Entry-level ones are also in each such Entry's Flags.
const (
	// FindingUnbalanced: opening + booked entries ≠ closing (tolerant rule only;
	// the strict rule refuses the statement).
	FindingUnbalanced = "unbalanced"
	// FindingBalanceMissing: the opening or closing booked balance is missing,
	// so the balances cannot be checked (tolerant rule only).
	FindingBalanceMissing = "balance_missing"
	// FindingSummaryMismatch: TxsSummry disagrees with the entries (tolerant
	// rule only).
	FindingSummaryMismatch = "summary_mismatch"
	// FindingValueAfterClosing: an entry's value date is after the closing
	// balance's date — a common reason for a statement not to add up.
	FindingValueAfterClosing = "value_after_closing"
	// FindingBookedOutsidePeriod: an entry's booking date is outside the
	// statement's FrToDt.
	FindingBookedOutsidePeriod = "booked_outside_period"
	// FindingDirectionDisagrees: a TxDtls/CdtDbtInd is not the entry's.
	FindingDirectionDisagrees = "direction_disagrees"
	// FindingBatchCountMismatch: Btch/NbOfTxs is not the number of TxDtls
	// given with it.
	FindingBatchCountMismatch = "batch_count_mismatch"
)

// MaxFindingEntries bounds the entry numbers a Finding lists; Count still
// counts them all.
const MaxFindingEntries = 20

// Finding is one kind of thing a statement has that the parser accepted but
// a person should see.
type Finding struct {
	Code    string `json:"code"`
	Detail  string `json:"detail"`
	Count   int    `json:"count,omitempty"`   // entries concerned, for an entry-level finding
	Entries []int  `json:"entries,omitempty"` // their Seq, the first MaxFindingEntries
}

// Summary is a statement's TxsSummry. A nil field was not given.
type Summary struct {
	Entries *SummaryTotal    `json:"entries,omitempty"` // TtlNtries
	Net     *decimal.Decimal `json:"net,omitempty"`     // TtlNtries/TtlNetNtry, signed (DBIT negative)
	Credits *SummaryTotal    `json:"credits,omitempty"` // TtlCdtNtries
	Debits  *SummaryTotal    `json:"debits,omitempty"`  // TtlDbtNtries
}

// SummaryTotal is a number of entries and the sum of their amounts; a nil
// field was not given.
type SummaryTotal struct {
	Count *int64           `json:"count,omitempty"`
	Sum   *decimal.Decimal `json:"sum,omitempty"`
}

// Balance is a booked balance of a statement.
type Balance struct {
	Type     string          // BalanceOpening, BalancePreviousClosing, BalanceClosing or BalanceInterim
	Amount   decimal.Decimal // signed: negative when CdtDbtInd is DBIT
	Currency string
	Date     time.Time
}

// Entry is one Ntry.
type Entry struct {
	Seq         int             `json:"seq"`                 // 1-based position of the entry within its statement
	EntryRef    string          `json:"entry_ref,omitempty"` // NtryRef, when given
	Amount      decimal.Decimal `json:"amount"`
	Currency    string          `json:"currency"`
	Credit      bool            `json:"credit"`             // CdtDbtInd is CRDT (money in); false for DBIT
	Reversal    bool            `json:"reversal,omitempty"` // RvslInd: this entry reverses an earlier one (its direction is already in Credit)
	Status      string          `json:"status"`             // StatusBooked, StatusPending, StatusInfo, StatusFuture or a proprietary code
	BookingDate time.Time       `json:"booking_date,omitzero"`
	ValueDate   time.Time       `json:"value_date,omitzero"`
	AcctSvcrRef string          `json:"acct_svcr_ref,omitempty"` // the bank's reference of the entry
	// EndToEndID and TxID are copied from the only TxDetail when the entry has
	// exactly one; for a batch entry, look in TxDetails.
	EndToEndID string `json:"end_to_end_id,omitempty"`
	TxID       string `json:"tx_id,omitempty"`
	// RemittanceInfo is every RmtInf/Ustrd line of every TxDetail, in order.
	RemittanceInfo []string   `json:"remittance_info,omitempty"`
	AdditionalInfo string     `json:"additional_info,omitempty"` // AddtlNtryInf
	TxDetails      []TxDetail `json:"transactions,omitempty"`

	BankTxCode    BankTxCode    `json:"bank_tx_code,omitzero"`   // Ntry/BkTxCd
	Batches       []Batch       `json:"batches,omitempty"`       // NtryDtls/Btch, one per NtryDtls that has one
	Charges       Charges       `json:"charges,omitzero"`        // Ntry/Chrgs
	AmountDetails AmountDetails `json:"amount_details,omitzero"` // Ntry/AmtDtls
	// Flags are the entry-level Finding codes that apply to this entry.
	Flags []string `json:"flags,omitempty"`
}

// EntryDetails are what an entry says beyond its amount, direction, status,
// dates and references: what a loader keeps beside the columns it matches on.
type EntryDetails struct {
	BankTxCode    BankTxCode    `json:"bank_tx_code,omitzero"`
	Batches       []Batch       `json:"batches,omitempty"`
	Charges       Charges       `json:"charges,omitzero"`
	AmountDetails AmountDetails `json:"amount_details,omitzero"`
	TxDetails     []TxDetail    `json:"transactions,omitempty"`
	EntryRef      string        `json:"entry_ref,omitempty"`
}

// Details are the entry's EntryDetails.
func (e Entry) Details() EntryDetails {
	return EntryDetails{BankTxCode: e.BankTxCode, Batches: e.Batches, Charges: e.Charges, AmountDetails: e.AmountDetails,
		TxDetails: e.TxDetails, EntryRef: e.EntryRef}
}

// IsZero reports whether the entry says nothing beyond its columns.
func (d EntryDetails) IsZero() bool {
	return d.BankTxCode.IsZero() && len(d.Batches) == 0 && d.Charges.IsZero() && d.AmountDetails.IsZero() &&
		len(d.TxDetails) == 0 && d.EntryRef == ""
}

// TxDetail is one NtryDtls/TxDtls of an entry.
type TxDetail struct {
	EndToEndID  string `json:"end_to_end_id,omitempty"` // Refs
	TxID        string `json:"tx_id,omitempty"`
	AcctSvcrRef string `json:"acct_svcr_ref,omitempty"`
	InstrID     string `json:"instr_id,omitempty"`
	MsgID       string `json:"msg_id,omitempty"`
	PmtInfID    string `json:"pmt_inf_id,omitempty"`
	UETR        string `json:"uetr,omitempty"` // Refs/UETR (SWIFT gpi), as given
	// Amount and Currency are TxDtls/Amt (or, in .001.02,
	// AmtDtls/TxAmt/Amt or AmtDtls/InstdAmt/Amt); zero and "" when absent.
	Amount   decimal.Decimal `json:"amount,omitzero"`
	Currency string          `json:"currency,omitempty"`
	// CreditDebit is TxDtls/CdtDbtInd, "CRDT" or "DBIT", or "" when the
	// transaction does not say (it then goes the entry's way).
	CreditDebit    string        `json:"credit_debit,omitempty"`
	AmountDetails  AmountDetails `json:"amount_details,omitzero"`         // AmtDtls
	BankTxCode     BankTxCode    `json:"bank_tx_code,omitzero"`           // BkTxCd
	Charges        Charges       `json:"charges,omitzero"`                // Chrgs
	Parties        Parties       `json:"related_parties,omitzero"`        // RltdPties
	Return         ReturnInfo    `json:"return,omitzero"`                 // RtrInf
	RemittanceInfo []string      `json:"remittance_info,omitempty"`       // RmtInf/Ustrd
	CreditorRefs   []CreditorRef `json:"creditor_refs,omitempty"`         // RmtInf/Strd/CdtrRefInf (ISO 11649 references, …)
	AdditionalRmt  []string      `json:"additional_remittance,omitempty"` // RmtInf/Strd/AddtlRmtInf
	AdditionalInfo string        `json:"additional_info,omitempty"`       // AddtlTxInf
}

// BankTxCode is a BkTxCd: the ISO domain, family and sub-family codes and/or
// a bank's proprietary code.
type BankTxCode struct {
	Domain            string `json:"domain,omitempty"`     // Domn/Cd, e.g. PMNT
	Family            string `json:"family,omitempty"`     // Domn/Fmly/Cd, e.g. RCDT
	SubFamily         string `json:"sub_family,omitempty"` // Domn/Fmly/SubFmlyCd, e.g. DMCT
	Proprietary       string `json:"proprietary,omitempty"`
	ProprietaryIssuer string `json:"proprietary_issuer,omitempty"`
}

// IsZero reports whether no code was given.
func (c BankTxCode) IsZero() bool { return c == BankTxCode{} }

// Batch is an NtryDtls/Btch: the entry books a batch of transactions.
type Batch struct {
	MsgID       string          `json:"msg_id,omitempty"`
	PmtInfID    string          `json:"pmt_inf_id,omitempty"`
	NumberOfTxs int64           `json:"number_of_txs,omitempty"` // NbOfTxs; 0 when not given
	TotalAmount decimal.Decimal `json:"total_amount,omitzero"`   // TtlAmt
	Currency    string          `json:"currency,omitempty"`      // of TtlAmt
	CreditDebit string          `json:"credit_debit,omitempty"`
	// Transactions is the number of TxDtls given in the same NtryDtls.
	Transactions int `json:"transactions"`
}

// Charges are a Chrgs element: the total and each charge record (.04 and
// later: Rcrd; .02: each Chrgs is one record).
type Charges struct {
	Total         decimal.Decimal `json:"total,omitzero"` // TtlChrgsAndTaxAmt
	TotalCurrency string          `json:"total_currency,omitempty"`
	Records       []Charge        `json:"records,omitempty"`
}

// IsZero reports whether no charge was given.
func (c Charges) IsZero() bool { return c.TotalCurrency == "" && len(c.Records) == 0 }

// Charge is one charge record.
type Charge struct {
	Amount      decimal.Decimal `json:"amount"`
	Currency    string          `json:"currency"`
	CreditDebit string          `json:"credit_debit,omitempty"` // "" when not given (a charge is then a debit)
	Included    bool            `json:"included,omitempty"`     // ChrgInclInd: the charge is included in the entry's amount
	Type        string          `json:"type,omitempty"`         // Tp/Cd or Tp/Prtry/Id
	Bearer      string          `json:"bearer,omitempty"`       // Br: DEBT, CRED, SHAR, SLEV
}

// Parties are the names and account ids of a transaction's related parties.
type Parties struct {
	Debtor           string `json:"debtor,omitempty"`
	DebtorAccount    string `json:"debtor_account,omitempty"` // IBAN or Othr/Id
	UltimateDebtor   string `json:"ultimate_debtor,omitempty"`
	Creditor         string `json:"creditor,omitempty"`
	CreditorAccount  string `json:"creditor_account,omitempty"`
	UltimateCreditor string `json:"ultimate_creditor,omitempty"`
}

// IsZero reports whether no party was given.
func (p Parties) IsZero() bool { return p == Parties{} }

// ReturnInfo is a transaction's RtrInf: why a payment came back.
type ReturnInfo struct {
	Reason            string   `json:"reason,omitempty"`             // Rsn/Cd, an ISO external return reason (AC04, MS03, …)
	ReasonProprietary string   `json:"reason_proprietary,omitempty"` // Rsn/Prtry
	Originator        string   `json:"originator,omitempty"`         // Orgtr/Nm
	AdditionalInfo    []string `json:"additional_info,omitempty"`    // AddtlInf
}

// IsZero reports whether no return information was given.
func (r ReturnInfo) IsZero() bool {
	return r.Reason == "" && r.ReasonProprietary == "" && r.Originator == "" && len(r.AdditionalInfo) == 0
}

// CreditorRef is a structured creditor reference (RmtInf/Strd/CdtrRefInf).
type CreditorRef struct {
	Ref    string `json:"ref"`
	Type   string `json:"type,omitempty"`   // Tp/CdOrPrtry/Cd (SCOR: an ISO 11649 reference) or Prtry
	Issuer string `json:"issuer,omitempty"` // Tp/Issr
}

// AmountDetails are an AmtDtls: the amount as instructed (possibly in
// another currency) and the exchange applied.
type AmountDetails struct {
	Instructed          decimal.Decimal `json:"instructed,omitzero"` // InstdAmt/Amt
	InstructedCurrency  string          `json:"instructed_currency,omitempty"`
	Transaction         decimal.Decimal `json:"transaction,omitzero"` // TxAmt/Amt
	TransactionCurrency string          `json:"transaction_currency,omitempty"`
	// ExchangeRate is the first CcyXchg/XchgRate of InstdAmt, TxAmt or
	// CntrValAmt: how many target units one unit currency buys.
	ExchangeRate   decimal.Decimal `json:"exchange_rate,omitzero"`
	SourceCurrency string          `json:"source_currency,omitempty"`
	TargetCurrency string          `json:"target_currency,omitempty"`
	UnitCurrency   string          `json:"unit_currency,omitempty"`
}

// IsZero reports whether no amount detail was given.
func (a AmountDetails) IsZero() bool {
	return a.InstructedCurrency == "" && a.TransactionCurrency == "" && a.ExchangeRate.IsZero() &&
		a.SourceCurrency == "" && a.TargetCurrency == "" && a.UnitCurrency == ""
}

// Flagged reports whether the entry carries the flag code.
func (e Entry) Flagged(code string) bool {
	for _, f := range e.Flags {
		if f == code {
			return true
		}
	}
	return false
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
// reference may appear: every Ustrd line, creditor reference and AddtlRmtInf,
// the transactions' additional information, then AddtlNtryInf. Pass it to
// FindSettlementFileID or FindPaymentReference.
func (e Entry) Texts() []string {
	var out []string
	for _, tx := range e.TxDetails {
		out = append(out, tx.RemittanceInfo...)
		for _, r := range tx.CreditorRefs {
			out = append(out, r.Ref)
		}
		out = append(out, tx.AdditionalRmt...)
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
