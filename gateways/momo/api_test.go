package momo_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/internal/gwtest"
	"github.com/civicpay/civicpay/gateways/momo"
	"github.com/shopspring/decimal"
)

// queryServer answers every query with answer, for the orderId, partner and
// requestId asked unless answer names others, signed as MoMo signs it.
func queryServer(t *testing.T, answer momo.QueryResponse) string {
	return signedQueryServer(t, answer, func(r momo.QueryResponse) string {
		return momo.Signature(secretKey, r.SignatureFields(accessKey)...)
	})
}

// signedQueryServer is queryServer with the answer's signature made by sign.
func signedQueryServer(t *testing.T, answer momo.QueryResponse, sign func(momo.QueryResponse) string) string {
	return server(t, momo.QueryPath, func(b momo.QueryBody) string { return b.Signature },
		func(b momo.QueryBody) any {
			if b.RequestID != "Q1" || b.PartnerCode != partnerCode {
				t.Errorf("request = %+v", b)
			}
			if answer.OrderID == "" {
				answer.OrderID = b.OrderID
			}
			if answer.PartnerCode == "" {
				answer.PartnerCode = b.PartnerCode
			}
			if answer.RequestID == "" {
				answer.RequestID = b.RequestID
			}
			answer.Signature = sign(answer)
			return answer
		})
}

func TestQuery(t *testing.T) {
	t.Parallel()
	paid := momo.QueryResponse{Amount: 150000, TransID: 4088878653, ResultCode: 0, Message: "Successful.",
		ResponseTime: paidAt.Add(time.Minute).UnixMilli(), LastUpdated: paidAt.UnixMilli()}
	with := func(code int) momo.QueryResponse { r := paid; r.ResultCode, r.TransID = code, 0; return r }
	tests := []struct {
		name   string
		answer momo.QueryResponse
		want   gateways.Result
	}{
		{"paid", paid, gateways.Result{Currency: "VND", GatewayRef: "AT7Q2X9", GatewayTxnID: "4088878653",
			Amount: decimal.NewFromInt(150000), Status: gateways.StatusSucceeded, Code: "0", Message: "Successful.", PaidAt: paidAt}},
		{"processing", with(7000), gateways.Result{Currency: "VND", GatewayRef: "AT7Q2X9", Amount: decimal.NewFromInt(150000),
			Status: gateways.StatusPending, Code: "7000", Message: "Successful."}},
		{"created, waiting for user", with(1000), gateways.Result{Currency: "VND", GatewayRef: "AT7Q2X9", Amount: decimal.NewFromInt(150000),
			Status: gateways.StatusPending, Code: "1000", Message: "Successful."}},
		{"denied by user is a result, not an error", with(1006), gateways.Result{Currency: "VND", GatewayRef: "AT7Q2X9",
			Amount: decimal.NewFromInt(150000), Status: gateways.StatusFailed, Code: "1006", Message: "Successful."}},
		{"expired", with(1005), gateways.Result{Currency: "VND", GatewayRef: "AT7Q2X9", Amount: decimal.NewFromInt(150000),
			Status: gateways.StatusFailed, Code: "1005", Message: "Successful."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := newAdapter(t, queryServer(t, tt.answer), time.Second).Query(context.Background(),
				gateways.QueryRequest{GatewayRef: "AT7Q2X9", RequestID: "Q1"})
			if err != nil {
				t.Fatal(err)
			}
			gwtest.CheckResult(t, res, tt.want)
		})
	}
}

func TestQueryErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer momo.QueryResponse
		want   error
	}{
		{"merchant authentication failed", momo.QueryResponse{ResultCode: 13}, gateways.ErrRejected},
		{"bad request", momo.QueryResponse{ResultCode: 20}, gateways.ErrRejected},
		{"another order", momo.QueryResponse{OrderID: "OTHER", Amount: 1}, gateways.ErrMalformed},
		{"another partner", momo.QueryResponse{PartnerCode: "OTHER", Amount: 1}, gateways.ErrMalformed},
		{"another request", momo.QueryResponse{RequestID: "Q2", Amount: 1}, gateways.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newAdapter(t, queryServer(t, tt.answer), time.Second).Query(context.Background(),
				gateways.QueryRequest{GatewayRef: "AT7Q2X9", RequestID: "Q1"})
			if !errors.Is(err, tt.want) || gateways.IsTechnical(err) {
				t.Errorf("error = %v, want %v (not technical)", err, tt.want)
			}
		})
	}
}

func refundRequest(requestID string) gateways.RefundRequest {
	return gateways.RefundRequest{
		RefundRef: "RFD1", GatewayRef: "AT7Q2X9", GatewayTxnID: "4088878653", Amount: decimal.NewFromInt(50000),
		OriginalAmount: decimal.NewFromInt(150000), Reason: "Hoàn phí", RequestID: requestID,
		CreatedAt: created.Add(time.Hour), OriginalCreatedAt: created,
	}
}

