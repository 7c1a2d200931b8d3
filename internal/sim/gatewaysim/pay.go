package gatewaysim

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/civicpay/civicpay/gateways/vnpay"
)

// Payment outcomes (PayRequest.Outcome).
const (
	PaySuccess = "success"
	PayDecline = "decline"
)

// PayRequest completes a pending payment as the citizen would on the pay
// page. Name the payment with Ref, or with PayURL: the RedirectURL the
// merchant got from create. For VNPAY, whose create makes no call, PayURL
// also opens the payment (as the citizen's browser would) when the
// simulator has not seen it yet.
type PayRequest struct {
	Gateway string `json:"gateway"`
	Ref     string `json:"ref,omitempty"`
	PayURL  string `json:"pay_url,omitempty"`
	Outcome string `json:"outcome"` // PaySuccess or PayDecline
	// Code is a decline's code in the gateway's own terms: VNPAY
	// vnp_ResponseCode (default 24, cancelled), MoMo resultCode (default
	// 1006, denied by user); ZaloPay has only 2.
	Code string `json:"code,omitempty"`
}

// PayResult is the completed payment.
type PayResult struct {
	Transaction Transaction `json:"transaction"`
	// RedirectURL is where the gateway sends the browser: the merchant's
	// return URL with the signed result; empty when there is none.
	RedirectURL string `json:"redirect_url,omitempty"`
}

// declineCodes are the codes a declined payment may carry, the default first.
var declineCodes = map[string][]string{
	VNPAY:   {"24", "09", "10", "11", "12", "13", "51", "65", "75", "79", "99"},
	MoMo:    {"1006", "1001", "1002", "1003", "1004", "1005"},
	ZaloPay: {"2"},
}

// successCodes are the codes of a successful payment.
var successCodes = map[string]string{VNPAY: "00", MoMo: "0", ZaloPay: "1"}

func outcomeCode(gateway, outcome, code string) (string, error) {
	switch outcome {
	case PaySuccess:
		if code != "" && code != successCodes[gateway] {
			return "", invalid("code %q with outcome success", clip(code))
		}
		return successCodes[gateway], nil
	case PayDecline:
		codes := declineCodes[gateway]
		if code == "" {
			return codes[0], nil
		}
		if !slices.Contains(codes, code) {
			return "", invalid("%s decline code %q: want one of %v", gateway, clip(code), codes)
		}
		return code, nil
	}
	return "", invalid("outcome %q: want %q or %q", clip(outcome), PaySuccess, PayDecline)
}

// Pay completes a pending payment and sends its callback (in the
// background, with the gateway's faults). A payment that is already final
// or whose window has closed is ErrConflict; an unknown one ErrNotFound.
func (s *Sim) Pay(req PayRequest) (PayResult, error) {
	if !knownGateway(req.Gateway) {
		return PayResult{}, invalid("gateway %q", clip(req.Gateway))
	}
	code, err := outcomeCode(req.Gateway, req.Outcome, req.Code)
	if err != nil {
		return PayResult{}, err
	}
	ref, err := s.payRef(req)
	if err != nil {
		return PayResult{}, err
	}
	status := StatusFailed
	if req.Outcome == PaySuccess {
		status = StatusSucceeded
	}
	now := s.cfg.Now()
	s.mu.Lock()
	t, err := s.st.get(req.Gateway, ref)
	if err == nil {
		err = s.st.payable(t, now)
	}
	if err != nil {
		s.mu.Unlock()
		return PayResult{}, err
	}
	s.st.complete(t, status, code, now)
	done := t.clone()
	s.mu.Unlock()
	res := PayResult{Transaction: done, RedirectURL: s.notify(done)}
	if err := s.durable(); err != nil { // the payment and its callback are on disk before anyone hears of them
		return PayResult{}, err
	}
	s.cfg.Logger.Info("gatewaysim: payment", "gateway", done.Gateway, "ref", done.Ref, "amount", done.Amount,
		"status", done.Status, "code", done.Code)
	return res, nil
}

// payable checks that t can still be paid.
func (st *store) payable(t *Transaction, now time.Time) error {
	if st.expire(t, now) {
		return fmt.Errorf("%s payment %s: window closed at %s: %w", t.Gateway, t.Ref, t.ExpiresAt.Format(time.RFC3339), ErrConflict)
	}
	if t.Status != StatusPending {
		return fmt.Errorf("%s payment %s is already %s: %w", t.Gateway, t.Ref, t.Status, ErrConflict)
	}
	return nil
}

// payRef finds the reference a PayRequest names.
func (s *Sim) payRef(req PayRequest) (string, error) {
	if req.PayURL == "" {
		if req.Ref == "" {
			return "", invalid("ref or pay_url is required")
		}
		return req.Ref, nil
	}
	u, err := url.Parse(req.PayURL)
	if err != nil {
		return "", invalid("pay_url: %v", err)
	}
	var ref string
	if prefix := "/" + req.Gateway + "/pay/"; strings.Contains(u.Path, prefix) {
		ref = u.Path[strings.LastIndex(u.Path, prefix)+len(prefix):]
	} else if req.Gateway == VNPAY && strings.HasSuffix(u.Path, vnpay.PayPath) {
		t, err := s.openVNPAY(u.Query())
		if err != nil {
			return "", err
		}
		ref = t.Ref
	}
	switch {
	case ref == "":
		return "", invalid("pay_url %q is not a %s payment page", clip(req.PayURL), req.Gateway)
	case req.Ref != "" && req.Ref != ref:
		return "", invalid("ref %q but pay_url names %q", clip(req.Ref), clip(ref))
	}
	return ref, nil
}

// notify sends a completed payment's callback and returns the browser's
// redirect.
func (s *Sim) notify(t Transaction) string {
	if o, ok := s.callbackOf(t); ok {
		s.dispatch(o)
	}
	switch t.Gateway {
	case VNPAY:
		return s.vnpayReturn(t)
	case MoMo:
		return s.momoReturn(t)
	}
	return s.zalopayReturn(t)
}

// callbackOf is a completed payment's callback. ZaloPay calls back for
// successful payments only.
func (s *Sim) callbackOf(t Transaction) (outgoing, bool) {
	switch t.Gateway {
	case VNPAY:
		return s.vnpayIPN(t), true
	case MoMo:
		return s.momoIPN(t), true
	case ZaloPay:
		if t.Status == StatusSucceeded {
			return s.zalopayCallback(t), true
		}
	}
	return outgoing{}, false
}

// Transaction returns a copy of one transaction.
func (s *Sim) Transaction(gateway, ref string) (Transaction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.st.get(gateway, ref)
	if err != nil {
		return Transaction{}, err
	}
	s.st.expire(t, s.cfg.Now())
	return t.clone(), nil
}

// Transactions lists transactions, newest first.
func (s *Sim) Transactions(f TransactionFilter) []Transaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.list(f)
}
