package payments

import (
	"time"

	"github.com/civicpay/civicpay/gateways"
)

// The configurations of this package's own tests, which cannot import
// internal/app/config (it imports payments): plain test values, chosen for
// these tests, not the service's defaults.

func testOrdersConfig() Config {
	return Config{DefaultExpiry: 24 * time.Hour, MaxExpiry: 30 * 24 * time.Hour}
}

// testPayingConfig gives up on a refund after refundTries gateway calls.
func testPayingConfig(refundTries int) PayingConfig {
	return PayingConfig{
		AttemptTTL: 15 * time.Minute, StatusPollDelay: time.Minute, StatusPollMax: 5 * time.Minute,
		RefundRetry: 10 * time.Second, RefundRetryMax: 10 * time.Minute, RefundMaxTries: refundTries,
		CallTimeout: 15 * time.Second,
	}
}

// testBreaker opens after consecutive technical failures in a row.
func testBreaker(consecutive uint32) gateways.BreakerSettings {
	return gateways.BreakerSettings{
		ConsecutiveFailures: consecutive, Window: time.Minute, OpenTimeout: 30 * time.Second,
		HalfOpenRequests: 1, ProbeInterval: 500 * time.Millisecond, ProbeTimeout: time.Second,
	}
}
