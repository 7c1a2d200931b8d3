package secretbox_test

import (
	"fmt"

	"github.com/civicpay/civicpay/internal/foundation/secretbox"
)

func Example() {
	// CIVICPAY_DATA_KEYS, CIVICPAY_DATA_KEY_ID and CIVICPAY_LOOKUP_KEY.
	keys, err := secretbox.Parse(
		"2025:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,2026:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",
		"2026", "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=")
	if err != nil {
		panic(err)
	}
	where := []byte("orders.payer_national_id:0190b5c4-…") // the column and the row
	sealed, _ := keys.Seal([]byte("079203001234"), where)
	kid, _ := secretbox.KeyID(sealed)
	plain, _ := keys.Open(sealed, where)
	fmt.Println(kid, string(plain), keys.IsCurrent(sealed), len(keys.Hash("national_id", plain)))
	// Output: 2026 079203001234 true 32
}
