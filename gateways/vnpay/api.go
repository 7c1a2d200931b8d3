package vnpay

import (
	"context"
	"fmt"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/internal/wire"
)

// QueryBody is a querydr request, POSTed as JSON to APIPath.
type QueryBody struct {
	RequestID       string `json:"vnp_RequestId"`
	Version         string `json:"vnp_Version"`
	Command         string `json:"vnp_Command"` // "querydr"
	TmnCode         string `json:"vnp_TmnCode"`
	TxnRef          string `json:"vnp_TxnRef"`
	OrderInfo       string `json:"vnp_OrderInfo"`
	TransactionNo   string `json:"vnp_TransactionNo,omitempty"`
	TransactionDate string `json:"vnp_TransactionDate"` // the payment's vnp_CreateDate
	CreateDate      string `json:"vnp_CreateDate"`      // this request's time
	IPAddr          string `json:"vnp_IpAddr"`
	SecureHash      string `json:"vnp_SecureHash"`
}

// HashParts are the values vnp_SecureHash covers, in order:
// RequestId|Version|Command|TmnCode|TxnRef|TransactionDate|CreateDate|IpAddr|OrderInfo.
func (b QueryBody) HashParts() []string {
	return []string{b.RequestID, b.Version, b.Command, b.TmnCode, b.TxnRef,
		b.TransactionDate, b.CreateDate, b.IPAddr, b.OrderInfo}
}

// RefundBody is a refund request, POSTed as JSON to APIPath. Amount is ×100
// and, like every field, a JSON string.
type RefundBody struct {
	RequestID       string `json:"vnp_RequestId"`
	Version         string `json:"vnp_Version"`
	Command         string `json:"vnp_Command"` // "refund"
	TmnCode         string `json:"vnp_TmnCode"`
	TransactionType string `json:"vnp_TransactionType"` // "02" full, "03" partial
	TxnRef          string `json:"vnp_TxnRef"`
	Amount          string `json:"vnp_Amount"`
	OrderInfo       string `json:"vnp_OrderInfo"`
	TransactionNo   string `json:"vnp_TransactionNo,omitempty"`
	TransactionDate string `json:"vnp_TransactionDate"`
	CreateBy        string `json:"vnp_CreateBy"`
	CreateDate      string `json:"vnp_CreateDate"`
	IPAddr          string `json:"vnp_IpAddr"`
	SecureHash      string `json:"vnp_SecureHash"`
}

// HashParts are the values vnp_SecureHash covers, in order:
// RequestId|Version|Command|TmnCode|TransactionType|TxnRef|Amount|TransactionNo|TransactionDate|CreateBy|CreateDate|IpAddr|OrderInfo.
func (b RefundBody) HashParts() []string {
	return []string{b.RequestID, b.Version, b.Command, b.TmnCode, b.TransactionType, b.TxnRef,
		b.Amount, b.TransactionNo, b.TransactionDate, b.CreateBy, b.CreateDate, b.IPAddr, b.OrderInfo}
}

// APIResponse is VNPAY's answer to querydr and refund. Every field is a JSON
// string, as in VNPAY's documentation; an answer with numbers is refused as malformed.
type APIResponse struct {
	ResponseID        string `json:"vnp_ResponseId"`
	Command           string `json:"vnp_Command"`
	ResponseCode      string `json:"vnp_ResponseCode"`
	Message           string `json:"vnp_Message"`
	TmnCode           string `json:"vnp_TmnCode"`
	TxnRef            string `json:"vnp_TxnRef"`
	Amount            string `json:"vnp_Amount"`
	BankCode          string `json:"vnp_BankCode"`
	PayDate           string `json:"vnp_PayDate"`
	TransactionNo     string `json:"vnp_TransactionNo"`
	TransactionType   string `json:"vnp_TransactionType"`
	TransactionStatus string `json:"vnp_TransactionStatus"`
	OrderInfo         string `json:"vnp_OrderInfo"`
	PromotionCode     string `json:"vnp_PromotionCode,omitempty"`
	PromotionAmount   string `json:"vnp_PromotionAmount,omitempty"`
	SecureHash        string `json:"vnp_SecureHash"`
}

