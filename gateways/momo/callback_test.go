package momo_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/internal/gwtest"
	"github.com/civicpay/civicpay/gateways/momo"
	"github.com/shopspring/decimal"
)

var paidAt = time.Date(2025, 3, 1, 17, 35, 12, 0, time.UTC)

// notification is a signed IPN as MoMo would send it.
func notification(change func(*momo.Notification)) momo.Notification {
	n := momo.Notification{
		PartnerCode: partnerCode, OrderID: "AT7Q2X9", RequestID: "AT7Q2X9", Amount: 150000,
		OrderInfo: "Lệ phí hộ chiếu", OrderType: "momo_wallet", TransID: 4088878653, ResultCode: 0,
		Message: "Successful.", PayType: "qr", ResponseTime: paidAt.UnixMilli(),
	}
	if change != nil {
		change(&n)
	}
	n.Signature = momo.Signature(secretKey, n.SignatureFields(accessKey)...)
	return n
}

func body(n momo.Notification) []byte {
	b, _ := json.Marshal(n)
	return b
}

// redirect is the same notification as a browser redirect's query string.
func redirect(n momo.Notification) url.Values {
	return url.Values{
		"partnerCode": {n.PartnerCode}, "orderId": {n.OrderID}, "requestId": {n.RequestID},
		"amount": {strconv.FormatInt(n.Amount, 10)}, "orderInfo": {n.OrderInfo}, "orderType": {n.OrderType},
		"transId": {strconv.FormatInt(n.TransID, 10)}, "resultCode": {strconv.Itoa(n.ResultCode)},
		"message": {n.Message}, "payType": {n.PayType}, "responseTime": {strconv.FormatInt(n.ResponseTime, 10)},
		"extraData": {n.ExtraData}, "signature": {n.Signature},
	}
}

func TestParseCallback(t *testing.T) {
	t.Parallel()
	declined := notification(func(n *momo.Notification) { n.ResultCode, n.Message = 1006, "Denied by user." })
	tests := []struct {
		name string
		req  gateways.CallbackRequest
		want gateways.Result
	}{
		{"ipn success", gateways.CallbackRequest{Method: "POST", Body: body(notification(nil))},
			gateways.Result{Currency: "VND", GatewayRef: "AT7Q2X9", GatewayTxnID: "4088878653", Amount: decimal.NewFromInt(150000),
				Status: gateways.StatusSucceeded, Code: "0", Message: "Successful.", PaidAt: paidAt}},
		{"ipn declined by user", gateways.CallbackRequest{Method: "POST", Body: body(declined)},
			gateways.Result{Currency: "VND", GatewayRef: "AT7Q2X9", GatewayTxnID: "4088878653", Amount: decimal.NewFromInt(150000),
				Status: gateways.StatusFailed, Code: "1006", Message: "Denied by user."}},
		{"ipn awaiting confirmation", gateways.CallbackRequest{Method: "POST", Body: body(notification(func(n *momo.Notification) {
			n.ResultCode, n.TransID = 8000, 0
		}))}, gateways.Result{Currency: "VND", GatewayRef: "AT7Q2X9", Amount: decimal.NewFromInt(150000), Status: gateways.StatusPending, Code: "8000", Message: "Successful."}},
		{"redirect success", gateways.CallbackRequest{Method: "GET", Query: redirect(notification(nil))},
			gateways.Result{Currency: "VND", GatewayRef: "AT7Q2X9", GatewayTxnID: "4088878653", Amount: decimal.NewFromInt(150000),
				Status: gateways.StatusSucceeded, Code: "0", Message: "Successful.", PaidAt: paidAt}},
	}
	a := newAdapter(t, "https://test-payment.momo.vn", 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := a.ParseCallback(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			gwtest.CheckResult(t, res, tt.want)
		})
	}
}

func TestParseCallbackRejects(t *testing.T) {
	t.Parallel()
	tamper := func(change func(*momo.Notification)) []byte {
		n := notification(nil)
		change(&n)
		return body(n)
	}
	badQuery := redirect(notification(nil))
	badQuery.Set("amount", "15k")
	tests := []struct {
		name string
		req  gateways.CallbackRequest
		want error
	}{
		{"amount tampered", gateways.CallbackRequest{Body: tamper(func(n *momo.Notification) { n.Amount = 1 })}, gateways.ErrBadSignature},
		{"result tampered", gateways.CallbackRequest{Body: tamper(func(n *momo.Notification) { n.ResultCode = 0; n.Message = "x" })}, gateways.ErrBadSignature},
		{"order tampered", gateways.CallbackRequest{Body: tamper(func(n *momo.Notification) { n.OrderID = "OTHER" })}, gateways.ErrBadSignature},
		{"no signature", gateways.CallbackRequest{Body: tamper(func(n *momo.Notification) { n.Signature = "" })}, gateways.ErrBadSignature},
		{"signed with another key", gateways.CallbackRequest{Body: tamper(func(n *momo.Notification) {
			n.Signature = momo.Signature("other", n.SignatureFields(accessKey)...)
		})}, gateways.ErrBadSignature},
		{"other partner", gateways.CallbackRequest{Body: body(notification(func(n *momo.Notification) { n.PartnerCode = "OTHER" }))}, gateways.ErrMalformed},
		{"zero amount", gateways.CallbackRequest{Body: body(notification(func(n *momo.Notification) { n.Amount = 0 }))}, gateways.ErrMalformed},
		{"amount as string", gateways.CallbackRequest{Body: []byte(`{"amount":"150000"}`)}, gateways.ErrMalformed},
		{"trailing data", gateways.CallbackRequest{Body: append(body(notification(nil)), "{}"...)}, gateways.ErrMalformed},
		{"not json", gateways.CallbackRequest{Body: []byte("orderId=AT7Q2X9")}, gateways.ErrMalformed},
		{"redirect bad amount", gateways.CallbackRequest{Query: badQuery}, gateways.ErrMalformed},
		{"nothing", gateways.CallbackRequest{}, gateways.ErrMalformed},
	}
	a := newAdapter(t, "https://test-payment.momo.vn", 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := a.ParseCallback(tt.req); !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReply(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, "https://test-payment.momo.vn", 0)
	tests := map[gateways.Ack]int{
		gateways.AckOK: http.StatusNoContent, gateways.AckAlreadyConfirmed: http.StatusNoContent,
		gateways.AckAmountMismatch: http.StatusNoContent, gateways.AckBadSignature: http.StatusBadRequest,
		gateways.AckNotFound: http.StatusNotFound, gateways.AckError: http.StatusInternalServerError,
		gateways.Ack(0): http.StatusInternalServerError,
	}
	for ack, want := range tests {
		if status, _, body := a.Reply(ack); status != want || len(body) != 0 {
			t.Errorf("Reply(%v) = %d %q, want %d and no body", ack, status, body, want)
		}
	}
}
