package vnpay_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/internal/gwtest"
	"github.com/civicpay/civicpay/gateways/vnpay"
	"github.com/shopspring/decimal"
)

const (
	tmn    = "CIVICPAY"
	secret = "S3CRETS3CRETS3CRETS3CRETS3CRET00"
)

func newAdapter(t testing.TB, baseURL string, timeout time.Duration) *vnpay.Adapter {
	t.Helper()
	a, err := vnpay.New(vnpay.Config{BaseURL: baseURL, TmnCode: tmn, HashSecret: secret, Timeout: timeout}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var created = time.Date(2025, 3, 1, 17, 30, 0, 0, time.UTC) // 2025-03-02 00:30 GMT+7

func createRequest() gateways.CreateRequest {
	return gateways.CreateRequest{
		AttemptRef: "AT7Q2X9", PaymentRef: "RF18539007547034",
		Amount: decimal.NewFromInt(150000), Currency: "VND",
		Description: "Lệ phí cấp hộ chiếu (phổ thông) ~ RF18539007547034",
		Method:      gateways.MethodQR, ReturnURL: "https://pay.example.gov.vn/return?a=1&b=2",
		CallbackURL: "https://pay.example.gov.vn/ipn/vnpay", ClientIP: "203.0.113.7", Locale: "vi",
		CreatedAt: created, ExpiresAt: created.Add(20 * time.Minute),
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, "https://sandbox.vnpayment.vn/", 0)
	res, err := a.Create(context.Background(), createRequest())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(res.RedirectURL)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != "https://sandbox.vnpayment.vn"+vnpay.PayPath {
		t.Errorf("pay URL = %s", got)
	}
	q := u.Query()
	if !vnpay.Verify(q, secret) {
		t.Error("payment URL does not verify")
	}
	want := map[string]string{
		"vnp_Version": "2.1.0", "vnp_Command": "pay", "vnp_TmnCode": tmn,
		"vnp_Amount": "15000000", "vnp_CurrCode": "VND", "vnp_TxnRef": "AT7Q2X9",
		"vnp_OrderInfo": "Le phi cap ho chieu pho thong RF18539007547034",
		"vnp_OrderType": "other", "vnp_ReturnUrl": "https://pay.example.gov.vn/return?a=1&b=2",
		"vnp_IpAddr": "203.0.113.7", "vnp_CreateDate": "20250302003000",
		"vnp_ExpireDate": "20250302005000", "vnp_Locale": "vn", "vnp_BankCode": "VNPAYQR",
		"vnp_SecureHashType": "",
	}
	for k, v := range want {
		if got := q.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if res.GatewayRef != "AT7Q2X9" || res.QRPayload != "" {
		t.Errorf("result = %+v", res)
	}
}

func TestCreateRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*gateways.CreateRequest)
	}{
		{"fractional VND", func(r *gateways.CreateRequest) { r.Amount = decimal.RequireFromString("150000.5") }},
		{"zero amount", func(r *gateways.CreateRequest) { r.Amount = decimal.Zero }},
		{"negative amount", func(r *gateways.CreateRequest) { r.Amount = decimal.NewFromInt(-1) }},
		{"not VND", func(r *gateways.CreateRequest) { r.Currency = "USD" }},
		{"bad reference", func(r *gateways.CreateRequest) { r.AttemptRef = "AT-1" }},
		{"long reference", func(r *gateways.CreateRequest) { r.AttemptRef = strings.Repeat("A", 33) }},
		{"method not offered", func(r *gateways.CreateRequest) { r.Method = gateways.MethodEwallet }},
		{"no creation time", func(r *gateways.CreateRequest) { r.CreatedAt = time.Time{} }},
		{"expires before creation", func(r *gateways.CreateRequest) { r.ExpiresAt = r.CreatedAt }},
	}
	a := newAdapter(t, "https://sandbox.vnpayment.vn", 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := createRequest()
			tt.change(&r)
			if _, err := a.Create(context.Background(), r); !errors.Is(err, gateways.ErrInvalidRequest) {
				t.Errorf("Create error = %v, want ErrInvalidRequest", err)
			}
		})
	}
}

// ipn is a signed IPN as VNPAY would send it for our terminal.
func ipn(change func(url.Values)) url.Values {
	v := url.Values{
		"vnp_Amount": {"15000000"}, "vnp_BankCode": {"NCB"}, "vnp_BankTranNo": {"VNP14422574"},
		"vnp_CardType": {"ATM"}, "vnp_OrderInfo": {"Le phi RF18539007547034"},
		"vnp_PayDate": {"20250302003512"}, "vnp_ResponseCode": {"00"}, "vnp_TmnCode": {tmn},
		"vnp_TransactionNo": {"14422574"}, "vnp_TransactionStatus": {"00"}, "vnp_TxnRef": {"AT7Q2X9"},
	}
	if change != nil {
		change(v)
	}
	v.Set("vnp_SecureHash", vnpay.Sign(v, secret))
	return v
}

