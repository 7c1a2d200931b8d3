package gatewaysim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/civicpay/civicpay/gateways/zalopay"
)

// zpAppTransID is ZaloPay's app_trans_id rule: yymmdd_ and up to 33 more.
var zpAppTransID = regexp.MustCompile(`^[0-9]{6}_[0-9A-Za-z_-]{1,33}$`)

// ZaloPay answers: return_code 1 ok, 2 failed, 3 pending. The
// sub_return_code values for failures are the simulator's own choice
// (unconfirmed: ZaloPay documents them per API): what went wrong is in
// sub_return_code, and a request error answers return_code 2 like a failed
// payment does.
const (
	zpOK      = 1
	zpFailed  = 2
	zpPending = 3

	zpSubInvalid   = -401 // request data invalid
	zpSubMAC       = -402 // app_id or mac does not verify
	zpSubDuplicate = -68  // app_trans_id (or m_refund_id) already used
	zpSubNotFound  = -92  // order, transaction or refund not found
	zpSubNotPaid   = -53  // the payment is not successful (refund)
	zpSubAmount    = -13  // refund amount exceeds what is left
	zpSubExpired   = -54  // payment window closed
	zpSubDeclined  = -49  // declined by the user
)

var zpMessages = map[int]string{
	zpOK: "Giao dịch thành công", zpFailed: "Giao dịch thất bại", zpPending: "Giao dịch chưa được thanh toán hoặc đang xử lý",
	zpSubInvalid: "Dữ liệu yêu cầu không hợp lệ", zpSubMAC: "Xác thực thông tin ứng dụng thất bại",
	zpSubDuplicate: "Mã giao dịch bị trùng", zpSubNotFound: "Không tìm thấy giao dịch",
	zpSubNotPaid: "Giao dịch gốc không thành công", zpSubAmount: "Số tiền hoàn vượt quá số tiền còn lại",
	zpSubExpired: "Đơn hàng đã hết hạn", zpSubDeclined: "Người dùng đã hủy giao dịch",
}

// zpDefaultExpiry is an order's window when expire_duration_seconds is 0.
const zpDefaultExpiry = 15 * time.Minute

// zpAnswer is the shape every ZaloPay answer shares.
type zpAnswer struct {
	code, sub int
}

func (a zpAnswer) fill(rc, sub *int, rm, sm *string) {
	*rc, *rm = a.code, zpMessages[a.code]
	*sub = a.sub
	if a.sub == 0 {
		*sub = a.code
	}
	*sm = zpMessages[*sub]
}

func zpFail(sub int) zpAnswer { return zpAnswer{zpFailed, sub} }

// zalopayCreate serves POST /zalopay/v2/create.
func (s *Sim) zalopayCreate(w http.ResponseWriter, r *http.Request) {
	var o zalopay.CreateOrder
	err := decodeJSON(r, &o, false)
	a := zpFail(zpSubInvalid)
	var returnURL string
	if err == nil {
		returnURL, a = s.zalopayCreateCheck(o)
	}
	if a.code == zpOK {
		a = s.zalopayRegister(o, returnURL)
	}
	var resp zalopay.CreateResponse
	a.fill(&resp.ReturnCode, &resp.SubReturnCode, &resp.ReturnMessage, &resp.SubReturnMessage)
	if a.code == zpOK {
		resp.OrderURL = payURL(s.publicBase(r), ZaloPay, o.AppTransID)
		resp.ZPTransToken = newID()
		resp.OrderToken, resp.QRCode = resp.ZPTransToken, resp.OrderURL
	}
	apiAnswer(w, err, resp)
}

// zalopayCreateCheck validates an order and returns its redirect URL.
func (s *Sim) zalopayCreateCheck(o zalopay.CreateOrder) (string, zpAnswer) {
	if o.AppID != s.cfg.ZaloPay.AppID || !zalopay.VerifyMAC(s.cfg.ZaloPay.Key1, o.MACData(), o.MAC) {
		return "", zpFail(zpSubMAC)
	}
	var items []json.RawMessage
	var embed map[string]any
	ok := zpAppTransID.MatchString(o.AppTransID) && o.AppTime > 0 &&
		o.AppTransID[:6] == time.UnixMilli(o.AppTime).In(ICT).Format("060102") &&
		o.Amount > 0 && o.Amount <= maxAmount && o.AppUser != "" && len(o.AppUser) <= 50 && o.Description != "" &&
		json.Unmarshal([]byte(o.Item), &items) == nil && json.Unmarshal([]byte(o.EmbedData), &embed) == nil && embed != nil &&
		(o.CallbackURL == "" || absoluteURL(o.CallbackURL)) &&
		(o.ExpireDurationSeconds == 0 || o.ExpireDurationSeconds >= 300 && o.ExpireDurationSeconds <= 2_592_000)
	if !ok {
		return "", zpFail(zpSubInvalid)
	}
	redirect, _ := embed["redirecturl"].(string)
	if redirect != "" && !absoluteURL(redirect) {
		return "", zpFail(zpSubInvalid)
	}
	return redirect, zpAnswer{code: zpOK}
}

