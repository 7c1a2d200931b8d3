package gatewaysim

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Status is a transaction's state at the simulated gateway.
type Status string

// Transaction states. Only pending moves, and only once.
const (
	StatusPending   Status = "pending"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
)

// Transaction is one payment as the simulated gateway holds it.
type Transaction struct {
	Gateway string `json:"gateway"`
	// Ref is the merchant's id on the wire: vnp_TxnRef, MoMo orderId,
	// ZaloPay app_trans_id.
	Ref         string `json:"ref"`
	Amount      int64  `json:"amount"` // whole VND
	Description string `json:"description"`
	Status      Status `json:"status"`
	// Code is the gateway's own result code once final (VNPAY
	// vnp_ResponseCode, MoMo resultCode, ZaloPay return_code).
	Code string `json:"code,omitempty"`
	// GatewayTxnID is the gateway's transaction number once final
	// (vnp_TransactionNo, MoMo transId, zp_trans_id).
	GatewayTxnID string    `json:"gateway_txn_id,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	CompletedAt  time.Time `json:"completed_at,omitzero"`
	ReturnURL    string    `json:"return_url,omitempty"`   // the merchant's browser return URL
	CallbackURL  string    `json:"callback_url,omitempty"` // where the IPN goes
	Refunds      []Refund  `json:"refunds,omitempty"`
	Wire         Wire      `json:"wire"`
}

// Wire holds the protocol fields a gateway keeps to answer queries and sign
// callbacks.
type Wire struct {
	CreateDate  string `json:"vnp_create_date,omitempty"` // VNPAY vnp_CreateDate
	BankCode    string `json:"bank_code,omitempty"`       // VNPAY vnp_BankCode, ZaloPay bank_code
	Locale      string `json:"locale,omitempty"`          // "vi" or "en"
	RequestID   string `json:"request_id,omitempty"`      // MoMo requestId
	RequestType string `json:"request_type,omitempty"`    // MoMo requestType
	ExtraData   string `json:"extra_data,omitempty"`      // MoMo extraData
	AppTime     int64  `json:"app_time,omitempty"`        // ZaloPay app_time
	AppUser     string `json:"app_user,omitempty"`        // ZaloPay app_user
	EmbedData   string `json:"embed_data,omitempty"`      // ZaloPay embed_data
	Item        string `json:"item,omitempty"`            // ZaloPay item
}

// Refunded is the sum of the transaction's refunds.
func (t *Transaction) Refunded() int64 {
	var sum int64
	for _, r := range t.Refunds {
		sum += r.Amount
	}
	return sum
}

// Refund is one refund of a successful payment.
type Refund struct {
	// ID is the merchant's idempotency key for the refund: VNPAY
	// vnp_RequestId, MoMo's refund orderId, ZaloPay m_refund_id.
	ID              string    `json:"id"`
	RequestID       string    `json:"request_id,omitempty"` // MoMo's requestId of the refund (used once, like a payment's)
	Amount          int64     `json:"amount"`
	GatewayRefundID string    `json:"gateway_refund_id"` // the gateway's number for the refund
	Description     string    `json:"description,omitempty"`
	At              time.Time `json:"at"`
}

// Transfer is a credit on the treasury account that is not a gateway
// settlement: a citizen's VietQR transfer, or money nobody can place.
type Transfer struct {
	ID        string    `json:"id"`                  // the bank's reference (AcctSvcrRef)
	Reference string    `json:"reference,omitempty"` // the payment reference the payer wrote; "" for an unknown credit
	Amount    int64     `json:"amount"`
	Text      string    `json:"text"` // remittance text as the bank shows it
	BookedAt  time.Time `json:"booked_at"`
}

// Errors of the simulator's operations; the admin API maps them to HTTP
// statuses (400, 404, 409).
var (
	ErrInvalid  = errors.New("gatewaysim: invalid request")
	ErrNotFound = errors.New("gatewaysim: not found")
	ErrConflict = errors.New("gatewaysim: conflict")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}

func notFound(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrNotFound)
}

type txnKey struct{ gateway, ref string }

// refundRef locates a refund: its payment and its index there.
type refundRef struct {
	txn *Transaction
	i   int
}

// store is the simulator's state. Every field is guarded by Sim.mu.
type store struct {
	txns      map[txnKey]*Transaction
	byNumber  map[string]*Transaction // gateway transaction number → payment (numbers are unique across gateways)
	refunds   map[txnKey]refundRef    // (gateway, refund id) → refund
	momoReqs  map[string]bool         // MoMo requestIds seen (create and refund)
	days      map[string]map[string]bool
	transfers []Transfer
	files     map[fileKey][]*settlementFile
	payouts   map[fileKey]*payout
	nextNo    int64 // next gateway transaction number
	nextBank  int64 // next bank reference
	// armed discrepancies, consumed by the next file or payout
	fileFaults map[string]FileDiscrepancies
	omitPayout map[string]bool
	// callbacks still owed, by id (with a data dir only)
	callbacks map[uint64]pendingCallback
	// wal, with a data dir, gets every change (see wal.go); nil while loading.
	wal *wal
}

func newStore(now time.Time) *store {
	return &store{
		txns: map[txnKey]*Transaction{}, byNumber: map[string]*Transaction{}, refunds: map[txnKey]refundRef{},
		momoReqs: map[string]bool{}, days: map[string]map[string]bool{}, files: map[fileKey][]*settlementFile{},
		payouts: map[fileKey]*payout{}, fileFaults: map[string]FileDiscrepancies{}, omitPayout: map[string]bool{},
		callbacks: map[uint64]pendingCallback{},
		// Microseconds since the epoch: numbers stay unique across restarts
		// without a data dir as long as fewer than a million are issued a second.
		nextNo: now.UnixMicro(),
	}
}

// number issues a gateway transaction number.
func (st *store) number() string {
	st.nextNo++
	return strconv.FormatInt(st.nextNo, 10)
}

// bankRefPrefix starts the treasury bank's entry references.
const bankRefPrefix = "GWS"

// bankRef issues a bank reference for an entry on the treasury account.
func (st *store) bankRef() string {
	st.nextBank++
	return fmt.Sprintf("%s%012d", bankRefPrefix, st.nextBank)
}

func (st *store) get(gateway, ref string) (*Transaction, error) {
	t, ok := st.txns[txnKey{gateway, ref}]
	if !ok {
		return nil, notFound("%s transaction %q", gateway, clip(ref))
	}
	return t, nil
}

// add records a new transaction (or, loading, replaces one).
func (st *store) add(t *Transaction) {
	st.txns[txnKey{t.Gateway, t.Ref}] = t
	st.index(t)
	st.logTxn(t)
}

// index records t's numbers, request ids and business days (also after a load).
func (st *store) index(t *Transaction) {
	if t.Gateway == MoMo && t.Wire.RequestID != "" {
		st.momoReqs[t.Wire.RequestID] = true
	}
	if t.GatewayTxnID != "" {
		st.byNumber[t.GatewayTxnID] = t
	}
	if t.Status == StatusSucceeded {
		st.markDay(t.Gateway, t.CompletedAt)
	}
	for i, r := range t.Refunds {
		st.refunds[txnKey{t.Gateway, r.ID}] = refundRef{t, i}
		if t.Gateway == MoMo && r.RequestID != "" {
			st.momoReqs[r.RequestID] = true
		}
		st.markDay(t.Gateway, r.At)
	}
}

// log appends a change to the log (with a data dir) and returns its seq;
// the counters go with it. The caller holds Sim.mu.
func (st *store) log(r *record) uint64 {
	if st.wal == nil {
		return 0
	}
	r.NextNumber, r.NextBankRef = st.nextNo, st.nextBank
	return st.wal.append(r)
}

// logTxn logs t as it now is.
func (st *store) logTxn(t *Transaction) { st.log(&record{Op: opTxn, Txn: t}) }

func (st *store) markDay(gateway string, at time.Time) {
	set := st.days[gateway]
	if set == nil {
		set = map[string]bool{}
		st.days[gateway] = set
	}
	set[dayString(at)] = true
}

// complete moves a pending transaction to its final state. The caller has
// checked that it is pending.
func (st *store) complete(t *Transaction, status Status, code string, at time.Time) {
	t.Status, t.Code, t.CompletedAt = status, code, at
	t.GatewayTxnID = st.number()
	st.index(t)
	st.logTxn(t)
}

// refund records a refund of t; the caller has checked the amount.
// requestID is MoMo's requestId ("" for the others).
func (st *store) refund(t *Transaction, id, requestID string, amount int64, desc string, at time.Time) Refund {
	r := Refund{ID: id, RequestID: requestID, Amount: amount, GatewayRefundID: st.number(), Description: desc, At: at}
	t.Refunds = append(t.Refunds, r)
	st.index(t)
	st.logTxn(t)
	return r
}

// findRefund returns the refund id of gateway, if any.
func (st *store) findRefund(gateway, id string) (*Transaction, Refund, bool) {
	rr, ok := st.refunds[txnKey{gateway, id}]
	if !ok {
		return nil, Refund{}, false
	}
	return rr.txn, rr.txn.Refunds[rr.i], true
}

// canRefund checks a refund of amount against what is left of t.
func canRefund(t *Transaction, amount int64) error {
	switch {
	case t.Status != StatusSucceeded:
		return fmt.Errorf("payment %s is %s: %w", t.Ref, t.Status, ErrConflict)
	case amount <= 0:
		return invalid("refund amount %d", amount)
	case amount > t.Amount-t.Refunded():
		return fmt.Errorf("refund of %d exceeds the %d left of payment %s: %w", amount, t.Amount-t.Refunded(), t.Ref, ErrConflict)
	}
	return nil
}

// expire fails a pending transaction whose window has closed, with the
// gateway's expiry code. It reports whether it did.
func (st *store) expire(t *Transaction, now time.Time) bool {
	if t.Status != StatusPending || t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt) {
		return false
	}
	st.complete(t, StatusFailed, expiryCodes[t.Gateway], t.ExpiresAt)
	return true
}

// expiryCodes are the codes of a payment window that closed unpaid: VNPAY 11
// (timed out), MoMo 1005 (expired), ZaloPay 2 (failed).
var expiryCodes = map[string]string{VNPAY: "11", MoMo: "1005", ZaloPay: "2"}

// TransactionFilter selects transactions; empty fields select all.
type TransactionFilter struct {
	Gateway string
	Ref     string
	Status  Status
	Limit   int // at most this many, newest first (default and maximum 10000)
}

// MaxList bounds the transactions one listing returns.
const MaxList = 10000

func (st *store) list(f TransactionFilter) []Transaction {
	if f.Limit <= 0 || f.Limit > MaxList {
		f.Limit = MaxList
	}
	var out []*Transaction
	if f.Gateway != "" && f.Ref != "" {
		if t, ok := st.txns[txnKey{f.Gateway, f.Ref}]; ok {
			out = append(out, t)
		}
	} else {
		for _, t := range st.txns {
			if (f.Gateway == "" || t.Gateway == f.Gateway) && (f.Ref == "" || t.Ref == f.Ref) {
				out = append(out, t)
			}
		}
	}
	out = slices.DeleteFunc(out, func(t *Transaction) bool { return f.Status != "" && t.Status != f.Status })
	slices.SortFunc(out, func(a, b *Transaction) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.Gateway, b.Gateway), cmp.Compare(a.Ref, b.Ref))
	})
	res := make([]Transaction, 0, min(len(out), f.Limit))
	for _, t := range out[:min(len(out), f.Limit)] {
		res = append(res, t.clone())
	}
	return res
}

// clone is a copy that shares nothing with the store.
func (t *Transaction) clone() Transaction {
	c := *t
	c.Refunds = slices.Clone(t.Refunds)
	return c
}
