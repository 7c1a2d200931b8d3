package zalopay_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/internal/gwtest"
	"github.com/civicpay/civicpay/gateways/zalopay"
	"github.com/shopspring/decimal"
)

func queryServer(t *testing.T, answer zalopay.QueryResponse) string {
	return gwtest.JSONServer(t, zalopay.QueryPath, func(b zalopay.QueryBody) any {
		if b.AppID != appID || b.AppTransID != "250302_AT7Q2X9" || !zalopay.VerifyMAC(key1, b.MACData(key1), b.MAC) {
			t.Errorf("query request %+v does not verify", b)
		}
		return answer
	})
}

func TestQuery(t *testing.T) {
	t.Parallel()
	paid := zalopay.QueryResponse{ReturnCode: 1, ReturnMessage: "Giao dịch thành công", Amount: 150000,
		ZPTransID: 250302000012345, ServerTime: paidAt.UnixMilli()}
	tests := []struct {
		name   string
		answer zalopay.QueryResponse
		want   gateways.Result
	}{
		{"paid", paid, gateways.Result{Currency: "VND", GatewayRef: "250302_AT7Q2X9", GatewayTxnID: "250302000012345",
			Amount: decimal.NewFromInt(150000), Status: gateways.StatusSucceeded, Code: "1", Message: "Giao dịch thành công", PaidAt: paidAt}},
		{"failed", zalopay.QueryResponse{ReturnCode: 2, ReturnMessage: "fail", Amount: 150000},
			gateways.Result{Currency: "VND", GatewayRef: "250302_AT7Q2X9", Amount: decimal.NewFromInt(150000), Status: gateways.StatusFailed, Code: "2", Message: "fail"}},
		{"failed but processing", zalopay.QueryResponse{ReturnCode: 2, IsProcessing: true, Amount: 150000},
			gateways.Result{Currency: "VND", GatewayRef: "250302_AT7Q2X9", Amount: decimal.NewFromInt(150000), Status: gateways.StatusPending, Code: "2"}},
		{"not paid yet", zalopay.QueryResponse{ReturnCode: 3, Amount: 150000},
			gateways.Result{Currency: "VND", GatewayRef: "250302_AT7Q2X9", Amount: decimal.NewFromInt(150000), Status: gateways.StatusPending, Code: "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := newAdapter(t, queryServer(t, tt.answer), time.Second).Query(context.Background(),
				gateways.QueryRequest{GatewayRef: "250302_AT7Q2X9"})
			if err != nil {
				t.Fatal(err)
			}
			gwtest.CheckResult(t, res, tt.want)
		})
	}
	_, err := newAdapter(t, queryServer(t, zalopay.QueryResponse{ReturnCode: -401}), time.Second).Query(
		context.Background(), gateways.QueryRequest{GatewayRef: "250302_AT7Q2X9"})
	if !errors.Is(err, gateways.ErrRejected) {
		t.Errorf("unknown return_code: error = %v, want ErrRejected", err)
	}
}

func refundRequest() gateways.RefundRequest {
	return gateways.RefundRequest{
		RefundRef: "RFD1", GatewayRef: "250302_AT7Q2X9", GatewayTxnID: "250302000012345",
		Amount: decimal.NewFromInt(50000), OriginalAmount: decimal.NewFromInt(150000), Reason: "Hoàn phí",
		CreatedAt: created.Add(time.Hour), OriginalCreatedAt: created,
	}
}

func TestRefund(t *testing.T) {
	t.Parallel()
	for code, want := range map[int]gateways.Status{1: gateways.StatusSucceeded, 2: gateways.StatusFailed, 3: gateways.StatusPending} {
		t.Run(string(want), func(t *testing.T) {
			t.Parallel()
			base := gwtest.JSONServer(t, zalopay.RefundPath, func(b zalopay.RefundBody) any {
				if !zalopay.VerifyMAC(key1, b.MACData(), b.MAC) {
					t.Errorf("refund mac does not verify: %+v", b)
				}
				if b.MRefundID != "250302_553_RFD1" || b.ZPTransID != "250302000012345" || b.Amount != 50000 || b.Description != "Hoàn phí" {
					t.Errorf("refund request = %+v", b)
				}
				return zalopay.RefundResponse{ReturnCode: code, ReturnMessage: "m", RefundID: 77}
			})
			res, err := newAdapter(t, base, time.Second).Refund(context.Background(), refundRequest())
			if err != nil {
				t.Fatal(err)
			}
			if wantRes := (gateways.RefundResult{Status: want, GatewayRefundID: "77", Code: strconv.Itoa(code), Message: "m"}); res != wantRes {
				t.Errorf("result = %+v, want %+v", res, wantRes)
			}
		})
	}
}

func TestQueryRefund(t *testing.T) {
	t.Parallel()
	base := gwtest.JSONServer(t, zalopay.QueryRefundPath, func(b zalopay.QueryRefundBody) any {
		if b.MRefundID != "250302_553_RFD1" || !zalopay.VerifyMAC(key1, b.MACData(), b.MAC) {
			t.Errorf("query refund request %+v does not verify", b)
		}
		return zalopay.RefundResponse{ReturnCode: 1, ReturnMessage: "ok"}
	})
	res, err := newAdapter(t, base, time.Second).QueryRefund(context.Background(), refundRequest())
	if err != nil {
		t.Fatal(err)
	}
	if res != (gateways.RefundResult{Status: gateways.StatusSucceeded, Code: "1", Message: "ok"}) {
		t.Errorf("result = %+v", res)
	}
}

func TestRefundRefuses(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, "http://127.0.0.1:1", time.Second) // never called
	noTxn := refundRequest()
	noTxn.GatewayTxnID = "abc"
	full := refundRequest()
	full.Full = true
	for _, r := range []gateways.RefundRequest{noTxn, full} {
		if _, err := a.Refund(context.Background(), r); !errors.Is(err, gateways.ErrInvalidRequest) {
			t.Errorf("Refund(%+v) error = %v, want ErrInvalidRequest", r, err)
		}
	}
}

func TestAPIFailureModes(t *testing.T) {
	t.Parallel()
	gwtest.FailureModesOf(t, newAdapter, map[string]func(context.Context, *zalopay.Adapter) error{
		"create": func(ctx context.Context, a *zalopay.Adapter) error {
			_, err := a.Create(ctx, createRequest())
			return err
		},
		"query": func(ctx context.Context, a *zalopay.Adapter) error {
			_, err := a.Query(ctx, gateways.QueryRequest{GatewayRef: "250302_AT7Q2X9"})
			return err
		},
		"refund": func(ctx context.Context, a *zalopay.Adapter) error {
			_, err := a.Refund(ctx, refundRequest())
			return err
		},
		"query refund": func(ctx context.Context, a *zalopay.Adapter) error {
			_, err := a.QueryRefund(ctx, refundRequest())
			return err
		},
	})
}
