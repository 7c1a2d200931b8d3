package momo

import (
	"crypto/sha256"
	"strconv"
	"strings"

	"github.com/civicpay/civicpay/gateways/internal/wire"
)

// KV is one key=value pair of a signature's raw string.
type KV struct{ Key, Value string }

// RawString joins fields as key=value with "&", in the order given and
// without any encoding: the string MoMo signs.
func RawString(fields ...KV) string {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(f.Key)
		b.WriteByte('=')
		b.WriteString(f.Value)
	}
	return b.String()
}

// Signature is MoMo's signature: the lowercase hex HMAC-SHA256, keyed with
// secret, of RawString(fields...). The SignatureFields methods of the message
// types give the fields in MoMo's fixed order, so both sides sign alike:
//
//	body.Signature = momo.Signature(secretKey, body.SignatureFields(accessKey)...)
func Signature(secret string, fields ...KV) string {
	return wire.HMACHex(sha256.New, secret, RawString(fields...))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// CreateBody is POSTed as JSON to /v2/gateway/api/create.
type CreateBody struct {
	PartnerCode string `json:"partnerCode"`
	RequestID   string `json:"requestId"`
	Amount      int64  `json:"amount"`
	OrderID     string `json:"orderId"`
	OrderInfo   string `json:"orderInfo"`
	RedirectURL string `json:"redirectUrl"`
	IPNURL      string `json:"ipnUrl"`
	RequestType string `json:"requestType"` // captureWallet, payWithATM, payWithCC
	ExtraData   string `json:"extraData"`   // "" or base64 JSON
	Lang        string `json:"lang"`        // vi, en
	Signature   string `json:"signature"`
}

// SignatureFields: accessKey, amount, extraData, ipnUrl, orderId, orderInfo,
// partnerCode, redirectUrl, requestId, requestType.
func (b CreateBody) SignatureFields(accessKey string) []KV {
	return []KV{{"accessKey", accessKey}, {"amount", itoa(b.Amount)}, {"extraData", b.ExtraData},
		{"ipnUrl", b.IPNURL}, {"orderId", b.OrderID}, {"orderInfo", b.OrderInfo},
		{"partnerCode", b.PartnerCode}, {"redirectUrl", b.RedirectURL}, {"requestId", b.RequestID},
		{"requestType", b.RequestType}}
}

// CreateResponse is MoMo's answer to create. MoMo signs it too, but the
// field order of that signature is not in our protocol notes, so it is not
// checked; nothing in it changes an attempt's state.
type CreateResponse struct {
	PartnerCode  string `json:"partnerCode"`
	OrderID      string `json:"orderId"`
	RequestID    string `json:"requestId"`
	Amount       int64  `json:"amount"`
	ResponseTime int64  `json:"responseTime"`
	Message      string `json:"message"`
	ResultCode   int    `json:"resultCode"`
	PayURL       string `json:"payUrl"`
	Deeplink     string `json:"deeplink,omitempty"`  // unconfirmed
	QRCodeURL    string `json:"qrCodeUrl,omitempty"` // unconfirmed
	Signature    string `json:"signature,omitempty"`
}

// Notification is an IPN (POSTed as JSON) or a redirect's query string.
type Notification struct {
	PartnerCode  string `json:"partnerCode"`
	OrderID      string `json:"orderId"`
	RequestID    string `json:"requestId"`
	Amount       int64  `json:"amount"`
	OrderInfo    string `json:"orderInfo"`
	OrderType    string `json:"orderType"`
	TransID      int64  `json:"transId"`
	ResultCode   int    `json:"resultCode"`
	Message      string `json:"message"`
	PayType      string `json:"payType"`
	ResponseTime int64  `json:"responseTime"` // Unix ms
	ExtraData    string `json:"extraData"`
	Signature    string `json:"signature"`
}

// SignatureFields: accessKey, amount, extraData, message, orderId, orderInfo,
// orderType, partnerCode, payType, requestId, responseTime, resultCode, transId.
func (n Notification) SignatureFields(accessKey string) []KV {
	return []KV{{"accessKey", accessKey}, {"amount", itoa(n.Amount)}, {"extraData", n.ExtraData},
		{"message", n.Message}, {"orderId", n.OrderID}, {"orderInfo", n.OrderInfo},
		{"orderType", n.OrderType}, {"partnerCode", n.PartnerCode}, {"payType", n.PayType},
		{"requestId", n.RequestID}, {"responseTime", itoa(n.ResponseTime)},
		{"resultCode", strconv.Itoa(n.ResultCode)}, {"transId", itoa(n.TransID)}}
}

// QueryBody is POSTed as JSON to /v2/gateway/api/query.
type QueryBody struct {
	PartnerCode string `json:"partnerCode"`
	RequestID   string `json:"requestId"`
	OrderID     string `json:"orderId"`
	Lang        string `json:"lang"`
	Signature   string `json:"signature"`
}

// SignatureFields: accessKey, orderId, partnerCode, requestId.
func (b QueryBody) SignatureFields(accessKey string) []KV {
	return []KV{{"accessKey", accessKey}, {"orderId", b.OrderID}, {"partnerCode", b.PartnerCode},
		{"requestId", b.RequestID}}
}

// QueryResponse is MoMo's answer to query, signed like MoMo's other
// messages: see SignatureFields.
type QueryResponse struct {
	PartnerCode  string `json:"partnerCode"`
	OrderID      string `json:"orderId"`
	RequestID    string `json:"requestId"`
	ExtraData    string `json:"extraData"`
	Amount       int64  `json:"amount"`
	TransID      int64  `json:"transId"`
	PayType      string `json:"payType"`
	ResultCode   int    `json:"resultCode"`
	Message      string `json:"message"`
	ResponseTime int64  `json:"responseTime"`
	LastUpdated  int64  `json:"lastUpdated,omitempty"` // Unix ms
	Signature    string `json:"signature"`
}

// SignatureFields: accessKey, amount, extraData, lastUpdated, message,
// orderId, partnerCode, payType, requestId, responseTime, resultCode,
// transId — every field of the answer the adapter reads, keys in
// alphabetical order as in all MoMo signatures.
//
// Unconfirmed: our protocol notes give the query answer's fields but not the
// field list of its signature; this is MoMo's rule for its other messages
// applied to this one, and the simulator signs it so. A real MoMo answer
// signed over another list is refused as a bad signature (the status query
// then fails and the attempt waits for its IPN or reconciliation): fix the
// list here, never skip the check.
func (r QueryResponse) SignatureFields(accessKey string) []KV {
	return []KV{{"accessKey", accessKey}, {"amount", itoa(r.Amount)}, {"extraData", r.ExtraData},
		{"lastUpdated", itoa(r.LastUpdated)}, {"message", r.Message}, {"orderId", r.OrderID},
		{"partnerCode", r.PartnerCode}, {"payType", r.PayType}, {"requestId", r.RequestID},
		{"responseTime", itoa(r.ResponseTime)}, {"resultCode", strconv.Itoa(r.ResultCode)},
		{"transId", itoa(r.TransID)}}
}

// RefundBody is POSTed as JSON to /v2/gateway/api/refund. OrderID is a new
// id for the refund; TransID is the payment's.
type RefundBody struct {
	PartnerCode string `json:"partnerCode"`
	OrderID     string `json:"orderId"`
	RequestID   string `json:"requestId"`
	Amount      int64  `json:"amount"`
	TransID     int64  `json:"transId"`
	Lang        string `json:"lang"`
	Description string `json:"description"`
	Signature   string `json:"signature"`
}

// SignatureFields: accessKey, amount, description, orderId, partnerCode,
// requestId, transId.
func (b RefundBody) SignatureFields(accessKey string) []KV {
	return []KV{{"accessKey", accessKey}, {"amount", itoa(b.Amount)}, {"description", b.Description},
		{"orderId", b.OrderID}, {"partnerCode", b.PartnerCode}, {"requestId", b.RequestID},
		{"transId", itoa(b.TransID)}}
}

// RefundResponse is MoMo's answer to refund (unsigned, as QueryResponse).
type RefundResponse struct {
	PartnerCode  string `json:"partnerCode"`
	OrderID      string `json:"orderId"`
	RequestID    string `json:"requestId"`
	Amount       int64  `json:"amount"`
	TransID      int64  `json:"transId"`
	ResultCode   int    `json:"resultCode"`
	Message      string `json:"message"`
	ResponseTime int64  `json:"responseTime"`
}
