// Package zalopay is the ZaloPay (v2) e-wallet gateway adapter.
//
// Create, Query, Refund and QueryRefund POST JSON to
// <BaseURL>/v2/{create,query,refund,query_refund}. An order's app_trans_id is
// the attempt's GMT+7 creation date and reference ([AppTransID]); a refund's
// m_refund_id is [RefundID]. ZaloPay calls back after a successful payment
// only; a failed or abandoned one is learned by Query.
//
// Two keys: requests are signed with key1 over their MACData (app_id|…
// fields joined with "|"), callbacks with key2 over the raw data string. [MAC]
// and [VerifyMAC] serve both sides, so cmd/gatewaysim signs callbacks and
// checks our requests with the same code:
//
//	cb := zalopay.Callback{Data: data, MAC: zalopay.MAC(key2, data), Type: 1}
//	ok := zalopay.VerifyMAC(key1, order.MACData(), order.MAC)
//
// ZaloPay's answers to create, query and refund are not signed; TLS protects
// them. Amounts are whole VND, JSON numbers.
package zalopay
