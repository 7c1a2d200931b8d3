package zalopay

import (
	"crypto/sha256"
	"strconv"
	"strings"
	"time"

	"github.com/civicpay/civicpay/gateways/internal/wire"
)

// MAC is ZaloPay's mac: lowercase hex HMAC-SHA256 of data keyed with key.
// Requests are signed with key1 over their MACData; callbacks with key2 over
// the raw data string exactly as sent. Both sides use it (cmd/gatewaysim too).
func MAC(key, data string) string { return wire.HMACHex(sha256.New, key, data) }

// VerifyMAC reports whether mac is MAC(key, data), ignoring case, in constant time.
func VerifyMAC(key, data, mac string) bool { return wire.EqualMAC(mac, MAC(key, data)) }

func pipe(parts ...string) string { return strings.Join(parts, "|") }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// yymmdd is t's date in GMT+7, as ZaloPay's ids start with.
func yymmdd(t time.Time) string { return t.In(wire.ICT).Format("060102") }

// AppTransID is the app_trans_id of an attempt: its GMT+7 creation date as
// yymmdd, "_", and the attempt reference (at most 32 characters, so at most
// 39 in all; ZaloPay allows 40). ZaloPay wants the date to be today's when
// the order is created.
func AppTransID(created time.Time, attemptRef string) string {
	return yymmdd(created) + "_" + attemptRef
}

// RefundID is the m_refund_id of a refund: yymmdd_appid_refundRef, the date
// being the refund's creation date in GMT+7.
func RefundID(created time.Time, appID int64, refundRef string) string {
	return yymmdd(created) + "_" + itoa(appID) + "_" + refundRef
}

// CreateOrder is POSTed as JSON to /v2/create.
type CreateOrder struct {
	AppID                 int64  `json:"app_id"`
	AppUser               string `json:"app_user"`
	AppTransID            string `json:"app_trans_id"`
	AppTime               int64  `json:"app_time"` // Unix ms
	Amount                int64  `json:"amount"`
	Item                  string `json:"item"`       // JSON array as a string
	EmbedData             string `json:"embed_data"` // JSON object as a string
	Description           string `json:"description"`
	BankCode              string `json:"bank_code"`
	CallbackURL           string `json:"callback_url,omitempty"`
	ExpireDurationSeconds int64  `json:"expire_duration_seconds,omitempty"`
	MAC                   string `json:"mac"`
}

// MACData is app_id|app_trans_id|app_user|amount|app_time|embed_data|item (key1).
func (o CreateOrder) MACData() string {
	return pipe(itoa(o.AppID), o.AppTransID, o.AppUser, itoa(o.Amount), itoa(o.AppTime), o.EmbedData, o.Item)
}

// CreateResponse is ZaloPay's answer to create (return_code 1 ok, 2 failed).
type CreateResponse struct {
	ReturnCode       int    `json:"return_code"`
	ReturnMessage    string `json:"return_message"`
	SubReturnCode    int    `json:"sub_return_code"`
	SubReturnMessage string `json:"sub_return_message"`
	OrderURL         string `json:"order_url"`
	ZPTransToken     string `json:"zp_trans_token"`
	OrderToken       string `json:"order_token,omitempty"`
	QRCode           string `json:"qr_code"`
}

// Callback is what ZaloPay POSTs to the callback URL after a successful payment.
type Callback struct {
	Data string `json:"data"` // CallbackData as a JSON string; the mac covers it byte for byte
	MAC  string `json:"mac"`  // MAC(key2, Data)
	Type int    `json:"type"` // 1 order
}

// CallbackData is Callback.Data decoded.
type CallbackData struct {
	AppID          int64  `json:"app_id"`
	AppTransID     string `json:"app_trans_id"`
	AppTime        int64  `json:"app_time"`
	AppUser        string `json:"app_user"`
	Amount         int64  `json:"amount"`
	EmbedData      string `json:"embed_data"`
	Item           string `json:"item"`
	ZPTransID      int64  `json:"zp_trans_id"`
	ServerTime     int64  `json:"server_time"` // Unix ms
	Channel        int    `json:"channel"`
	MerchantUserID string `json:"merchant_user_id,omitempty"`
	UserFeeAmount  int64  `json:"user_fee_amount"`
	DiscountAmount int64  `json:"discount_amount"`
}

// CallbackReply is our answer to a callback.
type CallbackReply struct {
	ReturnCode    int    `json:"return_code"`
	ReturnMessage string `json:"return_message"`
}

// QueryBody is POSTed as JSON to /v2/query.
type QueryBody struct {
	AppID      int64  `json:"app_id"`
	AppTransID string `json:"app_trans_id"`
	MAC        string `json:"mac"`
}

// MACData is app_id|app_trans_id|key1 (signed with key1 as well).
func (b QueryBody) MACData(key1 string) string { return pipe(itoa(b.AppID), b.AppTransID, key1) }

// QueryResponse is ZaloPay's answer to query: return_code 1 paid, 2 failed,
// 3 pending (not paid yet or processing). Unsigned.
type QueryResponse struct {
	ReturnCode       int    `json:"return_code"`
	ReturnMessage    string `json:"return_message"`
	SubReturnCode    int    `json:"sub_return_code"`
	SubReturnMessage string `json:"sub_return_message"`
	IsProcessing     bool   `json:"is_processing"`
	Amount           int64  `json:"amount"`
	DiscountAmount   int64  `json:"discount_amount"`
	ZPTransID        int64  `json:"zp_trans_id"`
	ServerTime       int64  `json:"server_time,omitempty"` // Unix ms, when present
}

// RefundBody is POSTed as JSON to /v2/refund.
type RefundBody struct {
	AppID       int64  `json:"app_id"`
	MRefundID   string `json:"m_refund_id"`
	ZPTransID   string `json:"zp_trans_id"`
	Amount      int64  `json:"amount"`
	Timestamp   int64  `json:"timestamp"` // Unix ms
	Description string `json:"description"`
	MAC         string `json:"mac"`
}

// MACData is app_id|zp_trans_id|amount|description|timestamp (key1).
func (b RefundBody) MACData() string {
	return pipe(itoa(b.AppID), b.ZPTransID, itoa(b.Amount), b.Description, itoa(b.Timestamp))
}

// RefundResponse is ZaloPay's answer to refund and query_refund: return_code
// 1 refunded, 2 failed, 3 in progress. Unsigned.
type RefundResponse struct {
	ReturnCode       int    `json:"return_code"`
	ReturnMessage    string `json:"return_message"`
	SubReturnCode    int    `json:"sub_return_code"`
	SubReturnMessage string `json:"sub_return_message"`
	RefundID         int64  `json:"refund_id,omitempty"`
}

// QueryRefundBody is POSTed as JSON to /v2/query_refund.
type QueryRefundBody struct {
	AppID     int64  `json:"app_id"`
	MRefundID string `json:"m_refund_id"`
	Timestamp int64  `json:"timestamp"` // Unix ms
	MAC       string `json:"mac"`
}

// MACData is app_id|m_refund_id|timestamp (key1).
func (b QueryRefundBody) MACData() string { return pipe(itoa(b.AppID), b.MRefundID, itoa(b.Timestamp)) }
