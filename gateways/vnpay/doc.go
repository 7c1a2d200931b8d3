// Package vnpay is the VNPAY (API 2.1.0) gateway adapter: bank cards, internet
// banking and VNPAY-QR.
//
// Create builds the signed payment URL locally (no call): the citizen's browser
// goes to <BaseURL>/paymentv2/vpcpay.html. VNPAY reports the outcome with an IPN
// (GET with vnp_* query fields) that ParseCallback verifies; Query and Refund use
// the merchant API (<BaseURL>/merchant_webapi/api/transaction, JSON).
//
// Amounts: VNPAY wants VND ×100 on the wire; this package is the only place
// that multiplies or divides ([FormatAmount], [ParseAmount]). Dates are
// yyyyMMddHHmmss in GMT+7 ([FormatTime], [ParseTime]).
//
// Signing serves both sides of the protocol, so that cmd/gatewaysim can play
// VNPAY with the same code:
//   - payment URLs, returns and IPNs: [Sign] and [Verify] (sorted, form-encoded
//     vnp_* values, HMAC-SHA512);
//   - querydr and refund requests and their answers: [PipeHash] over the
//     HashParts of [QueryBody], [RefundBody] and [APIResponse] (raw values
//     joined with "|", HMAC-SHA512).
//
// Every merchant API answer must carry a valid vnp_SecureHash, whatever its
// code; an unsigned answer is an error wrapping gateways.ErrBadSignature.
package vnpay
