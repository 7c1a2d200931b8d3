package gatewaysim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"

	"github.com/civicpay/civicpay/gateways/vnpay"
	"github.com/civicpay/civicpay/internal/foundation/money"
)

// vnpTxnRef is what the simulator accepts as vnp_TxnRef.
var vnpTxnRef = regexp.MustCompile(`^[0-9A-Za-z_-]{1,100}$`)

// badKey signs a callback that must not verify.
func badKey(key string) string { return key + "-not-the-key" }

// openVNPAY verifies a payment URL's query and registers the payment, or
// finds it again when the browser comes back with the same URL.
func (s *Sim) openVNPAY(q url.Values) (Transaction, error) {
	for k, vs := range q {
		if len(vs) > 1 {
			return Transaction{}, invalid("%s repeated", clip(k))
		}
	}
	if !vnpay.Verify(q, s.cfg.VNPAY.HashSecret) {
		return Transaction{}, invalid("vnp_SecureHash does not verify (VNPAY code 70, wrong signature)")
	}
	get := q.Get
	var err error
	switch {
	case get("vnp_Version") != vnpay.Version || get("vnp_Command") != "pay":
		err = invalid("vnp_Version %q, vnp_Command %q: want %s, pay", clip(get("vnp_Version")), clip(get("vnp_Command")), vnpay.Version)
	case get("vnp_TmnCode") != s.cfg.VNPAY.TmnCode:
		err = invalid("vnp_TmnCode %q is not a known terminal (VNPAY code 02)", clip(get("vnp_TmnCode")))
	case get("vnp_CurrCode") != "VND":
		err = invalid("vnp_CurrCode %q: want VND", clip(get("vnp_CurrCode")))
	case !vnpTxnRef.MatchString(get("vnp_TxnRef")):
		err = invalid("vnp_TxnRef %q", clip(get("vnp_TxnRef")))
	case get("vnp_OrderInfo") == "" || get("vnp_OrderType") == "" || get("vnp_IpAddr") == "":
		err = invalid("vnp_OrderInfo, vnp_OrderType and vnp_IpAddr are required")
	case !absoluteURL(get("vnp_ReturnUrl")):
		err = invalid("vnp_ReturnUrl %q is not an absolute URL", clip(get("vnp_ReturnUrl")))
	case get("vnp_Locale") != "vn" && get("vnp_Locale") != "en":
		err = invalid("vnp_Locale %q: want vn or en", clip(get("vnp_Locale")))
	}
	if err != nil {
		return Transaction{}, err
	}
	amount, err := vnpay.ParseAmount(get("vnp_Amount"))
	if err != nil || !amount.IsPositive() || amount.IntPart() > maxAmount {
		return Transaction{}, invalid("vnp_Amount %q", clip(get("vnp_Amount")))
	}
	created, err := vnpay.ParseTime(get("vnp_CreateDate"))
	if err != nil {
		return Transaction{}, invalid("vnp_CreateDate %q", clip(get("vnp_CreateDate")))
	}
	expires, err := vnpay.ParseTime(get("vnp_ExpireDate"))
	if err != nil || !expires.After(created) {
		return Transaction{}, invalid("vnp_ExpireDate %q is not after vnp_CreateDate", clip(get("vnp_ExpireDate")))
	}
	locale := "vi"
	if get("vnp_Locale") == "en" {
		locale = "en"
	}
	now := s.cfg.Now()
	t := &Transaction{
		Gateway: VNPAY, Ref: get("vnp_TxnRef"), Amount: amount.IntPart(), Description: get("vnp_OrderInfo"),
		Status: StatusPending, CreatedAt: now, ExpiresAt: expires, ReturnURL: get("vnp_ReturnUrl"),
		CallbackURL: s.cfg.VNPAY.IPNURL,
		Wire:        Wire{CreateDate: get("vnp_CreateDate"), BankCode: get("vnp_BankCode"), Locale: locale},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, err := s.st.get(VNPAY, t.Ref); err == nil {
		if old.Amount != t.Amount || old.Wire.CreateDate != t.Wire.CreateDate {
			return Transaction{}, fmt.Errorf("vnp_TxnRef %q is already used by another payment: %w", t.Ref, ErrConflict)
		}
		return old.clone(), nil
	}
	if !now.Before(expires) {
		return Transaction{}, fmt.Errorf("payment window closed at %s (VNPAY code 11): %w", get("vnp_ExpireDate"), ErrConflict)
	}
	s.st.add(t)
	return t.clone(), nil
}

// maxAmount bounds any amount the simulator accepts (VND): the largest
// civicpay may send (money.Limit less one đồng).
var maxAmount = money.Limit.IntPart() - 1

// vnpayOpen serves the payment URL: GET /vnpay/paymentv2/vpcpay.html?...
func (s *Sim) vnpayOpen(w http.ResponseWriter, r *http.Request) {
	t, err := s.openVNPAY(r.URL.Query())
	if err == nil {
		t, err = s.Transaction(VNPAY, t.Ref)
	}
	if err != nil {
		s.renderPage(w, r, VNPAY, nil, errorStatus(err), err.Error())
		return
	}
	s.renderPage(w, r, VNPAY, &t, http.StatusOK, "")
}

// vnpayBank is the bank and card type an IPN reports for a vnp_BankCode.
func vnpayBank(bankCode string) (bank, card string) {
	switch bankCode {
	case "INTCARD":
		return "VISA", "VISA"
	case "VNPAYQR":
		return "NCB", "QRCODE"
	}
	return "NCB", "ATM"
}

// vnpayStatus is vnp_TransactionStatus: 00 paid (06 once refunds were
// sent to the bank), 01 not completed, 02 failed.
func vnpayStatus(t Transaction) string {
	switch {
	case t.Status == StatusPending:
		return "01"
	case t.Status == StatusFailed:
		return "02"
	case len(t.Refunds) > 0:
		return "06"
	}
	return "00"
}

// vnpayResult is the signed result of a final payment, as an IPN or the
// browser's return carries it.
func (s *Sim) vnpayResult(t Transaction, secret string) url.Values {
	bank, card := vnpayBank(t.Wire.BankCode)
	v := url.Values{
		"vnp_TmnCode": {s.cfg.VNPAY.TmnCode}, "vnp_Amount": {vnpay.FormatAmount(t.Amount)},
		"vnp_BankCode": {bank}, "vnp_CardType": {card}, "vnp_OrderInfo": {t.Description},
		"vnp_PayDate": {vnpay.FormatTime(t.CompletedAt)}, "vnp_ResponseCode": {t.Code},
		"vnp_TransactionNo": {t.GatewayTxnID}, "vnp_TransactionStatus": {vnpayStatus(t)}, "vnp_TxnRef": {t.Ref},
	}
	if t.Status == StatusSucceeded {
		v.Set("vnp_BankTranNo", "VNP"+t.GatewayTxnID)
	}
	v.Set("vnp_SecureHash", vnpay.Sign(v, secret))
	return v
}

// vnpayIPN is the IPN of a final payment: GET to the configured IPN URL.
func (s *Sim) vnpayIPN(t Transaction) outgoing {
	o := outgoing{gateway: VNPAY, ref: t.Ref, method: http.MethodGet, verdict: vnpayVerdict}
	if t.CallbackURL != "" {
		o.good.url = withQuery(t.CallbackURL, s.vnpayResult(t, s.cfg.VNPAY.HashSecret).Encode())
		o.bad.url = withQuery(t.CallbackURL, s.vnpayResult(t, badKey(s.cfg.VNPAY.HashSecret)).Encode())
	}
	return o
}

// vnpayReturn is the browser's return URL with the signed result.
func (s *Sim) vnpayReturn(t Transaction) string {
	if t.ReturnURL == "" {
		return ""
	}
	return withQuery(t.ReturnURL, s.vnpayResult(t, s.cfg.VNPAY.HashSecret).Encode())
}

// vnpayVerdict reads the merchant's IPN answer {"RspCode","Message"}: 00
// (recorded) and 02 (already confirmed) end the IPN; 01, 04 and 97 are
// refusals a retry cannot change; anything else (99, no answer) is retried.
func vnpayVerdict(status int, body []byte) verdict {
	if status != http.StatusOK {
		return retry
	}
	var a struct {
		RspCode string `json:"RspCode"`
	}
	if json.Unmarshal(body, &a) != nil {
		return retry
	}
	switch a.RspCode {
	case "00", "02":
		return delivered
	case "01", "04", "97":
		return refused
	}
	return retry
}

// VNPAY merchant API answer codes.
const (
	vnpOK        = "00"
	vnpMerchant  = "02"
	vnpFormat    = "03"
	vnpNotFound  = "91"
	vnpDuplicate = "94"
	vnpNotPaid   = "95"
	vnpChecksum  = "97"
	vnpOther     = "99"
)

var vnpMessages = map[string]string{
	vnpMerchant: "Merchant is not valid", vnpFormat: "Invalid request format", vnpNotFound: "Transaction not found",
	vnpDuplicate: "Duplicate request: a refund with this request id was already received",
	vnpNotPaid:   "Original transaction is not successful", vnpChecksum: "Invalid checksum",
	vnpOther: "Other error",
}

// vnpayAPI serves the merchant API (querydr, refund). Every answer is
// signed, whatever its code.
func (s *Sim) vnpayAPI(w http.ResponseWriter, r *http.Request) {
	var resp vnpay.APIResponse
	var f map[string]string
	if err := decodeJSON(r, &f, false); err != nil {
		resp = vnpayError(vnpay.APIResponse{}, vnpFormat)
	} else {
		switch f["vnp_Command"] {
		case "querydr":
			resp = s.vnpayQuery(f)
		case "refund":
			resp = s.vnpayRefund(f)
		default:
			resp = vnpayError(vnpay.APIResponse{Command: f["vnp_Command"]}, vnpFormat)
		}
	}
	resp.ResponseID, resp.TmnCode = newID(), s.cfg.VNPAY.TmnCode
	resp.SecureHash = vnpay.PipeHash(s.cfg.VNPAY.HashSecret, resp.HashParts()...)
	writeJSON(w, http.StatusOK, resp)
}

func vnpayError(resp vnpay.APIResponse, code string) vnpay.APIResponse {
	resp.ResponseCode, resp.Message = code, vnpMessages[code]
	return resp
}

// vnpayCheck checks what every merchant API request must get right: the
// fields present, the version, the terminal and the hash over parts.
func (s *Sim) vnpayCheck(f map[string]string, parts []string, required ...string) string {
	for _, k := range required {
		if f[k] == "" {
			return vnpFormat
		}
	}
	switch {
	case f["vnp_Version"] != vnpay.Version:
		return vnpFormat
	case f["vnp_TmnCode"] != s.cfg.VNPAY.TmnCode:
		return vnpMerchant
	case !equalMAC(f["vnp_SecureHash"], vnpay.PipeHash(s.cfg.VNPAY.HashSecret, parts...)):
		return vnpChecksum
	}
	return ""
}

func (s *Sim) vnpayQuery(f map[string]string) vnpay.APIResponse {
	b := vnpay.QueryBody{RequestID: f["vnp_RequestId"], Version: f["vnp_Version"], Command: f["vnp_Command"],
		TmnCode: f["vnp_TmnCode"], TxnRef: f["vnp_TxnRef"], OrderInfo: f["vnp_OrderInfo"],
		TransactionNo: f["vnp_TransactionNo"], TransactionDate: f["vnp_TransactionDate"],
		CreateDate: f["vnp_CreateDate"], IPAddr: f["vnp_IpAddr"]}
	resp := vnpay.APIResponse{Command: b.Command, TxnRef: b.TxnRef}
	if code := s.vnpayCheck(f, b.HashParts(), "vnp_RequestId", "vnp_TxnRef", "vnp_TransactionDate",
		"vnp_CreateDate", "vnp_IpAddr", "vnp_SecureHash"); code != "" {
		return vnpayError(resp, code)
	}
	s.mu.Lock()
	t, err := s.st.get(VNPAY, b.TxnRef)
	if err != nil || t.Wire.CreateDate != b.TransactionDate {
		s.mu.Unlock()
		return vnpayError(resp, vnpNotFound)
	}
	s.st.expire(t, s.cfg.Now())
	c := t.clone()
	s.mu.Unlock()
	bank, _ := vnpayBank(c.Wire.BankCode)
	resp.ResponseCode, resp.Message = vnpOK, "QueryDR Success"
	resp.Amount, resp.BankCode, resp.OrderInfo = vnpay.FormatAmount(c.Amount), bank, c.Description
	resp.TransactionNo, resp.TransactionType, resp.TransactionStatus = c.GatewayTxnID, "01", vnpayStatus(c)
	if c.Status != StatusPending {
		resp.PayDate = vnpay.FormatTime(c.CompletedAt)
	}
	return resp
}

func (s *Sim) vnpayRefund(f map[string]string) vnpay.APIResponse {
	b := vnpay.RefundBody{RequestID: f["vnp_RequestId"], Version: f["vnp_Version"], Command: f["vnp_Command"],
		TmnCode: f["vnp_TmnCode"], TransactionType: f["vnp_TransactionType"], TxnRef: f["vnp_TxnRef"],
		Amount: f["vnp_Amount"], OrderInfo: f["vnp_OrderInfo"], TransactionNo: f["vnp_TransactionNo"],
		TransactionDate: f["vnp_TransactionDate"], CreateBy: f["vnp_CreateBy"], CreateDate: f["vnp_CreateDate"],
		IPAddr: f["vnp_IpAddr"]}
	resp := vnpay.APIResponse{Command: b.Command, TxnRef: b.TxnRef, Amount: b.Amount,
		TransactionType: b.TransactionType, OrderInfo: b.OrderInfo}
	if code := s.vnpayCheck(f, b.HashParts(), "vnp_RequestId", "vnp_TransactionType", "vnp_TxnRef", "vnp_Amount",
		"vnp_TransactionDate", "vnp_CreateBy", "vnp_CreateDate", "vnp_IpAddr", "vnp_SecureHash"); code != "" {
		return vnpayError(resp, code)
	}
	amount, err := vnpay.ParseAmount(b.Amount)
	if err != nil || (b.TransactionType != "02" && b.TransactionType != "03") || !amount.IsPositive() || amount.IntPart() > maxAmount {
		return vnpayError(resp, vnpFormat)
	}
	vnd := amount.IntPart()
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, prev, ok := s.st.findRefund(VNPAY, b.RequestID); ok {
		resp.TransactionNo = prev.GatewayRefundID
		return vnpayError(resp, vnpDuplicate)
	}
	t, err := s.st.get(VNPAY, b.TxnRef)
	if err != nil || t.Wire.CreateDate != b.TransactionDate || (b.TransactionNo != "" && b.TransactionNo != t.GatewayTxnID) {
		return vnpayError(resp, vnpNotFound)
	}
	s.st.expire(t, now)
	switch {
	case t.Status != StatusSucceeded:
		return vnpayError(resp, vnpNotPaid)
	case b.TransactionType == "02" && (vnd != t.Amount || len(t.Refunds) > 0):
		resp = vnpayError(resp, vnpFormat)
		resp.Message = "A full refund (02) must be the whole amount of a payment not refunded before"
		return resp
	case canRefund(t, vnd) != nil:
		resp = vnpayError(resp, vnpOther)
		resp.Message = "Refund amount exceeds what is left of the payment"
		return resp
	}
	ref := s.st.refund(t, b.RequestID, "", vnd, b.OrderInfo, now)
	bank, _ := vnpayBank(t.Wire.BankCode)
	resp.ResponseCode, resp.Message = vnpOK, "Refund success"
	resp.BankCode, resp.PayDate, resp.TransactionNo, resp.TransactionStatus = bank, vnpay.FormatTime(now), ref.GatewayRefundID, "06"
	return resp
}
