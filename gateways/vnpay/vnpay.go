package vnpay

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/internal/wire"
	"golang.org/x/text/unicode/norm"
)

// Protocol constants.
const (
	Version = "2.1.0"
	// PayPath is where the citizen's browser goes, below Config.BaseURL.
	PayPath = "/paymentv2/vpcpay.html"
	// APIPath is the merchant API (querydr, refund), below Config.BaseURL.
	APIPath = "/merchant_webapi/api/transaction"
	// DefaultExpiry is the payment window when CreateRequest.ExpiresAt is zero (VNPAY's demo).
	DefaultExpiry = 15 * time.Minute
	// maxOrderInfo is VNPAY's limit on vnp_OrderInfo.
	maxOrderInfo = 255
)

// DefaultBankCodes maps each method to vnp_BankCode: VNPAY-QR, domestic
// cards and internet banking (VNBANK), international cards (INTCARD). An empty
// code lets the citizen choose on VNPAY's page.
var DefaultBankCodes = map[gateways.Method]string{
	gateways.MethodCard:            "INTCARD",
	gateways.MethodInternetBanking: "VNBANK",
	gateways.MethodQR:              "VNPAYQR",
}

// Config configures the adapter.
type Config struct {
	BaseURL    string // e.g. https://sandbox.vnpayment.vn
	TmnCode    string // merchant terminal code
	HashSecret string
	// Timeout is each API call's own deadline (default 10s).
	Timeout time.Duration
	// OrderType is vnp_OrderType (default "other").
	OrderType string
	// BankCodes selects the methods offered and their vnp_BankCode (default DefaultBankCodes).
	BankCodes map[gateways.Method]string
	// ServerIP is vnp_IpAddr for refunds, and for queries without a client
	// IP (default "127.0.0.1").
	ServerIP string
	// RefundCreatedBy is vnp_CreateBy on refunds (default "civicpay").
	RefundCreatedBy string
}

// Adapter is the VNPAY gateway. It is safe for concurrent use.
type Adapter struct {
	cfg  Config
	call wire.Caller
}

var (
	_ gateways.Gateway        = (*Adapter)(nil)
	_ gateways.OfflineCreator = (*Adapter)(nil)
	_ gateways.Prober         = (*Adapter)(nil)
)

// New returns a VNPAY adapter calling out through client (http.DefaultClient when nil).
func New(cfg Config, client *http.Client) (*Adapter, error) {
	if cfg.TmnCode == "" || cfg.HashSecret == "" {
		return nil, fmt.Errorf("vnpay: config: TmnCode and HashSecret are required")
	}
	base, err := wire.BaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("vnpay: config: %w", err)
	}
	cfg.BaseURL = base
	if cfg.OrderType == "" {
		cfg.OrderType = "other"
	}
	if cfg.BankCodes == nil {
		cfg.BankCodes = DefaultBankCodes
	}
	if cfg.ServerIP == "" {
		cfg.ServerIP = "127.0.0.1"
	}
	if cfg.RefundCreatedBy == "" {
		cfg.RefundCreatedBy = "civicpay"
	}
	return &Adapter{cfg: cfg, call: wire.NewCaller(client, cfg.Timeout)}, nil
}

// Name is "vnpay".
func (a *Adapter) Name() string { return "vnpay" }

// Methods lists the configured methods.
func (a *Adapter) Methods() []gateways.Method { return wire.MethodsOf(a.cfg.BankCodes) }

// CreatesOffline is true: Create only builds the signed payment URL.
func (a *Adapter) CreatesOffline() bool { return true }

// Create builds the signed payment URL; vnp_TxnRef is the AttemptRef.
func (a *Adapter) Create(_ context.Context, r gateways.CreateRequest) (gateways.CreateResult, error) {
	vnd, err := wire.VND(r.Amount, r.Currency)
	if err == nil {
		err = wire.Ref(r.AttemptRef)
	}
	bankCode, ok := a.cfg.BankCodes[r.Method]
	switch {
	case err != nil:
	case !ok:
		err = fmt.Errorf("method %q not configured: %w", r.Method, gateways.ErrInvalidRequest)
	case r.CreatedAt.IsZero() || r.ReturnURL == "":
		err = fmt.Errorf("CreatedAt and ReturnURL are required: %w", gateways.ErrInvalidRequest)
	case !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(r.CreatedAt):
		err = fmt.Errorf("ExpiresAt %v is not after CreatedAt: %w", r.ExpiresAt, gateways.ErrInvalidRequest)
	}
	if err != nil {
		return gateways.CreateResult{}, fmt.Errorf("vnpay: create: %w", err)
	}
	expires := r.ExpiresAt
	if expires.IsZero() {
		expires = r.CreatedAt.Add(DefaultExpiry)
	}
	locale := "vn"
	if r.Locale == "en" {
		locale = "en"
	}
	ip := r.ClientIP
	if ip == "" {
		ip = a.cfg.ServerIP
	}
	v := url.Values{
		"vnp_Version":    {Version},
		"vnp_Command":    {"pay"},
		"vnp_TmnCode":    {a.cfg.TmnCode},
		"vnp_Amount":     {FormatAmount(vnd)},
		"vnp_CurrCode":   {"VND"},
		"vnp_TxnRef":     {r.AttemptRef},
		"vnp_OrderInfo":  {orderInfo(r.Description, "Thanh toan "+r.PaymentRef)},
		"vnp_OrderType":  {a.cfg.OrderType},
		"vnp_ReturnUrl":  {r.ReturnURL},
		"vnp_IpAddr":     {ip},
		"vnp_CreateDate": {FormatTime(r.CreatedAt)},
		"vnp_ExpireDate": {FormatTime(expires)},
		"vnp_Locale":     {locale},
	}
	if bankCode != "" {
		v.Set("vnp_BankCode", bankCode)
	}
	v.Set("vnp_SecureHash", Sign(v, a.cfg.HashSecret))
	return gateways.CreateResult{
		GatewayRef:  r.AttemptRef,
		RedirectURL: a.cfg.BaseURL + PayPath + "?" + v.Encode(),
	}, nil
}

