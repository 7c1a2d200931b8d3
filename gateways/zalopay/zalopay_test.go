package zalopay_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/internal/gwtest"
	"github.com/civicpay/civicpay/gateways/zalopay"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/shopspring/decimal"
)

const (
	appID = 553
	key1  = "9phuAOYhan4urywHTh0ndEXiV3pKHr5Q" // the published vector's key1
	key2  = "Iyz2habzyr7AG8SgvoBCbKwKi3UzlLi3"
)

func TestMACPublishedVector(t *testing.T) {
	t.Parallel()
	o := zalopay.CreateOrder{AppID: 553, AppTransID: "200904_000234", AppUser: "user123", Amount: 10000,
		AppTime: 1599202366026, EmbedData: "{}", Item: "[]"}
	if got := o.MACData(); got != "553|200904_000234|user123|10000|1599202366026|{}|[]" {
		t.Fatalf("MACData = %s", got)
	}
	const want = "7e95836a9feace32458f23416feea423172ef0a098f27a668a1e10788b5a6838"
	if got := zalopay.MAC(key1, o.MACData()); got != want {
		t.Fatalf("MAC = %s, want %s", got, want)
	}
	if !zalopay.VerifyMAC(key1, o.MACData(), strings.ToUpper(want)) || zalopay.VerifyMAC(key2, o.MACData(), want) {
		t.Error("VerifyMAC must accept the vector in any case and refuse it under key2")
	}
}

func TestIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2025, 3, 1, 16, 59, 59, 0, time.UTC), "250301_AT7Q2X9"},
		{time.Date(2025, 3, 1, 17, 0, 0, 0, time.UTC), "250302_AT7Q2X9"}, // midnight GMT+7
		{time.Date(2025, 3, 2, 0, 30, 0, 0, bizday.Zone), "250302_AT7Q2X9"},
	}
	for _, tt := range tests {
		if got := zalopay.AppTransID(tt.at, "AT7Q2X9"); got != tt.want {
			t.Errorf("AppTransID(%v) = %s, want %s", tt.at, got, tt.want)
		}
	}
	if got := zalopay.RefundID(tests[1].at, appID, "RFD1"); got != "250302_553_RFD1" {
		t.Errorf("RefundID = %s", got)
	}
}

func newAdapter(t testing.TB, baseURL string, timeout time.Duration) *zalopay.Adapter {
	t.Helper()
	a, err := zalopay.New(zalopay.Config{BaseURL: baseURL, AppID: appID, Key1: key1, Key2: key2, Timeout: timeout}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var created = time.Date(2025, 3, 1, 17, 30, 0, 0, time.UTC) // 2025-03-02 00:30 GMT+7

func createRequest() gateways.CreateRequest {
	return gateways.CreateRequest{
		AttemptRef: "AT7Q2X9", PaymentRef: "RF18539007547034", Amount: decimal.NewFromInt(150000),
		Currency: "VND", Method: gateways.MethodEwallet, ReturnURL: "https://pay.example.gov.vn/return?a=1&b=2",
		CallbackURL: "https://pay.example.gov.vn/cb/zalopay", CreatedAt: created, ExpiresAt: created.Add(15 * time.Minute),
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	sent := make(chan zalopay.CreateOrder, 1)
	base := gwtest.JSONServer(t, zalopay.CreatePath, func(o zalopay.CreateOrder) any {
		sent <- o
		if !zalopay.VerifyMAC(key1, o.MACData(), o.MAC) {
			t.Errorf("create mac does not verify with key1: %+v", o)
		}
		return zalopay.CreateResponse{ReturnCode: 1, OrderURL: "https://qcgateway.zalopay.vn/openinapp?order=x", QRCode: "0002010102122663"}
	})
	res, err := newAdapter(t, base, time.Second).Create(context.Background(), createRequest())
	if err != nil {
		t.Fatal(err)
	}
	want := gateways.CreateResult{GatewayRef: "250302_AT7Q2X9", RedirectURL: "https://qcgateway.zalopay.vn/openinapp?order=x", QRPayload: "0002010102122663"}
	if res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	o := <-sent
	want2 := zalopay.CreateOrder{AppID: appID, AppUser: "civicpay", AppTransID: "250302_AT7Q2X9",
		AppTime: created.UnixMilli(), Amount: 150000, Item: "[]",
		EmbedData:   `{"redirecturl":"https://pay.example.gov.vn/return?a=1&b=2"}`,
		Description: "Thanh toan RF18539007547034", BankCode: "zalopayapp",
		CallbackURL: "https://pay.example.gov.vn/cb/zalopay", ExpireDurationSeconds: 900, MAC: o.MAC}
	if o != want2 {
		t.Errorf("request = %+v\nwant %+v", o, want2)
	}
}

func TestCreateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*gateways.CreateRequest)
		answer zalopay.CreateResponse
		want   error
	}{
		{"expiry too short", func(r *gateways.CreateRequest) { r.ExpiresAt = r.CreatedAt.Add(time.Minute) }, zalopay.CreateResponse{}, gateways.ErrInvalidRequest},
		{"fractional", func(r *gateways.CreateRequest) { r.Amount = decimal.RequireFromString("0.5") }, zalopay.CreateResponse{}, gateways.ErrInvalidRequest},
		{"reference too long for app_trans_id", func(r *gateways.CreateRequest) { r.AttemptRef = strings.Repeat("A", 34) }, zalopay.CreateResponse{}, gateways.ErrInvalidRequest},
		{"no callback URL", func(r *gateways.CreateRequest) { r.CallbackURL = "" }, zalopay.CreateResponse{}, gateways.ErrInvalidRequest},
		{"failed", nil, zalopay.CreateResponse{ReturnCode: 2, SubReturnCode: -68, ReturnMessage: "duplicate"}, gateways.ErrRejected},
		{"ok without order_url", nil, zalopay.CreateResponse{ReturnCode: 1}, gateways.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := gwtest.JSONServer(t, zalopay.CreatePath, func(zalopay.CreateOrder) any { return tt.answer })
			r := createRequest()
			if tt.change != nil {
				tt.change(&r)
			}
			_, err := newAdapter(t, base, time.Second).Create(context.Background(), r)
			if !errors.Is(err, tt.want) || gateways.IsTechnical(err) {
				t.Errorf("error = %v, want %v (not technical)", err, tt.want)
			}
		})
	}
}