func TestParseCallback(t *testing.T) {
	t.Parallel()
	paid := time.Date(2025, 3, 1, 17, 35, 12, 0, time.UTC)
	tests := []struct {
		name   string
		change func(url.Values)
		status gateways.Status
		paidAt time.Time
	}{
		{"success", nil, gateways.StatusSucceeded, paid},
		{"cancelled by customer", func(v url.Values) {
			v.Set("vnp_ResponseCode", "24")
			v.Set("vnp_TransactionStatus", "02")
		}, gateways.StatusFailed, time.Time{}},
		{"insufficient funds", func(v url.Values) {
			v.Set("vnp_ResponseCode", "51")
			v.Set("vnp_TransactionStatus", "02")
		}, gateways.StatusFailed, time.Time{}},
		{"response ok but status not completed", func(v url.Values) { v.Set("vnp_TransactionStatus", "01") },
			gateways.StatusPending, time.Time{}},
		{"suspected fraud", func(v url.Values) {
			v.Set("vnp_ResponseCode", "07")
			v.Set("vnp_TransactionStatus", "07")
		}, gateways.StatusPending, time.Time{}},
	}
	a := newAdapter(t, "https://sandbox.vnpayment.vn", 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := ipn(tt.change)
			res, err := a.ParseCallback(gateways.CallbackRequest{Method: "GET", Query: q})
			if err != nil {
				t.Fatal(err)
			}
			want := gateways.Result{
				GatewayRef: "AT7Q2X9", GatewayTxnID: "14422574", Amount: decimal.NewFromInt(150000), Currency: "VND",
				Status: tt.status, Code: q.Get("vnp_ResponseCode"),
				Message: vnpay.ResponseText(q.Get("vnp_ResponseCode")), PaidAt: tt.paidAt,
			}
			gwtest.CheckResult(t, res, want)
		})
	}
}

func TestParseCallbackRejects(t *testing.T) {
	t.Parallel()
	tampered := func(k, v string) url.Values {
		q := ipn(nil)
		q.Set(k, v)
		return q
	}
	repeated := ipn(nil)
	repeated.Add("vnp_Amount", "15000000")
	tests := []struct {
		name  string
		query url.Values
		want  error
	}{
		{"amount tampered", tampered("vnp_Amount", "1500000000"), gateways.ErrBadSignature},
		{"status tampered", tampered("vnp_ResponseCode", "24"), gateways.ErrBadSignature},
		{"reference tampered", tampered("vnp_TxnRef", "OTHER1"), gateways.ErrBadSignature},
		{"signed with another secret", func() url.Values {
			q := ipn(nil)
			q.Set("vnp_SecureHash", vnpay.Sign(q, "other"))
			return q
		}(), gateways.ErrBadSignature},
		{"no hash", tampered("vnp_SecureHash", ""), gateways.ErrBadSignature},
		{"empty query", url.Values{}, gateways.ErrBadSignature},
		{"field repeated", repeated, gateways.ErrMalformed},
		{"fractional VND", ipn(func(v url.Values) { v.Set("vnp_Amount", "15000050") }), gateways.ErrMalformed},
		{"other terminal", ipn(func(v url.Values) { v.Set("vnp_TmnCode", "OTHER") }), gateways.ErrMalformed},
		{"no reference", ipn(func(v url.Values) { v.Del("vnp_TxnRef") }), gateways.ErrMalformed},
		{"bad pay date", ipn(func(v url.Values) { v.Set("vnp_PayDate", "yesterday") }), gateways.ErrMalformed},
	}
	a := newAdapter(t, "https://sandbox.vnpayment.vn", 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := a.ParseCallback(gateways.CallbackRequest{Method: "GET", Query: tt.query})
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReply(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, "https://sandbox.vnpayment.vn", 0)
	tests := []struct {
		ack  gateways.Ack
		code string
	}{
		{gateways.AckOK, "00"}, {gateways.AckBadSignature, "97"}, {gateways.AckNotFound, "01"},
		{gateways.AckAmountMismatch, "04"}, {gateways.AckAlreadyConfirmed, "02"},
		{gateways.AckError, "99"}, {gateways.Ack(0), "99"},
	}
	for _, tt := range tests {
		status, ct, body := a.Reply(tt.ack)
		var got struct{ RspCode, Message string }
		if err := json.Unmarshal(body, &got); err != nil || status != 200 || ct != "application/json" {
			t.Fatalf("Reply(%v) = %d %s %s (%v)", tt.ack, status, ct, body, err)
		}
		if got.RspCode != tt.code || got.Message == "" {
			t.Errorf("Reply(%v) = %+v, want RspCode %s with a message", tt.ack, got, tt.code)
		}
	}
}
