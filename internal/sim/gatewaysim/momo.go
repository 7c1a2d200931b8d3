package gatewaysim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"

	"github.com/civicpay/civicpay/gateways/momo"
)

// momoOrderID is MoMo's orderId rule (also for a refund's orderId).
var momoOrderID = regexp.MustCompile(`^[0-9a-zA-Z]([-_.]*[0-9a-zA-Z]+)*$`)

// momoLimits are the amount bounds per requestType, in VND.
var momoLimits = map[string][2]int64{
	"captureWallet": {1_000, 50_000_000},
	"payWithATM":    {10_000, 50_000_000},
	"payWithCC":     {10_000, 50_000_000},
}

// momoPayTypes is the payType an IPN reports per requestType.
var momoPayTypes = map[string]string{"captureWallet": "qr", "payWithATM": "napas", "payWithCC": "credit"}

// MoMo resultCodes the simulator answers with.
const (
	momoOK           = 0
	momoAuth         = 13
	momoBadRequest   = 20
	momoBadAmount    = 22
	momoDupRequest   = 40
	momoDupOrder     = 41
	momoNotFound     = 42
	momoCreated      = 1000
	momoRefundFailed = 1080
	momoRefundDenied = 1081
)

var momoMessages = map[int]string{
	momoOK:           "Thành công.",
	momoAuth:         "Xác thực doanh nghiệp thất bại.",
	momoBadRequest:   "Yêu cầu sai định dạng.",
	momoBadAmount:    "Số tiền giao dịch không hợp lệ.",
	momoDupRequest:   "RequestId bị trùng.",
	momoDupOrder:     "OrderId bị trùng.",
	momoNotFound:     "OrderId không hợp lệ hoặc không được tìm thấy.",
	momoCreated:      "Giao dịch đã được khởi tạo, chờ người dùng xác nhận thanh toán.",
	1001:             "Giao dịch thanh toán thất bại do tài khoản người dùng không đủ tiền.",
	1002:             "Giao dịch bị từ chối do nhà phát hành tài khoản thanh toán.",
	1003:             "Giao dịch bị đã bị hủy.",
	1004:             "Giao dịch thất bại do số tiền thanh toán vượt quá hạn mức thanh toán của người dùng.",
	1005:             "Giao dịch thất bại do url hoặc QR code đã hết hạn.",
	1006:             "Giao dịch thất bại do người dùng đã từ chối xác nhận thanh toán.",
	momoRefundFailed: "Giao dịch hoàn tiền thất bại: giao dịch thanh toán ban đầu không thành công.",
	momoRefundDenied: "Giao dịch hoàn tiền bị từ chối: số tiền vượt quá số tiền còn lại của giao dịch ban đầu.",
}

func momoMessage(code int) string {
	if m, ok := momoMessages[code]; ok {
		return m
	}
	return "Lỗi " + strconv.Itoa(code)
}

// momoAuthOK checks the partner and the signature over fields.
func (s *Sim) momoAuthOK(partner, signature string, fields []momo.KV) bool {
	return partner == s.cfg.MoMo.PartnerCode && equalMAC(signature, momo.Signature(s.cfg.MoMo.SecretKey, fields...))
}

// apiAnswer writes a MoMo or ZaloPay answer; an undecodable request is a 400.
func apiAnswer(w http.ResponseWriter, decodeErr error, resp any) {
	status := http.StatusOK
	if decodeErr != nil {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, resp)
}

func (s *Sim) nowMilli() int64 { return s.cfg.Now().UnixMilli() }

// momoCreate serves POST /momo/v2/gateway/api/create.
func (s *Sim) momoCreate(w http.ResponseWriter, r *http.Request) {
	var b momo.CreateBody
	err := decodeJSON(r, &b, false)
	resp := momo.CreateResponse{PartnerCode: b.PartnerCode, OrderID: b.OrderID, RequestID: b.RequestID,
		Amount: b.Amount, ResponseTime: s.nowMilli()}
	code := momoBadRequest
	if err == nil {
		code = s.momoCreateCheck(b)
	}
	if code == momoOK {
		code = s.momoRegister(b)
	}
	resp.ResultCode, resp.Message = code, momoMessage(code)
	if code == momoOK {
		resp.PayURL = payURL(s.publicBase(r), MoMo, b.OrderID)
		resp.Deeplink = "momo://app?action=payWithApp&orderId=" + url.QueryEscape(b.OrderID)
		resp.QRCodeURL = resp.PayURL
	}
	apiAnswer(w, err, resp)
}

func (s *Sim) momoCreateCheck(b momo.CreateBody) int {
	if !s.momoAuthOK(b.PartnerCode, b.Signature, b.SignatureFields(s.cfg.MoMo.AccessKey)) {
		return momoAuth
	}
	lim, ok := momoLimits[b.RequestType]
	switch {
	case !ok, !validMoMoID(b.OrderID), b.RequestID == "", len(b.RequestID) > 50, b.OrderInfo == "",
		!absoluteURL(b.RedirectURL), !absoluteURL(b.IPNURL), b.Lang != "" && b.Lang != "vi" && b.Lang != "en":
		return momoBadRequest
	case b.ExtraData != "" && !validBase64(b.ExtraData):
		return momoBadRequest
	case b.Amount < lim[0] || b.Amount > lim[1]:
		return momoBadAmount
	}
	return momoOK
}

