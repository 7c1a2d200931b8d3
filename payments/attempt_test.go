package payments

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/ledger"
)

func vnd(n int64) decimal.Decimal { return decimal.NewFromInt(n) }

func TestDecide(t *testing.T) {
	t.Parallel()
	open := Order{Status: StatusOpen}
	paid := Order{Status: StatusPaid}
	attempt := func(s AttemptStatus) Attempt { return Attempt{Status: s, Currency: "VND", Amount: vnd(200000)} }
	result := func(s gateways.Status, amount int64) gateways.Result {
		return gateways.Result{Status: s, Amount: vnd(amount), Currency: "VND"}
	}
	in := func(r gateways.Result, currency string) gateways.Result { r.Currency = currency; return r }
	tests := []struct {
		name   string
		order  Order
		att    Attempt
		res    gateways.Result
		ack    gateways.Ack
		action action
	}{
		{"success pays an open order", open, attempt(AttemptPending), result(gateways.StatusSucceeded, 200000), gateways.AckOK, actPay},
		{"success on a paid order is an overpayment", paid, attempt(AttemptPending), result(gateways.StatusSucceeded, 200000), gateways.AckOK, actOverpay},
		{"success on a cancelled order is an overpayment", Order{Status: StatusCancelled}, attempt(AttemptPending), result(gateways.StatusSucceeded, 200000), gateways.AckOK, actOverpay},
		{"late success on an expired attempt still pays", open, attempt(AttemptExpired), result(gateways.StatusSucceeded, 200000), gateways.AckOK, actPay},
		{"success after a failure is recorded: the money moved", open, attempt(AttemptFailed), result(gateways.StatusSucceeded, 200000), gateways.AckOK, actPay},
		{"duplicate success", paid, attempt(AttemptSucceeded), result(gateways.StatusSucceeded, 200000), gateways.AckAlreadyConfirmed, actNothing},
		{"failure after success changes nothing", paid, attempt(AttemptSucceeded), result(gateways.StatusFailed, 200000), gateways.AckAlreadyConfirmed, actNothing},
		{"failure fails a pending attempt", open, attempt(AttemptPending), result(gateways.StatusFailed, 200000), gateways.AckOK, actFail},
		{"failure without an amount", open, attempt(AttemptPending), result(gateways.StatusFailed, 0), gateways.AckOK, actFail},
		{"duplicate failure", open, attempt(AttemptFailed), result(gateways.StatusFailed, 200000), gateways.AckAlreadyConfirmed, actNothing},
		{"pending changes nothing", open, attempt(AttemptPending), result(gateways.StatusPending, 0), gateways.AckOK, actNothing},
		{"pending after failure", open, attempt(AttemptFailed), result(gateways.StatusPending, 0), gateways.AckAlreadyConfirmed, actNothing},
		{"success with less money is refused", open, attempt(AttemptPending), result(gateways.StatusSucceeded, 199999), gateways.AckAmountMismatch, actMisamount},
		{"success with no amount is refused", open, attempt(AttemptPending), result(gateways.StatusSucceeded, 0), gateways.AckAmountMismatch, actMisamount},
		{"amount is checked before already confirmed", paid, attempt(AttemptSucceeded), result(gateways.StatusSucceeded, 1), gateways.AckAmountMismatch, actMisamount},
		{"failure with another amount is refused", open, attempt(AttemptPending), result(gateways.StatusFailed, 5), gateways.AckAmountMismatch, actMisamount},
		{"success in another currency is refused", open, attempt(AttemptPending), in(result(gateways.StatusSucceeded, 200000), "USD"), gateways.AckAmountMismatch, actMisamount},
		{"success with no currency is refused", open, attempt(AttemptPending), in(result(gateways.StatusSucceeded, 200000), ""), gateways.AckAmountMismatch, actMisamount},
		{"currency is checked before already confirmed", paid, attempt(AttemptSucceeded), in(result(gateways.StatusSucceeded, 200000), "USD"), gateways.AckAmountMismatch, actMisamount},
		{"failure in another currency is refused", open, attempt(AttemptPending), in(result(gateways.StatusFailed, 200000), "USD"), gateways.AckAmountMismatch, actMisamount},
		{"failure without an amount needs no currency", open, attempt(AttemptPending), in(result(gateways.StatusFailed, 0), ""), gateways.AckOK, actFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ack, act := decide(tt.order, tt.att, tt.res)
			if ack != tt.ack || act != tt.action {
				t.Fatalf("decide = %v, %d; want %v, %d", ack, act, tt.ack, tt.action)
			}
		})
	}
}

