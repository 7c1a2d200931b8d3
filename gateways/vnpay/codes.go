package vnpay

import "github.com/civicpay/civicpay/gateways"

// responseTexts reads vnp_ResponseCode of a payment (return, IPN).
var responseTexts = map[string]string{
	"00": "success",
	"07": "debited, suspected fraud",
	"09": "internet banking not registered",
	"10": "authentication failed 3 times",
	"11": "payment window expired",
	"12": "account locked",
	"13": "wrong OTP",
	"24": "cancelled by customer",
	"51": "insufficient funds",
	"65": "daily limit exceeded",
	"75": "bank under maintenance",
	"79": "wrong password too many times",
	"99": "other error",
}

// ResponseText reads a payment's vnp_ResponseCode; unknown codes read "code <c>".
func ResponseText(code string) string {
	if s, ok := responseTexts[code]; ok {
		return s
	}
	return "code " + code
}

// callbackStatus maps a return or IPN. Success needs vnp_ResponseCode 00 and
// vnp_TransactionStatus 00 both. Status 01 (not completed) and 07 (debited,
// held for fraud review) are not final; everything else failed.
func callbackStatus(responseCode, txnStatus string) gateways.Status {
	switch {
	case responseCode == "00" && txnStatus == "00":
		return gateways.StatusSucceeded
	case txnStatus == "01" || txnStatus == "07":
		return gateways.StatusPending
	default:
		return gateways.StatusFailed
	}
}

// queryStatus maps vnp_TransactionStatus in a querydr answer. 05, 06 and 09
// describe a refund of a payment that did succeed (in progress, sent to the
// bank, rejected); 01 and 07 are not final; 02 (error) and 04 (reversed) failed.
func queryStatus(txnStatus string) gateways.Status {
	switch txnStatus {
	case "00", "05", "06", "09":
		return gateways.StatusSucceeded
	case "01", "07":
		return gateways.StatusPending
	default:
		return gateways.StatusFailed
	}
}

// API answer codes (querydr, refund).
const (
	apiOK        = "00"
	apiNotFound  = "91"
	apiDuplicate = "94"
	apiNotPaid   = "95"
)
