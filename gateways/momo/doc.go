// Package momo is the MoMo (v2) e-wallet gateway adapter.
//
// Create, Query and Refund POST JSON to <BaseURL>/v2/gateway/api/{create,query,refund};
// MoMo reports the outcome with an IPN (POST JSON, answered 204) and the
// browser comes back with the same fields in the query string; ParseCallback
// reads either. orderId and requestId of a payment are the attempt's
// AttemptRef; a refund's orderId is the RefundRef.
//
// Signatures are lowercase hex HMAC-SHA256 over key=value pairs joined with
// "&" in a fixed order, values not URL-encoded. [Signature] and [RawString]
// do the work; each message type ([CreateBody], [Notification], [QueryBody],
// [RefundBody], [QueryResponse]) lists its fields in MoMo's order with
// SignatureFields, so cmd/gatewaysim signs IPNs and query answers and
// verifies requests with the same code:
//
//	n.Signature = momo.Signature(secretKey, n.SignatureFields(accessKey)...)
//
// Amounts are whole VND, JSON numbers; MoMo's messages carry no currency,
// so results are in VND, the currency of the merchant contract.
//
// Callbacks and query answers are verified: a status answer can pay an
// order, so one whose signature does not verify is an error wrapping
// gateways.ErrBadSignature, never a result. The query answer's field list
// is unconfirmed (see [QueryResponse.SignatureFields]). The answers to create
// and refund are signed too, over field lists our protocol notes do not
// give; they are not verified (neither can pay an order; a refund's answer
// can mark the refund done).
package momo