func TestRefundShares(t *testing.T) {
	t.Parallel()
	line := func(agency string, amount int64) Line {
		return Line{AgencyCode: agency, ServiceCode: "S-" + agency, Amount: vnd(amount)}
	}
	order := func(lines ...Line) Order {
		total := decimal.Zero
		for _, l := range lines {
			total = total.Add(l.Amount)
		}
		return Order{Lines: lines, Total: total, Currency: "VND"}
	}
	share := func(agency string, amount int64) ledger.Share {
		return ledger.Share{AgencyCode: agency, ServiceCode: "S-" + agency, Amount: vnd(amount)}
	}
	usd := func(o Order) Order {
		for i := range o.Lines {
			o.Lines[i].Amount = o.Lines[i].Amount.Shift(-2)
		}
		o.Total, o.Currency = o.Total.Shift(-2), "USD"
		return o
	}
	cents := func(agency string, amount int64) ledger.Share {
		return ledger.Share{AgencyCode: agency, ServiceCode: "S-" + agency, Amount: vnd(amount).Shift(-2)}
	}
	tests := []struct {
		name   string
		order  Order
		amount int64
		want   []ledger.Share
	}{
		{"one line takes it all", order(line("A", 200000)), 50000, []ledger.Share{share("A", 50000)}},
		{"full refund returns each line", order(line("A", 200000), line("B", 100000)), 300000,
			[]ledger.Share{share("A", 200000), share("B", 100000)}},
		{"pro rata", order(line("A", 200000), line("B", 100000)), 150000,
			[]ledger.Share{share("A", 100000), share("B", 50000)}},
		{"remainder to the first line", order(line("A", 100000), line("B", 100000), line("C", 100000)), 100000,
			[]ledger.Share{share("A", 33334), share("B", 33333), share("C", 33333)}},
		{"zero shares are left out", order(line("A", 1000000), line("B", 1000)), 500,
			[]ledger.Share{share("A", 500)}},
		{"units left go to the largest fractions", order(line("A", 1), line("B", 2), line("C", 3)), 5,
			[]ledger.Share{share("A", 1), share("B", 2), share("C", 2)}}, // 0.83 1.67 2.5
		{"USD in cents, not whole dollars", usd(order(line("A", 50), line("B", 50))), 50,
			[]ledger.Share{cents("A", 25), cents("B", 25)}},
		{"USD remainder cent", usd(order(line("A", 1000), line("B", 1001))), 1001,
			[]ledger.Share{cents("A", 500), cents("B", 501)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			amount := vnd(tt.amount)
			if tt.order.Currency == "USD" {
				amount = amount.Shift(-2)
			}
			got := refundShares(tt.order, amount)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("shares = %v, want %v", got, tt.want)
			}
			sum := decimal.Zero
			for _, s := range got {
				sum = sum.Add(s.Amount)
			}
			if !sum.Equal(amount) {
				t.Fatalf("shares sum to %s, want %d", sum, tt.amount)
			}
		})
	}
}

