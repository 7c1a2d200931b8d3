package momo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/internal/wire"
	"github.com/shopspring/decimal"
)

// Paths below Config.BaseURL.
const (
	CreatePath = "/v2/gateway/api/create"
	QueryPath  = "/v2/gateway/api/query"
	RefundPath = "/v2/gateway/api/refund"
)

// DefaultRequestTypes offers the MoMo wallet for e-wallet payments.
var DefaultRequestTypes = map[gateways.Method]string{gateways.MethodEwallet: "captureWallet"}

// amountLimits are MoMo's documented bounds per requestType, in VND.
var amountLimits = map[string][2]int64{
	"captureWallet": {1_000, 50_000_000},
	"payWithATM":    {10_000, 50_000_000},
}

// Config configures the adapter.
type Config struct {
	BaseURL     string // e.g. https://test-payment.momo.vn
	PartnerCode string
	AccessKey   string
	SecretKey   string
	// Timeout is each call's own deadline (default 10s).
	Timeout time.Duration
	// RequestTypes selects the methods offered and their requestType
	// (default DefaultRequestTypes).
	RequestTypes map[gateways.Method]string
}

// Adapter is the MoMo gateway. It is safe for concurrent use.
type Adapter struct {
	cfg  Config
	call wire.Caller
}

var (
	_ gateways.Gateway = (*Adapter)(nil)
	_ gateways.Prober  = (*Adapter)(nil)
)

// New returns a MoMo adapter calling out through client (http.DefaultClient when nil).
func New(cfg Config, client *http.Client) (*Adapter, error) {
	if cfg.PartnerCode == "" || cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, fmt.Errorf("momo: config: PartnerCode, AccessKey and SecretKey are required")
	}
	base, err := wire.BaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("momo: config: %w", err)
	}
	cfg.BaseURL = base
	if cfg.RequestTypes == nil {
		cfg.RequestTypes = DefaultRequestTypes
	}
	return &Adapter{cfg: cfg, call: wire.NewCaller(client, cfg.Timeout)}, nil
}

// Name is "momo".
func (a *Adapter) Name() string { return "momo" }

// Methods lists the configured methods.
func (a *Adapter) Methods() []gateways.Method { return wire.MethodsOf(a.cfg.RequestTypes) }

func (a *Adapter) sign(fields []KV) string { return Signature(a.cfg.SecretKey, fields...) }

func lang(locale string) string {
	if locale == "en" {
		return "en"
	}
	return "vi"
}

// Create creates a MoMo order; orderId and requestId are the AttemptRef, so
// a retried Create of the same attempt is answered 41 (duplicate orderId), an
// error wrapping gateways.ErrRejected. Result.QRPayload is MoMo's qrCodeUrl,
// whose presence is unconfirmed.
func (a *Adapter) Create(ctx context.Context, r gateways.CreateRequest) (gateways.CreateResult, error) {
	body, err := a.createBody(r)
	if err != nil {
		return gateways.CreateResult{}, fmt.Errorf("momo: create: %w", err)
	}
	var resp CreateResponse
	if err := a.call.PostJSON(ctx, "momo: create", a.cfg.BaseURL+CreatePath, body, &resp); err != nil {
		return gateways.CreateResult{}, err
	}
	switch {
	case resp.ResultCode != 0:
		return gateways.CreateResult{}, fmt.Errorf("momo: create: resultCode %d (%s): %w", resp.ResultCode, resp.Message, gateways.ErrRejected)
	case resp.OrderID != body.OrderID || resp.PayURL == "":
		return gateways.CreateResult{}, fmt.Errorf("momo: create: %w",
			wire.Malformed("answer for orderId %q without payUrl, asked %q", resp.OrderID, body.OrderID))
	}
	return gateways.CreateResult{GatewayRef: body.OrderID, RedirectURL: resp.PayURL, QRPayload: resp.QRCodeURL}, nil
}

func (a *Adapter) createBody(r gateways.CreateRequest) (CreateBody, error) {
	vnd, err := wire.VND(r.Amount, r.Currency)
	if err != nil {
		return CreateBody{}, err
	}
	if err := wire.Ref(r.AttemptRef); err != nil {
		return CreateBody{}, err
	}
	reqType, ok := a.cfg.RequestTypes[r.Method]
	if !ok {
		return CreateBody{}, fmt.Errorf("method %q not configured: %w", r.Method, gateways.ErrInvalidRequest)
	}
	if lim, ok := amountLimits[reqType]; ok && (vnd < lim[0] || vnd > lim[1]) {
		return CreateBody{}, fmt.Errorf("amount %d outside %s's %d–%d: %w", vnd, reqType, lim[0], lim[1], gateways.ErrInvalidRequest)
	}
	if r.ReturnURL == "" || r.CallbackURL == "" {
		return CreateBody{}, fmt.Errorf("ReturnURL and CallbackURL are required: %w", gateways.ErrInvalidRequest)
	}
	info := r.Description
	if info == "" {
		info = "Thanh toan " + r.PaymentRef
	}
	b := CreateBody{
		PartnerCode: a.cfg.PartnerCode, RequestID: r.AttemptRef, Amount: vnd, OrderID: r.AttemptRef,
		OrderInfo: info, RedirectURL: r.ReturnURL, IPNURL: r.CallbackURL, RequestType: reqType,
		Lang: lang(r.Locale),
	}
	b.Signature = a.sign(b.SignatureFields(a.cfg.AccessKey))
	return b, nil
}

