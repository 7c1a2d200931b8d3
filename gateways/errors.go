package gateways

import (
	"errors"
	"fmt"
)

// Sentinel errors. Adapters wrap them with context; test with errors.Is.
var (
	// ErrBadSignature: a callback's or a response's signature did not verify.
	ErrBadSignature = errors.New("gateways: bad signature")
	// ErrMalformed: input from a gateway could not be understood (missing or
	// invalid fields, fractional VND, a reference that is not ours).
	ErrMalformed = errors.New("gateways: malformed message")
	// ErrUnsupported: the gateway has no such operation (VietQR callbacks and refunds).
	ErrUnsupported = errors.New("gateways: operation not supported")
	// ErrInvalidRequest: our request cannot be sent as it is (fractional or
	// out-of-range amount, a currency other than VND, a bad reference). No
	// call was made.
	ErrInvalidRequest = errors.New("gateways: invalid request")
	// ErrRejected: the gateway refused the request itself (bad merchant,
	// format or checksum, duplicate id) — as opposed to answering it with a
	// payment outcome.
	ErrRejected = errors.New("gateways: request rejected by gateway")
)

// TechnicalError reports that a gateway could not be reached or did not work:
// a timeout, a connection error, a 5xx answer or an unreadable 5xx body. It is
// the only error a circuit breaker counts.
type TechnicalError struct {
	Op  string // e.g. "vnpay: querydr"
	Err error
}

func (e *TechnicalError) Error() string {
	return fmt.Sprintf("%s: technical failure: %v", e.Op, e.Err)
}

func (e *TechnicalError) Unwrap() error { return e.Err }

// IsTechnical reports whether err is, or wraps, a *TechnicalError.
func IsTechnical(err error) bool {
	var te *TechnicalError
	return errors.As(err, &te)
}