// HashParts are the values vnp_SecureHash covers, in order:
// ResponseId|Command|ResponseCode|Message|TmnCode|TxnRef|Amount|BankCode|PayDate|TransactionNo|TransactionType|TransactionStatus|OrderInfo,
// followed by |PromotionCode|PromotionAmount unless Command is "refund".
func (r APIResponse) HashParts() []string {
	parts := []string{r.ResponseID, r.Command, r.ResponseCode, r.Message, r.TmnCode, r.TxnRef,
		r.Amount, r.BankCode, r.PayDate, r.TransactionNo, r.TransactionType, r.TransactionStatus, r.OrderInfo}
	if r.Command != "refund" {
		parts = append(parts, r.PromotionCode, r.PromotionAmount)
	}
	return parts
}

// Query asks querydr for the attempt's status. Result.Code is
// vnp_TransactionStatus. VNPAY not knowing the reference (91) is reported as
// StatusPending: the citizen may not have reached VNPAY's page yet, and only
// the caller knows whether the attempt has expired.
func (a *Adapter) Query(ctx context.Context, r gateways.QueryRequest) (gateways.Result, error) {
	if r.GatewayRef == "" || r.CreatedAt.IsZero() {
		return gateways.Result{}, fmt.Errorf("vnpay: querydr: GatewayRef and CreatedAt are required: %w", gateways.ErrInvalidRequest)
	}
	ip := r.ClientIP
	if ip == "" {
		ip = a.cfg.ServerIP
	}
	body := QueryBody{
		RequestID: r.RequestID, Version: Version, Command: "querydr", TmnCode: a.cfg.TmnCode,
		TxnRef: r.GatewayRef, OrderInfo: "Truy van giao dich " + r.GatewayRef,
		TransactionDate: FormatTime(r.CreatedAt), CreateDate: FormatTime(time.Now()), IPAddr: ip,
	}
	if body.RequestID == "" {
		body.RequestID = wire.NewID()
	}
	body.SecureHash = PipeHash(a.cfg.HashSecret, body.HashParts()...)
	resp, err := a.post(ctx, body.Command, body, r.GatewayRef)
	if err != nil {
		return gateways.Result{}, err
	}
	switch resp.ResponseCode {
	case apiOK:
	case apiNotFound:
		return gateways.Result{GatewayRef: r.GatewayRef, Currency: wire.CurrencyVND, Status: gateways.StatusPending,
			Code: resp.ResponseCode, Message: resp.Message}, nil
	default:
		return gateways.Result{}, rejected("querydr", resp)
	}
	amount, err := ParseAmount(resp.Amount)
	if err != nil {
		return gateways.Result{}, fmt.Errorf("vnpay: querydr: %w", err)
	}
	res := gateways.Result{
		// querydr's answer carries no currency: vnp_Amount is in VND, our contract's.
		GatewayRef: r.GatewayRef, GatewayTxnID: resp.TransactionNo, Amount: amount, Currency: wire.CurrencyVND,
		Status: queryStatus(resp.TransactionStatus), Code: resp.TransactionStatus, Message: resp.Message,
	}
	if res.Status == gateways.StatusSucceeded && resp.PayDate != "" {
		if res.PaidAt, err = ParseTime(resp.PayDate); err != nil {
			return gateways.Result{}, fmt.Errorf("vnpay: querydr: %w", wire.Malformed("vnp_PayDate: %v", err))
		}
	}
	return res, nil
}