// ParseCallback verifies and reads an IPN (JSON body) or, when the body is
// empty, a browser redirect (the same fields in the query string).
// Result.Code is the resultCode.
func (a *Adapter) ParseCallback(r gateways.CallbackRequest) (gateways.Result, error) {
	n, err := decodeNotification(r)
	if err == nil {
		err = a.verify(n)
	}
	if err != nil {
		return gateways.Result{}, fmt.Errorf("momo: callback: %w", err)
	}
	res := gateways.Result{
		// MoMo's messages carry no currency: amounts are VND, our contract's.
		GatewayRef: n.OrderID, GatewayTxnID: txnID(n.TransID), Amount: decimal.NewFromInt(n.Amount), Currency: wire.CurrencyVND,
		Status: paymentStatus(n.ResultCode), Code: strconv.Itoa(n.ResultCode), Message: n.Message,
	}
	if res.Status == gateways.StatusSucceeded {
		res.PaidAt = time.UnixMilli(n.ResponseTime).UTC()
	}
	return res, nil
}

func decodeNotification(r gateways.CallbackRequest) (Notification, error) {
	var n Notification
	if len(r.Body) > 0 {
		if err := json.Unmarshal(r.Body, &n); err != nil {
			return n, wire.Malformed("body: %v", err)
		}
		return n, nil
	}
	q := r.Query
	ints := map[string]*int64{"amount": &n.Amount, "transId": &n.TransID, "responseTime": &n.ResponseTime}
	for k, p := range ints {
		v, err := strconv.ParseInt(q.Get(k), 10, 64)
		if err != nil {
			return n, wire.Malformed("%s: %v", k, err)
		}
		*p = v
	}
	code, err := strconv.Atoi(q.Get("resultCode"))
	if err != nil {
		return n, wire.Malformed("resultCode: %v", err)
	}
	n.ResultCode = code
	n.PartnerCode, n.OrderID, n.RequestID = q.Get("partnerCode"), q.Get("orderId"), q.Get("requestId")
	n.OrderInfo, n.OrderType, n.Message = q.Get("orderInfo"), q.Get("orderType"), q.Get("message")
	n.PayType, n.ExtraData, n.Signature = q.Get("payType"), q.Get("extraData"), q.Get("signature")
	return n, nil
}

func (a *Adapter) verify(n Notification) error {
	if !wire.EqualMAC(n.Signature, a.sign(n.SignatureFields(a.cfg.AccessKey))) {
		return gateways.ErrBadSignature
	}
	switch {
	case n.PartnerCode != a.cfg.PartnerCode:
		return wire.Malformed("partnerCode %q is not ours", n.PartnerCode)
	case n.OrderID == "":
		return wire.Malformed("orderId missing")
	case n.Amount <= 0:
		return wire.Malformed("amount %d", n.Amount)
	}
	return nil
}

// Reply answers an IPN. MoMo wants HTTP 204 within 15 s: we give it for
// recorded, already-confirmed and amount-mismatch callbacks (a retry would
// change nothing), 400 for a bad signature, 404 for an unknown order and 500
// when MoMo should retry.
func (a *Adapter) Reply(ack gateways.Ack) (int, string, []byte) {
	switch ack {
	case gateways.AckOK, gateways.AckAlreadyConfirmed, gateways.AckAmountMismatch:
		return http.StatusNoContent, "", nil
	case gateways.AckBadSignature:
		return http.StatusBadRequest, "", nil
	case gateways.AckNotFound:
		return http.StatusNotFound, "", nil
	default:
		return http.StatusInternalServerError, "", nil
	}
}

