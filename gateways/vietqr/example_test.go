package vietqr_test

import (
	"fmt"

	"github.com/civicpay/civicpay/gateways/vietqr"
	"github.com/shopspring/decimal"
)

func ExampleBuild() {
	qr, _ := vietqr.Build(vietqr.Payload{BankBIN: "970415", Account: "113366668888",
		Amount: decimal.NewFromInt(79000), Purpose: "RF18539007547034"})
	fmt.Println(qr)
	p, err := vietqr.Parse(qr)
	fmt.Println(p.BankBIN, p.Account, p.Amount, p.Purpose, err)
	// Output:
	// 00020101021238560010A0000007270126000697041501121133666688880208QRIBFTTA53037045405790005802VN62200816RF185390075470346304F553
	// 970415 113366668888 79000 RF18539007547034 <nil>
}