func validMoMoID(id string) bool { return len(id) <= 200 && momoOrderID.MatchString(id) }

func validBase64(s string) bool {
	_, err := base64.StdEncoding.DecodeString(s)
	return err == nil
}

// momoRegister records a created order unless its ids were used before.
func (s *Sim) momoRegister(b momo.CreateBody) int {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if code := s.momoDuplicate(b.OrderID, b.RequestID); code != momoOK {
		return code
	}
	s.st.add(&Transaction{
		Gateway: MoMo, Ref: b.OrderID, Amount: b.Amount, Description: b.OrderInfo, Status: StatusPending,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.MoMo.OrderExpiry), ReturnURL: b.RedirectURL, CallbackURL: b.IPNURL,
		Wire: Wire{RequestID: b.RequestID, RequestType: b.RequestType, ExtraData: b.ExtraData, Locale: lang2(b.Lang)},
	})
	return momoOK
}

// momoDuplicate: an orderId is used once, by a payment or a refund, and so
// is a requestId. The caller holds s.mu.
func (s *Sim) momoDuplicate(orderID, requestID string) int {
	if _, err := s.st.get(MoMo, orderID); err == nil {
		return momoDupOrder
	}
	if _, _, ok := s.st.findRefund(MoMo, orderID); ok {
		return momoDupOrder
	}
	if s.st.momoReqs[requestID] {
		return momoDupRequest
	}
	return momoOK
}

func lang2(l string) string {
	if l == "en" {
		return "en"
	}
	return "vi"
}

// momoRefundTrans is one refund in a query answer.
type momoRefundTrans struct {
	OrderID     string `json:"orderId"`
	Amount      int64  `json:"amount"`
	ResultCode  int    `json:"resultCode"`
	TransID     int64  `json:"transId"`
	CreatedTime int64  `json:"createdTime"`
}

// momoQueryAnswer is MoMo's query answer with the refunds it lists.
type momoQueryAnswer struct {
	momo.QueryResponse
	RefundTrans []momoRefundTrans `json:"refundTrans"`
}

// momoQuery serves POST /momo/v2/gateway/api/query. Its answer is signed
// (momo.QueryResponse.SignatureFields).
func (s *Sim) momoQuery(w http.ResponseWriter, r *http.Request) {
	var b momo.QueryBody
	err := decodeJSON(r, &b, false)
	resp := momoQueryAnswer{QueryResponse: momo.QueryResponse{PartnerCode: b.PartnerCode, OrderID: b.OrderID,
		RequestID: b.RequestID, ResponseTime: s.nowMilli()}, RefundTrans: []momoRefundTrans{}}
	switch {
	case err != nil || b.OrderID == "" || b.RequestID == "":
		resp.ResultCode = momoBadRequest
	case !s.momoAuthOK(b.PartnerCode, b.Signature, b.SignatureFields(s.cfg.MoMo.AccessKey)):
		resp.ResultCode = momoAuth
	default:
		t, ok := s.momoLookup(b.OrderID)
		if !ok {
			resp.ResultCode = momoNotFound
			break
		}
		q := &resp.QueryResponse
		q.Amount, q.ExtraData, q.PayType = t.Amount, t.Wire.ExtraData, momoPayTypes[t.Wire.RequestType]
		q.ResultCode = momoCreated
		if t.Status != StatusPending {
			q.ResultCode, _ = strconv.Atoi(t.Code)
			q.TransID = parseNumber(t.GatewayTxnID)
			q.LastUpdated = t.CompletedAt.UnixMilli()
		}
		for _, rf := range t.Refunds {
			resp.RefundTrans = append(resp.RefundTrans, momoRefundTrans{OrderID: rf.ID, Amount: rf.Amount,
				TransID: parseNumber(rf.GatewayRefundID), CreatedTime: rf.At.UnixMilli()})
		}
	}
	resp.Message = momoMessage(resp.ResultCode)
	key := s.cfg.MoMo.SecretKey
	if chance(s.Faults(MoMo).AnswerBadSignatureRate) {
		key = badKey(key)
	}
	resp.Signature = momo.Signature(key, resp.QueryResponse.SignatureFields(s.cfg.MoMo.AccessKey)...)
	apiAnswer(w, err, resp)
}

// momoLookup is a copy of a MoMo payment, expired if its time has come.
func (s *Sim) momoLookup(orderID string) (Transaction, bool) {
	t, err := s.Transaction(MoMo, orderID)
	return t, err == nil
}

