// Package wire holds what the gateway adapters share: HTTP calls with their own
// deadline and error classification, HMAC helpers, GMT+7 time and the checks on
// amounts and references every adapter makes before anything goes on the wire.
package wire

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/money"
	"github.com/shopspring/decimal"
)

// ICT is Vietnam's time zone, GMT+7 without daylight saving: bizday.Zone.
var ICT = bizday.Zone

// CurrencyVND is the currency of every amount the Vietnamese gateways'
// protocols carry: our merchant contracts with VNPAY, MoMo and ZaloPay are in
// VND and their messages (but VNPAY's pay request) carry no currency field,
// so their adapters report results in it.
const CurrencyVND = money.VND

// DefaultTimeout is the per-call deadline when a Config leaves Timeout at zero.
const DefaultTimeout = 10 * time.Second

// maxBody bounds what we read from a gateway's answer.
const maxBody = 1 << 20

// Caller makes HTTP calls to one gateway.
type Caller struct {
	Client  *http.Client
	Timeout time.Duration
}

// NewCaller returns a Caller using client (http.DefaultClient when nil) and
// timeout (DefaultTimeout when not positive).
func NewCaller(client *http.Client, timeout time.Duration) Caller {
	if client == nil {
		client = http.DefaultClient
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return Caller{Client: client, Timeout: timeout}
}

// PostJSON posts in as JSON to url and decodes the JSON answer into out, under
// its own deadline. op names the call in errors ("momo: query").
//
// Errors: a timeout of our own deadline, a connection error, a failed body
// read or a 5xx status is a *gateways.TechnicalError; the caller's context
// ending first is returned wrapped as it is (not technical); an undecodable
// 2xx body wraps gateways.ErrMalformed and an undecodable 4xx body
// gateways.ErrRejected. A decodable 4xx body is decoded and left to the adapter.
func (c Caller) PostJSON(ctx context.Context, op, url string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: encode request: %w", op, err)
	}
	callCtx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(callCtx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: build request: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.Client.Do(req)
	if err != nil {
		return classify(ctx, op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return classify(ctx, op, fmt.Errorf("read answer: %w", err))
	}
	if resp.StatusCode >= 500 {
		return &gateways.TechnicalError{Op: op, Err: fmt.Errorf("http status %d", resp.StatusCode)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%s: http status %d: %w", op, resp.StatusCode, gateways.ErrRejected)
		}
		return fmt.Errorf("%s: decode answer: %v: %w", op, err, gateways.ErrMalformed)
	}
	return nil
}

// classify tells the caller giving up from the gateway failing.
func classify(parent context.Context, op string, err error) error {
	if parent.Err() != nil {
		return fmt.Errorf("%s: %w", op, context.Cause(parent))
	}
	return &gateways.TechnicalError{Op: op, Err: err}
}

// HMACHex is the lowercase hex HMAC of msg keyed with key.
func HMACHex(h func() hash.Hash, key, msg string) string {
	m := hmac.New(h, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// EqualMAC compares two hex MACs, ignoring case, in constant time for equal lengths.
func EqualMAC(got, want string) bool {
	if got == "" || want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(strings.ToLower(want))) == 1
}

// NewID returns 32 random hex characters, for request ids.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

// ProbeRef is a reference for a gateways.Prober's status query: "probe"
// and 16 hex digits, which no attempt reference (32 hex digits) can be, so
// the gateway answers "not found".
func ProbeRef() string { return "probe" + NewID()[:16] }

// VND checks that amount in currency can go on the wire as whole VND (a
// valid VND amount, money.Valid) and returns it as an integer.
func VND(amount decimal.Decimal, currency string) (int64, error) {
	if currency != CurrencyVND {
		return 0, fmt.Errorf("currency %q, want VND: %w", currency, gateways.ErrInvalidRequest)
	}
	if err := money.Valid(amount, money.VND); err != nil {
		return 0, fmt.Errorf("%w: %w", err, gateways.ErrInvalidRequest)
	}
	return amount.IntPart(), nil
}

// Ref checks one of our references: 1 to 32 characters [A-Za-z0-9].
func Ref(ref string) error {
	if len(ref) == 0 || len(ref) > 32 {
		return fmt.Errorf("reference %q: want 1 to 32 characters: %w", ref, gateways.ErrInvalidRequest)
	}
	for i := range len(ref) {
		if !isAlnum(ref[i]) {
			return fmt.Errorf("reference %q: want [A-Za-z0-9]: %w", ref, gateways.ErrInvalidRequest)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// Malformed wraps gateways.ErrMalformed with a message.
func Malformed(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), gateways.ErrMalformed)
}

// methodOrder is the order Methods() lists methods in.
var methodOrder = []gateways.Method{
	gateways.MethodCard, gateways.MethodInternetBanking, gateways.MethodQR,
	gateways.MethodEwallet, gateways.MethodBankTransfer,
}

// MethodsOf lists the methods configured in m, in a fixed order.
func MethodsOf[V any](m map[gateways.Method]V) []gateways.Method {
	var out []gateways.Method
	for _, method := range methodOrder {
		if _, ok := m[method]; ok {
			out = append(out, method)
		}
	}
	return out
}

// Refund checks what every adapter checks before a refund goes out and
// returns the amount to refund in whole VND.
func Refund(r gateways.RefundRequest) (int64, error) {
	if err := Ref(r.RefundRef); err != nil {
		return 0, err
	}
	if r.GatewayRef == "" {
		return 0, fmt.Errorf("GatewayRef is required: %w", gateways.ErrInvalidRequest)
	}
	vnd, err := VND(r.Amount, "VND")
	if err != nil {
		return 0, err
	}
	switch {
	case r.Amount.GreaterThan(r.OriginalAmount):
		return 0, fmt.Errorf("refund %s exceeds the payment's %s: %w", r.Amount, r.OriginalAmount, gateways.ErrInvalidRequest)
	case r.Full && !r.Amount.Equal(r.OriginalAmount):
		return 0, fmt.Errorf("full refund of %s for a payment of %s: %w", r.Amount, r.OriginalAmount, gateways.ErrInvalidRequest)
	}
	return vnd, nil
}

// BaseURL checks that raw is an absolute URL and drops trailing slashes.
func BaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("BaseURL %q is not an absolute URL", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}
