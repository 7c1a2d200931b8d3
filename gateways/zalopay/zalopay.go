package zalopay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/internal/wire"
	"github.com/shopspring/decimal"
)

// Paths below Config.BaseURL.
const (
	CreatePath      = "/v2/create"
	QueryPath       = "/v2/query"
	RefundPath      = "/v2/refund"
	QueryRefundPath = "/v2/query_refund"
)

// ZaloPay's bounds on expire_duration_seconds.
const (
	minExpiry = 300
	maxExpiry = 2_592_000
)

// DefaultBankCodes offers the ZaloPay app for e-wallet payments.
var DefaultBankCodes = map[gateways.Method]string{gateways.MethodEwallet: "zalopayapp"}

// Config configures the adapter.
type Config struct {
	BaseURL string // e.g. https://sb-openapi.zalopay.vn
	AppID   int64
	Key1    string // signs our requests
	Key2    string // verifies callbacks
	// AppUser is app_user (default "civicpay").
	AppUser string
	// Timeout is each call's own deadline (default 10s).
	Timeout time.Duration
	// BankCodes selects the methods offered and their bank_code (default DefaultBankCodes).
	BankCodes map[gateways.Method]string
}

// Adapter is the ZaloPay gateway. It is safe for concurrent use.
type Adapter struct {
	cfg  Config
	call wire.Caller
}

var (
	_ gateways.Gateway       = (*Adapter)(nil)
	_ gateways.RefundQuerier = (*Adapter)(nil)
	_ gateways.Prober        = (*Adapter)(nil)
)

// New returns a ZaloPay adapter calling out through client (http.DefaultClient when nil).
func New(cfg Config, client *http.Client) (*Adapter, error) {
	if cfg.AppID <= 0 || cfg.Key1 == "" || cfg.Key2 == "" {
		return nil, fmt.Errorf("zalopay: config: AppID, Key1 and Key2 are required")
	}
	base, err := wire.BaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("zalopay: config: %w", err)
	}
	cfg.BaseURL = base
	if cfg.AppUser == "" {
		cfg.AppUser = "civicpay"
	}
	if cfg.BankCodes == nil {
		cfg.BankCodes = DefaultBankCodes
	}
	return &Adapter{cfg: cfg, call: wire.NewCaller(client, cfg.Timeout)}, nil
}

// Name is "zalopay".
func (a *Adapter) Name() string { return "zalopay" }

// Methods lists the configured methods.
func (a *Adapter) Methods() []gateways.Method { return wire.MethodsOf(a.cfg.BankCodes) }

// Create creates a ZaloPay order whose app_trans_id is AppTransID(CreatedAt,
// AttemptRef) and app_time CreatedAt: call it on CreatedAt's GMT+7 day.
// Result.QRPayload is ZaloPay's qr_code.
func (a *Adapter) Create(ctx context.Context, r gateways.CreateRequest) (gateways.CreateResult, error) {
	order, err := a.createOrder(r)
	if err != nil {
		return gateways.CreateResult{}, fmt.Errorf("zalopay: create: %w", err)
	}
	var resp CreateResponse
	if err := a.call.PostJSON(ctx, "zalopay: create", a.cfg.BaseURL+CreatePath, order, &resp); err != nil {
		return gateways.CreateResult{}, err
	}
	if resp.ReturnCode != 1 {
		return gateways.CreateResult{}, fmt.Errorf("zalopay: create: %w", rejected(resp.ReturnCode, resp.SubReturnCode, resp.ReturnMessage))
	}
	if resp.OrderURL == "" {
		return gateways.CreateResult{}, fmt.Errorf("zalopay: create: %w", wire.Malformed("no order_url"))
	}
	return gateways.CreateResult{GatewayRef: order.AppTransID, RedirectURL: resp.OrderURL, QRPayload: resp.QRCode}, nil
}

func (a *Adapter) createOrder(r gateways.CreateRequest) (CreateOrder, error) {
	vnd, err := wire.VND(r.Amount, r.Currency)
	if err != nil {
		return CreateOrder{}, err
	}
	if err := wire.Ref(r.AttemptRef); err != nil {
		return CreateOrder{}, err
	}
	bankCode, ok := a.cfg.BankCodes[r.Method]
	if !ok {
		return CreateOrder{}, fmt.Errorf("method %q not configured: %w", r.Method, gateways.ErrInvalidRequest)
	}
	if r.CreatedAt.IsZero() || r.CallbackURL == "" {
		return CreateOrder{}, fmt.Errorf("CreatedAt and CallbackURL are required: %w", gateways.ErrInvalidRequest)
	}
	var expiry int64
	if !r.ExpiresAt.IsZero() {
		expiry = int64(r.ExpiresAt.Sub(r.CreatedAt) / time.Second)
		if expiry < minExpiry || expiry > maxExpiry {
			return CreateOrder{}, fmt.Errorf("expiry in %ds, ZaloPay allows %d–%d: %w", expiry, minExpiry, maxExpiry, gateways.ErrInvalidRequest)
		}
	}
	embed, err := embedData(r.ReturnURL)
	if err != nil {
		return CreateOrder{}, err
	}
	desc := r.Description
	if desc == "" {
		desc = "Thanh toan " + r.PaymentRef
	}
	o := CreateOrder{
		AppID: a.cfg.AppID, AppUser: a.cfg.AppUser, AppTransID: AppTransID(r.CreatedAt, r.AttemptRef),
		AppTime: r.CreatedAt.UnixMilli(), Amount: vnd, Item: "[]", EmbedData: embed, Description: desc,
		BankCode: bankCode, CallbackURL: r.CallbackURL, ExpireDurationSeconds: expiry,
	}
	o.MAC = MAC(a.cfg.Key1, o.MACData())
	return o, nil
}