// parseNumber reads a transaction number (0 when there is none).
func parseNumber(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// momoRefund serves POST /momo/v2/gateway/api/refund. The refund's orderId
// is its idempotency key: a second request with it is answered 41 and
// refunds nothing.
func (s *Sim) momoRefund(w http.ResponseWriter, r *http.Request) {
	var b momo.RefundBody
	err := decodeJSON(r, &b, false)
	resp := momo.RefundResponse{PartnerCode: b.PartnerCode, OrderID: b.OrderID, RequestID: b.RequestID,
		Amount: b.Amount, ResponseTime: s.nowMilli()}
	switch {
	case err != nil || !validMoMoID(b.OrderID) || b.RequestID == "" || len(b.RequestID) > 50 || b.TransID <= 0:
		resp.ResultCode = momoBadRequest
	case !s.momoAuthOK(b.PartnerCode, b.Signature, b.SignatureFields(s.cfg.MoMo.AccessKey)):
		resp.ResultCode = momoAuth
	case b.Amount < 1_000 || b.Amount > maxAmount:
		resp.ResultCode = momoBadAmount
	default:
		resp.ResultCode, resp.TransID = s.momoDoRefund(b)
	}
	resp.Message = momoMessage(resp.ResultCode)
	apiAnswer(w, err, resp)
}

func (s *Sim) momoDoRefund(b momo.RefundBody) (code int, transID int64) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, prev, ok := s.st.findRefund(MoMo, b.OrderID); ok {
		return momoDupOrder, parseNumber(prev.GatewayRefundID)
	}
	if code := s.momoDuplicate(b.OrderID, b.RequestID); code != momoOK {
		return code, 0
	}
	t, ok := s.st.byNumber[strconv.FormatInt(b.TransID, 10)]
	if !ok || t.Gateway != MoMo || t.GatewayTxnID != strconv.FormatInt(b.TransID, 10) {
		return momoNotFound, 0
	}
	s.st.expire(t, now)
	if t.Status != StatusSucceeded {
		return momoRefundFailed, 0
	}
	if canRefund(t, b.Amount) != nil {
		return momoRefundDenied, 0
	}
	rf := s.st.refund(t, b.OrderID, b.RequestID, b.Amount, b.Description, now)
	return momoOK, parseNumber(rf.GatewayRefundID)
}

// momoNotification is the signed result of a final payment, as the IPN
// and the browser's redirect carry it.
func (s *Sim) momoNotification(t Transaction, secret string) momo.Notification {
	code, _ := strconv.Atoi(t.Code)
	n := momo.Notification{
		PartnerCode: s.cfg.MoMo.PartnerCode, OrderID: t.Ref, RequestID: t.Wire.RequestID, Amount: t.Amount,
		OrderInfo: t.Description, OrderType: "momo_wallet", TransID: parseNumber(t.GatewayTxnID), ResultCode: code,
		Message: momoMessage(code), PayType: momoPayTypes[t.Wire.RequestType], ResponseTime: t.CompletedAt.UnixMilli(),
		ExtraData: t.Wire.ExtraData,
	}
	n.Signature = momo.Signature(secret, n.SignatureFields(s.cfg.MoMo.AccessKey)...)
	return n
}

// momoIPN is the IPN of a final payment: POST JSON to the order's ipnUrl.
func (s *Sim) momoIPN(t Transaction) outgoing {
	o := outgoing{gateway: MoMo, ref: t.Ref, method: http.MethodPost, contentType: "application/json", verdict: momoVerdict}
	good, _ := json.Marshal(s.momoNotification(t, s.cfg.MoMo.SecretKey)) // strings and numbers: cannot fail
	bad, _ := json.Marshal(s.momoNotification(t, badKey(s.cfg.MoMo.SecretKey)))
	o.good, o.bad = callbackMsg{url: t.CallbackURL, body: good}, callbackMsg{url: t.CallbackURL, body: bad}
	return o
}

// momoReturn is the redirectUrl with the signed result in its query.
func (s *Sim) momoReturn(t Transaction) string {
	if t.ReturnURL == "" {
		return ""
	}
	n := s.momoNotification(t, s.cfg.MoMo.SecretKey)
	q := url.Values{
		"partnerCode": {n.PartnerCode}, "orderId": {n.OrderID}, "requestId": {n.RequestID},
		"amount": {strconv.FormatInt(n.Amount, 10)}, "orderInfo": {n.OrderInfo}, "orderType": {n.OrderType},
		"transId": {strconv.FormatInt(n.TransID, 10)}, "resultCode": {strconv.Itoa(n.ResultCode)},
		"message": {n.Message}, "payType": {n.PayType}, "responseTime": {strconv.FormatInt(n.ResponseTime, 10)},
		"extraData": {n.ExtraData}, "signature": {n.Signature},
	}
	return withQuery(t.ReturnURL, q.Encode())
}

// momoVerdict: MoMo wants a 2xx (204); a 4xx is a refusal a retry cannot
// change; a 5xx or no answer is retried.
func momoVerdict(status int, _ []byte) verdict {
	switch {
	case status >= 200 && status < 300:
		return delivered
	case status >= 400 && status < 500:
		return refused
	}
	return retry
}