var paidAt = time.Date(2025, 3, 1, 17, 35, 12, 0, time.UTC)

// callback is a callback body as ZaloPay would send it, signed with key.
func callback(key string, change func(*zalopay.CallbackData)) []byte {
	d := zalopay.CallbackData{AppID: appID, AppTransID: "250302_AT7Q2X9", AppTime: created.UnixMilli(),
		AppUser: "civicpay", Amount: 150000, EmbedData: "{}", Item: "[]", ZPTransID: 250302000012345,
		ServerTime: paidAt.UnixMilli(), Channel: 38}
	if change != nil {
		change(&d)
	}
	data, _ := json.Marshal(d)
	b, _ := json.Marshal(zalopay.Callback{Data: string(data), MAC: zalopay.MAC(key, string(data)), Type: 1})
	return b
}

func TestParseCallback(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, "https://sb-openapi.zalopay.vn", 0)
	res, err := a.ParseCallback(gateways.CallbackRequest{Method: "POST", Body: callback(key2, nil)})
	if err != nil {
		t.Fatal(err)
	}
	gwtest.CheckResult(t, res, gateways.Result{Currency: "VND", GatewayRef: "250302_AT7Q2X9", GatewayTxnID: "250302000012345",
		Amount: decimal.NewFromInt(150000), Status: gateways.StatusSucceeded, Code: "1", Message: "paid", PaidAt: paidAt})
}

func TestParseCallbackRejects(t *testing.T) {
	t.Parallel()
	var cb zalopay.Callback
	_ = json.Unmarshal(callback(key2, nil), &cb)
	resend := func(change func(*zalopay.Callback)) []byte {
		c := cb
		change(&c)
		b, _ := json.Marshal(c)
		return b
	}
	tests := []struct {
		name string
		body []byte
		want error
	}{
		{"signed with key1", callback(key1, nil), gateways.ErrBadSignature},
		{"amount tampered", resend(func(c *zalopay.Callback) {
			c.Data = strings.Replace(c.Data, `"amount":150000`, `"amount":1500000`, 1)
		}), gateways.ErrBadSignature},
		{"data re-encoded with a space", resend(func(c *zalopay.Callback) {
			c.Data = strings.Replace(c.Data, `,"amount"`, `, "amount"`, 1)
		}), gateways.ErrBadSignature},
		{"no mac", resend(func(c *zalopay.Callback) { c.MAC = "" }), gateways.ErrBadSignature},
		{"other app", callback(key2, func(d *zalopay.CallbackData) { d.AppID = 554 }), gateways.ErrMalformed},
		{"zero amount", callback(key2, func(d *zalopay.CallbackData) { d.Amount = 0 }), gateways.ErrMalformed},
		{"no zp_trans_id", callback(key2, func(d *zalopay.CallbackData) { d.ZPTransID = 0 }), gateways.ErrMalformed},
		{"agreement callback", resend(func(c *zalopay.Callback) { c.Type = 2 }), gateways.ErrMalformed},
		{"data not json", func() []byte {
			b, _ := json.Marshal(zalopay.Callback{Data: "x", MAC: zalopay.MAC(key2, "x")})
			return b
		}(), gateways.ErrMalformed},
		{"body not json", []byte("data=x&mac=y"), gateways.ErrMalformed},
	}
	a := newAdapter(t, "https://sb-openapi.zalopay.vn", 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := a.ParseCallback(gateways.CallbackRequest{Method: "POST", Body: tt.body}); !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReply(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, "https://sb-openapi.zalopay.vn", 0)
	tests := map[gateways.Ack]int{
		gateways.AckOK: 1, gateways.AckAlreadyConfirmed: 1, gateways.AckBadSignature: -1,
		gateways.AckNotFound: -1, gateways.AckAmountMismatch: -1, gateways.AckError: 0, gateways.Ack(0): 0,
	}
	for ack, want := range tests {
		status, ct, body := a.Reply(ack)
		var rep zalopay.CallbackReply
		if err := json.Unmarshal(body, &rep); err != nil || status != 200 || ct != "application/json" {
			t.Fatalf("Reply(%v) = %d %s %s (%v)", ack, status, ct, body, err)
		}
		if rep.ReturnCode != want || rep.ReturnMessage == "" {
			t.Errorf("Reply(%v) = %+v, want return_code %d", ack, rep, want)
		}
	}
}
