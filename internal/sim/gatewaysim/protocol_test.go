package gatewaysim

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
	"github.com/civicpay/civicpay/gateways/momo"
	"github.com/civicpay/civicpay/gateways/vnpay"
	"github.com/civicpay/civicpay/gateways/zalopay"
)

// post sends a raw body to the simulator and returns the status and answer.
func (e *env) post(path string, body []byte) (int, []byte) {
	e.t.Helper()
	resp := must(http.Post(e.srv.URL+path, "application/json", bytes.NewReader(body)))(e.t)
	defer resp.Body.Close()
	return resp.StatusCode, must(io.ReadAll(resp.Body))(e.t)
}

func jsonOf(t testing.TB, v any) []byte {
	t.Helper()
	return must(json.Marshal(v))(t)
}

// vnpayRequest is a merchant API request signed like the adapter signs.
func (e *env) vnpayRequest(change func(*vnpay.RefundBody), query bool) []byte {
	c := e.sim.cfg.VNPAY
	if query {
		b := vnpay.QueryBody{RequestID: "Q1", Version: vnpay.Version, Command: "querydr", TmnCode: c.TmnCode,
			TxnRef: "ATNONE", OrderInfo: "Truy van", TransactionDate: "20261123100000", CreateDate: "20261123100500",
			IPAddr: "127.0.0.1"}
		b.SecureHash = vnpay.PipeHash(c.HashSecret, b.HashParts()...)
		return jsonOf(e.t, b)
	}
	b := vnpay.RefundBody{RequestID: "R1", Version: vnpay.Version, Command: "refund", TmnCode: c.TmnCode,
		TransactionType: "03", TxnRef: "ATNONE", Amount: "1000000", OrderInfo: "Hoan tien",
		TransactionDate: "20261123100000", CreateBy: "civicpay", CreateDate: "20261123100500", IPAddr: "127.0.0.1"}
	change(&b)
	b.SecureHash = vnpay.PipeHash(c.HashSecret, b.HashParts()...)
	return jsonOf(e.t, b)
}

// TestVNPAYMerchantAPIErrors: every answer is signed, error codes included.
func TestVNPAYMerchantAPIErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pending := e.create(VNPAY, 10_000)
	get(t, pending.res.RedirectURL)
	date := vnpay.FormatTime(pending.req.CreatedAt)
	refund := func(change func(*vnpay.RefundBody)) func(*env) []byte {
		return func(e *env) []byte { return e.vnpayRequest(change, false) }
	}
	tests := []struct {
		name string
		body func(*env) []byte
		code string
	}{
		{"not JSON", func(*env) []byte { return []byte("{") }, vnpFormat},
		{"numbers instead of strings", func(*env) []byte { return []byte(`{"vnp_Command":"querydr","vnp_Amount":1}`) }, vnpFormat},
		{"unknown command", func(*env) []byte { return []byte(`{"vnp_Command":"pay"}`) }, vnpFormat},
		{"querydr of an unknown reference", func(e *env) []byte { return e.vnpayRequest(nil, true) }, vnpNotFound},
		{"bad checksum", func(e *env) []byte {
			return bytes.Replace(e.vnpayRequest(nil, true), []byte(`"Q1"`), []byte(`"Q2"`), 1)
		}, vnpChecksum},
		{"another terminal", refund(func(b *vnpay.RefundBody) { b.TmnCode = "OTHERTMN" }), vnpMerchant},
		{"missing field", refund(func(b *vnpay.RefundBody) { b.CreateBy = "" }), vnpFormat},
		{"transaction type 05", refund(func(b *vnpay.RefundBody) { b.TransactionType = "05" }), vnpFormat},
		{"fractional amount", refund(func(b *vnpay.RefundBody) { b.Amount = "1000050" }), vnpFormat},
		{"refund of an unknown payment", refund(func(*vnpay.RefundBody) {}), vnpNotFound},
		{"refund with the wrong transaction date", refund(func(b *vnpay.RefundBody) {
			b.TxnRef, b.TransactionDate = pending.res.GatewayRef, "20261122100000"
		}), vnpNotFound},
		{"refund of a pending payment", refund(func(b *vnpay.RefundBody) {
			b.TxnRef, b.TransactionDate = pending.res.GatewayRef, date
		}), vnpNotPaid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, body := e.post("/vnpay"+vnpay.APIPath, tt.body(e))
			var resp vnpay.APIResponse
			if err := json.Unmarshal(body, &resp); err != nil || status != http.StatusOK {
				t.Fatalf("answer %d %s: %v", status, body, err)
			}
			if resp.ResponseCode != tt.code {
				t.Errorf("code %s (%s), want %s", resp.ResponseCode, resp.Message, tt.code)
			}
			if resp.SecureHash != vnpay.PipeHash(e.sim.cfg.VNPAY.HashSecret, resp.HashParts()...) {
				t.Errorf("answer %s is not signed", body)
			}
		})
	}
}

