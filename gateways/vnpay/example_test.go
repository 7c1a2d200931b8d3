package vnpay_test

import (
	"fmt"
	"net/url"

	"github.com/civicpay/civicpay/gateways/vnpay"
)

// Sign serves both sides: the merchant signs its payment URL, VNPAY (or the
// simulator) signs the return and the IPN, and each checks with Verify.
func ExampleSign() {
	ipn := url.Values{
		"vnp_Amount":            {"1000000"}, // 10,000 VND ×100
		"vnp_BankCode":          {"NCB"},
		"vnp_BankTranNo":        {"VNP14422574"},
		"vnp_CardType":          {"ATM"},
		"vnp_OrderInfo":         {"Thanh toan don hang 2024-05-21T02:17:31.249Z"},
		"vnp_PayDate":           {"20240521091806"},
		"vnp_ResponseCode":      {"00"},
		"vnp_TmnCode":           {"TEST_TMN_CODE"},
		"vnp_TransactionNo":     {"14422574"},
		"vnp_TransactionStatus": {"00"},
		"vnp_TxnRef":            {"1716257871703"},
	}
	ipn.Set("vnp_SecureHash", vnpay.Sign(ipn, "test_secret"))
	fmt.Println(ipn.Get("vnp_SecureHash"))
	fmt.Println(vnpay.Verify(ipn, "test_secret"))
	ipn.Set("vnp_Amount", "100000000")
	fmt.Println(vnpay.Verify(ipn, "test_secret"))
	// Output:
	// 649982421beb422556a1374713c74e58e716ecbd05007c0c0e1f7effdfaf361dbf146889ca446139afe11b9954c4d5c486e99e3b86fcfab6957f29eb0be72895
	// true
	// false
}

// The merchant API hashes raw values joined with "|"; the request and answer
// types list them in VNPAY's order.
func ExamplePipeHash() {
	q := vnpay.QueryBody{RequestID: "Q1", Version: vnpay.Version, Command: "querydr", TmnCode: "TEST_TMN_CODE",
		TxnRef: "1716257871703", OrderInfo: "Truy van", TransactionDate: "20240521091500",
		CreateDate: "20240521100000", IPAddr: "127.0.0.1"}
	q.SecureHash = vnpay.PipeHash("test_secret", q.HashParts()...)
	fmt.Println(len(q.SecureHash), q.SecureHash == vnpay.PipeHash("test_secret",
		"Q1|2.1.0|querydr|TEST_TMN_CODE|1716257871703|20240521091500|20240521100000|127.0.0.1|Truy van"))
	// Output: 128 true
}