func (s *Sim) zalopayRegister(o zalopay.CreateOrder, returnURL string) zpAnswer {
	now := s.cfg.Now()
	expiry := zpDefaultExpiry
	if o.ExpireDurationSeconds > 0 {
		expiry = time.Duration(o.ExpireDurationSeconds) * time.Second
	}
	callback := o.CallbackURL
	if callback == "" {
		callback = s.cfg.ZaloPay.CallbackURL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.st.get(ZaloPay, o.AppTransID); err == nil {
		return zpFail(zpSubDuplicate)
	}
	s.st.add(&Transaction{
		Gateway: ZaloPay, Ref: o.AppTransID, Amount: o.Amount, Description: o.Description, Status: StatusPending,
		CreatedAt: now, ExpiresAt: now.Add(expiry), ReturnURL: returnURL, CallbackURL: callback,
		Wire: Wire{AppTime: o.AppTime, AppUser: o.AppUser, EmbedData: o.EmbedData, Item: o.Item, BankCode: o.BankCode},
	})
	return zpAnswer{code: zpOK}
}

// zalopayQuery serves POST /zalopay/v2/query.
func (s *Sim) zalopayQuery(w http.ResponseWriter, r *http.Request) {
	var b zalopay.QueryBody
	err := decodeJSON(r, &b, false)
	var resp zalopay.QueryResponse
	var a zpAnswer
	switch {
	case err != nil || b.AppTransID == "":
		a = zpFail(zpSubInvalid)
	case b.AppID != s.cfg.ZaloPay.AppID || !zalopay.VerifyMAC(s.cfg.ZaloPay.Key1, b.MACData(s.cfg.ZaloPay.Key1), b.MAC):
		a = zpFail(zpSubMAC)
	default:
		t, err := s.Transaction(ZaloPay, b.AppTransID)
		if err != nil {
			a = zpFail(zpSubNotFound)
			break
		}
		resp.Amount = t.Amount
		switch t.Status {
		case StatusPending:
			a = zpAnswer{code: zpPending}
		case StatusSucceeded:
			a = zpAnswer{code: zpOK}
			resp.ZPTransID, resp.ServerTime = parseNumber(t.GatewayTxnID), t.CompletedAt.UnixMilli()
		default:
			a = zpFail(zpSubDeclined)
			if t.Code == expiryCodes[ZaloPay] && !t.CompletedAt.Before(t.ExpiresAt) {
				a = zpFail(zpSubExpired)
			}
		}
	}
	a.fill(&resp.ReturnCode, &resp.SubReturnCode, &resp.ReturnMessage, &resp.SubReturnMessage)
	apiAnswer(w, err, resp)
}

// zpRefundID checks an m_refund_id: yymmdd_appid_xxx.
func (s *Sim) zpRefundID(id string) bool {
	prefix := "_" + strconv.FormatInt(s.cfg.ZaloPay.AppID, 10) + "_"
	return len(id) <= 64 && len(id) > 6+len(prefix) && isDigits(id[:6]) && strings.HasPrefix(id[6:], prefix) &&
		vnpTxnRef.MatchString(id[6+len(prefix):])
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// zalopayRefund serves POST /zalopay/v2/refund. m_refund_id is the
// idempotency key: the same refund asked again is answered as the first
// time and refunds nothing more.
func (s *Sim) zalopayRefund(w http.ResponseWriter, r *http.Request) {
	var b zalopay.RefundBody
	err := decodeJSON(r, &b, false)
	var resp zalopay.RefundResponse
	var a zpAnswer
	switch {
	case err != nil || b.Amount <= 0 || b.Amount > maxAmount || !isDigits(b.ZPTransID) || b.Timestamp <= 0:
		a = zpFail(zpSubInvalid)
	case b.AppID != s.cfg.ZaloPay.AppID || !zalopay.VerifyMAC(s.cfg.ZaloPay.Key1, b.MACData(), b.MAC):
		a = zpFail(zpSubMAC)
	case !s.zpRefundID(b.MRefundID):
		a = zpFail(zpSubInvalid)
	default:
		a, resp.RefundID = s.zalopayDoRefund(b)
	}
	a.fill(&resp.ReturnCode, &resp.SubReturnCode, &resp.ReturnMessage, &resp.SubReturnMessage)
	apiAnswer(w, err, resp)
}

func (s *Sim) zalopayDoRefund(b zalopay.RefundBody) (zpAnswer, int64) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, prev, ok := s.st.findRefund(ZaloPay, b.MRefundID); ok {
		if t.GatewayTxnID != b.ZPTransID || prev.Amount != b.Amount {
			return zpFail(zpSubDuplicate), 0
		}
		return zpAnswer{code: zpOK}, parseNumber(prev.GatewayRefundID)
	}
	t, ok := s.st.byNumber[b.ZPTransID]
	if !ok || t.Gateway != ZaloPay || t.GatewayTxnID != b.ZPTransID {
		return zpFail(zpSubNotFound), 0
	}
	s.st.expire(t, now)
	if t.Status != StatusSucceeded {
		return zpFail(zpSubNotPaid), 0
	}
	if canRefund(t, b.Amount) != nil {
		return zpFail(zpSubAmount), 0
	}
	rf := s.st.refund(t, b.MRefundID, "", b.Amount, b.Description, now)
	return zpAnswer{code: zpOK}, parseNumber(rf.GatewayRefundID)
}

// zalopayQueryRefund serves POST /zalopay/v2/query_refund.
func (s *Sim) zalopayQueryRefund(w http.ResponseWriter, r *http.Request) {
	var b zalopay.QueryRefundBody
	err := decodeJSON(r, &b, false)
	var resp zalopay.RefundResponse
	a := zpFail(zpSubInvalid)
	switch {
	case err != nil || b.MRefundID == "":
	case b.AppID != s.cfg.ZaloPay.AppID || !zalopay.VerifyMAC(s.cfg.ZaloPay.Key1, b.MACData(), b.MAC):
		a = zpFail(zpSubMAC)
	default:
		s.mu.Lock()
		_, rf, ok := s.st.findRefund(ZaloPay, b.MRefundID)
		s.mu.Unlock()
		a = zpFail(zpSubNotFound)
		if ok {
			a, resp.RefundID = zpAnswer{code: zpOK}, parseNumber(rf.GatewayRefundID)
		}
	}
	a.fill(&resp.ReturnCode, &resp.SubReturnCode, &resp.ReturnMessage, &resp.SubReturnMessage)
	apiAnswer(w, err, resp)
}

// zalopayData is a successful payment's callback data, as the JSON string
// ZaloPay sends and signs.
func (s *Sim) zalopayData(t Transaction) string {
	data, _ := json.Marshal(zalopay.CallbackData{ // numbers and strings: cannot fail
		AppID: s.cfg.ZaloPay.AppID, AppTransID: t.Ref, AppTime: t.Wire.AppTime, AppUser: t.Wire.AppUser,
		Amount: t.Amount, EmbedData: t.Wire.EmbedData, Item: t.Wire.Item, ZPTransID: parseNumber(t.GatewayTxnID),
		ServerTime: t.CompletedAt.UnixMilli(), Channel: 38,
	})
	return string(data)
}

// zalopayCallback is the callback of a successful payment: POST
// {"data","mac","type"} with the mac keyed with key2.
func (s *Sim) zalopayCallback(t Transaction) outgoing {
	data := s.zalopayData(t)
	body := func(key string) []byte {
		b, _ := json.Marshal(zalopay.Callback{Data: data, MAC: zalopay.MAC(key, data), Type: 1})
		return b
	}
	return outgoing{gateway: ZaloPay, ref: t.Ref, method: http.MethodPost, contentType: "application/json",
		verdict: zalopayVerdict,
		good:    callbackMsg{url: t.CallbackURL, body: body(s.cfg.ZaloPay.Key2)},
		bad:     callbackMsg{url: t.CallbackURL, body: body(badKey(s.cfg.ZaloPay.Key2))}}
}

// zalopayReturn is the embed_data redirecturl with ZaloPay's redirect
// fields: checksum = HMAC-SHA256(key2, appid|apptransid|pmcid|bankcode|amount|discountamount|status);
// status 1 paid, 2 not (unconfirmed).
func (s *Sim) zalopayReturn(t Transaction) string {
	if t.ReturnURL == "" {
		return ""
	}
	status := "2"
	if t.Status == StatusSucceeded {
		status = "1"
	}
	appID, amount := strconv.FormatInt(s.cfg.ZaloPay.AppID, 10), strconv.FormatInt(t.Amount, 10)
	const pmcid, discount = "38", "0"
	q := url.Values{"appid": {appID}, "apptransid": {t.Ref}, "pmcid": {pmcid}, "bankcode": {t.Wire.BankCode},
		"amount": {amount}, "discountamount": {discount}, "status": {status}}
	q.Set("checksum", zalopay.MAC(s.cfg.ZaloPay.Key2,
		strings.Join([]string{appID, t.Ref, pmcid, t.Wire.BankCode, amount, discount, status}, "|")))
	return withQuery(t.ReturnURL, q.Encode())
}

// zalopayVerdict reads {"return_code"}: 1 (and 2, already received) end the
// callback, a negative code refuses it for good, anything else is retried.
func zalopayVerdict(status int, body []byte) verdict {
	if status != http.StatusOK {
		return retry
	}
	var a zalopay.CallbackReply
	if json.Unmarshal(body, &a) != nil {
		return retry
	}
	switch {
	case a.ReturnCode == 1 || a.ReturnCode == 2:
		return delivered
	case a.ReturnCode < 0:
		return refused
	}
	return retry
}
