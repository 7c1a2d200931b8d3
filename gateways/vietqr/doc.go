// Package vietqr builds and reads VietQR codes (the EMVCo merchant-presented
// QR in NAPAS 247's profile) and is the bank-transfer "gateway".
//
// [Build] and [Parse] are the low-level codec (TLV data objects closed by a
// CRC-16/CCITT-FALSE, [CRC16]); cmd/gatewaysim uses Parse to read the QR a
// citizen would scan.
//
// The [Adapter] differs from the other gateways: there is no API. Create
// returns the QR payload for the amount with the order's payment reference as
// purpose of transaction; there are no callbacks (ParseCallback returns
// gateways.ErrUnsupported); Query always reports pending, because only the
// treasury account's credit notification (camt.054) or statement (camt.053)
// confirms the transfer, through reconciliation; Refund returns
// gateways.ErrUnsupported, since a refund is an outgoing transfer by treasury.
package vietqr