func TestRefund(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		requestID string
		code      int
		status    gateways.Status
	}{
		{"succeeded", "R1", 0, gateways.StatusSucceeded},
		{"processing", "", 7000, gateways.StatusPending},
		{"duplicate orderId of a retry", "", 41, gateways.StatusPending},
		{"refused by MoMo", "", 1002, gateways.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sent := make(chan momo.RefundBody, 1)
			base := server(t, momo.RefundPath, func(b momo.RefundBody) string { return b.Signature },
				func(b momo.RefundBody) any {
					sent <- b
					return momo.RefundResponse{OrderID: b.OrderID, Amount: b.Amount, TransID: 99001, ResultCode: tt.code, Message: "m"}
				})
			res, err := newAdapter(t, base, time.Second).Refund(context.Background(), refundRequest(tt.requestID))
			if err != nil {
				t.Fatal(err)
			}
			want := gateways.RefundResult{Status: tt.status, GatewayRefundID: "99001", Code: strconv.Itoa(tt.code), Message: "m"}
			if res != want {
				t.Errorf("result = %+v, want %+v", res, want)
			}
			b := <-sent
			wantReq := tt.requestID
			if wantReq == "" {
				wantReq = "RFD1"
			}
			if b.OrderID != "RFD1" || b.RequestID != wantReq || b.TransID != 4088878653 || b.Amount != 50000 || b.Description != "Hoàn phí" {
				t.Errorf("request = %+v", b)
			}
		})
	}
}

func TestRefundRefuses(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, "http://127.0.0.1:1", time.Second) // never called
	noTxn := refundRequest("")
	noTxn.GatewayTxnID = ""
	tooMuch := refundRequest("")
	tooMuch.Amount = decimal.NewFromInt(150001)
	for _, r := range []gateways.RefundRequest{noTxn, tooMuch} {
		if _, err := a.Refund(context.Background(), r); !errors.Is(err, gateways.ErrInvalidRequest) {
			t.Errorf("Refund(%+v) error = %v, want ErrInvalidRequest", r, err)
		}
	}
}

func TestAPIFailureModes(t *testing.T) {
	t.Parallel()
	gwtest.FailureModesOf(t, newAdapter, map[string]func(context.Context, *momo.Adapter) error{
		"create": func(ctx context.Context, a *momo.Adapter) error { _, err := a.Create(ctx, createRequest()); return err },
		"query": func(ctx context.Context, a *momo.Adapter) error {
			_, err := a.Query(ctx, gateways.QueryRequest{GatewayRef: "AT7Q2X9"})
			return err
		},
		"refund": func(ctx context.Context, a *momo.Adapter) error {
			_, err := a.Refund(ctx, refundRequest(""))
			return err
		},
	})
}

// TestQueryAnswerSignature: a status answer whose signature does not verify
// — made with another key, missing, or over other values than those sent —
// is an error wrapping gateways.ErrBadSignature, never a result, whatever it
// reports (here a success for the full amount).
func TestQueryAnswerSignature(t *testing.T) {
	t.Parallel()
	paid := momo.QueryResponse{Amount: 150000, TransID: 4088878653, ResultCode: 0, Message: "Successful.",
		ResponseTime: paidAt.Add(time.Minute).UnixMilli(), LastUpdated: paidAt.UnixMilli()}
	good := func(r momo.QueryResponse) string { return momo.Signature(secretKey, r.SignatureFields(accessKey)...) }
	tests := []struct {
		name string
		sign func(momo.QueryResponse) string
	}{
		{"another key", func(r momo.QueryResponse) string {
			return momo.Signature("demo-or-guessed-key", r.SignatureFields(accessKey)...)
		}},
		{"no signature", func(momo.QueryResponse) string { return "" }},
		{"signed as failed, sent as paid", func(r momo.QueryResponse) string { r.ResultCode = 1006; return good(r) }},
		{"signed for less, sent for the amount", func(r momo.QueryResponse) string { r.Amount = 1000; return good(r) }},
		{"signed for another order", func(r momo.QueryResponse) string { r.OrderID = "AT0THER"; return good(r) }},
		{"signed with another transaction", func(r momo.QueryResponse) string { r.TransID = 1; return good(r) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := newAdapter(t, signedQueryServer(t, paid, tt.sign), time.Second).Query(context.Background(),
				gateways.QueryRequest{GatewayRef: "AT7Q2X9", RequestID: "Q1"})
			if !errors.Is(err, gateways.ErrBadSignature) || res != (gateways.Result{}) {
				t.Errorf("Query = %+v, %v; want no result and ErrBadSignature", res, err)
			}
		})
	}
}