// TestAdapterRefusals: what the adapters make of the simulator's refusals.
func TestAdapterRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		run   func(e *env) (gateways.Status, error)
		want  gateways.Status
		isErr error
	}{
		{"vnpay query of an unknown reference is pending", func(e *env) (gateways.Status, error) {
			r, err := e.gw[VNPAY].Query(ctx, gateways.QueryRequest{GatewayRef: "ATNEVER", CreatedAt: e.clock.Now()})
			return r.Status, err
		}, gateways.StatusPending, nil},
		{"vnpay with another secret sees a bad signature", func(e *env) (gateways.Status, error) {
			a := must(vnpay.New(vnpay.Config{BaseURL: e.srv.URL + "/vnpay", TmnCode: DemoVNPAYTmnCode, HashSecret: "wrong"}, nil))(t)
			_, err := a.Query(ctx, gateways.QueryRequest{GatewayRef: "ATNEVER", CreatedAt: e.clock.Now()})
			return "", err
		}, "", gateways.ErrBadSignature},
		{"momo create twice", func(e *env) (gateways.Status, error) {
			a := e.create(MoMo, 10_000)
			_, err := e.gw[MoMo].Create(ctx, a.req)
			return "", err
		}, "", gateways.ErrRejected},
		{"momo with another secret", func(e *env) (gateways.Status, error) {
			a := must(momo.New(momo.Config{BaseURL: e.srv.URL + "/momo", PartnerCode: DemoMoMoPartnerCode,
				AccessKey: DemoMoMoAccessKey, SecretKey: "wrong"}, nil))(t)
			_, err := a.Query(ctx, gateways.QueryRequest{GatewayRef: "ATNEVER"})
			return "", err
		}, "", gateways.ErrRejected},
		{"momo query of an unknown order", func(e *env) (gateways.Status, error) {
			r, err := e.gw[MoMo].Query(ctx, gateways.QueryRequest{GatewayRef: "ATNEVER"})
			return r.Status, err
		}, gateways.StatusFailed, nil},
		{"momo query answer signed with another key", func(e *env) (gateways.Status, error) {
			if err := e.sim.SetFaults(MoMo, Faults{AnswerBadSignatureRate: 1}); err != nil {
				t.Fatal(err)
			}
			r, err := e.gw[MoMo].Query(ctx, gateways.QueryRequest{GatewayRef: "ATNEVER"})
			return r.Status, err
		}, "", gateways.ErrBadSignature},
		{"momo refund of an unknown transaction", func(e *env) (gateways.Status, error) {
			a := e.create(MoMo, 10_000)
			r, err := e.gw[MoMo].Refund(ctx, refundReq(a, "123456", "RFDX", 1_000, e.clock.Now()))
			return r.Status, err
		}, gateways.StatusFailed, nil},
		{"zalopay create twice", func(e *env) (gateways.Status, error) {
			a := e.create(ZaloPay, 10_000)
			_, err := e.gw[ZaloPay].Create(ctx, a.req)
			return "", err
		}, "", gateways.ErrRejected},
		{"zalopay with another key1", func(e *env) (gateways.Status, error) {
			a := must(zalopay.New(zalopay.Config{BaseURL: e.srv.URL + "/zalopay", AppID: DemoZaloPayAppID,
				Key1: "wrong", Key2: DemoZaloPayKey2}, nil))(t)
			n := e.create(ZaloPay, 10_000)
			n.req.AttemptRef += "B"
			_, err := a.Create(ctx, n.req)
			return "", err
		}, "", gateways.ErrRejected},
		{"zalopay refund of an unknown transaction", func(e *env) (gateways.Status, error) {
			a := e.create(ZaloPay, 10_000)
			r, err := e.gw[ZaloPay].Refund(ctx, refundReq(a, "123456", "RFDX", 1_000, e.clock.Now()))
			return r.Status, err
		}, gateways.StatusFailed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.run(newEnv(t))
			if tt.isErr != nil {
				if !errors.Is(err, tt.isErr) || gateways.IsTechnical(err) {
					t.Errorf("error %v, want %v (not technical)", err, tt.isErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("status %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// TestRawRequestRefusals: signed requests that break a gateway's rules.
func TestRawRequestRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	momoCreate := func(amount int64) []byte {
		b := momo.CreateBody{PartnerCode: DemoMoMoPartnerCode, RequestID: "ATRAW1", Amount: amount, OrderID: "ATRAW1",
			OrderInfo: "x", RedirectURL: "https://x.vn/r", IPNURL: "https://x.vn/i", RequestType: "captureWallet", Lang: "vi"}
		b.Signature = momo.Signature(DemoMoMoSecretKey, b.SignatureFields(DemoMoMoAccessKey)...)
		return jsonOf(t, b)
	}
	zaloCreate := func(appTransID string) []byte {
		o := zalopay.CreateOrder{AppID: DemoZaloPayAppID, AppUser: "u", AppTransID: appTransID,
			AppTime: e.clock.Now().UnixMilli(), Amount: 10_000, Item: "[]", EmbedData: "{}", Description: "x", BankCode: "zalopayapp"}
		o.MAC = zalopay.MAC(DemoZaloPayKey1, o.MACData())
		return jsonOf(t, o)
	}
	tests := []struct {
		name, path string
		body       []byte
		status     int
		field      string
		want       float64
	}{
		{"momo amount below the minimum", "/momo" + momo.CreatePath, momoCreate(500), 200, "resultCode", momoBadAmount},
		{"momo amount above the maximum", "/momo" + momo.CreatePath, momoCreate(50_000_001), 200, "resultCode", momoBadAmount},
		{"momo not JSON", "/momo" + momo.QueryPath, []byte("nope"), 400, "resultCode", momoBadRequest},
		{"momo unsigned refund", "/momo" + momo.RefundPath, []byte(`{"orderId":"R1","requestId":"R1","transId":5,"amount":1000}`),
			200, "resultCode", momoAuth},
		{"zalopay date not the app_time's", "/zalopay" + zalopay.CreatePath, zaloCreate("261122_ATRAW"), 200, "sub_return_code", zpSubInvalid},
		{"zalopay app_trans_id without date", "/zalopay" + zalopay.CreatePath, zaloCreate("ATRAW"), 200, "sub_return_code", zpSubInvalid},
		{"zalopay unsigned query", "/zalopay" + zalopay.QueryPath, []byte(`{"app_id":2554,"app_trans_id":"x","mac":"00"}`),
			200, "sub_return_code", zpSubMAC},
		{"zalopay not JSON", "/zalopay" + zalopay.RefundPath, []byte("[1,2"), 400, "return_code", zpFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, body := e.post(tt.path, tt.body)
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil || status != tt.status || m[tt.field] != tt.want {
				t.Errorf("answer %d %s, want %d with %s %v", status, body, tt.status, tt.field, tt.want)
			}
		})
	}
}

// TestConcurrentPay: of many concurrent attempts to complete one payment,
// exactly one wins.
func TestConcurrentPay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.create(MoMo, 10_000)
	const n = 30
	errs := make(chan error, n)
	for i := range n {
		go func() {
			outcome := PaySuccess
			if i%2 == 1 {
				outcome = PayDecline
			}
			_, err := e.admin.Pay(context.Background(), PayRequest{Gateway: MoMo, Ref: a.res.GatewayRef, Outcome: outcome})
			errs <- err
		}()
	}
	var won int
	for range n {
		if err := <-errs; err == nil {
			won++
		} else if !errors.Is(err, ErrConflict) {
			t.Errorf("pay: %v, want success or ErrConflict", err)
		}
	}
	e.waitCallbacks()
	if won != 1 || len(e.recv.callbacks(MoMo)) != 1 {
		t.Errorf("%d payments won, %d callbacks; want one of each", won, len(e.recv.callbacks(MoMo)))
	}
}

// TestCallbackTimeout: a merchant that never answers costs each attempt its
// own timeout, then the callback is given up; Close does not wait for more.
func TestCallbackTimeout(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	slow := newReceiver(t)
	slow.srv.Config.Handler = http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-hang:
		}
	})
	defer close(hang)
	e := newEnv(t, func(c *Config) {
		c.Callbacks.Timeout, c.Callbacks.Attempts = 50*time.Millisecond, 2
		c.ZaloPay.CallbackURL = slow.srv.URL + "/cb"
	})
	o := zalopay.CreateOrder{AppID: DemoZaloPayAppID, AppUser: "u", AppTime: e.clock.Now().UnixMilli(), Amount: 10_000,
		Item: "[]", EmbedData: "{}", Description: "x", BankCode: "zalopayapp"}
	o.AppTransID = zalopay.AppTransID(e.clock.Now(), "ATSLOW")
	o.MAC = zalopay.MAC(DemoZaloPayKey1, o.MACData())
	if status, body := e.post("/zalopay"+zalopay.CreatePath, jsonOf(t, o)); status != 200 || !bytes.Contains(body, []byte(`"return_code":1`)) {
		t.Fatalf("create: %d %s", status, body)
	}
	must(e.sim.Pay(PayRequest{Gateway: ZaloPay, Ref: o.AppTransID, Outcome: PaySuccess}))(t)
	e.waitCallbacks()
	log := e.sim.CallbackLog(ZaloPay, o.AppTransID)
	if len(log) != 2 || log[0].Outcome != CallbackRetry || log[1].Outcome != CallbackGaveUp || log[1].Error == "" {
		t.Errorf("log = %+v, want two timed-out attempts", log)
	}
}

