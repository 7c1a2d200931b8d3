package payments

import (
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/foundation/money"
	"github.com/civicpay/civicpay/ledger"
)

// AttemptStatus is where one try at one gateway stands. Succeeded and failed are
// what the gateway said; expired is our own giving up on a gateway that said
// nothing final before the attempt's expiry (a later success is still recorded).
type AttemptStatus string

// Attempt states.
const (
	AttemptPending   AttemptStatus = "pending"
	AttemptSucceeded AttemptStatus = "succeeded"
	AttemptFailed    AttemptStatus = "failed"
	AttemptExpired   AttemptStatus = "expired"
)

// Outcome of a successful attempt: it paid the order, or the order was no longer
// payable when the money arrived (paid by another attempt, cancelled, expired)
// and the attempt is an overpayment, refunded automatically.
const (
	OutcomePayment     = "payment"
	OutcomeOverpayment = "overpayment"
)

// Attempt is one try at paying an order through one gateway.
type Attempt struct {
	ID            uuid.UUID       `json:"id"`
	OrderID       uuid.UUID       `json:"order_id"`
	Gateway       string          `json:"gateway"`
	Method        gateways.Method `json:"method"`
	GatewayRef    string          `json:"gateway_ref"`
	GatewayTxnID  string          `json:"gateway_txn_id,omitempty"`
	Currency      string          `json:"currency"`
	Amount        decimal.Decimal `json:"amount"`
	Status        AttemptStatus   `json:"status"`
	Outcome       string          `json:"outcome,omitempty"`
	RedirectURL   string          `json:"redirect_url,omitempty"`
	QRPayload     string          `json:"qr_payload,omitempty"`
	ResultCode    string          `json:"result_code,omitempty"`
	ResultMessage string          `json:"result_message,omitempty"`
	CreatedBy     string          `json:"-"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	ExpiresAt     time.Time       `json:"expires_at"`
	PaidAt        *time.Time      `json:"paid_at,omitempty"`
}

// Ref is the attempt's reference on the wire: its id without dashes (32
// characters of [0-9a-f], what every adapter accepts as AttemptRef).
func (a Attempt) Ref() string { return attemptRef(a.ID) }

func attemptRef(id uuid.UUID) string { return strings.ReplaceAll(id.String(), "-", "") }

// AttemptRequest asks for a new attempt on an order.
type AttemptRequest struct {
	Method  gateways.Method `json:"method"`
	Gateway string          `json:"gateway,omitempty"` // preferred gateway; another is used when its breaker is open
	// Locale is "vi" (default) or "en" for the gateway's page.
	Locale string `json:"locale,omitempty"`
	// ClientIP is the citizen's address, which VNPAY wants; filled in by the caller.
	ClientIP string `json:"-"`
}

// action is what recording a gateway's result does to an attempt and its order.
type action int

const (
	actNothing   action = iota // acknowledge, change nothing
	actFail                    // the attempt failed; the order stays open
	actPay                     // the attempt pays the order
	actOverpay                 // the attempt succeeded but the order was not payable: overpayment
	actMisamount               // the amount differs from the attempt's: refuse, change nothing
)

// decide is the rule of RecordResult, apart from any storage: given the order
// and the attempt as they are now (both locked) and what the gateway reports,
// what to answer the gateway and what to do.
//
//   - An amount or a currency other than the attempt's is refused (a
//     failure report may carry no amount at all, and then no currency is
//     asked of it either). A result without a currency is refused as one in
//     another currency: every adapter says which currency its amounts are in.
//   - A succeeded attempt is final: anything more is "already confirmed".
//   - A failure moves a pending or expired attempt to failed; it is already
//     confirmed on a failed one.
//   - A success on a pending, expired or even failed attempt is recorded: the
//     money moved, whatever we believed before. It pays the order if the order
//     may be paid (evPay: it is open), and is an overpayment otherwise.
//   - A pending report changes nothing.
func decide(o Order, a Attempt, r gateways.Result) (gateways.Ack, action) {
	sameMoney := r.Amount.Equal(a.Amount) && r.Currency == a.Currency
	switch {
	case r.Status == gateways.StatusSucceeded && !sameMoney,
		r.Status == gateways.StatusFailed && !r.Amount.IsZero() && !sameMoney:
		return gateways.AckAmountMismatch, actMisamount
	case a.Status == AttemptSucceeded:
		return gateways.AckAlreadyConfirmed, actNothing
	}
	switch r.Status {
	case gateways.StatusSucceeded:
		if evPay.allows(o.Status) {
			return gateways.AckOK, actPay
		}
		return gateways.AckOK, actOverpay
	case gateways.StatusFailed:
		if a.Status == AttemptFailed {
			return gateways.AckAlreadyConfirmed, actNothing
		}
		return gateways.AckOK, actFail
	default:
		if a.Status == AttemptFailed {
			return gateways.AckAlreadyConfirmed, actNothing
		}
		return gateways.AckOK, actNothing
	}
}

// attemptExpiry is when paying stops asking the gateway about an attempt:
// ttl after creation, and never after the order's own expiry.
func attemptExpiry(now time.Time, ttl time.Duration, o Order) time.Time {
	exp := now.Add(ttl)
	if o.ExpiresAt.Before(exp) && o.ExpiresAt.After(now) {
		return o.ExpiresAt
	}
	return exp
}

// paymentShares is what each line of o owes its agency when o is paid.
func paymentShares(o Order) []ledger.Share {
	out := make([]ledger.Share, len(o.Lines))
	for i, l := range o.Lines {
		out[i] = ledger.Share{AgencyCode: l.AgencyCode, ServiceCode: l.ServiceCode, Amount: l.Amount}
	}
	return out
}

// refundShares splits a refund of amount across the order's lines in
// proportion to each line's amount, in the currency's decimals (money.Split:
// largest remainder, the earlier line first on a tie). Lines whose share is
// zero are left out. It is nil if the split is impossible (a currency money
// does not know), which the ledger refuses.
func refundShares(o Order, amount decimal.Decimal) []ledger.Share {
	weights := make([]decimal.Decimal, len(o.Lines))
	for i, l := range o.Lines {
		weights[i] = l.Amount
	}
	parts, err := money.Split(amount, o.Currency, weights)
	if err != nil {
		return nil
	}
	out := make([]ledger.Share, 0, len(o.Lines))
	for i, l := range o.Lines {
		if parts[i].IsPositive() {
			out = append(out, ledger.Share{AgencyCode: l.AgencyCode, ServiceCode: l.ServiceCode, Amount: parts[i]})
		}
	}
	return out
}
