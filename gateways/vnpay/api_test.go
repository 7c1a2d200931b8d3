package vnpay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/internal/gwtest"
	"github.com/civicpay/civicpay/gateways/vnpay"
	"github.com/shopspring/decimal"
)

// fakeAPI plays VNPAY's merchant API: it checks the request's hash with the
// adapter's secret and answers with resp, filled in and signed with
// answerSecret, unless tamper changes it after signing.
type fakeAPI struct {
	resp         vnpay.APIResponse
	answerSecret string
	tamper       func(*vnpay.APIResponse)
	got          chan map[string]string // the request's fields
}

func (f *fakeAPI) serve(t *testing.T) string {
	f.got = make(chan map[string]string, 1)
	if f.answerSecret == "" {
		f.answerSecret = secret
	}
	return gwtest.Server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != vnpay.APIPath || r.Method != http.MethodPost {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		raw, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(raw))
		var fields map[string]string
		if err := json.Unmarshal(raw, &fields); err != nil {
			t.Errorf("request is not a JSON object of strings: %v", err)
		}
		f.got <- fields
		var parts []string
		switch fields["vnp_Command"] {
		case "querydr":
			var b vnpay.QueryBody
			gwtest.DecodeJSON(t, r, &b)
			parts = b.HashParts()
		case "refund":
			var b vnpay.RefundBody
			gwtest.DecodeJSON(t, r, &b)
			parts = b.HashParts()
		}
		if want := vnpay.PipeHash(secret, parts...); fields["vnp_SecureHash"] != want {
			t.Errorf("request hash %q, want %q", fields["vnp_SecureHash"], want)
		}
		resp := f.resp
		resp.ResponseID, resp.Command, resp.TmnCode = "R1", fields["vnp_Command"], fields["vnp_TmnCode"]
		if resp.TxnRef == "" {
			resp.TxnRef = fields["vnp_TxnRef"]
		}
		resp.SecureHash = vnpay.PipeHash(f.answerSecret, resp.HashParts()...)
		if f.tamper != nil {
			f.tamper(&resp)
		}
		gwtest.WriteJSON(w, resp)
	}).URL
}

func queryRequest() gateways.QueryRequest {
	return gateways.QueryRequest{GatewayRef: "AT7Q2X9", CreatedAt: created, ClientIP: "203.0.113.7", RequestID: "Q1"}
}

func TestQuery(t *testing.T) {
	t.Parallel()
	paid := vnpay.APIResponse{ResponseCode: "00", Message: "QueryDR Success", Amount: "15000000",
		BankCode: "NCB", PayDate: "20250302003512", TransactionNo: "14422574", TransactionType: "01",
		TransactionStatus: "00"}
	with := func(status string) vnpay.APIResponse { r := paid; r.TransactionStatus = status; return r }
	tests := []struct {
		name string
		resp vnpay.APIResponse
		want gateways.Result
	}{
		{"paid", paid, gateways.Result{Currency: "VND", GatewayRef: "AT7Q2X9", GatewayTxnID: "14422574",
			Amount: decimal.NewFromInt(150000), Status: gateways.StatusSucceeded, Code: "00",
			Message: "QueryDR Success", PaidAt: time.Date(2025, 3, 1, 17, 35, 12, 0, time.UTC)}},
		{"not completed", with("01"), gateways.Result{Currency: "VND", GatewayRef: "AT7Q2X9", GatewayTxnID: "14422574",
			Amount: decimal.NewFromInt(150000), Status: gateways.StatusPending, Code: "01", Message: "QueryDR Success"}},
		{"error", with("02"), gateways.Result{Currency: "VND", GatewayRef: "AT7Q2X9", GatewayTxnID: "14422574",
			Amount: decimal.NewFromInt(150000), Status: gateways.StatusFailed, Code: "02", Message: "QueryDR Success"}},
		{"not found yet", vnpay.APIResponse{ResponseCode: "91", Message: "Not found"},
			gateways.Result{Currency: "VND", GatewayRef: "AT7Q2X9", Status: gateways.StatusPending, Code: "91", Message: "Not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeAPI{resp: tt.resp}
			res, err := newAdapter(t, f.serve(t), time.Second).Query(context.Background(), queryRequest())
			if err != nil {
				t.Fatal(err)
			}
			gwtest.CheckResult(t, res, tt.want)
			sent := <-f.got
			if sent["vnp_TransactionDate"] != "20250302003000" || sent["vnp_RequestId"] != "Q1" || sent["vnp_IpAddr"] != "203.0.113.7" {
				t.Errorf("request = %v", sent)
			}
		})
	}
}

