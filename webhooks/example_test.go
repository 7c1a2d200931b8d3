package webhooks_test

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/civicpay/civicpay/webhooks"
)

// A receiver checks every request before trusting it: the raw body, the three
// webhook-* headers and the endpoint's secret (both secrets while one is being
// rotated). It then deduplicates by webhook-id, because a message may arrive
// more than once.
func ExampleVerify() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // from POST /v1/webhook-endpoints
	body := []byte(`{"id":"msg_01jcz7k3f5x6t0m2q9v8w4y1ab","type":"order.paid","timestamp":"2025-01-31T03:04:05Z","data":{}}`)

	// What civicpay sends, as a receiver finds it on the request.
	now := time.Now()
	sig, _ := webhooks.Sign(secret, "msg_01jcz7k3f5x6t0m2q9v8w4y1ab", now, body)
	h := http.Header{}
	h.Set("webhook-id", "msg_01jcz7k3f5x6t0m2q9v8w4y1ab")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)

	if err := webhooks.Verify([]string{secret}, h, body, webhooks.DefaultTolerance); err != nil {
		fmt.Println("reject with 400:", err)
		return
	}
	fmt.Println("verified", h.Get("webhook-id"))

	// A body changed on the way is refused.
	err := webhooks.Verify([]string{secret}, h, []byte(`{"data":{"total":"1"}}`), webhooks.DefaultTolerance)
	fmt.Println(errors.Is(err, webhooks.ErrNoMatchingSignature))
	// Output:
	// verified msg_01jcz7k3f5x6t0m2q9v8w4y1ab
	// true
}