// TestStateFile: with a data dir the state survives a restart.
func TestStateFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newEnv(t, func(c *Config) { c.DataDir = dir })
	ps := e.payMany(MoMo, 10_000)
	must(e.admin.Transfer(context.Background(), TransferRequest{Reference: "RF18539007547034", Amount: 5_000}))(t)
	_, info := must2(e.sim.Settlement(MoMo, day0, 0))(t)
	if err := e.sim.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := DemoConfig("")
	// A clock an hour behind: only the saved counter keeps numbers unique.
	cfg.DataDir, cfg.Now = dir, func() time.Time { return day0.Add(-time.Hour) }
	again := must(New(cfg))(t)
	defer again.Close()
	got := must(again.Transaction(MoMo, ps[0].res.GatewayRef))(t)
	if got.Status != StatusSucceeded || got.GatewayTxnID != ps[0].txnID {
		t.Errorf("after restart: %+v", got)
	}
	if files := again.Settlements(); len(files) != 1 || files[0].FileID != info.FileID {
		t.Errorf("files after restart: %+v", files)
	}
	if tr := again.Transfers(); len(tr) != 1 || tr[0].Amount != 5_000 {
		t.Errorf("transfers after restart: %+v", tr)
	}
	// New numbers do not reuse old ones.
	if n := again.st.number(); parseNumber(n) <= parseNumber(ps[0].txnID) {
		t.Errorf("next number %s not after %s", n, ps[0].txnID)
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New accepted an empty config")
	}
}