func TestQueryRefusesAnswer(t *testing.T) {
	t.Parallel()
	paid := vnpay.APIResponse{ResponseCode: "00", Amount: "15000000", TransactionStatus: "00", PayDate: "20250302003512"}
	tests := []struct {
		name string
		f    fakeAPI
		want error
	}{
		{"signed with another secret", fakeAPI{resp: paid, answerSecret: "other"}, gateways.ErrBadSignature},
		{"status changed after signing", fakeAPI{resp: paid, tamper: func(r *vnpay.APIResponse) {
			r.TransactionStatus = "02"
		}}, gateways.ErrBadSignature},
		{"unsigned error answer", fakeAPI{resp: vnpay.APIResponse{ResponseCode: "99"}, tamper: func(r *vnpay.APIResponse) {
			r.SecureHash = ""
		}}, gateways.ErrBadSignature},
		{"another reference", fakeAPI{resp: func() vnpay.APIResponse { r := paid; r.TxnRef = "OTHER"; return r }()},
			gateways.ErrMalformed},
		{"fractional amount", fakeAPI{resp: func() vnpay.APIResponse { r := paid; r.Amount = "15000001"; return r }()},
			gateways.ErrMalformed},
		{"bad checksum", fakeAPI{resp: vnpay.APIResponse{ResponseCode: "97", Message: "Invalid checksum"}}, gateways.ErrRejected},
		{"bad merchant", fakeAPI{resp: vnpay.APIResponse{ResponseCode: "02"}}, gateways.ErrRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newAdapter(t, tt.f.serve(t), time.Second).Query(context.Background(), queryRequest())
			if !errors.Is(err, tt.want) || gateways.IsTechnical(err) {
				t.Errorf("error = %v, want %v (not technical)", err, tt.want)
			}
		})
	}
}

func refundRequest(full bool, amount int64) gateways.RefundRequest {
	return gateways.RefundRequest{
		RefundRef: "RFD1", GatewayRef: "AT7Q2X9", GatewayTxnID: "14422574",
		Amount: decimal.NewFromInt(amount), OriginalAmount: decimal.NewFromInt(150000), Full: full,
		Reason: "Hoàn phí trùng", CreatedAt: created.Add(time.Hour), OriginalCreatedAt: created,
	}
}

func TestRefund(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		req      gateways.RefundRequest
		code     string
		wantType string
		want     gateways.Status
	}{
		{"full", refundRequest(true, 150000), "00", "02", gateways.StatusSucceeded},
		{"partial", refundRequest(false, 50000), "00", "03", gateways.StatusSucceeded},
		{"duplicate request", refundRequest(false, 50000), "94", "03", gateways.StatusPending},
		{"payment not successful", refundRequest(true, 150000), "95", "02", gateways.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeAPI{resp: vnpay.APIResponse{ResponseCode: tt.code, Message: "m", TransactionNo: "99001"}}
			res, err := newAdapter(t, f.serve(t), time.Second).Refund(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			want := gateways.RefundResult{Status: tt.want, GatewayRefundID: "99001", Code: tt.code, Message: "m"}
			if res != want {
				t.Errorf("result = %+v, want %+v", res, want)
			}
			sent := <-f.got
			wantAmount := vnpay.FormatAmount(tt.req.Amount.IntPart())
			if sent["vnp_TransactionType"] != tt.wantType || sent["vnp_Amount"] != wantAmount ||
				sent["vnp_RequestId"] != "RFD1" || sent["vnp_TransactionDate"] != "20250302003000" ||
				sent["vnp_OrderInfo"] != "Hoan phi trung" {
				t.Errorf("request = %v, want type %s amount %s", sent, tt.wantType, wantAmount)
			}
		})
	}
}

func TestRefundRefuses(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, "http://127.0.0.1:1", time.Second) // never called
	tests := []struct {
		name string
		req  gateways.RefundRequest
	}{
		{"more than paid", refundRequest(false, 150001)},
		{"full but partial amount", refundRequest(true, 1000)},
		{"fractional", func() gateways.RefundRequest {
			r := refundRequest(false, 0)
			r.Amount = decimal.RequireFromString("10.5")
			return r
		}()},
		{"no original date", func() gateways.RefundRequest {
			r := refundRequest(true, 150000)
			r.OriginalCreatedAt = time.Time{}
			return r
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := a.Refund(context.Background(), tt.req); !errors.Is(err, gateways.ErrInvalidRequest) {
				t.Errorf("error = %v, want ErrInvalidRequest", err)
			}
		})
	}
}

func TestAPIFailureModes(t *testing.T) {
	t.Parallel()
	gwtest.FailureModesOf(t, newAdapter, map[string]func(context.Context, *vnpay.Adapter) error{
		"querydr": func(ctx context.Context, a *vnpay.Adapter) error { _, err := a.Query(ctx, queryRequest()); return err },
		"refund": func(ctx context.Context, a *vnpay.Adapter) error {
			_, err := a.Refund(ctx, refundRequest(true, 150000))
			return err
		},
	})
}