// Query asks for the order's status. Result.Code is the resultCode; a code
// that refuses the request itself (10, 11, 12, 13, 20, 40, 41) is an error
// wrapping gateways.ErrRejected. Any other answer must carry MoMo's
// signature (QueryResponse.SignatureFields) for our partnerCode and
// requestId: one that does not verify is an error wrapping
// gateways.ErrBadSignature, never a result.
func (a *Adapter) Query(ctx context.Context, r gateways.QueryRequest) (gateways.Result, error) {
	if r.GatewayRef == "" {
		return gateways.Result{}, fmt.Errorf("momo: query: GatewayRef is required: %w", gateways.ErrInvalidRequest)
	}
	body := QueryBody{PartnerCode: a.cfg.PartnerCode, RequestID: r.RequestID, OrderID: r.GatewayRef, Lang: "vi"}
	if body.RequestID == "" {
		body.RequestID = wire.NewID()
	}
	body.Signature = a.sign(body.SignatureFields(a.cfg.AccessKey))
	var resp QueryResponse
	if err := a.call.PostJSON(ctx, "momo: query", a.cfg.BaseURL+QueryPath, body, &resp); err != nil {
		return gateways.Result{}, err
	}
	if requestErrors[resp.ResultCode] {
		return gateways.Result{}, fmt.Errorf("momo: query: resultCode %d (%s): %w", resp.ResultCode, resp.Message, gateways.ErrRejected)
	}
	// Whatever it reports, an answer that does not verify is no result.
	if !wire.EqualMAC(resp.Signature, a.sign(resp.SignatureFields(a.cfg.AccessKey))) {
		return gateways.Result{}, fmt.Errorf("momo: query: answer with resultCode %d: %w", resp.ResultCode, gateways.ErrBadSignature)
	}
	if resp.PartnerCode != a.cfg.PartnerCode || resp.RequestID != body.RequestID {
		return gateways.Result{}, fmt.Errorf("momo: query: %w", wire.Malformed("answer for partnerCode %q requestId %q, asked %q %q",
			resp.PartnerCode, resp.RequestID, a.cfg.PartnerCode, body.RequestID))
	}
	if resp.OrderID != r.GatewayRef {
		return gateways.Result{}, fmt.Errorf("momo: query: %w", wire.Malformed("answer for orderId %q, asked %q", resp.OrderID, r.GatewayRef))
	}
	res := gateways.Result{
		GatewayRef: resp.OrderID, GatewayTxnID: txnID(resp.TransID), Amount: decimal.NewFromInt(resp.Amount), Currency: wire.CurrencyVND,
		Status: paymentStatus(resp.ResultCode), Code: strconv.Itoa(resp.ResultCode), Message: resp.Message,
	}
	if res.Status == gateways.StatusSucceeded {
		paid := resp.LastUpdated
		if paid == 0 {
			paid = resp.ResponseTime
		}
		res.PaidAt = time.UnixMilli(paid).UTC()
	}
	return res, nil
}

// Probe (gateways.Prober) queries an orderId that cannot exist: MoMo
// answers 42, not found.
func (a *Adapter) Probe(ctx context.Context) error {
	_, err := a.Query(ctx, gateways.QueryRequest{GatewayRef: wire.ProbeRef()})
	return err
}

// Refund refunds through the payment's transId. The refund's orderId is the
// RefundRef (requestId is RequestID, or RefundRef when empty), so a retry is
// answered as a duplicate (40/41): reported as StatusPending, since an
// earlier try reached MoMo and its outcome is unknown here.
func (a *Adapter) Refund(ctx context.Context, r gateways.RefundRequest) (gateways.RefundResult, error) {
	vnd, err := wire.Refund(r)
	if err != nil {
		return gateways.RefundResult{}, fmt.Errorf("momo: refund: %w", err)
	}
	transID, err := strconv.ParseInt(r.GatewayTxnID, 10, 64)
	if err != nil || transID <= 0 {
		return gateways.RefundResult{}, fmt.Errorf("momo: refund: transId %q: %w", r.GatewayTxnID, gateways.ErrInvalidRequest)
	}
	body := RefundBody{
		PartnerCode: a.cfg.PartnerCode, OrderID: r.RefundRef, RequestID: r.RequestID, Amount: vnd,
		TransID: transID, Lang: "vi", Description: r.Reason,
	}
	if body.RequestID == "" {
		body.RequestID = r.RefundRef
	}
	if body.Description == "" {
		body.Description = "Hoan tien " + r.RefundRef
	}
	body.Signature = a.sign(body.SignatureFields(a.cfg.AccessKey))
	var resp RefundResponse
	if err := a.call.PostJSON(ctx, "momo: refund", a.cfg.BaseURL+RefundPath, body, &resp); err != nil {
		return gateways.RefundResult{}, err
	}
	out := gateways.RefundResult{GatewayRefundID: txnID(resp.TransID), Code: strconv.Itoa(resp.ResultCode), Message: resp.Message}
	switch {
	case resp.ResultCode == codeDuplicateRequest || resp.ResultCode == codeDuplicateOrder:
		out.Status = gateways.StatusPending
	case requestErrors[resp.ResultCode]:
		return gateways.RefundResult{}, fmt.Errorf("momo: refund: resultCode %d (%s): %w", resp.ResultCode, resp.Message, gateways.ErrRejected)
	default:
		out.Status = paymentStatus(resp.ResultCode)
	}
	return out, nil
}

func txnID(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}
