package zalopay_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/civicpay/civicpay/gateways/zalopay"
)

// The merchant signs its order with key1 over MACData; ZaloPay (or the
// simulator) checks it with VerifyMAC and signs its callback with key2.
func ExampleMAC() {
	created := time.Date(2020, 9, 4, 6, 52, 46, 26e6, time.UTC)
	o := zalopay.CreateOrder{AppID: 553, AppUser: "user123", AppTransID: zalopay.AppTransID(created, "000234"),
		AppTime: created.UnixMilli(), Amount: 10000, EmbedData: "{}", Item: "[]"}
	o.MAC = zalopay.MAC("9phuAOYhan4urywHTh0ndEXiV3pKHr5Q", o.MACData())
	fmt.Println(o.MACData())
	fmt.Println(o.MAC)

	data, _ := json.Marshal(zalopay.CallbackData{AppID: 553, AppTransID: o.AppTransID, Amount: 10000})
	cb := zalopay.Callback{Data: string(data), MAC: zalopay.MAC("key2", string(data)), Type: 1}
	fmt.Println(zalopay.VerifyMAC("key2", cb.Data, cb.MAC))
	// Output:
	// 553|200904_000234|user123|10000|1599202366026|{}|[]
	// 7e95836a9feace32458f23416feea423172ef0a098f27a668a1e10788b5a6838
	// true
}