func TestPickAttempt(t *testing.T) {
	t.Parallel()
	a := func(status AttemptStatus, amount int64, txn string) Attempt {
		return Attempt{ID: uuid.New(), Status: status, Currency: "VND", Amount: vnd(amount), GatewayTxnID: txn}
	}
	paidX := a(AttemptSucceeded, 200000, "X")
	expired := a(AttemptExpired, 200000, "")
	pending := a(AttemptPending, 200000, "")
	other := a(AttemptPending, 150000, "")
	res := func(txn string) gateways.Result {
		return gateways.Result{GatewayTxnID: txn, Amount: vnd(200000), Currency: "VND", Status: gateways.StatusSucceeded}
	}
	usd := res("Y")
	usd.Currency = "USD"
	tests := []struct {
		name        string
		cands       []Attempt
		res         gateways.Result
		byReference bool
		want        *Attempt
	}{
		{"own reference: the only attempt", []Attempt{pending}, res("T1"), false, &pending},
		{"own reference: none", nil, res("T1"), false, nil},
		{"shared: the transfer already recorded", []Attempt{paidX, pending}, res("X"), true, &paidX},
		{"shared: the oldest open attempt with the amount", []Attempt{paidX, other, expired, pending}, res("Y"), true, &expired},
		{"shared: a new transfer when all are paid", []Attempt{paidX}, res("Y"), true, nil},
		{"shared: no attempt with the amount", []Attempt{other}, res("Y"), true, nil},
		{"shared: no attempt in the currency", []Attempt{pending}, usd, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := pickAttempt(tt.cands, tt.res, tt.byReference)
			if ok != (tt.want != nil) || (ok && got.ID != tt.want.ID) {
				t.Fatalf("pickAttempt = %v %v, want %v", got.ID, ok, tt.want)
			}
		})
	}
}

func TestNextRefundStep(t *testing.T) {
	t.Parallel()
	tech := &gateways.TechnicalError{Op: "momo: refund", Err: errors.New("http status 503")}
	tests := []struct {
		name string
		res  gateways.RefundResult
		err  error
		want refundStep
	}{
		{"refunded", gateways.RefundResult{Status: gateways.StatusSucceeded}, nil, stepSucceeded},
		{"refused by the gateway", gateways.RefundResult{Status: gateways.StatusFailed}, nil, stepFailed},
		{"in progress", gateways.RefundResult{Status: gateways.StatusPending}, nil, stepPending},
		{"gateway down", gateways.RefundResult{}, tech, stepRetry},
		{"breaker open", gateways.RefundResult{}, fmt.Errorf("x: %w", gateways.ErrOpen), stepWait},
		{"breaker half-open and busy", gateways.RefundResult{}, gateways.ErrTooManyRequests, stepWait},
		{"request rejected", gateways.RefundResult{}, fmt.Errorf("x: %w", gateways.ErrRejected), stepFailed},
		{"no refunds at this gateway", gateways.RefundResult{}, fmt.Errorf("x: %w", gateways.ErrUnsupported), stepFailed},
		{"unsigned answer", gateways.RefundResult{}, fmt.Errorf("x: %w", gateways.ErrBadSignature), stepRetry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := nextRefundStep(tt.res, tt.err); got != tt.want {
				t.Fatalf("step = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int
		want time.Duration
	}{{0, time.Second}, {1, 2 * time.Second}, {3, 8 * time.Second}, {4, 10 * time.Second}, {1000, 10 * time.Second}}
	for _, tt := range tests {
		if got := backoff(time.Second, 10*time.Second, tt.n); got != tt.want {
			t.Errorf("backoff(1s, 10s, %d) = %s, want %s", tt.n, got, tt.want)
		}
	}
}

func TestSnoozes(t *testing.T) {
	t.Parallel()
	tests := map[string]int{`{"snoozes":3}`: 3, `{}`: 0, ``: 0, `not json`: 0, `{"snoozes":"x"}`: 0}
	for meta, want := range tests {
		if got := snoozes([]byte(meta)); got != want {
			t.Errorf("snoozes(%q) = %d, want %d", meta, got, want)
		}
	}
}

func TestAttemptExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		expires time.Time
		want    time.Time
	}{
		{"the attempt's own window", now.Add(24 * time.Hour), now.Add(15 * time.Minute)},
		{"never past the order's expiry", now.Add(5 * time.Minute), now.Add(5 * time.Minute)},
	}
	for _, tt := range tests {
		if got := attemptExpiry(now, 15*time.Minute, Order{ExpiresAt: tt.expires}); !got.Equal(tt.want) {
			t.Errorf("%s: expiry %s, want %s", tt.name, got, tt.want)
		}
	}
}