// embedData is {"redirecturl":returnURL}, or {} without one, as a JSON string.
func embedData(returnURL string) (string, error) {
	if returnURL == "" {
		return "{}", nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep & in the URL readable; the mac covers whatever we send
	if err := enc.Encode(map[string]string{"redirecturl": returnURL}); err != nil {
		return "", fmt.Errorf("embed_data: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// ParseCallback verifies a callback's mac with key2 over the raw data string
// and reads the data. ZaloPay calls back for successful payments only, so
// the status is always StatusSucceeded; Result.GatewayRef is app_trans_id.
func (a *Adapter) ParseCallback(r gateways.CallbackRequest) (gateways.Result, error) {
	d, err := a.parseCallback(r.Body)
	if err != nil {
		return gateways.Result{}, fmt.Errorf("zalopay: callback: %w", err)
	}
	return gateways.Result{
		// ZaloPay's messages carry no currency: amounts are VND, our contract's.
		GatewayRef: d.AppTransID, GatewayTxnID: strconv.FormatInt(d.ZPTransID, 10),
		Amount: decimal.NewFromInt(d.Amount), Currency: wire.CurrencyVND, Status: gateways.StatusSucceeded, Code: "1",
		Message: "paid", PaidAt: time.UnixMilli(d.ServerTime).UTC(),
	}, nil
}

func (a *Adapter) parseCallback(body []byte) (CallbackData, error) {
	var cb Callback
	if err := json.Unmarshal(body, &cb); err != nil {
		return CallbackData{}, wire.Malformed("body: %v", err)
	}
	if !VerifyMAC(a.cfg.Key2, cb.Data, cb.MAC) {
		return CallbackData{}, gateways.ErrBadSignature
	}
	var d CallbackData
	if err := json.Unmarshal([]byte(cb.Data), &d); err != nil {
		return CallbackData{}, wire.Malformed("data: %v", err)
	}
	switch {
	case cb.Type != 0 && cb.Type != 1:
		return CallbackData{}, wire.Malformed("callback type %d is not an order", cb.Type)
	case d.AppID != a.cfg.AppID:
		return CallbackData{}, wire.Malformed("app_id %d is not ours", d.AppID)
	case d.AppTransID == "" || d.ZPTransID <= 0 || d.ServerTime <= 0:
		return CallbackData{}, wire.Malformed("app_trans_id, zp_trans_id and server_time are required")
	case d.Amount <= 0:
		return CallbackData{}, wire.Malformed("amount %d", d.Amount)
	}
	return d, nil
}

var callbackReplies = map[gateways.Ack]CallbackReply{
	gateways.AckOK:               {1, "success"},
	gateways.AckAlreadyConfirmed: {1, "success"},
	gateways.AckBadSignature:     {-1, "mac not equal"},
	gateways.AckNotFound:         {-1, "order not found"},
	gateways.AckAmountMismatch:   {-1, "amount mismatch"},
}

// Reply answers a callback with HTTP 200 and {"return_code":..,"return_message":..}:
// 1 recorded (or already), -1 refused for good (bad mac, unknown order,
// amount mismatch), 0 on our error so that ZaloPay retries (up to 3 times).
func (a *Adapter) Reply(ack gateways.Ack) (int, string, []byte) {
	rep, ok := callbackReplies[ack]
	if !ok {
		rep = CallbackReply{0, "retry"}
	}
	body, _ := json.Marshal(rep) // an int and a string: cannot fail
	return http.StatusOK, "application/json", body
}

// Query asks for the order's status: return_code 1 paid, 2 failed, 3 (or
// is_processing) pending. ZaloPay's query answer is not signed (its published
// fields have no mac), so there is nothing to verify: TLS protects it; any other code is an error wrapping
// gateways.ErrRejected. Result.Code is return_code.
func (a *Adapter) Query(ctx context.Context, r gateways.QueryRequest) (gateways.Result, error) {
	if r.GatewayRef == "" {
		return gateways.Result{}, fmt.Errorf("zalopay: query: GatewayRef is required: %w", gateways.ErrInvalidRequest)
	}
	body := QueryBody{AppID: a.cfg.AppID, AppTransID: r.GatewayRef}
	body.MAC = MAC(a.cfg.Key1, body.MACData(a.cfg.Key1))
	var resp QueryResponse
	if err := a.call.PostJSON(ctx, "zalopay: query", a.cfg.BaseURL+QueryPath, body, &resp); err != nil {
		return gateways.Result{}, err
	}
	status, ok := statusOf(resp.ReturnCode)
	if !ok {
		return gateways.Result{}, fmt.Errorf("zalopay: query: %w", rejected(resp.ReturnCode, resp.SubReturnCode, resp.ReturnMessage))
	}
	if resp.IsProcessing && status != gateways.StatusSucceeded {
		status = gateways.StatusPending
	}
	res := gateways.Result{
		GatewayRef: r.GatewayRef, Amount: decimal.NewFromInt(resp.Amount), Currency: wire.CurrencyVND, Status: status,
		Code: strconv.Itoa(resp.ReturnCode), Message: resp.ReturnMessage,
	}
	if resp.ZPTransID != 0 {
		res.GatewayTxnID = strconv.FormatInt(resp.ZPTransID, 10)
	}
	if status == gateways.StatusSucceeded && resp.ServerTime > 0 {
		res.PaidAt = time.UnixMilli(resp.ServerTime).UTC()
	}
	return res, nil
}

// Probe (gateways.Prober) queries an app_trans_id of today that cannot
// exist: ZaloPay answers that it does not know it.
func (a *Adapter) Probe(ctx context.Context) error {
	_, err := a.Query(ctx, gateways.QueryRequest{GatewayRef: AppTransID(time.Now(), wire.ProbeRef())})
	return err
}

// Refund refunds through zp_trans_id with m_refund_id = RefundID(CreatedAt,
// AppID, RefundRef). return_code 1 refunded, 2 failed, 3 in progress (follow
// up with QueryRefund).
func (a *Adapter) Refund(ctx context.Context, r gateways.RefundRequest) (gateways.RefundResult, error) {
	vnd, err := wire.Refund(r)
	if err == nil && (r.CreatedAt.IsZero() || r.GatewayTxnID == "" || strings.Trim(r.GatewayTxnID, "0123456789") != "") {
		err = fmt.Errorf("CreatedAt and a numeric GatewayTxnID are required: %w", gateways.ErrInvalidRequest)
	}
	if err != nil {
		return gateways.RefundResult{}, fmt.Errorf("zalopay: refund: %w", err)
	}
	body := RefundBody{
		AppID: a.cfg.AppID, MRefundID: RefundID(r.CreatedAt, a.cfg.AppID, r.RefundRef), ZPTransID: r.GatewayTxnID,
		Amount: vnd, Timestamp: time.Now().UnixMilli(), Description: r.Reason,
	}
	if body.Description == "" {
		body.Description = "Hoan tien " + r.RefundRef
	}
	body.MAC = MAC(a.cfg.Key1, body.MACData())
	return a.refundCall(ctx, "zalopay: refund", RefundPath, body)
}

// QueryRefund asks for the status of the refund r (same RefundRef and
// CreatedAt as given to Refund).
func (a *Adapter) QueryRefund(ctx context.Context, r gateways.RefundRequest) (gateways.RefundResult, error) {
	if err := wire.Ref(r.RefundRef); err != nil || r.CreatedAt.IsZero() {
		return gateways.RefundResult{}, fmt.Errorf("zalopay: query refund: RefundRef and CreatedAt are required: %w", gateways.ErrInvalidRequest)
	}
	body := QueryRefundBody{AppID: a.cfg.AppID, MRefundID: RefundID(r.CreatedAt, a.cfg.AppID, r.RefundRef),
		Timestamp: time.Now().UnixMilli()}
	body.MAC = MAC(a.cfg.Key1, body.MACData())
	return a.refundCall(ctx, "zalopay: query refund", QueryRefundPath, body)
}

func (a *Adapter) refundCall(ctx context.Context, op, path string, body any) (gateways.RefundResult, error) {
	var resp RefundResponse
	if err := a.call.PostJSON(ctx, op, a.cfg.BaseURL+path, body, &resp); err != nil {
		return gateways.RefundResult{}, err
	}
	status, ok := statusOf(resp.ReturnCode)
	if !ok {
		return gateways.RefundResult{}, fmt.Errorf("%s: %w", op, rejected(resp.ReturnCode, resp.SubReturnCode, resp.ReturnMessage))
	}
	out := gateways.RefundResult{Status: status, Code: strconv.Itoa(resp.ReturnCode), Message: resp.ReturnMessage}
	if resp.RefundID != 0 {
		out.GatewayRefundID = strconv.FormatInt(resp.RefundID, 10)
	}
	return out, nil
}

// statusOf maps return_code of query, refund and query_refund.
func statusOf(returnCode int) (gateways.Status, bool) {
	switch returnCode {
	case 1:
		return gateways.StatusSucceeded, true
	case 2:
		return gateways.StatusFailed, true
	case 3:
		return gateways.StatusPending, true
	}
	return "", false
}

func rejected(code, sub int, msg string) error {
	return fmt.Errorf("return_code %d/%d (%s): %w", code, sub, msg, gateways.ErrRejected)
}