// Probe (gateways.Prober) sends querydr for a reference that cannot exist:
// VNPAY answers 91, not found.
func (a *Adapter) Probe(ctx context.Context) error {
	_, err := a.Query(ctx, gateways.QueryRequest{GatewayRef: wire.ProbeRef(), CreatedAt: time.Now()})
	return err
}

// Refund sends a full (02) or partial (03) refund. vnp_RequestId is the
// RefundRef, so a retry of the same refund is the same request: VNPAY answers
// a duplicate with 94, reported as StatusPending (confirm with a querydr of
// the payment: vnp_TransactionStatus 05/06 means the refund is under way).
// 95 (payment not successful) and 91 (not found) are StatusFailed; any other
// code than 00 is an error wrapping gateways.ErrRejected.
func (a *Adapter) Refund(ctx context.Context, r gateways.RefundRequest) (gateways.RefundResult, error) {
	vnd, err := wire.Refund(r)
	if err == nil && r.OriginalCreatedAt.IsZero() {
		err = fmt.Errorf("OriginalCreatedAt is required: %w", gateways.ErrInvalidRequest)
	}
	if err != nil {
		return gateways.RefundResult{}, fmt.Errorf("vnpay: refund: %w", err)
	}
	txnType := "03"
	if r.Full {
		txnType = "02"
	}
	body := RefundBody{
		RequestID: r.RefundRef, Version: Version, Command: "refund", TmnCode: a.cfg.TmnCode,
		TransactionType: txnType, TxnRef: r.GatewayRef, Amount: FormatAmount(vnd),
		OrderInfo: orderInfo(r.Reason, "Hoan tien "+r.RefundRef), TransactionNo: r.GatewayTxnID,
		TransactionDate: FormatTime(r.OriginalCreatedAt), CreateBy: a.cfg.RefundCreatedBy,
		CreateDate: FormatTime(time.Now()), IPAddr: a.cfg.ServerIP,
	}
	body.SecureHash = PipeHash(a.cfg.HashSecret, body.HashParts()...)
	resp, err := a.post(ctx, body.Command, body, r.GatewayRef)
	if err != nil {
		return gateways.RefundResult{}, err
	}
	out := gateways.RefundResult{GatewayRefundID: resp.TransactionNo, Code: resp.ResponseCode, Message: resp.Message}
	switch resp.ResponseCode {
	case apiOK:
		out.Status = gateways.StatusSucceeded
	case apiDuplicate:
		out.Status = gateways.StatusPending
	case apiNotPaid, apiNotFound:
		out.Status = gateways.StatusFailed
	default:
		return gateways.RefundResult{}, rejected("refund", resp)
	}
	return out, nil
}

// post sends body to the merchant API and checks the answer's hash, command
// and reference. Every answer must be signed, whatever its code.
func (a *Adapter) post(ctx context.Context, command string, body any, ref string) (APIResponse, error) {
	op := "vnpay: " + command
	var resp APIResponse
	if err := a.call.PostJSON(ctx, op, a.cfg.BaseURL+APIPath, body, &resp); err != nil {
		return APIResponse{}, err
	}
	if !wire.EqualMAC(resp.SecureHash, PipeHash(a.cfg.HashSecret, resp.HashParts()...)) {
		return APIResponse{}, fmt.Errorf("%s: answer with code %q: %w", op, resp.ResponseCode, gateways.ErrBadSignature)
	}
	if resp.Command != command {
		return APIResponse{}, fmt.Errorf("%s: %w", op, wire.Malformed("answer to command %q", resp.Command))
	}
	if resp.ResponseCode == apiOK && resp.TxnRef != ref {
		return APIResponse{}, fmt.Errorf("%s: %w", op, wire.Malformed("answer for vnp_TxnRef %q, asked %q", resp.TxnRef, ref))
	}
	return resp, nil
}

func rejected(command string, resp APIResponse) error {
	return fmt.Errorf("vnpay: %s: code %s (%s): %w", command, resp.ResponseCode, resp.Message, gateways.ErrRejected)
}
