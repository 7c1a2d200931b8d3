package momo

import "github.com/civicpay/civicpay/gateways"

// resultCodes that answer the request itself rather than report a payment.
const (
	codeDuplicateRequest = 40 // duplicate requestId
	codeDuplicateOrder   = 41 // duplicate orderId
)

// requestErrors: maintenance (10), access denied (11), unsupported version
// (12), merchant authentication failed (13), bad request (20), duplicate
// requestId (40) and orderId (41).
var requestErrors = map[int]bool{10: true, 11: true, 12: true, 13: true, 20: true,
	codeDuplicateRequest: true, codeDuplicateOrder: true}

// paymentStatus maps a payment's resultCode: 0 succeeded; 1000 (created,
// waiting for the user), 7000/7002 (processing) and 8000 (awaiting user
// confirmation) are pending; anything else failed — a decline such as 1006
// (denied by user) is a failure, not an error.
//
// 9000 (authorized, awaiting capture) is also treated as pending, departing
// from "the rest is failure" in our protocol notes: the money is held on the
// wallet, and calling it failed would invite the citizen to pay twice.
// captureWallet captures automatically, so 9000 should not last.
func paymentStatus(code int) gateways.Status {
	switch code {
	case 0:
		return gateways.StatusSucceeded
	case 1000, 7000, 7002, 8000, 9000:
		return gateways.StatusPending
	default:
		return gateways.StatusFailed
	}
}
