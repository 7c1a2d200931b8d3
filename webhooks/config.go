package webhooks

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
)

// Config tunes webhooks. It has no defaults of its own: the service's come
// from internal/app/config (CIVICPAY_WEBHOOKS_*), and the constructors panic
// on a configuration Check refuses; tests shorten the durations.
type Config struct {
	// AllowLoopback lets endpoints point at loopback addresses (127.0.0.0/8, ::1)
	// over http or https. For tests and `make run` only.
	AllowLoopback bool
	// AllowedHosts are host names the operator trusts: they may use plain http and
	// resolve to private addresses (an agency system on the government network).
	AllowedHosts []string
	// Timeout bounds one delivery: connect, send, and read the response head and
	// the logged part of the body.
	Timeout time.Duration
	// RetrySchedule is the wait after each failed attempt; a delivery gets
	// len(RetrySchedule)+1 attempts.
	RetrySchedule []time.Duration
	// RetryAfterMax caps how long a receiver's Retry-After may postpone an
	// attempt (0: Retry-After never postpones beyond the schedule).
	RetryAfterMax time.Duration
	// SecretGrace is how long a rotated-out secret keeps signing messages beside
	// the new one.
	SecretGrace time.Duration
	// DisableAfter is how long an endpoint may fail every attempt before the
	// sweeper disables it.
	DisableAfter time.Duration
	// SweepInterval is how often the sweeper runs.
	SweepInterval time.Duration
	// MaxEndpointsPerKey caps how many endpoints one API key may own (422
	// beyond).
	MaxEndpointsPerKey int
	// Keys seal the signing secrets in the database. nil: the published
	// demo keys (tests only; the app always sets them).
	Keys *secretbox.Keyring
	// Logger receives warnings (endpoint disabled) and debug lines per attempt.
	// nil: slog.Default().
	Logger *slog.Logger
	// Clock dates events and attempts and decides when an endpoint has failed
	// for DisableAfter and a rotated-out secret's grace is over. nil:
	// clock.Real. The signature's webhook-timestamp is the wall clock (the
	// receiver checks it against its own), and retries are River's to time.
	Clock clock.Clock
}

// Check refuses the zero values that would break delivery: no deadline on a
// delivery, no retry schedule (or a wait that is not positive), endpoints
// disabled at their first failure, a sweeper with no interval, no endpoint
// allowed.
func (c Config) Check() error {
	var bad []string
	if c.Timeout <= 0 {
		bad = append(bad, "Timeout must be positive")
	}
	if len(c.RetrySchedule) == 0 {
		bad = append(bad, "RetrySchedule is empty")
	}
	for _, d := range c.RetrySchedule {
		if d <= 0 {
			bad = append(bad, "RetrySchedule has a wait that is not positive")
			break
		}
	}
	if c.RetryAfterMax < 0 || c.SecretGrace < 0 {
		bad = append(bad, "RetryAfterMax and SecretGrace must not be negative")
	}
	if c.DisableAfter <= 0 {
		bad = append(bad, "DisableAfter must be positive")
	}
	if c.SweepInterval <= 0 {
		bad = append(bad, "SweepInterval must be positive")
	}
	if c.MaxEndpointsPerKey <= 0 {
		bad = append(bad, "MaxEndpointsPerKey must be positive")
	}
	if len(bad) > 0 {
		return fmt.Errorf("webhooks: %s", strings.Join(bad, "; "))
	}
	return nil
}

// Bounds on receiver-controlled and client-controlled sizes.
const (
	// loggedBodyBytes is how much of a response the attempt log keeps.
	loggedBodyBytes = 1024
	// drainBodyBytes is how much more is read so the connection can be reused.
	drainBodyBytes = 64 << 10
	// maxSnoozes bounds how often Retry-After may postpone one delivery.
	maxSnoozes = 10
)

// ready fills the dependencies left nil and panics on a configuration Check
// refuses (internal/app/config checks the environment's before any
// constructor runs).
func (c Config) ready() Config {
	if err := c.Check(); err != nil {
		panic(err)
	}
	if c.Keys == nil {
		c.Keys = secretbox.Demo()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Clock = clock.Or(c.Clock)
	return c
}

// maxAttempts is how many times a delivery is tried before it fails.
func (c Config) maxAttempts() int { return len(c.RetrySchedule) + 1 }

// retryDelay is the wait after failed attempt number attempt (1-based).
func (c Config) retryDelay(attempt int) time.Duration {
	i := min(max(attempt-1, 0), len(c.RetrySchedule)-1)
	return c.RetrySchedule[i]
}

// jobTimeout bounds a whole delivery job: the HTTP exchange plus its database work.
func (c Config) jobTimeout() time.Duration { return 2 * c.Timeout }