// ParseCallback verifies and reads an IPN (or a browser return, which carries
// the same fields) from the query string. Result.Code is vnp_ResponseCode.
func (a *Adapter) ParseCallback(r gateways.CallbackRequest) (gateways.Result, error) {
	res, err := a.parseCallback(r.Query)
	if err != nil {
		return gateways.Result{}, fmt.Errorf("vnpay: callback: %w", err)
	}
	return res, nil
}

func (a *Adapter) parseCallback(q url.Values) (gateways.Result, error) {
	for k, vs := range q {
		if strings.HasPrefix(k, "vnp_") && len(vs) > 1 {
			return gateways.Result{}, wire.Malformed("%s repeated", k)
		}
	}
	if !Verify(q, a.cfg.HashSecret) {
		return gateways.Result{}, gateways.ErrBadSignature
	}
	if tmn := q.Get("vnp_TmnCode"); tmn != a.cfg.TmnCode {
		return gateways.Result{}, wire.Malformed("vnp_TmnCode %q is not ours", tmn)
	}
	ref := q.Get("vnp_TxnRef")
	if ref == "" {
		return gateways.Result{}, wire.Malformed("vnp_TxnRef missing")
	}
	amount, err := ParseAmount(q.Get("vnp_Amount"))
	if err != nil {
		return gateways.Result{}, err
	}
	rc := q.Get("vnp_ResponseCode")
	res := gateways.Result{
		GatewayRef:   ref,
		GatewayTxnID: q.Get("vnp_TransactionNo"),
		Amount:       amount,
		Currency:     callbackCurrency(q),
		Status:       callbackStatus(rc, q.Get("vnp_TransactionStatus")),
		Code:         rc,
		Message:      ResponseText(rc),
	}
	if res.Status == gateways.StatusSucceeded {
		if res.PaidAt, err = ParseTime(q.Get("vnp_PayDate")); err != nil {
			return gateways.Result{}, wire.Malformed("vnp_PayDate: %v", err)
		}
	}
	return res, nil
}

// ipnReply is VNPAY's IPN answer.
type ipnReply struct {
	RspCode string `json:"RspCode"`
	Message string `json:"Message"`
}

var ipnReplies = map[gateways.Ack]ipnReply{
	gateways.AckOK:               {"00", "Confirm Success"},
	gateways.AckBadSignature:     {"97", "Invalid Checksum"},
	gateways.AckNotFound:         {"01", "Order not found"},
	gateways.AckAmountMismatch:   {"04", "Invalid amount"},
	gateways.AckAlreadyConfirmed: {"02", "Order already confirmed"},
}

// Reply answers an IPN: HTTP 200 with {"RspCode":"..","Message":".."}
// (00 recorded, 97 bad signature, 01 not found, 04 amount differs, 02 already
// confirmed, 99 anything else).
func (a *Adapter) Reply(ack gateways.Ack) (int, string, []byte) {
	rep, ok := ipnReplies[ack]
	if !ok {
		rep = ipnReply{"99", "Unknown error"}
	}
	body, _ := json.Marshal(rep) // two strings: cannot fail
	return http.StatusOK, "application/json", body
}

// orderInfo makes s safe for vnp_OrderInfo: Vietnamese without diacritics,
// letters, digits, spaces and . , : - _ / # only (VNPAY's encoders disagree on
// ~ * ! ' ( ) and its banks want plain ASCII), at most 255 characters; fallback
// when nothing is left.
func orderInfo(s, fallback string) string {
	var b strings.Builder
	space := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == 'đ':
			r = 'd'
		case r == 'Đ':
			r = 'D'
		}
		ok := r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(".,:-_/#", r))
		if !ok {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	out := b.String()
	if out == "" && fallback != "" {
		return orderInfo(fallback, "")
	}
	if len(out) > maxOrderInfo {
		out = strings.TrimSpace(out[:maxOrderInfo])
	}
	return out
}

// callbackCurrency is the IPN's vnp_CurrCode (covered by the hash) when VNPAY
// sends one; its IPN fields do not include it, and then it is VND, the
// currency of our VNPAY contract and of every vnp_Amount.
func callbackCurrency(q url.Values) string {
	if c := q.Get("vnp_CurrCode"); c != "" {
		return c
	}
	return wire.CurrencyVND
}
