package gateways

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/shopspring/decimal"
)

// Method is a way of paying offered to the citizen.
type Method string

// The payment methods civicpay offers.
const (
	MethodCard            Method = "card"
	MethodInternetBanking Method = "internet_banking"
	MethodQR              Method = "qr"
	MethodEwallet         Method = "ewallet"
	MethodBankTransfer    Method = "bank_transfer"
)

// Valid reports whether m is one of the methods above.
func (m Method) Valid() bool {
	switch m {
	case MethodCard, MethodInternetBanking, MethodQR, MethodEwallet, MethodBankTransfer:
		return true
	}
	return false
}

// Status is the outcome of a payment attempt or a refund as a gateway reports it.
type Status string

// Attempt and refund statuses. Only StatusSucceeded and StatusFailed are final.
const (
	StatusPending   Status = "pending"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
)

// CreateRequest asks a gateway to start a payment attempt.
type CreateRequest struct {
	// AttemptRef is our unique attempt reference, [A-Za-z0-9], at most 32
	// characters. Adapters derive the wire id from it: vnp_TxnRef, MoMo
	// orderId/requestId, ZaloPay app_trans_id = yymmdd(GMT+7 of CreatedAt)+"_"+AttemptRef.
	AttemptRef string
	// PaymentRef is the order's payment reference (VietQR purpose field, descriptions).
	PaymentRef  string
	Amount      decimal.Decimal // whole VND
	Currency    string          // "VND"
	Description string
	Method      Method
	ReturnURL   string // browser return URL
	CallbackURL string // our IPN/callback URL for this gateway
	ClientIP    string
	Locale      string // "vi" or "en"
	// CreatedAt is the attempt's creation time. Keep it: VNPAY's querydr and
	// refund need it again (vnp_TransactionDate) and ZaloPay's app_trans_id
	// starts with its GMT+7 date, so Create must run on that day.
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateResult is what the citizen needs to pay.
type CreateResult struct {
	GatewayRef  string // the wire id we sent, used to match callbacks and queries
	RedirectURL string // where to send the browser, if any
	QRPayload   string // a QR code's content, if any
}

// Result is the outcome of a callback or a status query.
//
// Currency is the currency of Amount as the protocol carries it or, where it
// carries none, the one the merchant contract is in ("VND" for the
// Vietnamese gateways); each adapter says which. The payment flow refuses a
// result whose currency is not the attempt's as it refuses another amount.
type Result struct {
	GatewayRef   string          // wire id (maps back to our attempt)
	GatewayTxnID string          // the gateway's own transaction number (vnp_TransactionNo, MoMo transId, zp_trans_id)
	Amount       decimal.Decimal // in VND (VNPAY's ×100 undone)
	Currency     string          // ISO 4217 code of Amount; see below
	Status       Status
	Code         string // the gateway's raw result code
	Message      string // the gateway's result text, or our reading of Code
	PaidAt       time.Time
}

// CallbackRequest is an incoming callback, copied out of the HTTP server's request.
type CallbackRequest struct {
	Method string
	Query  url.Values
	Header http.Header
	Body   []byte
}

// Ack is what we tell a gateway after handling its callback; each adapter's
// Reply turns it into the gateway's protocol. The zero value is not a valid Ack
// and is answered like AckError.
type Ack int

// Callback acknowledgements, in the order VNPAY wants them checked.
const (
	AckOK               Ack = iota + 1 // recorded (a failed payment too)
	AckBadSignature                    // signature did not verify
	AckNotFound                        // no attempt with that reference
	AckAmountMismatch                  // amount differs from the attempt's
	AckAlreadyConfirmed                // the attempt already has its final outcome
	AckError                           // unexpected error on our side; the gateway should retry
)

var ackNames = map[Ack]string{
	AckOK:               "ok",
	AckBadSignature:     "bad_signature",
	AckNotFound:         "not_found",
	AckAmountMismatch:   "amount_mismatch",
	AckAlreadyConfirmed: "already_confirmed",
	AckError:            "error",
}

// String names the ack for logs.
func (a Ack) String() string {
	if s, ok := ackNames[a]; ok {
		return s
	}
	return "invalid"
}

// QueryRequest asks a gateway for the status of an attempt.
type QueryRequest struct {
	GatewayRef string    // the CreateResult.GatewayRef
	CreatedAt  time.Time // the attempt's CreateRequest.CreatedAt
	ClientIP   string    // optional; VNPAY sends it, adapters fall back to their configured server IP
	RequestID  string    // optional unique request id; generated when empty
}

// RefundRequest asks a gateway to give money back for a successful attempt.
type RefundRequest struct {
	RefundRef         string // our refund id, [A-Za-z0-9]; the idempotency key on the wire
	GatewayRef        string
	GatewayTxnID      string
	Amount            decimal.Decimal // to refund, whole VND
	OriginalAmount    decimal.Decimal // the attempt's amount
	Full              bool            // Amount equals OriginalAmount and nothing was refunded before
	Reason            string
	CreatedAt         time.Time // when the refund was requested
	OriginalCreatedAt time.Time // the attempt's CreateRequest.CreatedAt
	RequestID         string    // optional request id where the protocol has one besides RefundRef
}

// RefundResult is a gateway's answer to a refund (or to a refund status query).
type RefundResult struct {
	Status          Status
	GatewayRefundID string
	Code            string
	Message         string
}

// Gateway is a payment gateway adapter.
type Gateway interface {
	// Name is the gateway's stable name: "vnpay", "momo", "zalopay", "vietqr".
	Name() string
	// Methods lists the payment methods the gateway is configured for.
	Methods() []Method
	// Create starts a payment attempt.
	Create(ctx context.Context, r CreateRequest) (CreateResult, error)
	// ParseCallback verifies a callback's signature (ErrBadSignature when it
	// fails) and returns what it reports.
	ParseCallback(r CallbackRequest) (Result, error)
	// Reply is the HTTP answer to a callback in the gateway's protocol.
	Reply(ack Ack) (status int, contentType string, body []byte)
	// Query asks the gateway for an attempt's status.
	Query(ctx context.Context, r QueryRequest) (Result, error)
	// Refund asks the gateway to refund (part of) a successful attempt.
	Refund(ctx context.Context, r RefundRequest) (RefundResult, error)
}

// RefundQuerier is implemented by gateways that can report on an earlier
// refund whose Refund answer was StatusPending (ZaloPay's query_refund).
// Gateways handed out by a Router always implement it and return
// ErrUnsupported when the adapter underneath does not.
type RefundQuerier interface {
	QueryRefund(ctx context.Context, r RefundRequest) (RefundResult, error)
}

// OfflineCreator is implemented by adapters whose Create only builds a URL or a
// payload and makes no call (VNPAY, VietQR). The router neither counts such a
// Create nor refuses it: it says nothing of the gateway's health, and nothing
// else opens the gateway's create breaker (failing status queries open its
// query breaker only), so such a gateway is always offered.
type OfflineCreator interface {
	CreatesOffline() bool
}

// Prober is implemented by adapters that can ask their gateway something
// cheap that concerns no payment — a status query for a reference that
// cannot exist, which every protocol here answers with "not found" — to learn
// whether the gateway answers again. The router probes a gateway while one of
// its breakers is open and closes them as soon as it answers. Probe returns
// nil or a non-technical error (the gateway answered, whatever it said) or a
// *TechnicalError (it did not).
type Prober interface {
	Probe(ctx context.Context) error
}
