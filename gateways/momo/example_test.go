package momo_test

import (
	"fmt"

	"github.com/civicpay/civicpay/gateways/momo"
)

// Each message lists its signed fields in MoMo's order; the merchant signs
// requests and the gateway side (cmd/gatewaysim) signs IPNs the same way.
func ExampleSignature() {
	b := momo.CreateBody{
		PartnerCode: "MOMO", RequestID: "MOMO1700000000000", OrderID: "MOMO1700000000000",
		Amount: 50000, OrderInfo: "pay with MoMo", RedirectURL: "https://momo.vn/return",
		IPNURL: "https://callback.url/notify", RequestType: "captureWallet",
	}
	fields := b.SignatureFields("F8BBA842ECF85")
	fmt.Println(momo.RawString(fields...))
	fmt.Println(momo.Signature("K951B6PE1waDMi640xX08PD3vg6EkVlz", fields...))
	// Output:
	// accessKey=F8BBA842ECF85&amount=50000&extraData=&ipnUrl=https://callback.url/notify&orderId=MOMO1700000000000&orderInfo=pay with MoMo&partnerCode=MOMO&redirectUrl=https://momo.vn/return&requestId=MOMO1700000000000&requestType=captureWallet
	// 4378bb95714712f6be833da81f743910a01e5ba6279bfe596b8a08e891259424
}
